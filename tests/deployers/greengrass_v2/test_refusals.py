"""A target refused part-way through a file: recorded with its error, the file goes on without it.

The service refuses one target (an error no retry fixes) after others have started: those run
and are followed to their end, the later targets are still started, and the refused one is in
the report with its error. A refused target is never asked again by a resumed start. Only a
file whose every target was refused is refused, and a retry of it asks every target again.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import Lifecycle, StartRejected, TargetOutcome

from tests.deployers.greengrass_v2.world import World, group_arn, line

TOKEN = "c" * 64
DEPLOYMENT = f"gg2-{TOKEN}"


def _creates(world: World, target: str) -> int:
    return len(world.emulator.calls(operation="CreateDeployment", target_arn=target))


def test_a_target_refused_part_way_is_reported_and_the_others_start_and_are_followed(world: World) -> None:
    a, b, c = world.things("a", "b", "c")
    world.emulator.refuse(b)
    started = world.deployer.start(TOKEN, world.request(TOKEN, [line(a), line(b), line(c)]))

    assert world.created() == {a: 1, c: 1}  # c still started after b was refused
    assert started.details["refused_target_count"] == 1
    (refused,) = started.details["refused_targets"]
    assert refused["target"] == b and refused["error_code"] == "ValidationException"
    assert b in refused["error_message"]
    assert world.deployer.find_by_token(TOKEN, created_since=None) is not None  # the file did start
    summaries = list(world.deployer.target_summaries(DEPLOYMENT))
    assert [s["state"] for s in summaries] == ["STARTED", "REFUSED", "STARTED"]
    assert (summaries[1]["outcome"], summaries[1]["error_code"]) == ("refused", "ValidationException")
    assert summaries[1]["deployment_id"] is None and summaries[0]["error_code"] is None

    assert world.deployer.status(DEPLOYMENT).lifecycle is Lifecycle.RUNNING  # a and c are followed
    world.advance(5)
    done = world.deployer.status(DEPLOYMENT)
    assert done.lifecycle is Lifecycle.FAILED and done.status == "FAILED"
    assert (
        done.metrics[Metric.TARGETS_REFUSED] == 1 and done.metrics[Metric.DEVICE_DEPLOYMENTS_SUCCEEDED] == 2
    )
    assert (
        done.error_message
        == "1 of 3 targets did not succeed on every device (1 refused by Greengrass at start)"
    )
    (detail,) = done.error_details
    assert detail["target"] == b and detail["outcome"] == "refused"
    assert str(detail["error"]).startswith("ValidationException: ")
    rows = {r.target: r for r in world.deployer.target_results(DEPLOYMENT, next_token=None, page_size=10)[0]}
    assert {t: r.status for t, r in rows.items()} == {a: "SUCCEEDED", b: "REFUSED", c: "SUCCEEDED"}
    assert rows[b].outcome is TargetOutcome.FAILED and rows[b].row["thing_name"] == "b"
    assert str(rows[b].row["reason"]).startswith("ValidationException: ")


def test_every_target_refused_is_the_files_refusal_and_a_retry_once_fixed_asks_again(world: World) -> None:
    a, b = world.things("a", "b")
    world.emulator.refuse(a)
    world.emulator.refuse(b, "AccessDeniedException")
    request = world.request(TOKEN, [line(a), line(b)])
    with pytest.raises(StartRejected) as refused:
        world.deployer.start(TOKEN, request)
    assert refused.value.code == "TargetsRefused"  # each target asked, each refused
    assert f"{a}: ValidationException" in refused.value.message
    assert f"{b}: AccessDeniedException" in refused.value.message
    assert (_creates(world, a), _creates(world, b)) == (1, 1) and world.created() == {}
    assert world.deployer.find_by_token(TOKEN, created_since=None) is None  # the file did not start

    world.emulator.clear_faults()  # the operator fixed the cause and resumed the START_FAILED file
    world.deployer.start(TOKEN, request)
    assert world.created() == {a: 1, b: 1}


def test_a_start_that_crashed_after_a_refusal_resumes_without_asking_the_refused_target_again(
    world: World,
) -> None:
    a, b, c = world.things("a", "b", "c")
    world.emulator.refuse(b)
    world.emulator.fail("CreateDeployment", "InternalServerException", target_arn=c)  # the start dies at c
    request = world.request(TOKEN, [line(a), line(b), line(c)])
    with pytest.raises(ClientError):
        world.deployer.start(TOKEN, request)
    assert world.created() == {a: 1} and _creates(world, b) == 1

    world.deployer.start(TOKEN, request)  # b is still refused by the emulator: it is not asked

    assert _creates(world, b) == 1 and world.created() == {a: 1, c: 1}
    states = [s["state"] for s in world.deployer.target_summaries(DEPLOYMENT)]
    assert states == ["STARTED", "REFUSED", "STARTED"]


def test_a_thing_group_gone_since_validation_is_refused_and_the_file_goes_on(world: World) -> None:
    (a,) = world.things("a")
    gone = group_arn("deleted-since-validation")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(gone), line(a)]))
    assert world.created() == {a: 1} and _creates(world, gone) == 0
    summary = next(iter(world.deployer.target_summaries(DEPLOYMENT)))
    assert (summary["state"], summary["error_code"]) == ("REFUSED", "ResourceNotFoundException")
    (row, _) = world.deployer.target_results(DEPLOYMENT, next_token=None, page_size=10)[0]
    assert (row.target, row.status, row.row["thing_name"]) == (gone, "REFUSED", "")


def test_a_conflict_that_outlasts_its_bound_refuses_the_target_not_the_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conflict is retried as another request's passing one, but not for ever: the file would
    stay STARTING, holding its targets, with no end."""
    a, b = world.things("a", "b")
    monkeypatch.setattr(world.clock, "sleep", world.advance)  # the backoff moves the service's clock
    deployer = world.build(conflict_refusal_seconds=60.0)
    world.emulator.refuse(a, "ConflictException")
    deployer.start(TOKEN, world.request(TOKEN, [line(a), line(b)]))
    assert world.created() == {b: 1}
    summary = next(iter(deployer.target_summaries(DEPLOYMENT)))
    assert (summary["state"], summary["error_code"]) == ("REFUSED", "ConflictException")
    assert "still conflicting" in summary["error_message"]
    assert _creates(world, a) > 5  # retried with backoff first: refused only past the bound
