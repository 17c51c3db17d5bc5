"""moto in-process (S3, DynamoDB) + the fake Greengrass API, wired like the Lambda wires itself."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from bulk_deployer import wiring
from bulk_deployer.config import StarterSettings, dispatch_fields
from bulk_deployer.control import DispatchControl
from bulk_deployer.dispatch import Dispatcher
from bulk_deployer.events import object_created_event, parse_message_body
from bulk_deployer.intake import InputFileIntake, IntakeResult
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import Arrival
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.tracker import BulkDeploymentTracker
from bulk_deployer.tracker_config import TrackerSettings
from bulk_deployer.wiring import Clients, Effects
from moto import mock_aws

from local.provision import create_input_bucket, create_ledger_table
from tests.fakes.greengrass import FakeGreengrass

BUCKET = "fleet-input"
TABLE = "ledger"
ROLE = "arn:aws:iam::123456789012:role/greengrass-bulk-execution"


def record_line(group: str, version: str = "v-1") -> str:
    return json.dumps({"GroupId": group, "GroupVersionId": version, "DeploymentType": "NewDeployment"})


def valid_file(*groups: str) -> bytes:
    return ("\n".join(record_line(g) for g in groups or ("g-1", "g-2")) + "\n").encode()


class RecordedOutcomes:
    """An outcome sink that remembers what it was told."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict[str, Any]]] = []

    def publish(self, outcome: str, key: str, details: Mapping[str, Any]) -> None:
        self.messages.append((outcome, key, dict(details)))

    def kinds(self) -> list[str]:
        return [outcome for outcome, _, _ in self.messages]


@dataclass
class Pipeline:
    """One starter's view of the world, plus counters of what it did to S3 and Greengrass."""

    s3: Any
    dynamodb: Any
    greengrass: FakeGreengrass
    settings: StarterSettings
    ledger: BulkDeploymentLedger
    slot: DeploymentSlot
    control: DispatchControl
    intake: InputFileIntake
    metrics: Counter[str]
    s3_calls: Counter[str] = field(default_factory=Counter)
    gauges: dict[str, int] = field(default_factory=dict)
    outcomes: RecordedOutcomes = field(default_factory=RecordedOutcomes)
    sequence: int = 0

    def upload(self, key: str, body: bytes, **extra: Any) -> ObjectRef:
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        return ObjectRef(
            bucket=BUCKET,
            key=key,
            etag=response["ETag"].strip('"'),
            version_id=response.get("VersionId"),
            size=len(body),
            event_time="2026-11-27T12:00:00Z",
            region="us-east-1",
        )

    def deliver(self, body: str) -> list[IntakeResult]:
        self.sequence += 1
        return self.intake.handle_message(body, Arrival(sequence_number=str(self.sequence)))

    def deliver_ref(self, ref: ObjectRef, *, shape: str = "eventbridge") -> IntakeResult:
        (result,) = self.deliver(eventbridge_body(ref) if shape == "eventbridge" else classic_body(ref))
        return result

    def s3_reads(self) -> int:
        return sum(
            n for op, n in self.s3_calls.items() if op in {"HeadObject", "GetObject", "GetObjectTagging"}
        )

    def tracker(
        self,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        **overrides: Any,
    ) -> BulkDeploymentTracker:
        """wiring.build_tracker, with the fake Greengrass API."""
        # One look per tracker run unless asked: the tests step runs by hand.
        defaults = {"input_bucket": BUCKET, "tracker_follow_seconds": 0}
        settings = TrackerSettings(**{**dispatch_fields(self.settings), **defaults, **overrides})
        return wiring.build_tracker(
            settings,
            clients_for(self.s3, self.dynamodb, self.greengrass),
            effects(self.metrics, clock=clock, sleep=sleep, outcomes=self.outcomes, gauges=self.gauges),
        )

    def dispatcher(self) -> Dispatcher:
        return build_dispatcher(self.ledger, self.greengrass, self.settings, self.metrics, s3=self.s3)


