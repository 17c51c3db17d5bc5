"""A Greengrass V2 stack's two functions as wiring builds them, on clients the caller gives.

Why: the V2 benchmarks measure the product's own paths (intake, dispatch, start, tracker runs,
report pass), not a re-assembly of their parts; only the clients (moto over HTTP, the V2
emulator in-process or over HTTP), the clock and the sleeps are the caller's, as in the tests'
``Functions`` (tests/deployers/greengrass_v2/test_wiring.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from bulk_deployer import wiring
from bulk_deployer.config import StarterSettings
from bulk_deployer.contract import Metric
from bulk_deployer.intake import InputFileIntake, IntakeResult
from bulk_deployer.ledger_model import Arrival
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.settings_schema import GREENGRASS_V2
from bulk_deployer.tracker import BulkDeploymentTracker
from bulk_deployer.tracker_config import TrackerSettings

from benchmarks.events import ACCOUNT, REGION, eventbridge_body
from local.fleet import v2_input_file
from local.greengrass_v2_emulator import InProcessClient, ManualClock
from local.greengrass_v2_emulator.service import EmulatorService
from local.provision import create_input_bucket, create_ledger_table


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def _known(settings_class: type, values: dict[str, Any]) -> dict[str, Any]:
    """The ``values`` that ``settings_class`` has fields for (``settings`` serve both functions)."""
    names = {item.name for item in fields(settings_class)}
    return {name: value for name, value in values.items() if name in names}


@dataclass
class V2Functions:
    """The starter's intake and the tracker of one V2 stack; ``settings``: either function's
    settings (each takes those it has); ``metrics`` counts what they emit."""

    s3: Any
    dynamodb: Any
    greengrassv2: Any
    iot: Any
    clock: Callable[[], float]
    sleep: Callable[[float], object]
    bucket: str
    table: str
    time_left: Callable[[], float] = lambda: 900.0
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)

    @classmethod
    def in_process(
        cls, s3: Any, dynamodb: Any, service: EmulatorService, clock: ManualClock, bucket: str, table: str
    ) -> V2Functions:
        """Against the V2 emulator's service called in this process (no HTTP), on its manual clock."""
        return cls(
            s3,
            dynamodb,
            InProcessClient(service, "greengrassv2"),
            InProcessClient(service, "iot"),
            clock.now,
            clock.advance,
            bucket,
            table,
        )

    def __post_init__(self) -> None:
        create_input_bucket(self.s3, self.bucket)
        create_ledger_table(self.dynamodb, self.table)
        self.clients = wiring.Clients(
            s3=self.s3,
            dynamodb=self.dynamodb,
            greengrass=None,
            sns=None,
            greengrassv2=self.greengrassv2,
            iot=self.iot,
        )
        self.effects = wiring.Effects(
            count=self._count,
            seconds=lambda _name, _value: None,
            clock=self.clock,
            sleep=self._sleep,
            time_left=self.time_left,
        )
        common: dict[str, Any] = {
            "greengrass": GREENGRASS_V2,
            "ledger_table_name": self.table,
            "region": REGION,
        }
        self.intake: InputFileIntake = wiring.build_intake(
            StarterSettings(**common, stack_account_id=ACCOUNT, **_known(StarterSettings, self.settings)),
            self.clients,
            self.effects,
        )
        tracker_defaults = {"report_recheck_seconds": 0, "tracker_follow_seconds": 0}
        self.tracker_settings = TrackerSettings(
            **common,
            input_bucket=self.bucket,
            **_known(TrackerSettings, {**tracker_defaults, **self.settings}),
        )

    def _sleep(self, seconds: float) -> None:
        self.sleep(seconds)  # e.g. a manual clock's advance, which answers the new time

    def _count(self, name: Metric, value: int) -> None:
        self.metrics[str(name)] = self.metrics.get(str(name), 0) + value

    def tracker(self) -> BulkDeploymentTracker:
        return wiring.build_tracker(self.tracker_settings, self.clients, self.effects)

    def upload(self, key: str, lines: list[dict[str, Any]]) -> ObjectRef:
        body = v2_input_file(lines)
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return ObjectRef(self.bucket, key, etag=response["ETag"].strip('"'), size=len(body), region=REGION)

    def deliver(self, ref: ObjectRef, sequence: int) -> IntakeResult:
        """The object's event handed to the intake as the ``sequence``-th message (its token known)."""
        (result,) = self.intake.handle_message(eventbridge_body(ref), Arrival(f"{sequence:020d}"))
        if result.token is None:
            raise RuntimeError(f"the intake did not recognise the event of {ref.key}: {result}")
        return result
