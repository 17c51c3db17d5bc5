"""The core's dispatcher with the Greengrass V2 deployer: what the pipeline relies on, end to end
through the ledger, the slot and the V2 emulator (the tracker's part is ``status`` + releasing)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from bulk_deployer.control import DispatchControl
from bulk_deployer.deployers.base import Lifecycle
from bulk_deployer.dispatch import Dispatcher, DispatchResult
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import Arrival, FileState
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.token import client_token_for

from tests.deployers.greengrass_v2.world import BUCKET, TABLE, World, line, thing_arn


class Pipeline:
    def __init__(self, world: World, capacity: int = 2) -> None:
        self.world = world
        now = world.emulator.clock.now
        self.ledger = BulkDeploymentLedger(world.db, TABLE, ttl_days=30, clock=now)
        self.slot = DeploymentSlot(world.db, TABLE, clock=now, capacity=capacity)
        self.dispatcher = Dispatcher(
            self.ledger,
            self.slot,
            DispatchControl(world.db, TABLE, clock=now),
            world.deployer,
            InputObjectStore(world.s3),
            count=lambda metric, value: None,
            lease_seconds=60,
            max_rejections=3,
            retry_base_seconds=0,
        )
        self.arrivals = 0

    def queue(self, name: str, lines: list[dict[str, Any]]) -> str:
        """What the intake does with a valid file: register, stage, queue with its start request."""
        key = f"incoming/{name}.jsonl"
        etag = self.world.s3.put_object(Bucket=BUCKET, Key=key, Body=name.encode())["ETag"].strip('"')
        ref = ObjectRef(bucket=BUCKET, key=key, etag=etag, region="us-east-1")
        token = client_token_for(ref)
        self.arrivals += 1
        file = self.ledger.register(token, ref, Arrival(f"{self.arrivals:04d}"), lease_seconds=60).file
        request = self.world.request(token, lines)
        self.ledger.enqueue(file, request, records=len(lines), staged_key=f"staged/{token}.jsonl")
        return token

    def follow(self, token: str) -> Lifecycle:
        """The tracker's part: the deployment's status; at its end the file's hold is released."""
        status = self.world.deployer.status(f"gg2-{token}")
        if status.terminal:
            self.slot.release_file(token)
        return status.lifecycle


@pytest.fixture
def pipeline(world: World) -> Pipeline:
    return Pipeline(world)


def test_dispatched_again_and_again_a_file_creates_one_deployment_per_target(
    world: World, pipeline: Pipeline
) -> None:
    world.things("a", "b")
    token = pipeline.queue("one", [line(thing_arn("a")), line(thing_arn("b"))])
    outcome = pipeline.dispatcher.dispatch()
    assert (outcome.result, outcome.token, outcome.bulk_deployment_id) == (
        DispatchResult.STARTED,
        token,
        f"gg2-{token}",
    )
    for _ in range(3):
        assert pipeline.dispatcher.dispatch().result is DispatchResult.EMPTY
    assert world.created() == {thing_arn("a"): 1, thing_arn("b"): 1}


def test_a_file_sharing_a_target_waits_for_the_earlier_one_and_disjoint_files_overlap(
    world: World, pipeline: Pipeline
) -> None:
    world.things("a", "b", "c")
    first = pipeline.queue("first", [line(thing_arn("a")), line(thing_arn("b"))])
    second = pipeline.queue("second", [line(thing_arn("b"))])
    third = pipeline.queue("third", [line(thing_arn("c"))])
    assert pipeline.dispatcher.dispatch().token == first
    assert pipeline.dispatcher.dispatch().token == third  # shares nothing with first: passes second
    assert pipeline.dispatcher.dispatch().result is DispatchResult.SLOT_TAKEN
    world.advance(5)
    assert pipeline.follow(first) is Lifecycle.SUCCEEDED
    b_first = world.emulator.calls(operation="CreateDeployment", target_arn=thing_arn("b"))[0].at
    world.advance(1)
    assert pipeline.dispatcher.dispatch().token == second
    b_second = world.emulator.calls(operation="CreateDeployment", target_arn=thing_arn("b"))[1].at
    assert b_second > b_first and world.created()[thing_arn("b")] == 2


def test_a_lost_answer_leaves_the_file_starting_and_the_next_dispatch_resumes_it_without_duplicates(
    world: World, pipeline: Pipeline
) -> None:
    world.things("a", "b")
    token = pipeline.queue("one", [line(thing_arn("a")), line(thing_arn("b"))])
    world.emulator.lose_response()
    with pytest.raises(ClientError):
        pipeline.dispatcher.dispatch()
    file = pipeline.ledger.get(token)
    assert file is not None and file.state is FileState.STARTING
    world.advance(9 * 3600)
    world.emulator.forget_tokens()
    outcome = pipeline.dispatcher.dispatch()
    assert (outcome.result, outcome.token) == (DispatchResult.STARTED, token)
    assert world.created() == {thing_arn("a"): 1, thing_arn("b"): 1}
