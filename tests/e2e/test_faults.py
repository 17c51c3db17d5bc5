"""The fault matrix: each fault injected into the running local pipeline, every file accounted for.

Faults come from the outside only: the Greengrass emulator's fault switches, botocore event hooks
on the functions' clients (tests/e2e/hooks.py), the execution role's trust policy, and messages
sent to the intake queue. For every case the test asserts that each file ends in exactly one
outcome and that the emulator created exactly the expected number of bulk deployments per file
(1 or 0), and no other.

Cases covered elsewhere and only referenced in docs/reliability.md: the starter dying between
StartBulkDeployment and the STARTED write (test_pipeline.py, with and without token memory),
lost start responses and forgotten tokens (test_pipeline.py), a tracker run cut off mid-report
resuming from its multipart checkpoint (tests/integration/test_tracker.py).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ResponseStreamingError
from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID
from bulk_deployer.control import DispatchControl
from bulk_deployer.ledger_model import FileState
from bulk_deployer.parking import REASON_ATTRIBUTE

from local.fleet import input_file
from local.observe import Observer, Upload, wait_for
from local.pipeline import LocalPipeline
from tests.e2e.conftest import E2EFactory
from tests.e2e.faults import SimulatedCrash
from tests.e2e.hooks import Counter, Hooks, answer_error, fast_backoff

pytestmark = pytest.mark.e2e

TERMINAL = (FileState.FINISHED,)
# bulk_deployer.aws: retries={"mode": "standard", "max_attempts": 5} is 5 *retries*: 6 attempts.
ATTEMPTS = 6


# ---------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def _fast_backoff() -> Iterator[None]:
    with fast_backoff():
        yield


@pytest.fixture
def slow_redelivery(stand_ins: LocalPipeline) -> Iterator[None]:
    """A failed message comes back after 2 s instead of at once.

    Deployed, a failed message returns after the visibility timeout (6 x the starter timeout =
    1,800 s), which is longer than the processing lease of a file left RECEIVED (900 s), so the
    redelivery takes the file over. Locally the tests shorten both and keep that order
    (PROCESSING_LEASE_SECONDS=1, redelivery after 2 s).
    """
    saved = stand_ins.timing
    stand_ins.timing = dataclasses.replace(saved, failed_message_visibility_seconds=2)
    try:
        yield
    finally:
        stand_ins.timing = saved


LEASE_1S = {"PROCESSING_LEASE_SECONDS": "1"}


def created(e2e: Observer, upload: Upload) -> int:
    return len(e2e.bulk_deployments(upload))


def assert_accounted(e2e: Observer, expected: Mapping[Upload, FileState]) -> None:
    """Each file in its one expected state; one bulk deployment per started file and none other."""
    started_states = {FileState.STARTED, FileState.REPORTING, FileState.FINISHED}
    for upload, state in expected.items():
        file = e2e.file(upload)
        assert file is not None and file.state is state, (upload.key, file and file.state)
        assert created(e2e, upload) == (1 if state in started_states else 0), upload.key
        if state is FileState.REJECTED:
            assert e2e.exists(e2e.report_key(upload, "rejected.json"))
        if state is FileState.FINISHED:
            assert e2e.read_json(e2e.report_key(upload))["final"] is True
            assert file.bulk_deployment_id == e2e.bulk_deployments(upload)[0]["BulkDeploymentId"]
    total = len(e2e.pipeline.emulator.deployments())
    assert total == sum(1 for s in expected.values() if s in started_states)


def failed_invocations(e2e: Observer) -> int:
    return sum(1 for i in e2e.pipeline.history.items("starter") if i.failed)


def sqs_event(body: str, receive_count: int = 2) -> dict[str, Any]:
    """An SQS event as Lambda would pass one redelivered intake message."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "direct",
                "body": body,
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
        ]
    }


