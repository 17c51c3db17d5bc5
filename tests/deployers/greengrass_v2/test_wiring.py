"""A Greengrass V2 stack's functions as wiring builds them: a dropped file validated by the V2
rules, its targets frozen, one deployment per target, followed to every device and reported
(``devices`` rows) — through the real intake, dispatcher and tracker, the V2 emulator and moto."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from bulk_deployer import wiring
from bulk_deployer.config import ConfigurationError, StarterSettings
from bulk_deployer.contract import Metric
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger
from bulk_deployer.dispatch import DispatchResult
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.intake import Outcome
from bulk_deployer.ledger_model import Arrival, FileState
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.settings_schema import GREENGRASS_V2
from bulk_deployer.slot import resource_digest
from bulk_deployer.tracker import BulkDeploymentTracker
from bulk_deployer.tracker_config import TrackerSettings

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

    def __init__(self, world: World, **settings: Any) -> None:
        self.world = world
        self.settings = settings
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
        self.effects = self._effects(sleep=lambda _s: None)
        self.intake = wiring.build_intake(_starter_settings(**settings), self.clients, self.effects)
        self.tracker = wiring.build_tracker(
            self._tracker_settings(tracker_follow_seconds=0), self.clients, self.effects
        )

    def following_tracker(self, **overrides: Any) -> BulkDeploymentTracker:
        """A tracker whose run follows on, each look ``tracker_poll_seconds`` later on the emulator's clock."""
        return wiring.build_tracker(
            self._tracker_settings(**overrides), self.clients, self._effects(sleep=self.clock.advance)
        )

    def _effects(self, *, sleep: Callable[[float], None]) -> wiring.Effects:
        return wiring.Effects(
            count=lambda name, value: self.metrics.update({str(name): value}),
            seconds=lambda name, value: None,
            clock=self.clock.now,
            sleep=sleep,
            time_left=lambda: 600.0,
        )

    def _tracker_settings(self, **overrides: Any) -> TrackerSettings:
        values = {**V2, **self.settings, "input_bucket": BUCKET, "report_recheck_seconds": 0, **overrides}
        return TrackerSettings(**values)

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


def _ended_at(functions: Functions, token: str, index: int) -> float | None:
    """When the tracker saw a file's target settle (None: not yet), on the emulator's clock."""
    table = TableAccess(functions.world.db, TABLE)
    return TargetLedger(table).records(token, index + 1, first=index)[index].ended_at


def test_a_file_waiting_only_for_a_settled_target_starts_in_the_same_tracker_run(world: World) -> None:
    """File A deploys to a quick thing and a slow one; file B to the quick one only: B's deployment
    starts after A's to the quick thing settled, before A's to the slow one did."""
    functions = Functions(world)
    quick, slow = world.things("quick", "slow")
    world.emulator.set_device("slow", "healthy", apply_seconds=3600)
    first = functions.deliver(functions.upload("incoming/a.jsonl", [line(quick), line(slow)]), 1)
    second = functions.deliver(functions.upload("incoming/b.jsonl", [line(quick)]), 2)
    assert second.dispatch.result is DispatchResult.BLOCKED
    assert functions.metrics[Metric.WAITING_FOR_TARGETS] == 1

    run = functions.following_tracker(tracker_follow_seconds=120, tracker_poll_seconds=10).run(lambda: 600.0)

    assert run.started == [second.token] and run.ended == []
    ledger = functions.intake.ledger
    assert [ledger.get(t).state for t in (first.token, second.token)] == [FileState.STARTED] * 2  # type: ignore[union-attr]
    to_quick = [
        c.at for c in world.emulator.calls(operation="CreateDeployment", target_arn=quick) if c.created
    ]
    assert len(to_quick) == 2
    quick_settled = _ended_at(functions, first.token, 0)
    assert quick_settled is not None and quick_settled <= to_quick[1]
    assert _ended_at(functions, first.token, 1) is None  # A's slow target still runs
    assert world.created() == {quick: 2, slow: 1}


def test_a_waiting_file_starts_in_the_run_that_sees_one_of_ours_end_while_another_runs(
    world: World,
) -> None:
    functions = Functions(world, v2_files_in_flight=2)
    slow, quick, other = world.things("slow", "quick", "other")
    world.emulator.set_device("slow", "healthy", apply_seconds=3600)
    functions.deliver(functions.upload("incoming/slow.jsonl", [line(slow)]), 1)
    done = functions.deliver(functions.upload("incoming/quick.jsonl", [line(quick)]), 2)
    waiting = functions.deliver(functions.upload("incoming/other.jsonl", [line(other)]), 3)
    assert waiting.dispatch.result is DispatchResult.SLOT_TAKEN  # two run: the capacity

    run = functions.following_tracker(tracker_follow_seconds=120, tracker_poll_seconds=10).run(lambda: 600.0)

    assert run.ended == [done.token] and run.started == [waiting.token]
    assert world.created() == {slow: 1, quick: 1, other: 1}


def test_a_settled_target_is_freed_but_a_file_waiting_for_another_one_stays_queued_without_a_call(
    world: World,
) -> None:
    functions = Functions(world)
    quick, slow = world.things("quick", "slow")
    world.emulator.set_device("slow", "healthy", apply_seconds=3600)
    first = functions.deliver(functions.upload("incoming/a.jsonl", [line(quick), line(slow)]), 1)
    waiting = functions.deliver(functions.upload("incoming/w.jsonl", [line(slow)]), 2)
    before = len(world.emulator.calls())

    run = functions.following_tracker(tracker_follow_seconds=60, tracker_poll_seconds=10).run(lambda: 600.0)

    assert run.started == [] and run.dispatched is not None
    assert run.dispatched.result is DispatchResult.BLOCKED
    (hold,) = functions.tracker.slot.get().holds.values()
    assert (hold.token, hold.resources) == (first.token, {resource_digest(slow)})  # quick was freed
    file = functions.intake.ledger.get(waiting.token)
    assert file is not None and file.state is FileState.QUEUED
    # Following costs reads of our deployments and jobs; trying the waiting file costs no call.
    operations = {c.operation for c in world.emulator.calls()[before:]}
    assert operations <= {"GetDeployment", "DescribeJob", "ListJobExecutionsForJob"}, operations
