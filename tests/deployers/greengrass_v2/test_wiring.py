"""A Greengrass V2 stack's functions as wiring builds them: a dropped file validated by the V2
rules, its targets frozen, one deployment per target, followed to every device and reported
(``devices`` rows) — through the real intake, dispatcher and tracker, the V2 emulator and moto."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from bulk_deployer import wiring
from bulk_deployer.config import ConfigurationError, StarterSettings, TrackerSettings
from bulk_deployer.contract import Metric
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer
from bulk_deployer.dispatch import DispatchResult
from bulk_deployer.intake import Outcome
from bulk_deployer.ledger_model import Arrival, FileState
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.settings_schema import GREENGRASS_V2

from local.greengrass_v2_emulator import ManualClock
from tests.deployers.greengrass_v2.world import (
    ACCOUNT,
    BUCKET,
    REGION,
    TABLE,
    World,
    aws,
    group_arn,
    line,
    thing_arn,
)
from tests.integration.conftest import eventbridge_body

V2 = {"greengrass": GREENGRASS_V2, "ledger_table_name": TABLE, "region": REGION}


def _starter_settings(**overrides: Any) -> StarterSettings:
    return StarterSettings(**{**V2, "stack_account_id": ACCOUNT, **overrides})


class Functions:
    """The starter's intake and the tracker, built by wiring on the world's clients."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.metrics: Counter[str] = Counter()
        clock = world.emulator.clock
        assert isinstance(clock, ManualClock)
        self.clock = clock
        self.clients = wiring.Clients(
            s3=world.s3,
            dynamodb=world.db,
            greengrass=None,
            sns=None,
            greengrassv2=aws("greengrassv2", world.emulator.url),
            iot=world.iot,
        )
        self.effects = wiring.Effects(
            count=lambda name, value: self.metrics.update({str(name): value}),
            seconds=lambda name, value: None,
            clock=clock.now,
            sleep=lambda _s: None,
            time_left=lambda: 600.0,
        )
        self.intake = wiring.build_intake(_starter_settings(), self.clients, self.effects)
        self.tracker = wiring.build_tracker(
            TrackerSettings(**V2, input_bucket=BUCKET, tracker_follow_seconds=0, report_recheck_seconds=0),
            self.clients,
            self.effects,
        )

    def upload(self, key: str, lines: list[dict[str, Any]]) -> ObjectRef:
        body = "".join(json.dumps(entry) + "\n" for entry in lines).encode()
        response = self.world.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return ObjectRef(BUCKET, key, etag=response["ETag"].strip('"'), size=len(body), region=REGION)

    def deliver(self, ref: ObjectRef, sequence: int = 1) -> Any:
        (result,) = self.intake.handle_message(eventbridge_body(ref), Arrival(str(sequence)))
        return result


@pytest.fixture
def functions(world: World) -> Functions:
    return Functions(world)


def test_wiring_builds_the_v2_deployer_with_the_stacks_capacity(functions: Functions) -> None:
    deployer = functions.tracker.deployer
    assert isinstance(deployer, GreengrassV2Deployer) and deployer.capacity == 4
    assert functions.tracker.slot.capacity == 4
    assert functions.intake.dispatcher.deployer.capacity == 4


def test_a_dropped_v2_file_deploys_once_per_target_and_is_reported_per_device(functions: Functions) -> None:
    world = functions.world
    world.group("line-1", "dev-a", "dev-b")
    world.things("core-1")
    targets = [group_arn("line-1"), thing_arn("core-1")]
    ref = functions.upload("incoming/v2.jsonl", [line(arn) for arn in targets])

    result = functions.deliver(ref)
    assert result.outcome is Outcome.QUEUED
    assert result.dispatch is not None and result.dispatch.result is DispatchResult.STARTED
    file = functions.intake.ledger.get(result.token)
    assert file is not None and file.start_request is not None
    assert file.start_request.targets == tuple(targets) and file.start_request.execution_role_arn == ""
    assert world.created() == dict.fromkeys(targets, 1)
    assert functions.deliver(ref, sequence=2).outcome is Outcome.DUPLICATE
    assert world.created() == dict.fromkeys(targets, 1)  # a duplicate event: no call

    for _ in range(10):  # devices pick up and apply the deployment; the tracker follows
        functions.clock.advance(30)
        functions.tracker.run(lambda: 600.0)
        file = functions.intake.ledger.get(result.token)
        assert file is not None
        if file.state is FileState.FINISHED:
            break
    assert file.state is FileState.FINISHED, file.state
    report = json.loads(world.object_text(f"reports/{result.token}/report.json"))
    assert sorted(row["thing_name"] for row in report["devices"]) == ["core-1", "dev-a", "dev-b"]
    assert report["device_count"] == 3 and report["final"] is True
    summaries = {summary["target"]: summary for summary in report["targets"]}  # one per target
    assert set(summaries) == set(targets)
    assert all(
        summary["deployment_id"] and summary["outcome"] == "succeeded" for summary in summaries.values()
    )
    rows = world.object_text(f"reports/{result.token}/devices.csv").splitlines()
    assert rows[0].split(",")[:3] == ["target", "thing_name", "status"] and len(rows) == 4
    assert functions.metrics[Metric.FILE_DEPLOYMENT_STARTED] == 1
    assert functions.metrics[Metric.FILE_DEPLOYMENT_COMPLETED] == 1


def test_a_v2_line_for_another_account_is_rejected_before_anything_starts(functions: Functions) -> None:
    other = thing_arn("core-1").replace(ACCOUNT, "999999999999")
    ref = functions.upload("incoming/other.jsonl", [line(other)])
    result = functions.deliver(ref)
    assert result.outcome is Outcome.REJECTED
    report = json.loads(functions.world.object_text(f"reports/{result.token}/rejected.json"))
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(1, "target_outside_stack")]
    assert functions.world.created() == {}


def test_a_v2_starter_needs_the_stacks_account(functions: Functions) -> None:
    with pytest.raises(ConfigurationError, match="STACK_ACCOUNT_ID"):
        _starter_settings(stack_account_id="")


def test_a_start_request_names_its_staged_copy_as_the_deployer_reads_it_back() -> None:
    from bulk_deployer.deployers.greengrass_v2 import V2StartRequests
    from bulk_deployer.deployers.greengrass_v2.identity import staged_object

    for key in ("staged/abc.jsonl", "staged/a b%2B+ü.jsonl"):
        request = V2StartRequests().build(BUCKET, key, {}, (thing_arn("t"),))
        assert staged_object(request.input_file_uri) == (BUCKET, key)
    with pytest.raises(ValueError, match="s3://bucket/key"):
        staged_object(f"https://{BUCKET}.s3.{REGION}.amazonaws.com/staged/abc.jsonl")
