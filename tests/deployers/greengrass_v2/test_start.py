"""Starting a Greengrass V2 file: one CreateDeployment per target, exactly once, whatever happens."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError
from bulk_deployer.contract import FILE_TOKEN_TAG, TOKEN_TAG
from bulk_deployer.deployers.base import StartIncomplete, StartRejected
from bulk_deployer.deployers.greengrass_v2 import target_token_for
from bulk_deployer.request_budget import RequestBudget

from tests.deployers.greengrass_v2.world import World, aws, line, thing_arn

TOKEN = "f" * 64


def _deployment(world: World, target: str) -> dict[str, object]:
    gg = aws("greengrassv2", world.emulator.url)
    latest = gg.list_deployments(targetArn=target)["deployments"][0]
    found: dict[str, object] = gg.get_deployment(deploymentId=latest["deploymentId"])
    return found


def test_target_tokens_are_64_characters_the_api_takes_and_stable() -> None:
    token = target_token_for(TOKEN, thing_arn("a"))
    assert re.fullmatch(r"[a-zA-Z0-9-]{64}", token)
    assert token == target_token_for(TOKEN, thing_arn("a")) != target_token_for(TOKEN, thing_arn("b"))
    assert token != target_token_for("e" * 64, thing_arn("a"))


def test_one_create_deployment_per_target_tagged_with_both_tokens(world: World) -> None:
    world.things("a", "b")
    group = world.group("fleet", "c", "d")
    lines = [line(thing_arn("a"), tags={"owner": "ops"}), line(thing_arn("b")), line(group)]
    started = world.deployer.start(TOKEN, world.request(TOKEN, lines))
    assert started.deployment_id == f"gg2-{TOKEN}" and started.arn == f"s3://bulk-input/staged/{TOKEN}.jsonl"
    assert world.created() == {thing_arn("a"): 1, thing_arn("b"): 1, group: 1}
    tags = _deployment(world, thing_arn("a"))["tags"]
    assert tags == {
        TOKEN_TAG: target_token_for(TOKEN, thing_arn("a")),
        FILE_TOKEN_TAG: TOKEN,
        "team": "v2",
        "owner": "ops",
    }
    summaries = list(world.deployer.target_summaries(started.deployment_id))
    assert [s["state"] for s in summaries] == ["STARTED"] * 3
    assert all(s["deployment_id"] and s["iot_job_id"] and s["revision_id"] == "1" for s in summaries)
    assert summaries[2]["members_at_start"] == 2


def test_a_second_start_costs_no_greengrass_call(world: World) -> None:
    world.things("a", "b")
    request = world.request(TOKEN, [line(thing_arn("a")), line(thing_arn("b"))])
    first = world.deployer.start(TOKEN, request)
    calls = len(world.emulator.calls())
    assert world.deployer.start(TOKEN, request) == first
    assert len(world.emulator.calls()) == calls
    assert world.created() == {thing_arn("a"): 1, thing_arn("b"): 1}


def test_a_thing_groups_members_are_recorded_recursively_at_start(world: World) -> None:
    parent = world.group("fleet", "a", "b")
    world.group("fleet-child", "c", parent="fleet")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(parent)]))
    members = world.object_text(f"reports/{TOKEN}/members/00000.txt").split()
    assert sorted(members) == ["a", "b", "c"]


def test_a_lost_answer_retried_by_botocore_is_the_same_deployment_by_its_token(world: World) -> None:
    """Within the service's 8 hours, the client token alone makes botocore's retry safe."""
    world.things("a")
    deployer = world.build(retries={"mode": "standard", "max_attempts": 3})
    world.emulator.lose_response()
    deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a"))]))
    assert len(world.emulator.calls(operation="CreateDeployment")) == 2
    assert world.created() == {thing_arn("a"): 1}


@pytest.mark.parametrize("hours_later", [0, 9])
def test_a_lost_answer_is_found_by_its_tag_before_anything_is_created_again(
    world: World, hours_later: int
) -> None:
    """After the service forgot the token (8 hours), only the tag tells the start happened."""
    world.things("a", "b")
    request = world.request(TOKEN, [line(thing_arn("a")), line(thing_arn("b"))])
    world.emulator.lose_response()
    with pytest.raises(ClientError):
        world.deployer.start(TOKEN, request)
    if hours_later:
        world.advance(hours_later * 3600)
        world.emulator.forget_tokens()
    world.deployer.start(TOKEN, request)
    assert world.created() == {thing_arn("a"): 1, thing_arn("b"): 1}
    creates_for_a = world.emulator.calls(operation="CreateDeployment", target_arn=thing_arn("a"))
    assert len(creates_for_a) == 1  # found by its tag: not even asked again


def test_conflict_in_progress_and_throttling_storms_are_retried_never_refused(world: World) -> None:
    names = [f"t{i}" for i in range(4)]
    world.things(*names)
    world.emulator.conflict(times=3)
    world.emulator.already_in_progress(times=2)
    world.emulator.throttle("CreateDeployment", times=3)
    world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn(n)) for n in names]))
    assert world.created() == {thing_arn(n): 1 for n in names}
    assert len(world.clock.sleeps) == 8
    assert world.clock.sleeps[:3] == [0.5, 1.0, 2.0]  # backoff


def test_every_call_waits_for_the_budget_and_the_quota_is_never_exceeded(world: World) -> None:
    names = [f"t{i}" for i in range(12)]
    world.things(*names)
    world.emulator.configure(enforce_quotas=True)
    clock = world.emulator.clock
    budget = RequestBudget(10.0, burst=5, clock=clock.now, sleep=world.emulator.advance_clock)
    gg = budget.attach(
        aws(
            "greengrassv2",
            world.emulator.url,
            retries={"mode": "standard", "total_max_attempts": 1},
            user_agent_appid="budget",
        )
    )
    budget_for_iot = budget.attach(
        aws(
            "iot",
            world.emulator.url,
            retries={"mode": "standard", "total_max_attempts": 1},
            user_agent_appid="budget",
        )
    )
    world.iot = budget_for_iot
    deployer = world.build(gg=gg)
    before = len(world.emulator.calls())
    deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn(n)) for n in names]))
    calls = world.emulator.calls()[before:]
    assert budget.requests == len(calls) >= 3 * len(names)
    assert not [c for c in calls if c.outcome == "ThrottlingException"]
    span = calls[-1].at - calls[0].at
    assert len(calls) <= 5 + 10.0 * span + 1


def test_refusals_no_retry_fixes_are_start_rejected(world: World) -> None:
    with pytest.raises(StartRejected) as refused:
        world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("never-created"))]))
    assert refused.value.code == "ResourceNotFoundException"


def test_out_of_time_part_way_then_resumed_where_it_stopped(world: World) -> None:
    names = ["a", "b", "c"]
    world.things(*names)
    request = world.request(TOKEN, [line(thing_arn(n)) for n in names])
    world.clock.script = [900.0, 900.0, 10.0]  # before each target: time for two, not a third
    with pytest.raises(StartIncomplete):
        world.deployer.start(TOKEN, request)
    assert world.created() == {thing_arn("a"): 1, thing_arn("b"): 1}
    assert world.deployer.find_by_token(TOKEN, created_since=None) is None  # not all started yet
    calls = len(world.emulator.calls())
    world.deployer.start(TOKEN, request)
    assert len(world.emulator.calls(operation="CreateDeployment")) == 3
    assert len(world.emulator.calls()) - calls == 3  # for c only: ListDeployments, Create, Get
    assert world.created() == {thing_arn(n): 1 for n in names}
    found = world.deployer.find_by_token(TOKEN, created_since=None)
    assert found is not None and found.deployment_id == f"gg2-{TOKEN}" and found.tags[TOKEN_TAG] == TOKEN


def test_merge_overlays_the_current_deployment_and_replace_lists_what_it_removes(world: World) -> None:
    world.things("a", "b")
    gg = aws("greengrassv2", world.emulator.url)
    before = {"com.example.A": {"componentVersion": "1.0.0"}, "com.example.B": {"componentVersion": "2.0.0"}}
    previous = {
        n: gg.create_deployment(targetArn=thing_arn(n), components=before)["deploymentId"] for n in "ab"
    }
    new = {"com.example.A": {"componentVersion": "1.1.0"}, "com.example.C": {"componentVersion": "3.0.0"}}
    lines = [line(thing_arn("a"), new, updateMode="MERGE"), line(thing_arn("b"), new)]
    started = world.deployer.start(TOKEN, world.request(TOKEN, lines))
    merged = _deployment(world, thing_arn("a"))["components"]
    assert merged == {**before, **new}
    assert _deployment(world, thing_arn("b"))["components"] == new
    summaries = list(world.deployer.target_summaries(started.deployment_id))
    assert [(s["update_mode"], s["removed_components"]) for s in summaries] == [
        ("MERGE", []),
        ("REPLACE", ["com.example.B"]),
    ]
    assert [s["replaced_deployment_id"] for s in summaries] == [previous["a"], previous["b"]]
    saved = json.loads(world.object_text(f"reports/{TOKEN}/replaced/00001.json"))
    assert saved["deploymentId"] == previous["b"] and saved["components"] == before


def test_a_staged_file_that_is_gone_is_refused_before_any_call(world: World) -> None:
    world.things("a")
    request = world.request(TOKEN, [line(thing_arn("a"))])
    world.s3.delete_object(Bucket="bulk-input", Key=f"staged/{TOKEN}.jsonl")
    before = len(world.emulator.calls())
    with pytest.raises(StartRejected) as refused:
        world.deployer.start(TOKEN, request)
    assert refused.value.code == "StagedFileMissing" and len(world.emulator.calls()) == before


def test_the_same_token_with_another_staged_file_is_refused(world: World) -> None:
    world.things("a")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a"))]))
    other = world.request(TOKEN, [line(thing_arn("a"))], key="staged/other.jsonl")
    with pytest.raises(StartRejected) as refused:
        world.deployer.start(TOKEN, other)
    assert refused.value.code == "TokenReused" and world.created() == {thing_arn("a"): 1}


def test_a_staged_file_that_names_other_targets_than_the_request_is_refused(world: World) -> None:
    world.things("a", "b")
    request = world.request(TOKEN, [line(thing_arn("a"))])
    world.request(TOKEN, [line(thing_arn("b"))])  # the staged copy changed under the request
    with pytest.raises(StartRejected) as refused:
        world.deployer.start(TOKEN, request)
    assert refused.value.code == "StagedFileChanged" and world.created() == {}


def test_throttling_that_outlasts_the_time_budget_leaves_the_start_to_be_resumed(world: World) -> None:
    world.things("a", "b")
    request = world.request(TOKEN, [line(thing_arn("a")), line(thing_arn("b"))])
    world.emulator.throttle("CreateDeployment", times=None)
    world.clock.seconds_left = 40.0  # above the 30 s margin: a target may start, a 10 s backoff may not
    with pytest.raises(StartIncomplete):
        world.deployer.start(TOKEN, request)
    assert world.clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0] and world.created() == {}
    world.emulator.clear_faults()
    world.clock.seconds_left = 900.0
    world.deployer.start(TOKEN, request)
    assert world.created() == {thing_arn("a"): 1, thing_arn("b"): 1}


def test_target_items_expire_with_the_ledger_never_before_the_files_entry(world: World) -> None:
    world.things("a")
    deployer = world.build(ttl_days=30)
    deployer.start(TOKEN, world.request(TOKEN, [line(thing_arn("a"))]))
    now = world.emulator.clock.now()
    for suffix in ("head", "00000"):
        item = world.db.get_item(TableName="ledger", Key={"pk": {"S": f"target#{TOKEN}#{suffix}"}})["Item"]
        assert int(item["expires_at"]["N"]) == int(now) + 30 * 86_400


def test_a_staged_file_shorter_than_its_request_is_refused_not_half_started_in_silence(world: World) -> None:
    world.things("a", "b")
    request = world.request(TOKEN, [line(thing_arn("a")), line(thing_arn("b"))])
    world.request(TOKEN, [line(thing_arn("a"))])  # the staged copy lost its last line
    with pytest.raises(StartRejected) as refused:
        world.deployer.start(TOKEN, request)
    assert refused.value.code == "StagedFileChanged"


def test_a_deployment_whose_tags_with_the_files_would_pass_the_limit_is_refused_before_its_call(
    world: World,
) -> None:
    """The line's tags fit alone (validation allows 48); with the stack's and the object's tags
    (here: the request's ``team`` and token tags) and ours, the deployment would hold 51."""
    world.things("a")
    tags = {f"k{i}": "v" for i in range(48)}
    request = world.request(TOKEN, [line(thing_arn("a"), tags=tags)])
    with pytest.raises(StartRejected) as refused:
        world.deployer.start(TOKEN, request)
    assert refused.value.code == "TooManyTags" and "51 tags" in refused.value.message
    assert world.created() == {}
