"""Following a big thing group: bounded memory, and no listing of its executions on every pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bulk_deployer.deployers.base import Lifecycle
from bulk_deployer.deployers.greengrass_v2.members import ExecutionIndex, ExecutionSummary

from benchmarks.run import FAKE_AWS
from local.moto_server import MotoServer
from tests.deployers.greengrass_v2.test_follow import DEPLOYMENT, TOKEN, _by_thing
from tests.deployers.greengrass_v2.world import World, line

ROOT = Path(__file__).resolve().parents[3]
DEVICES = 20_000
# The follow pass's peak of Python memory at 20,000 devices: about 5 MB, most of it the rows
# (4 MB) gathered for one PutObject. Holding the executions and the members as well took 16 MB.
PEAK_MB = 8.0
LIST = "ListJobExecutionsForJob"


def test_following_a_big_group_to_its_end_holds_neither_its_executions_nor_its_members(
    contract_moto: MotoServer,
) -> None:
    contract_moto.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.v2_follow_bench", contract_moto.url, str(DEVICES), "traced"],
        cwd=ROOT,
        env={**env, **FAKE_AWS},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["lifecycle"] == Lifecycle.SUCCEEDED.value
    assert figures["traced_peak_mb"] < PEAK_MB, figures


def test_a_group_waiting_for_a_member_lists_its_executions_again_only_when_its_counts_move(
    world: World,
) -> None:
    """A member left before it was reached: every execution is done, and there are as many as
    members (one joined later), yet the group waits for the member until its deadline."""
    group = world.group("fleet", "a", "b")
    slow = {
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 1},
    }
    world.deployer.start(TOKEN, world.request(TOKEN, [line(group, iotJobConfiguration=slow)]))
    world.advance(10)
    world.iot.remove_thing_from_thing_group(thingGroupName="fleet", thingName="b")
    world.iot.create_thing(thingName="late")
    world.iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="late")
    world.advance(5 * 60)

    def listings_in_a_pass() -> int:
        before = len(world.emulator.calls(operation=LIST))
        assert world.deployer.status(DEPLOYMENT).lifecycle is Lifecycle.RUNNING
        return len(world.emulator.calls(operation=LIST)) - before

    assert listings_in_a_pass() == 1  # the counts say "maybe done": checked, b is not
    world.advance(60)
    assert listings_in_a_pass() == 0  # the same counts: not checked again
    world.advance(10 * 60)
    assert listings_in_a_pass() == 1  # resweep_seconds later, checked again (the counts may lag)
    world.iot.create_thing(thingName="later")
    world.iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="later")
    world.advance(5 * 60)
    assert listings_in_a_pass() == 1  # the counts moved
    world.advance(40 * 60)
    assert world.deployer.status(DEPLOYMENT).lifecycle is Lifecycle.FAILED
    rows = _by_thing(world.deployer)
    assert {name: (row["status"], row["joined_later"]) for name, row in rows.items()} == {
        "a": ("SUCCEEDED", False),
        "b": ("PENDING", False),
        "late": ("SUCCEEDED", True),
        "later": ("SUCCEEDED", True),
    }


def test_the_index_joins_members_and_executions_as_the_report_needs_them() -> None:
    """Members in recorded order with their execution or none; a thing listed twice keeps its
    first place and its later answer; executions of non-members after, in listed order."""
    with ExecutionIndex() as index:
        index.add_executions(
            [ExecutionSummary("late", "SUCCEEDED", "t1"), ExecutionSummary("b", "QUEUED", None)]
        )
        index.add_executions(
            [ExecutionSummary("a", "FAILED", "t2"), ExecutionSummary("b", "SUCCEEDED", "t3")]
        )
        index.add_executions([ExecutionSummary("later", "REMOVED", "t4")])
        index.add_members(["c", "b", "a"])
        assert list(index.members()) == [
            ("c", None),
            ("b", ExecutionSummary("b", "SUCCEEDED", "t3")),
            ("a", ExecutionSummary("a", "FAILED", "t2")),
        ]
        assert [e.thing_name for e in index.joined_later()] == ["late", "later"]
        assert index.members_not_in({"SUCCEEDED", "FAILED"}) == 1  # c has none
        assert index.members_not_in({"SUCCEEDED"}) == 2


def test_a_status_pass_starts_listing_only_within_its_page_budget(world: World) -> None:
    """Two groups done at once, a budget of one page: one settles in this pass, one in the next."""
    one, two = world.group("one", "a"), world.group("two", "b")
    deployer = world.build(list_pages_per_pass=1)
    deployer.start(TOKEN, world.request(TOKEN, [line(one), line(two)]))
    world.advance(5)
    first = deployer.status(DEPLOYMENT)
    assert first.lifecycle is Lifecycle.RUNNING and first.metrics["SUCCEEDED"] == 2
    assert len(world.emulator.calls(operation=LIST)) == 1
    assert deployer.status(DEPLOYMENT).lifecycle is Lifecycle.SUCCEEDED
    assert len(world.emulator.calls(operation=LIST)) == 2
    assert {name: row["status"] for name, row in _by_thing(deployer).items()} == {
        "a": "SUCCEEDED",
        "b": "SUCCEEDED",
    }
