"""The slot's capacity and resources: files that share nothing run side by side, never two that
share a resource, and a file passes an earlier waiting one only if they share nothing.

Greengrass V1 uses capacity 1 and one resource (the rest of the suite); a deployer whose
deployments go to targets declares more. The deployer here is the core's interface answered from
memory: the scheduling is the core's, whatever service stands behind it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
from bulk_deployer.contract import Metric
from bulk_deployer.control import DispatchControl
from bulk_deployer.deployers.base import (
    DeploymentStatus,
    Lifecycle,
    LifecycleMetrics,
    ReportRows,
    StartedDeployment,
    StartIncomplete,
    TargetOutcome,
)
from bulk_deployer.deployers.greengrass_v1.statuses import LIFECYCLE_METRICS
from bulk_deployer.dispatch import Dispatcher, DispatchResult
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.ledger_model import Arrival, FileState, StartRequest
from bulk_deployer.slot import DeploymentSlot, resource_digest
from bulk_deployer.token import client_token_for

from tests.integration.conftest import Pipeline, valid_file

TABLE = "ledger"
TARGET_ROWS = ReportRows("target", Metric.GROUP_DEPLOYMENTS_FAILED)


@dataclass
class TargetDeployer:
    """Deployments to the targets named in the start request's ``targets`` tag."""

    capacity: int
    started: list[str] = field(default_factory=list)
    incomplete: int = 0  # how many start calls run out of time part-way first
    calls: list[str] = field(default_factory=list)
    report_rows: ReportRows = TARGET_ROWS
    lifecycle_metrics: LifecycleMetrics = LIFECYCLE_METRICS
    report_columns: tuple[str, ...] = ()
    counter_metrics: tuple = ()  # type: ignore[type-arg]

    def resources(self, request: StartRequest) -> frozenset[str]:
        return frozenset(request.tags["targets"].split(","))

    def start(self, token: str, request: StartRequest) -> StartedDeployment:
        self.calls.append(token)
        if self.incomplete:
            self.incomplete -= 1
            raise StartIncomplete("3 of 5 targets started")
        self.started.append(token)
        return StartedDeployment(f"d-{len(self.started)}", f"arn:d-{len(self.started)}")

    def latest(self) -> DeploymentStatus | None:
        return None  # deployments to targets never wait for the account

    def find_by_token(self, token: str, *, created_since: str | None) -> DeploymentStatus | None:
        return None

    def status(self, deployment_id: str) -> DeploymentStatus:
        return DeploymentStatus(deployment_id, "ACTIVE", Lifecycle.RUNNING)

    def target_results(
        self, deployment_id: str, *, next_token: str | None, page_size: int
    ) -> tuple[list, None]:  # type: ignore[type-arg]
        return [], None

    def report_details(self, deployment_id: str) -> dict[str, str]:
        return {}

    def target_outcome(self, status: str) -> TargetOutcome:
        return TargetOutcome.PENDING

    def stop(self, deployment_id: str) -> None:
        pass


@dataclass
class Scheduling:
    pipeline: Pipeline
    deployer: TargetDeployer
    slot: DeploymentSlot
    dispatcher: Dispatcher
    tokens: dict[str, str] = field(default_factory=dict)

    def queue(self, name: str, *targets: str) -> str:
        ref = self.pipeline.upload(f"incoming/{name}.jsonl", valid_file(name))
        token = client_token_for(ref)
        self.pipeline.sequence += 1
        ledger = self.pipeline.ledger
        file = ledger.register(token, ref, Arrival(str(self.pipeline.sequence)), lease_seconds=60).file
        request = StartRequest("role", f"s3://bucket/staged/{name}", {"targets": ",".join(targets)})
        ledger.enqueue(file, request, records=len(targets), staged_key=f"staged/{name}")
        self.tokens[token] = name
        return token

    def dispatch(self) -> tuple[DispatchResult, str | None]:
        outcome = self.dispatcher.dispatch()
        return outcome.result, self.tokens.get(str(outcome.token))

    def end(self, name: str) -> None:
        """What the tracker does when a file's deployment ends."""
        (token,) = [t for t, n in self.tokens.items() if n == name]
        assert self.slot.release_file(token)


def _scheduling(pipeline: Pipeline, capacity: int) -> Scheduling:
    deployer = TargetDeployer(capacity)
    slot = DeploymentSlot(pipeline.dynamodb, TABLE, capacity=capacity)
    dispatcher = Dispatcher(
        pipeline.ledger,
        slot,
        DispatchControl(pipeline.dynamodb, TABLE),
        deployer,
        InputObjectStore(pipeline.s3),
        count=lambda name, value: None,
        lease_seconds=60,
        max_rejections=3,
        retry_base_seconds=0,
    )
    return Scheduling(pipeline, deployer, slot, dispatcher)


@pytest.fixture
def two(pipeline: Pipeline) -> Scheduling:
    return _scheduling(pipeline, capacity=2)