# ---------------------------------------------------------------------------- Greengrass faults
@pytest.mark.parametrize(
    ("kind", "times", "status"),
    [("throttle", 3, 429), ("throttle", ATTEMPTS, 429), ("error", 2, 500), ("error", ATTEMPTS, 503)],
    ids=["throttle-3-retried", "throttle-6-outlasts-retries", "5xx-2-retried", "5xx-6-outlasts-retries"],
)
def test_throttling_and_5xx_on_start(make_e2e: E2EFactory, kind: str, times: int, status: int) -> None:
    """Throttled starts (which did nothing) are repeated at once, up to 6 attempts; a 5xx start is
    never repeated blindly (it may have started): the tracker's next run looks for it by its
    token tag, then starts it. No intake message fails either way: the file is safe in the ledger."""
    e2e = make_e2e()
    emulator = e2e.pipeline.emulator
    if kind == "throttle":
        emulator.throttle("StartBulkDeployment", times=times)
        emulator.throttle("GetBulkDeploymentStatus", times=2)
        emulator.throttle("ListBulkDeployments", times=2)
    else:
        emulator.fail("StartBulkDeployment", times=times, status=status)
        emulator.fail("ListBulkDeploymentDetailedReports", times=2, status=status)
    upload = e2e.upload("burst.jsonl", input_file(e2e.pipeline.fleet().groups("t1", "t2")))

    e2e.wait_state(upload, *TERMINAL)

    assert_accounted(e2e, {upload: FileState.FINISHED})
    assert e2e.start_calls(upload) == times + 1
    assert created(e2e, upload) == 1
    assert failed_invocations(e2e) == 0
    assert e2e.dead_letters() == 0


def test_a_start_response_slower_than_the_client_timeout(
    make_e2e: E2EFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The functions' read timeout (30 s in bulk_deployer/aws.py) is shortened to 1 s from the test
    side; the emulator sleeps 2.5 s before doing the work. The start is not repeated blindly: the
    tracker's next run finds no deployment yet, starts with the same client token, and the slow
    first request then replays that token: one bulk deployment."""
    from bulk_deployer import aws

    monkeypatch.setattr(aws, "CLIENT_CONFIG", aws.CLIENT_CONFIG.merge(Config(read_timeout=1)))
    e2e = make_e2e()  # cold start: the functions' clients take the short timeout
    e2e.pipeline.emulator.delay("StartBulkDeployment", 2.5, times=1)
    e2e.pipeline.emulator.delay("GetBulkDeploymentStatus", 0.3, times=2)  # slow, within the timeout
    upload = e2e.upload("slow.jsonl", input_file(e2e.pipeline.fleet().groups("s1")))

    e2e.wait_state(upload, *TERMINAL, timeout=15)
    time.sleep(1.6)  # let the slow first request finish on the emulator's side

    assert_accounted(e2e, {upload: FileState.FINISHED})
    # 1 when the tracker found the slow start by its tag, 2 when it repeated it with the same
    # token before the slow one was done (the service then answers both with one deployment).
    assert e2e.start_calls(upload) in (1, 2)
    assert created(e2e, upload) == 1
    assert failed_invocations(e2e) == 0


def test_an_unknown_bad_request_at_start_pauses_dispatching_until_resumed(
    make_e2e: E2EFactory,
    metrics_seen: list[tuple[str, float]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broken execution role (trusts another service): Greengrass refuses every start with a
    BadRequest that is not "busy". START_MAX_REFUSALS (3) refusals → START_FAILED, dispatching
    paused, StartFailed and DispatchPaused metrics; the file behind it waits. The operator fixes
    the role and runs `bulk-deployer resume`: both start, once each."""
    from bulk_deployer_cli.main import main

    e2e = make_e2e(environment_overrides={"START_RETRY_BASE_SECONDS": "0.01"})
    pipeline = e2e.pipeline
    iam = pipeline.aws_client("iam")
    role = pipeline.resources.names.execution_role
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    broken = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(broken))
    fleet = pipeline.fleet()
    first = e2e.upload("first.jsonl", input_file(fleet.groups("b1")))
    e2e.wait_state(first, FileState.START_FAILED)
    second = e2e.upload("second.jsonl", input_file(fleet.groups("b2")))
    e2e.wait_state(second, FileState.QUEUED)

    control = DispatchControl(pipeline.aws_client("dynamodb"), pipeline.resources.names.ledger_table)
    reason = control.paused()
    assert reason is not None and first.token in reason
    refused = pipeline.emulator.calls(operation="StartBulkDeployment", outcome="BadRequest")
    assert len(refused) == 3
    wait_for(
        lambda: ("DispatchPaused", 1) in metrics_seen, timeout=5, what="DispatchPaused=1 from the tracker"
    )
    assert [v for n, v in metrics_seen if n == "StartFailed"] == [1, 1, 1]
    time.sleep(0.3)  # several tracker runs: still nothing starts while paused
    assert e2e.state(second) is FileState.QUEUED
    assert_accounted(e2e, {first: FileState.START_FAILED, second: FileState.QUEUED})

    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(pipeline.cli_environment()), encoding="utf-8")
    monkeypatch.setenv("BULK_DEPLOYER_LOCAL_ENV", str(env_file))
    assert main(["--local", "--json", "resume"]) == 0

    e2e.wait_state(first, *TERMINAL)
    e2e.wait_state(second, *TERMINAL)
    assert control.paused() is None
    assert_accounted(e2e, {first: FileState.FINISHED, second: FileState.FINISHED})
    (a,), (b,) = e2e.bulk_deployments(first), e2e.bulk_deployments(second)
    assert a["CreatedAt"] < b["CreatedAt"], "the refused file keeps its place"
    assert e2e.dead_letters() == 0


