"""dispatch(): the slot, recovery after a crash, refusals, pauses and races."""

from __future__ import annotations

import time
from typing import Any

import pytest
from bulk_deployer.dispatch import DispatchOutcome, DispatchResult
from bulk_deployer.intake import FileInFlight, Outcome
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import Arrival, FileState
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.token import client_token_for

from tests.fakes.greengrass import client_error
from tests.integration.conftest import Pipeline, build_dispatcher, make_intake, valid_file


class Crash(Exception):
    """The process dies here (Lambda timeout, out of memory, a lost connection)."""


def crash_once(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> None:
    original = getattr(target, name)
    state = {"crashed": False}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not state["crashed"]:
            state["crashed"] = True
            raise Crash(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


@pytest.mark.parametrize("service_forgets_tokens", [False, True])
def test_a_crash_after_start_before_the_ledger_write_recovers_without_a_second_start(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, service_forgets_tokens: bool
) -> None:
    pipeline.greengrass.forget_tokens = service_forgets_tokens
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    token = client_token_for(ref)
    crash_once(monkeypatch, BulkDeploymentLedger, "mark_started")

    with pytest.raises(Crash):
        pipeline.deliver_ref(ref)  # the record fails: SQS will deliver it again
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 1
    file = pipeline.ledger.get(token)
    assert file is not None and file.state is FileState.STARTING
    assert pipeline.slot.get().holder is None, "a failed dispatcher gives the slot back"

    redelivered = pipeline.deliver_ref(ref)
    assert redelivered.outcome is Outcome.DUPLICATE
    assert redelivered.dispatch is not None and redelivered.dispatch.result is DispatchResult.RECOVERED
    file = pipeline.ledger.get(token)
    assert file is not None and file.state is FileState.STARTED
    assert file.bulk_deployment_id == pipeline.greengrass.deployments[0].id
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 1
    assert pipeline.greengrass.started_per_token() == {token: 1}


def test_a_crash_before_the_start_call_starts_on_retry(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    crash_once(monkeypatch, pipeline.greengrass, "start_bulk_deployment")
    with pytest.raises(Crash):
        pipeline.deliver_ref(ref)
    result = pipeline.deliver_ref(ref)
    assert result.dispatch is not None and result.dispatch.result is DispatchResult.STARTED
    assert pipeline.greengrass.started_per_token() == {client_token_for(ref): 1}


def test_throttled_starts_did_nothing_and_are_repeated_at_once(pipeline: Pipeline) -> None:
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    throttled = client_error("TooManyRequestsException", "Rate exceeded", "StartBulkDeployment", 429)
    pipeline.greengrass.fail_next["StartBulkDeployment"] = [throttled, throttled]
    result = pipeline.deliver_ref(ref)
    assert result.dispatch is not None
    assert result.dispatch.result is DispatchResult.STARTED
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 3
    assert len(pipeline.greengrass.deployments) == 1


def test_throttling_past_the_retries_leaves_the_file_to_the_next_dispatch_without_failing_the_message(
    pipeline: Pipeline,
) -> None:
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    throttled = client_error("TooManyRequestsException", "Rate exceeded", "StartBulkDeployment", 429)
    pipeline.greengrass.fail_next["StartBulkDeployment"] = [throttled] * 6
    result = pipeline.deliver_ref(ref)  # acknowledged: nothing held up behind it in the FIFO group
    assert result.outcome is Outcome.QUEUED
    assert result.dispatch is None
    assert pipeline.slot.get().holder is None
    outcome = pipeline.dispatcher().dispatch()  # what the tracker's next run does
    assert outcome.result is DispatchResult.STARTED
    file = pipeline.ledger.get(client_token_for(ref))
    assert file is not None and file.state is FileState.STARTED
    assert len(pipeline.greengrass.deployments) == 1


@pytest.mark.parametrize("service_forgets_tokens", [False, True])
def test_a_start_whose_answer_was_lost_is_found_by_its_tag_not_started_again(
    pipeline: Pipeline, service_forgets_tokens: bool
) -> None:
    """The service did the work but the answer never came (a timeout, a 5xx). Repeating the call
    could start a second bulk deployment once the token is forgotten and the first has ended, so
    nothing repeats it blindly: the next dispatch finds the deployment by its token tag."""
    pipeline.greengrass.forget_tokens = service_forgets_tokens
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    original = pipeline.greengrass.start_bulk_deployment

    def lose_the_answer(**params: Any) -> dict[str, Any]:
        pipeline.greengrass.start_bulk_deployment = original  # type: ignore[method-assign]
        original(**params)
        raise client_error("InternalServerErrorException", "upstream timeout", "StartBulkDeployment", 500)

    pipeline.greengrass.start_bulk_deployment = lose_the_answer  # type: ignore[method-assign]
    assert pipeline.deliver_ref(ref).dispatch is None  # deferred, not failed
    file = pipeline.ledger.get(client_token_for(ref))
    assert file is not None and file.state is FileState.STARTING
    pipeline.greengrass.finish_all()  # the first deployment even ends before anyone looks again
    outcome = pipeline.dispatcher().dispatch()  # the tracker's next run
    assert outcome.result is DispatchResult.RECOVERED
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 1
    assert len(pipeline.greengrass.deployments) == 1


def test_a_refused_start_is_retried_then_fails_pauses_dispatch_and_resume_moves_on(
    pipeline: Pipeline,
) -> None:
    refusal = client_error(
        "BadRequestException", "Role is not authorized for greengrass.", "StartBulkDeployment"
    )
    pipeline.greengrass.fail_next["StartBulkDeployment"] = [refusal, refusal, refusal]
    bad = pipeline.upload("incoming/a.jsonl", valid_file())
    result = pipeline.deliver_ref(bad)

    assert result.dispatch is not None and result.dispatch.result is DispatchResult.START_FAILED
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 3  # START_MAX_REFUSALS
    file = pipeline.ledger.get(client_token_for(bad))
    assert file is not None and file.state is FileState.START_FAILED
    assert file.start_rejections == 3
    assert "Role is not authorized" in str(file.last_start_error)
    assert pipeline.metrics["StartFailed"] == 3
    reason = pipeline.control.paused()
    assert reason is not None and "incoming/a.jsonl" in reason
    assert pipeline.slot.get().holder is None

    nxt = pipeline.upload("incoming/b.jsonl", valid_file())
    waiting = pipeline.deliver_ref(nxt)
    assert waiting.dispatch is not None and waiting.dispatch.result is DispatchResult.PAUSED
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 3

    pipeline.control.resume()
    outcome = pipeline.dispatcher().dispatch()
    assert outcome.result is DispatchResult.STARTED
    assert outcome.token == client_token_for(nxt)


def test_a_refusal_while_another_deployment_runs_means_busy_not_failure(pipeline: Pipeline) -> None:
    ref = pipeline.upload("incoming/a.jsonl", valid_file())
    foreign: list[Any] = []

    original = pipeline.greengrass.start_bulk_deployment

    def start_racing_a_foreign_tool(**params: Any) -> dict[str, Any]:
        if not foreign:  # another tool starts between our busy check and our start
            foreign.append(pipeline.greengrass.run_foreign_deployment())
        return original(**params)

    pipeline.greengrass.start_bulk_deployment = start_racing_a_foreign_tool  # type: ignore[method-assign]
    result = pipeline.deliver_ref(ref)
    assert result.dispatch is not None and result.dispatch.result is DispatchResult.BUSY
    file = pipeline.ledger.get(client_token_for(ref))
    assert file is not None and file.state is FileState.QUEUED
    assert file.start_rejections == 0
    assert pipeline.control.paused() is None


def test_a_dispatcher_that_died_holding_the_slot_blocks_only_until_its_lease_ends(pipeline: Pipeline) -> None:
    clock = {"now": time.time()}
    slot = DeploymentSlot(pipeline.dynamodb, "ledger", clock=lambda: clock["now"])
    assert slot.acquire("dead-dispatcher", lease_seconds=300)
    assert not slot.acquire("another", lease_seconds=300)
    clock["now"] += 301
    assert slot.acquire("another", lease_seconds=300)
    assert not slot.release("dead-dispatcher")
    assert slot.release("another")


def _queue_two_files(pipeline: Pipeline) -> list[str]:
    """Two files QUEUED but not dispatched, as two starters leave them just before dispatch()."""
    from bulk_deployer.ledger_model import StartRequest

    tokens = []
    for i in range(2):
        ref = pipeline.upload(f"incoming/{i}.jsonl", valid_file())
        file = pipeline.ledger.register(client_token_for(ref), ref, Arrival(str(i)), lease_seconds=60).file
        uri = f"https://b.s3.us-east-1.amazonaws.com/staged/{file.token}.jsonl"
        pipeline.ledger.enqueue(
            file, StartRequest(pipeline.settings.execution_role_arn, uri, {}), records=2, staged_key="s"
        )
        tokens.append(file.token)
    return tokens


@pytest.mark.parametrize(
    "interleave_at", ["list_bulk_deployments", "get_bulk_deployment_status", "start_bulk_deployment"]
)
def test_two_starters_racing_for_the_slot_start_exactly_one_file(
    pipeline: Pipeline, interleave_at: str
) -> None:
    # moto's in-process DynamoDB does not make conditional writes atomic across threads, so the
    # race is played deterministically: the second dispatcher runs at each point where the first
    # one holds the slot and is about to talk to Greengrass.
    tokens = _queue_two_files(pipeline)
    pipeline.greengrass.run_foreign_deployment()  # an older, finished one: every call is made
    pipeline.greengrass.finish_all()
    first, second = pipeline.dispatcher(), pipeline.dispatcher()
    interleaved: list[DispatchResult] = []
    target = pipeline.greengrass
    original = getattr(target, interleave_at)

    def racing(**params: Any) -> Any:
        if not interleaved:
            interleaved.append(second.dispatch().result)
        return original(**params)

    setattr(target, interleave_at, racing)
    outcome = first.dispatch()
    assert interleaved == [DispatchResult.SLOT_TAKEN]
    assert outcome.result is DispatchResult.STARTED
    assert outcome.token == tokens[0]
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 1
    # And once the slot belongs to the bulk deployment, nobody else can take it either.
    assert second.dispatch().result is DispatchResult.SLOT_TAKEN


def test_a_file_in_flight_elsewhere_fails_the_record_and_is_taken_over_after_its_lease(
    pipeline: Pipeline,
) -> None:
    clock = {"now": time.time()}
    ledger = BulkDeploymentLedger(pipeline.dynamodb, "ledger", ttl_days=400, clock=lambda: clock["now"])
    intake = make_intake(pipeline.s3, ledger, pipeline.greengrass, pipeline.settings, pipeline.metrics)
    ref = pipeline.upload("incoming/a.jsonl", valid_file())
    # Another invocation registered the file and is (or was) working on it.
    ledger.register(client_token_for(ref), ref, Arrival("1"), lease_seconds=60)

    from tests.integration.conftest import eventbridge_body

    with pytest.raises(FileInFlight):
        intake.handle_message(eventbridge_body(ref), Arrival("2"))
    clock["now"] += 61
    (result,) = intake.handle_message(eventbridge_body(ref), Arrival("2"))
    assert result.outcome is Outcome.QUEUED
    assert len(pipeline.greengrass.deployments) == 1


def test_a_stale_queue_index_entry_is_skipped(pipeline: Pipeline) -> None:
    first = pipeline.upload("incoming/a.jsonl", valid_file())
    second = pipeline.upload("incoming/b.jsonl", valid_file())
    pipeline.greengrass.run_foreign_deployment()
    pipeline.deliver_ref(first)
    pipeline.deliver_ref(second)
    # The first file was cancelled behind the index's back: the dispatcher must re-read.
    pipeline.ledger._update(
        client_token_for(first),
        "SET #state = :s, updated_at = :at",
        "#state = :q",
        {":s": "START_FAILED", ":q": "QUEUED"},
    )
    pipeline.greengrass.finish_all()
    dispatcher = build_dispatcher(
        pipeline.ledger, pipeline.greengrass, pipeline.settings, pipeline.metrics, s3=pipeline.s3
    )
    outcome = dispatcher.dispatch()
    assert outcome.token == client_token_for(second)


def test_dispatch_logs_name_the_file_it_dispatches_not_the_one_that_arrived(pipeline: Pipeline) -> None:
    import io
    import json
    import logging

    from bulk_deployer.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)  # formats with the keys in force when logged
    logger._logger.addHandler(handler)
    foreign = pipeline.greengrass.run_foreign_deployment()
    first = pipeline.upload("incoming/first.jsonl", valid_file())
    pipeline.deliver_ref(first)
    pipeline.greengrass.finish(foreign.id)
    second = pipeline.upload("incoming/second.jsonl", valid_file())
    stream.truncate(0)
    stream.seek(0)
    try:
        pipeline.deliver_ref(second)  # dispatch() starts the older file, `first`
    finally:
        logger._logger.removeHandler(handler)

    formatted = [json.loads(line) for line in stream.getvalue().splitlines()]
    (started,) = [line for line in formatted if line["message"] == "bulk deployment started"]
    assert started["key"] == "incoming/first.jsonl"
    assert started["token"] == started["correlation_id"] == client_token_for(first)
    (queued,) = [line for line in formatted if line["message"] == "input file valid, staged and queued"]
    assert queued["key"] == "incoming/second.jsonl"
    assert queued["token"] == client_token_for(second)


def _queue_behind_a_running_deployment(pipeline: Pipeline) -> str:
    running = pipeline.deliver_ref(pipeline.upload("incoming/running.jsonl", valid_file("g-running")))
    assert running.dispatch is not None and running.dispatch.result is DispatchResult.STARTED
    return str(running.dispatch.bulk_deployment_id)


def _dispatched_after_the_running_one_ends(pipeline: Pipeline) -> DispatchOutcome | None:
    """The tracker's run: it sees the running bulk deployment end, frees the slot, dispatches."""
    return pipeline.tracker().run(lambda: 900.0).dispatched


def test_a_queued_file_whose_key_was_overwritten_is_superseded_not_deployed(pipeline: Pipeline) -> None:
    """Deploying the stale version first, then its replacement, would deploy every group twice."""
    running_id = _queue_behind_a_running_deployment(pipeline)
    old = pipeline.upload("incoming/fleet.jsonl", valid_file("g-old"))
    assert pipeline.deliver_ref(old).outcome is Outcome.QUEUED
    new = pipeline.upload("incoming/fleet.jsonl", valid_file("g-new"))
    assert pipeline.deliver_ref(new).outcome is Outcome.QUEUED
    pipeline.greengrass.finish(running_id)

    outcome = _dispatched_after_the_running_one_ends(pipeline)

    assert outcome.result is DispatchResult.STARTED and outcome.token == client_token_for(new)
    stale = pipeline.ledger.get(client_token_for(old))
    assert stale is not None and stale.state is FileState.SUPERSEDED
    assert stale.superseded_by_version_id == new.version_id
    assert str(new.version_id) in str(stale.reason)
    assert not stale.on_work_list
    assert pipeline.greengrass.started_per_token() == {
        client_token_for(
            pipeline.ledger.get(pipeline.greengrass.deployments[0].tags["bulk-deployer:token"]).ref
        ): 1,
        client_token_for(new): 1,
    }
    superseded = [m for m in pipeline.outcomes.messages if m[0] == "superseded"]
    assert superseded == [
        (
            "superseded",
            "incoming/fleet.jsonl",
            {
                "token": client_token_for(old),
                "reason": stale.reason,
                "current_version_id": new.version_id,
            },
        )
    ]
    assert pipeline.metrics["InputFileSuperseded"] == 1


def test_a_queued_file_whose_key_was_deleted_is_superseded_and_nothing_starts(pipeline: Pipeline) -> None:
    running_id = _queue_behind_a_running_deployment(pipeline)
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file("g-1"))
    assert pipeline.deliver_ref(ref).outcome is Outcome.QUEUED
    pipeline.s3.delete_object(Bucket=ref.bucket, Key=ref.key)  # a delete marker: the key has no object
    pipeline.greengrass.finish(running_id)
    starts = pipeline.greengrass.calls["StartBulkDeployment"]

    outcome = _dispatched_after_the_running_one_ends(pipeline)

    assert outcome is not None and outcome.result is DispatchResult.EMPTY
    file = pipeline.ledger.get(client_token_for(ref))
    assert file is not None and file.state is FileState.SUPERSEDED and "deleted" in str(file.reason)
    assert file.superseded_by_version_id is None
    assert pipeline.greengrass.calls["StartBulkDeployment"] == starts
    assert pipeline.slot.get().holder is None  # nothing started: the slot is free


def test_a_queued_file_still_current_starts_as_before(pipeline: Pipeline) -> None:
    running_id = _queue_behind_a_running_deployment(pipeline)
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file("g-1"))
    pipeline.deliver_ref(ref)
    pipeline.upload("incoming/other.jsonl", valid_file("g-2"))  # another key changing is no reason
    pipeline.greengrass.finish(running_id)
    outcome = _dispatched_after_the_running_one_ends(pipeline)
    assert outcome.result is DispatchResult.STARTED and outcome.token == client_token_for(ref)