def test_files_that_share_no_target_run_side_by_side_up_to_the_capacity(two: Scheduling) -> None:
    for name, target in (("a", "x"), ("b", "y"), ("c", "z")):
        two.queue(name, target)
    assert two.dispatch() == (DispatchResult.STARTED, "a")
    assert two.dispatch() == (DispatchResult.STARTED, "b")
    assert two.dispatch() == (DispatchResult.SLOT_TAKEN, None)  # two run: the capacity
    assert two.slot.get().holder is None  # the dispatch lease is given back every time
    two.end("a")
    assert two.dispatch() == (DispatchResult.STARTED, "c")
    assert len(two.deployer.started) == 3


def test_a_file_waits_for_a_running_one_it_shares_a_target_with(two: Scheduling) -> None:
    two.queue("a", "x", "y")
    two.queue("b", "y")
    assert two.dispatch() == (DispatchResult.STARTED, "a")
    assert two.dispatch() == (DispatchResult.BLOCKED, None)
    assert two.pipeline.ledger.get(next(iter(t for t, n in two.tokens.items() if n == "b"))).state is (  # type: ignore[union-attr]
        FileState.QUEUED
    )
    two.end("a")
    assert two.dispatch() == (DispatchResult.STARTED, "b")


def test_a_later_file_passes_a_blocked_one_only_if_they_share_nothing(two: Scheduling) -> None:
    two.queue("a", "x")
    two.queue("b", "x", "y")  # waits for a on x
    two.queue("c", "y")  # shares y with b, which arrived first: must not pass it
    two.queue("d", "z")  # shares nothing: may pass both
    assert two.dispatch() == (DispatchResult.STARTED, "a")
    assert two.dispatch() == (DispatchResult.STARTED, "d")
    assert two.dispatch() == (DispatchResult.SLOT_TAKEN, None)
    two.end("d")
    assert two.dispatch() == (DispatchResult.BLOCKED, None)  # b waits on x, c behind b on y
    two.end("a")
    assert two.dispatch() == (DispatchResult.STARTED, "b")
    assert two.dispatch() == (DispatchResult.BLOCKED, None)
    two.end("b")
    assert two.dispatch() == (DispatchResult.STARTED, "c")
    assert [two.tokens[t] for t in two.deployer.started] == ["a", "d", "b", "c"]


def test_capacity_one_runs_one_file_at_a_time_whatever_it_holds(pipeline: Pipeline) -> None:
    one = _scheduling(pipeline, capacity=1)
    one.queue("a", "x")
    one.queue("b", "y")
    assert one.dispatch() == (DispatchResult.STARTED, "a")
    assert one.dispatch() == (DispatchResult.SLOT_TAKEN, None)
    one.end("a")
    assert one.dispatch() == (DispatchResult.STARTED, "b")


def test_a_slot_item_written_by_an_earlier_version_blocks_until_its_deployment_ends(
    pipeline: Pipeline,
) -> None:
    """Before holds, a running bulk deployment owned the whole item (state active)."""
    pipeline.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "slot"},
            "holder": {"S": "old-dispatcher"},
            "slot_state": {"S": "active"},
            "token": {"S": "t-old"},
            "bulk_deployment_id": {"S": "bd-old"},
        },
    )
    slot = DeploymentSlot(pipeline.dynamodb, TABLE)
    state = slot.get()
    assert (state.state, state.tokens, state.legacy_bulk_deployment_id) == ("active", ["t-old"], "bd-old")
    assert slot.acquire("new", lease_seconds=60) is None
    assert not slot.release_file("t-other")
    assert slot.release_file("t-old")
    assert slot.acquire("new", lease_seconds=60) is not None


def test_the_capacity_is_checked_in_the_same_write_that_takes_the_lease(pipeline: Pipeline) -> None:
    slot = DeploymentSlot(pipeline.dynamodb, TABLE, capacity=2)
    calls: Counter[str] = Counter()
    pipeline.dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
    )
    for token in ("t1", "t2"):
        assert slot.acquire("d", lease_seconds=60) is not None
        pipeline.dynamodb.transact_write_items(TransactItems=[slot.hold_item("d", token, [token])])
        assert slot.release("d")
    calls.clear()
    assert slot.acquire("d", lease_seconds=60) is None
    assert calls == Counter({"UpdateItem": 1})


def test_a_start_that_runs_out_of_time_part_way_is_resumed_by_the_next_dispatch(two: Scheduling) -> None:
    two.deployer.incomplete = 1
    token = two.queue("a", "x")
    two.queue("b", "x")
    assert two.dispatch() == (DispatchResult.STARTING, "a")
    file = two.pipeline.ledger.get(token)
    assert file is not None and file.state is FileState.STARTING
    assert two.slot.get().holder is None and two.slot.get().tokens == []
    assert two.dispatch() == (DispatchResult.STARTED, "a")  # resumed first: b shares its target
    assert two.deployer.calls == [token, token]
    assert two.slot.get().tokens == [token]
    assert two.dispatch() == (DispatchResult.BLOCKED, None)


