"""Following a Greengrass V2 file to every device: thing and group targets, deadlines, reports."""

from __future__ import annotations

from typing import Any

from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import Lifecycle, TargetOutcome, TargetResult
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer

from tests.deployers.greengrass_v2.world import World, aws, line, thing_arn

TOKEN = "a" * 64
DEPLOYMENT = f"gg2-{TOKEN}"
TIMEOUT = {"timeoutConfig": {"inProgressTimeoutInMinutes": 10}}


def _rows(deployer: GreengrassV2Deployer, page_size: int = 100) -> list[TargetResult]:
    results: list[TargetResult] = []
    next_token: str | None = None
    while True:
        page, next_token = deployer.target_results(DEPLOYMENT, next_token=next_token, page_size=page_size)
        results += page
        if next_token is None:
            return results


def _by_thing(deployer: GreengrassV2Deployer) -> dict[str, dict[str, Any]]:
    return {str(r.row["thing_name"]): dict(r.row) for r in _rows(deployer)}


def test_a_thing_target_is_done_when_its_deployment_leaves_active(world: World) -> None:
    world.things("a")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a"))]))
    running = world.deployer.status(DEPLOYMENT)
    assert running.lifecycle is Lifecycle.RUNNING and running.status == "ACTIVE"
    world.advance(5)
    done = world.deployer.status(DEPLOYMENT)
    assert done.lifecycle is Lifecycle.SUCCEEDED and done.status == "COMPLETED"
    assert done.metrics["SUCCEEDED"] == 1 and done.metrics[Metric.DEVICE_DEPLOYMENTS_SUCCEEDED] == 1
    (row,) = _rows(world.deployer)
    assert (row.target, row.status, row.outcome) == (thing_arn("a"), "SUCCEEDED", TargetOutcome.SUCCEEDED)
    assert tuple(row.row) == world.deployer.report_columns and row.row["last_update"]
    (summary,) = world.deployer.target_summaries(DEPLOYMENT)
    assert summary["outcome"] == "succeeded" and summary["counts"] == {"SUCCEEDED": 1} and summary["ended_at"]


def test_a_group_with_an_offline_device_is_done_at_the_deadline_with_it_pending(world: World) -> None:
    group = world.group("fleet", "a", "b", "c")
    world.emulator.set_device("b", "offline")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(group, iotJobConfiguration=TIMEOUT)]))
    world.advance(60)
    still = world.deployer.status(DEPLOYMENT)
    assert still.lifecycle is Lifecycle.RUNNING
    assert (still.metrics["SUCCEEDED"], still.metrics["QUEUED"]) == (2, 1)
    world.advance(10 * 60)
    done = world.deployer.status(DEPLOYMENT)
    assert done.lifecycle is Lifecycle.FAILED and done.metrics[Metric.DEVICES_PENDING_AT_DEADLINE] == 1
    rows = _by_thing(world.deployer)
    assert {name: row["status"] for name, row in rows.items()} == {
        "a": "SUCCEEDED",
        "b": "PENDING",
        "c": "SUCCEEDED",
    }
    # Final once its target settled (the report must not wait for it): it did not succeed.
    assert world.deployer.target_outcome("PENDING") is TargetOutcome.FAILED


def test_a_group_is_done_as_soon_as_every_member_at_start_is_terminal(world: World) -> None:
    group = world.group("fleet", "a", "b")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(group)]))
    world.advance(5)
    assert world.deployer.status(DEPLOYMENT).lifecycle is Lifecycle.SUCCEEDED  # not waiting for 60 min


def test_a_failing_device_is_failed_with_its_error_types_and_reason(world: World) -> None:
    group = world.group("fleet", "a", "b")
    world.emulator.set_device("b", "failing")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(group)]))
    world.advance(5)
    done = world.deployer.status(DEPLOYMENT)
    assert done.lifecycle is Lifecycle.FAILED and done.metrics[Metric.DEVICE_DEPLOYMENTS_FAILED] == 1
    failed = _by_thing(world.deployer)["b"]
    assert failed["status"] == "FAILED" and failed["error_types"] == ["COMPONENT_ERROR"]
    assert failed["reason"].startswith("FAILED_ROLLBACK_COMPLETE: Emulated failure")
    assert world.deployer.target_outcome("FAILED") is TargetOutcome.FAILED


def test_a_deployment_replaced_by_someone_elses_is_an_outcome_of_its_own(world: World) -> None:
    world.things("a")
    world.emulator.set_device("a", "offline")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a"))]))
    aws("greengrassv2", world.emulator.url).create_deployment(
        targetArn=thing_arn("a"), components={"com.example.Other": {"componentVersion": "9.0.0"}}
    )
    done = world.deployer.status(DEPLOYMENT)
    assert done.lifecycle is Lifecycle.FAILED
    (summary,) = world.deployer.target_summaries(DEPLOYMENT)
    assert summary["outcome"] == "replaced"