def eventbridge_body(ref: ObjectRef, *, key: str | None = None) -> str:
    event = object_created_event(
        ref.with_key(key) if key else ref,
        event_id="e1",
        time=ref.event_time or "2026-11-27T12:00:00Z",
        region="us-east-1",
        account="123456789012",
    )
    return json.dumps(event)


def classic_body(ref: ObjectRef, *, encoded_key: str | None = None) -> str:
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {
        "key": encoded_key or quote_plus(ref.key, safe="/"),
        "size": ref.size,
        "eTag": ref.etag,
    }
    if ref.version_id:
        obj["versionId"] = ref.version_id
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": ref.event_time or "2026-11-27T12:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": ref.bucket}, "object": obj},
                }
            ]
        }
    )


def effects(
    metrics: Counter[str],
    *,
    count: Callable[..., None] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] | None = None,
    outcomes: RecordedOutcomes | None = None,
    gauges: dict[str, int] | None = None,
) -> Effects:
    """The functions' graph with counters instead of EMF, no waiting (unless given), and a chosen clock."""
    return Effects(
        count=count or (lambda name, value=1: metrics.update({name: value})),
        seconds=(gauges if gauges is not None else {}).__setitem__,
        clock=clock,
        sleep=sleep or (lambda _: None),
        outcomes=outcomes or RecordedOutcomes(),
    )


def clients_for(s3: Any, dynamodb: Any, greengrass: FakeGreengrass) -> Clients:
    return Clients(s3=s3, dynamodb=dynamodb, greengrass=greengrass, sns=None)


def build_dispatcher(
    ledger: BulkDeploymentLedger,
    greengrass: FakeGreengrass,
    settings: StarterSettings,
    metrics: Counter[str],
    count: Callable[..., None] | None = None,
    outcomes: RecordedOutcomes | None = None,
    *,
    s3: Any,
) -> Dispatcher:
    """wiring.build_dispatcher on the given ledger (and its clock), with the fake Greengrass API."""
    return wiring.build_dispatcher(
        settings,
        clients_for(s3, ledger._db, greengrass),
        ledger,
        effects(metrics, count=count, clock=ledger._clock, outcomes=outcomes),
    )


def make_intake(
    s3: Any,
    ledger: BulkDeploymentLedger,
    greengrass: FakeGreengrass,
    settings: StarterSettings,
    metrics: Counter[str],
    count: Callable[..., None] | None = None,
    outcomes: RecordedOutcomes | None = None,
) -> InputFileIntake:
    """wiring.build_intake, with the fake Greengrass API and the ledger's clock."""
    return wiring.build_intake(
        settings,
        clients_for(s3, ledger._db, greengrass),
        effects(metrics, count=count, clock=ledger._clock, outcomes=outcomes),
    )


@pytest.fixture
def settings() -> StarterSettings:
    return StarterSettings(
        ledger_table_name=TABLE,
        execution_role_arn=ROLE,
        region="us-east-1",
        default_tags={"project": "fleet"},
        start_retry_base_seconds=0,
    )


@pytest.fixture
def pipeline(settings: StarterSettings) -> Iterator[Pipeline]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_input_bucket(s3, BUCKET)
        create_ledger_table(dynamodb, TABLE)
        greengrass = FakeGreengrass()
        metrics: Counter[str] = Counter()
        outcomes = RecordedOutcomes()
        ledger = BulkDeploymentLedger(dynamodb, TABLE, ttl_days=settings.ledger_ttl_days)
        pipeline = Pipeline(
            s3=s3,
            dynamodb=dynamodb,
            greengrass=greengrass,
            settings=settings,
            ledger=ledger,
            slot=DeploymentSlot(dynamodb, TABLE),
            control=DispatchControl(dynamodb, TABLE),
            intake=make_intake(s3, ledger, greengrass, settings, metrics, outcomes=outcomes),
            metrics=metrics,
            outcomes=outcomes,
        )
        s3.meta.events.register("before-call.s3.*", lambda model, **_: pipeline.s3_calls.update([model.name]))
        yield pipeline


__all__ = [
    "BUCKET",
    "ROLE",
    "Pipeline",
    "classic_body",
    "eventbridge_body",
    "parse_message_body",
    "valid_file",
]