def _token(scheduling: Scheduling, name: str) -> str:
    (token,) = [t for t, n in scheduling.tokens.items() if n == name]
    return token


def test_a_settled_target_is_freed_at_once_while_the_file_keeps_its_place_in_the_capacity(
    two: Scheduling,
) -> None:
    two.queue("a", "x", "y")
    two.queue("b", "x")  # waits for a on x
    two.queue("c", "z")
    assert two.dispatch() == (DispatchResult.STARTED, "a")
    assert two.dispatch() == (DispatchResult.STARTED, "c")
    two.end("c")
    assert two.dispatch() == (DispatchResult.BLOCKED, None)
    assert two.slot.release_resources(_token(two, "a"), ["x"])  # a's deployment to x settled
    assert two.dispatch() == (DispatchResult.STARTED, "b")  # a still deploys to y
    hold = two.slot.get().holds[_token(two, "a")]
    assert hold.resources == {resource_digest("y")}
    two.queue("d", "w")
    assert two.dispatch() == (DispatchResult.SLOT_TAKEN, None)  # a's hold still counts: two run
    assert two.slot.release_resources(_token(two, "a"), ["y"])
    assert two.slot.get().holds[_token(two, "a")].resources == frozenset()
    assert two.dispatch() == (DispatchResult.SLOT_TAKEN, None)  # until a's deployment ends
    two.end("a")
    assert two.dispatch() == (DispatchResult.STARTED, "d")
    assert not two.slot.release_resources(_token(two, "a"), ["y"])  # a holds nothing any more


def test_a_freed_target_keeps_arrival_order_on_it(two: Scheduling) -> None:
    two.queue("a", "x", "y")
    two.queue("b", "x", "w")  # first in line for x
    two.queue("c", "x")  # behind b on x: must not pass it when a frees x
    assert two.dispatch() == (DispatchResult.STARTED, "a")
    assert two.slot.release_resources(_token(two, "a"), ["y"])
    assert two.dispatch() == (DispatchResult.BLOCKED, None)  # x is still a's
    assert two.slot.release_resources(_token(two, "a"), ["x"])
    assert two.dispatch() == (DispatchResult.STARTED, "b")
    assert two.dispatch() == (DispatchResult.SLOT_TAKEN, None)
    two.end("a")
    assert two.dispatch() == (DispatchResult.BLOCKED, None)  # c waits for b on x
    two.end("b")
    assert two.dispatch() == (DispatchResult.STARTED, "c")


def test_a_hold_is_written_as_a_string_set_so_one_delete_takes_targets_out(pipeline: Pipeline) -> None:
    slot = DeploymentSlot(pipeline.dynamodb, TABLE, capacity=2)
    assert slot.acquire("d", lease_seconds=60) is not None
    pipeline.dynamodb.transact_write_items(TransactItems=[slot.hold_item("d", "t1", ["x", "y", "z"])])
    assert slot.release("d")
    calls: Counter[str] = Counter()
    pipeline.dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
    )
    assert slot.release_resources("t1", ["x", "z", "not-held"])
    assert calls == Counter({"UpdateItem": 1})
    item = pipeline.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "slot"}})["Item"]
    assert item["holds"]["M"]["t1"]["M"]["resources"] == {"SS": [resource_digest("y")]}


def test_a_hold_written_as_a_list_by_the_version_before_is_freed_target_by_target(
    pipeline: Pipeline,
) -> None:
    """The version before wrote a hold's digests as a list: DELETE refuses a list."""
    digests = sorted(resource_digest(r) for r in ("x", "y", "z"))
    pipeline.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "slot"},
            "holds": {
                "M": {
                    "t-old": {
                        "M": {
                            "resources": {"L": [{"S": d} for d in digests]},
                            "since": {"S": "2026-11-27T12:00:00Z"},
                        }
                    }
                }
            },
        },
    )
    slot = DeploymentSlot(pipeline.dynamodb, TABLE, capacity=2)
    assert slot.get().held_resources() == set(digests)
    assert slot.release_resources("t-old", ["x"])
    assert slot.get().holds["t-old"].resources == {resource_digest("y"), resource_digest("z")}
    item = pipeline.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "slot"}})["Item"]
    assert "SS" in item["holds"]["M"]["t-old"]["M"]["resources"]  # rewritten as a set
    assert slot.release_resources("t-old", ["y", "z"])
    assert slot.get().tokens == ["t-old"] and slot.get().held_resources() == set()
    assert slot.release_resources("t-old", ["y"])  # nothing left to free: the hold stays
    assert slot.release_file("t-old")
    assert slot.get().tokens == []
    assert not slot.release_resources("t-old", ["x"])