# ---------------------------------------------------------------------------- DynamoDB faults
def _is_file_item(request: Any) -> bool:
    return b'"file#' in (request.body or b"")


def test_dynamodb_throttling_on_registration_is_retried(make_e2e: E2EFactory) -> None:
    e2e = make_e2e()
    counter = Counter(fail_first=3)
    hook = answer_error(
        counter, status=400, code="ProvisionedThroughputExceededException", when=_is_file_item
    )
    with Hooks(e2e.pipeline, ("before-send.dynamodb.PutItem", hook)):
        upload = e2e.upload("ddb.jsonl", input_file(e2e.pipeline.fleet().groups("d1")))
        e2e.wait_state(upload, *TERMINAL)

    assert counter.failed == 3
    assert_accounted(e2e, {upload: FileState.FINISHED})
    assert failed_invocations(e2e) == 0


def test_dynamodb_throttling_outlasting_retries_at_the_started_write(make_e2e: E2EFactory) -> None:
    """The ledger cannot record STARTED (6 throttled TransactWriteItems) after Greengrass started
    the deployment: the file stays STARTING, the message is acknowledged (the file is safe in the
    ledger), and the tracker's next run finds the deployment by its token tag."""
    e2e = make_e2e()
    counter = Counter(fail_first=ATTEMPTS)
    hook = answer_error(counter, status=400, code="ProvisionedThroughputExceededException")
    with Hooks(e2e.pipeline, ("before-send.dynamodb.TransactWriteItems", hook)):
        upload = e2e.upload("ddb-started.jsonl", input_file(e2e.pipeline.fleet().groups("d2")))
        e2e.wait_state(upload, *TERMINAL)

    assert counter.failed == ATTEMPTS
    assert_accounted(e2e, {upload: FileState.FINISHED})
    assert e2e.start_calls(upload) == 1
    assert failed_invocations(e2e) == 0