def test_devices_that_join_the_group_later_are_reported_as_such(world: World) -> None:
    group = world.group("fleet", "a")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(group, iotJobConfiguration=TIMEOUT)]))
    world.iot.create_thing(thingName="late")
    world.iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="late")
    world.emulator.set_device("a", "offline")  # keeps the group running until the deadline
    world.advance(11 * 60)
    world.deployer.status(DEPLOYMENT)
    rows = _by_thing(world.deployer)
    assert rows["late"]["joined_later"] is True and rows["late"]["status"] == "SUCCEEDED"
    assert rows["a"]["joined_later"] is False


def test_a_full_status_pass_of_a_big_group_costs_at_most_a_fiftieth_of_a_call_per_device(
    world: World,
) -> None:
    devices = 2000
    service = world.emulator.service
    service.call("iot", "CreateThingGroup", thingGroupName="big")
    for i in range(devices):
        service.call("iot", "CreateThing", thingName=f"d{i}")
        service.call("iot", "AddThingToThingGroup", thingGroupName="big", thingName=f"d{i}")
    world.emulator.set_device("d7", "offline")
    group = world.iot.describe_thing_group(thingGroupName="big")["thingGroupArn"]
    world.deployer.start(TOKEN, world.request(TOKEN, [line(group, iotJobConfiguration=TIMEOUT)]))
    passes: list[int] = []
    for seconds in (60, 120, 10 * 60):  # rolling out, all but one done, the deadline
        world.advance(seconds)
        before = len(world.emulator.calls())
        status = world.deployer.status(DEPLOYMENT)
        passes.append(len(world.emulator.calls()) - before)
    assert status.lifecycle is Lifecycle.FAILED
    assert (status.metrics["SUCCEEDED"], status.metrics["PENDING"]) == (devices - 1, 1)
    assert max(passes) <= 0.02 * devices, passes


def test_results_page_through_every_device_of_every_target(world: World) -> None:
    group = world.group("fleet", "a", "b", "c")
    world.things("d")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(group), line(thing_arn("d"))]))
    world.advance(5)
    world.deployer.status(DEPLOYMENT)
    sizes: list[int] = []
    names: list[str] = []
    next_token: str | None = None
    while True:
        page, next_token = world.deployer.target_results(DEPLOYMENT, next_token=next_token, page_size=3)
        sizes.append(len(page))
        names += [str(r.row["thing_name"]) for r in page]
        if next_token is None:
            break
    assert sizes == [3, 1] and names == ["a", "b", "c", "d"]


def test_stop_cancels_the_deployments_still_active(world: World) -> None:
    world.things("a", "b")
    world.emulator.set_device("b", "offline")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a")), line(thing_arn("b"))]))
    world.advance(5)
    cancelled = world.deployer.stop(DEPLOYMENT)
    assert [c.outcome for c in world.emulator.calls(operation="CancelDeployment")] == ["ok"]
    assert len(cancelled) == 1  # b's deployment: a's had settled
    stopped = world.deployer.status(DEPLOYMENT)
    assert stopped.lifecycle is Lifecycle.STOPPED and stopped.status == "CANCELED"
    assert {name: row["status"] for name, row in _by_thing(world.deployer).items()} == {
        "a": "SUCCEEDED",
        "b": "CANCELED",
    }


def test_a_target_asked_for_before_it_settled_gives_one_row_that_may_still_change(world: World) -> None:
    world.things("a")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a"))]))
    (row,) = _rows(world.deployer)
    assert (row.target, row.status, row.outcome) == (thing_arn("a"), "ACTIVE", TargetOutcome.PENDING)


def test_an_offline_thing_target_is_done_at_its_deadline_too(world: World) -> None:
    """A thing whose device never comes online would otherwise hold its target for ever."""
    world.things("a")
    world.emulator.set_device("a", "offline")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a"), iotJobConfiguration=TIMEOUT)]))
    world.advance(9 * 60)
    assert world.deployer.status(DEPLOYMENT).lifecycle is Lifecycle.RUNNING
    world.advance(2 * 60)
    done = world.deployer.status(DEPLOYMENT)
    assert done.lifecycle is Lifecycle.FAILED and done.metrics[Metric.DEVICES_PENDING_AT_DEADLINE] == 1
    assert [r.status for r in _rows(world.deployer)] == ["PENDING"]


def test_devices_still_running_are_not_counted_as_failed() -> None:
    """DeviceDeploymentsFailed is alarmed: only executions that failed count, settled or not."""
    from bulk_deployer.contract import Metric
    from bulk_deployer.deployers.greengrass_v2.report import counter_metrics

    running = counter_metrics({"IN_PROGRESS": 1, "QUEUED": 3, "ACTIVE": 2}, 0)
    assert running[Metric.DEVICE_DEPLOYMENTS_FAILED.value] == 0
    ended = counter_metrics({"FAILED": 2, "TIMED_OUT": 1, "REJECTED": 1, "SUCCEEDED": 4, "PENDING": 1}, 1)
    assert ended == {
        Metric.DEVICE_DEPLOYMENTS_SUCCEEDED.value: 4,
        Metric.DEVICE_DEPLOYMENTS_FAILED.value: 4,
        Metric.DEVICES_PENDING_AT_DEADLINE.value: 1,
        Metric.TARGETS_REFUSED.value: 0,
    }