# ---------------------------------------------------------------------------- S3 faults
class _BrokenStream:
    """A GetObject body whose connection drops after the first bytes."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def iter_chunks(self, chunk_size: int = 1024) -> Iterator[bytes]:
        yield self._body.read(8)
        raise ResponseStreamingError(error="connection reset by peer (injected)")

    def close(self) -> None:
        self._body.close()


def test_s3_get_object_5xx_is_retried(make_e2e: E2EFactory) -> None:
    e2e = make_e2e()
    counter = Counter(fail_first=2)
    hook = answer_error(counter, status=500, code="InternalError", protocol="xml")
    with Hooks(e2e.pipeline, ("before-send.s3.GetObject", hook)):
        upload = e2e.upload("s3-get.jsonl", input_file(e2e.pipeline.fleet().groups("g1")))
        e2e.wait_state(upload, *TERMINAL)
    assert counter.failed == 2
    assert_accounted(e2e, {upload: FileState.FINISHED})
    assert failed_invocations(e2e) == 0


def test_s3_stream_broken_while_validating(make_e2e: E2EFactory, slow_redelivery: None) -> None:
    e2e = make_e2e(environment_overrides=LEASE_1S)
    broken = Counter(fail_first=1)

    def break_stream(parsed: dict[str, Any] | None = None, **_: Any) -> None:
        if parsed is not None and "Body" in parsed and broken.take():
            parsed["Body"] = _BrokenStream(parsed["Body"])

    with Hooks(e2e.pipeline, ("after-call.s3.GetObject", break_stream)):
        upload = e2e.upload("s3-stream.jsonl", input_file(e2e.pipeline.fleet().groups("g2")))
        e2e.wait_state(upload, *TERMINAL, timeout=15)

    assert broken.failed == 1
    assert_accounted(e2e, {upload: FileState.FINISHED})
    assert failed_invocations(e2e) == 1
    assert e2e.dead_letters() == 0


def test_s3_copy_failing_past_retries(make_e2e: E2EFactory, slow_redelivery: None) -> None:
    e2e = make_e2e(environment_overrides=LEASE_1S)
    counter = Counter(fail_first=ATTEMPTS)
    hook = answer_error(counter, status=503, code="SlowDown", protocol="xml")
    with Hooks(e2e.pipeline, ("before-send.s3.CopyObject", hook)):
        upload = e2e.upload("s3-copy.jsonl", input_file(e2e.pipeline.fleet().groups("g3")))
        e2e.wait_state(upload, *TERMINAL, timeout=15)

    assert counter.failed == ATTEMPTS
    assert_accounted(e2e, {upload: FileState.FINISHED})
    assert failed_invocations(e2e) == 1
    assert e2e.exists(e2e.staged_key(upload))
    assert e2e.dead_letters() == 0


# ---------------------------------------------------------------------------- races and crashes
def test_two_starters_and_the_tracker_race_for_the_slot(e2e: Observer) -> None:
    """Played deterministically (moto's DynamoDB is not atomic across threads): while one starter
    holds the slot and asks Greengrass whether anything runs, a second starter (B's redelivery)
    and a tracker run dispatch. Both find the slot taken; A starts; B starts after A ends."""
    pipeline = e2e.pipeline
    assert pipeline.starter is not None
    control = DispatchControl(pipeline.aws_client("dynamodb"), pipeline.resources.names.ledger_table)
    control.pause("test: hold both files in the queue")
    fleet = pipeline.fleet()
    a = e2e.upload("race-a.jsonl", input_file(fleet.groups("ra")))
    b = e2e.upload("race-b.jsonl", input_file(fleet.groups("rb")))
    e2e.wait_state(a, FileState.QUEUED)
    e2e.wait_state(b, FileState.QUEUED)
    (a_body,) = wait_for(lambda: e2e.intake_bodies(a.key), timeout=5)
    (b_body,) = wait_for(lambda: e2e.intake_bodies(b.key), timeout=5)
    nested: dict[str, Any] = {}
    starter = pipeline.starter

    def race(**_: Any) -> None:
        if nested:
            return
        nested["starter"] = pipeline.invoker.invoke(starter, sqs_event(b_body))
        nested["tracker"] = pipeline.runner.schedule.fire()
        nested["starts_meanwhile"] = pipeline.emulator.start_calls()
        nested["b_state"] = e2e.state(b)

    with pipeline.runner.paused():
        control.resume()
        with Hooks(pipeline, ("before-call.greengrass.ListBulkDeployments", race)):
            outer = pipeline.invoker.invoke(starter, sqs_event(a_body))
        assert outer == {"batchItemFailures": []}
        assert nested["starter"] == {"batchItemFailures": []}
        assert nested["tracker"]["dispatched"] == "slot_taken", nested["tracker"]
        assert nested["starts_meanwhile"] == 0
        assert nested["b_state"] is FileState.QUEUED
        assert e2e.state(a) is FileState.STARTED
        assert e2e.state(b) is FileState.QUEUED

    e2e.wait_state(a, *TERMINAL)
    e2e.wait_state(b, *TERMINAL)
    assert_accounted(e2e, {a: FileState.FINISHED, b: FileState.FINISHED})
    assert e2e.bulk_deployments(a)[0]["CreatedAt"] < e2e.bulk_deployments(b)[0]["CreatedAt"]


def test_the_tracker_dying_mid_report_finishes_the_report_on_a_later_run(make_e2e: E2EFactory) -> None:
    e2e = make_e2e(environment_overrides={"REPORT_PAGE_SIZE": "2"})  # five groups: three pages
    crash = Counter(fail_first=0)

    def die_on_second_page(**_: Any) -> None:
        crash.calls += 1
        if crash.calls == 2:
            crash.failed += 1
            raise SimulatedCrash("the tracker dies after reading page 2 of the detailed reports")

    groups = e2e.pipeline.fleet().groups(*(f"m{n}" for n in range(5)))
    with Hooks(e2e.pipeline, ("after-call.greengrass.ListBulkDeploymentDetailedReports", die_on_second_page)):
        upload = e2e.upload("report.jsonl", input_file(groups))
        e2e.wait_state(upload, *TERMINAL)

    assert crash.failed == 1
    assert any(i.error and "SimulatedCrash" in i.error for i in e2e.pipeline.history.items("tracker"))
    assert_accounted(e2e, {upload: FileState.FINISHED})
    report = e2e.read_json(e2e.report_key(upload))
    assert sorted(g["group_id"] for g in report["groups"]) == sorted(g.group_id for g in groups)
    assert len(e2e.read_text(e2e.report_key(upload, "groups.csv")).strip().splitlines()) == 1 + 5


def _poison_from(e2e: Observer, template_upload: Upload, *, bucket: str | None, key: str) -> str:
    """An intake message like the one EventBridge delivered for ``template_upload``, altered."""
    (template,) = wait_for(lambda: e2e.intake_bodies(template_upload.key), timeout=5)
    event = json.loads(template)
    if bucket is not None:
        event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    return json.dumps(event)


def _send(e2e: Observer, body: str) -> None:
    e2e.sqs.send_message(
        QueueUrl=e2e.pipeline.resources.intake_queue_url,
        MessageBody=body,
        MessageGroupId=INTAKE_MESSAGE_GROUP_ID,
        MessageDeduplicationId=uuid.uuid4().hex,
    )


def test_a_message_that_can_never_succeed_is_parked_at_once_and_delays_nothing(e2e: Observer) -> None:
    """An intake message naming a bucket botocore refuses ("not a bucket!") can never succeed.

    The starter parks it in the intake dead-letter queue with the reason and acknowledges it, so
    the single FIFO message group is not held up: deployed, letting SQS dead-letter it would
    take maxReceiveCount x visibility timeout = 5 x 1,800 s = 2.5 h of the files behind it.
    """
    pipeline = e2e.pipeline
    good_before = e2e.upload("before.jsonl", input_file(pipeline.fleet().groups("p0")))
    e2e.wait_state(good_before, *TERMINAL)
    poison = _poison_from(e2e, good_before, bucket="not a bucket!", key="incoming/poison.jsonl")
    _send(e2e, poison)
    good_after = e2e.upload("after.jsonl", input_file(pipeline.fleet().groups("p1")))
    e2e.wait_state(good_after, *TERMINAL)
    wait_for(lambda: e2e.dead_letters() == 1, timeout=5, what="the poison message in the DLQ")

    poison_runs = [i for i in pipeline.history.items("starter") if poison in i.bodies]
    assert len(poison_runs) == 1 and not poison_runs[0].failed  # received once, acknowledged
    assert failed_invocations(e2e) == 0
    (parked,) = e2e.sqs.receive_message(
        QueueUrl=pipeline.resources.intake_dead_letter_queue_url, MessageAttributeNames=["All"]
    )["Messages"]
    assert parked["Body"] == poison
    assert parked["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"].startswith("ParamValidationError")
    assert_accounted(e2e, {good_before: FileState.FINISHED, good_after: FileState.FINISHED})


def test_a_message_that_keeps_failing_is_dead_lettered_after_max_receive_count(e2e: Observer) -> None:
    """A message whose every receive fails with an error that might pass (S3 answering 500 for
    its object, past botocore's retries) is dead-lettered by SQS after maxReceiveCount receives;
    only it fails, and the files behind it wait for that (locally a failed message is visible
    again at once)."""
    pipeline = e2e.pipeline
    good_before = e2e.upload("before.jsonl", input_file(pipeline.fleet().groups("k0")))
    e2e.wait_state(good_before, *TERMINAL)
    poison = _poison_from(e2e, good_before, bucket=None, key="incoming/stuck.jsonl")
    always = Counter(fail_first=10_000)
    hook = answer_error(
        always, status=500, code="InternalError", protocol="xml", when=lambda r: "stuck.jsonl" in r.url
    )
    with Hooks(pipeline, ("before-send.s3.HeadObject", hook), ("before-send.s3.GetObject", hook)):
        _send(e2e, poison)
        good_after = e2e.upload("after.jsonl", input_file(pipeline.fleet().groups("k1")))
        e2e.wait_state(good_after, *TERMINAL, timeout=30)
    wait_for(lambda: e2e.dead_letters() == 1, timeout=5, what="the failing message in the DLQ")

    poison_runs = [i for i in pipeline.history.items("starter") if poison in i.bodies]
    max_receive = pipeline.config.max_receive_count
    assert len(poison_runs) == max_receive
    assert all(i.failed for i in poison_runs)
    assert [c for i in poison_runs for c in i.receive_counts] == list(range(1, max_receive + 1))
    assert failed_invocations(e2e) == max_receive
    after_runs = [i for i in pipeline.history.items("starter") if any("after.jsonl" in b for b in i.bodies)]
    assert after_runs and after_runs[0].started >= poison_runs[-1].started
    assert_accounted(e2e, {good_before: FileState.FINISHED, good_after: FileState.FINISHED})


def test_a_lost_start_response_retried_after_the_first_deployment_ended_starts_once(
    make_e2e: E2EFactory,
) -> None:
    """Deterministic form of the race behind the intermittent failure of
    test_pipeline.py::test_a_lost_start_response_with_forgotten_tokens_still_starts_once: each
    start attempt waits 0.3 s before the emulator acts, the first one's answer is lost, and its
    one-record bulk deployment (about 0.06 s) has ended before botocore's retry arrives."""
    e2e = make_e2e(emulator_settings={"token_ttl_seconds": 0})
    e2e.pipeline.emulator.delay("StartBulkDeployment", 0.3, times=2)
    e2e.pipeline.emulator.lose_response("StartBulkDeployment", times=1)
    upload = e2e.upload("lost-late.jsonl", input_file(e2e.pipeline.fleet().groups("ll")))

    e2e.wait_state(upload, *TERMINAL)
    time.sleep(0.3)

    # The lost start is found by its token tag; nothing repeats it (the fix for this race).
    assert e2e.start_calls(upload) == 1
    assert created(e2e, upload) == 1
