"""The Lambda entry point: SQS batch in, partial batch response and EMF metrics out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from bulk_deployer.config import ConfigurationError
from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID, Metric
from bulk_deployer.handlers import starter
from bulk_deployer.ledger_model import FileState
from bulk_deployer.observability import count
from bulk_deployer.parking import REASON_ATTRIBUTE, DeadLetterParking
from bulk_deployer.token import client_token_for

from tests.integration.conftest import Pipeline, eventbridge_body, make_intake, valid_file


@dataclass
class FakeContext:
    function_name: str = "starter"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:starter"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_record(message_id: str, body: str, sequence: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764244800000",
            "SequenceNumber": sequence,
            "MessageGroupId": INTAKE_MESSAGE_GROUP_ID,
            "SenderId": "AIDAEXAMPLE",
            "MessageDeduplicationId": message_id,
            "ApproximateFirstReceiveTimestamp": "1764244800001",
        },
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:intake.fifo",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def wired(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    intake = make_intake(
        pipeline.s3, pipeline.ledger, pipeline.greengrass, pipeline.settings, pipeline.metrics, count
    )
    monkeypatch.setattr(starter, "_intake", lambda: intake)
    monkeypatch.setattr(starter, "_parking", lambda: None)  # no dead-letter queue named
    return pipeline


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_failing_record_and_the_rest_of_its_fifo_batch_go_back_and_only_it_is_logged_as_an_error(
    wired: Pipeline, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    ref = wired.upload("incoming/fleet.jsonl", valid_file())
    event = {
        "Records": [
            sqs_record("m-good", eventbridge_body(ref), "100"),
            sqs_record("m-poison", "this is not an event", "101"),
            sqs_record("m-dup", eventbridge_body(ref), "102"),
        ]
    }
    response = starter.handler(event, FakeContext())  # type: ignore[arg-type]
    # FIFO: nothing after a failed message may succeed before it, so m-dup goes back unprocessed.
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-poison"}, {"itemIdentifier": "m-dup"}]}

    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [getattr(r, "message_id", None) for r in errors] == ["m-poison"]
    assert all(r.levelname in {"INFO", "DEBUG", "ERROR"} for r in caplog.records)
    logged = lines(capsys.readouterr().out)
    emf = [entry for entry in logged if "_aws" in entry]
    assert emf, "metrics are flushed as EMF"
    (metrics,) = emf
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BulkDeployerTest"
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert metrics["service"] == "bulk-deployer"
    assert metrics["BulkDeploymentStarted"] == [1.0]
    assert "DuplicateEventIgnored" not in metrics
    assert metrics["InputFileQueued"] == [1.0]
    # The failed message counts once (the starter errors alarm adds it); m-dup was not tried.
    assert metrics[Metric.INTAKE_MESSAGE_FAILED] == [1.0]


@pytest.fixture
def dead_letter_queue(wired: Pipeline, monkeypatch: pytest.MonkeyPatch) -> str:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = str(
        sqs.create_queue(
            QueueName="intake-dlq.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        )["QueueUrl"]
    )
    parking = DeadLetterParking(url, lambda: sqs)
    monkeypatch.setattr(starter, "_parking", lambda: parking)
    return url


def parked(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return list(messages.get("Messages", []))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not an event", "UnrecognizedMessage"),
        ('{"Records": "not a list"}', "UnrecognizedMessage"),
        ("bucket name botocore refuses", "ParamValidationError"),
        # A lone surrogate (a JSON escape) in the key, the ETag or the bucket: the token cannot be
        # computed. Whatever the exception, failing while reading the message is permanent.
        ('"incoming/fleet.jsonl"', "UnreadableMessage"),
        ('"etag"', "UnreadableMessage"),
        ('"fleet-input"', "UnreadableMessage"),
    ],
)
def test_a_message_that_can_never_succeed_is_parked_at_once_and_the_batch_goes_on(
    wired: Pipeline,
    dead_letter_queue: str,
    body: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = wired.upload("incoming/fleet.jsonl", valid_file())
    if reason == "ParamValidationError":
        body = eventbridge_body(ref).replace('"fleet-input"', '"not a bucket!"')
    if reason == "UnreadableMessage":
        good = eventbridge_body(ref)
        if body == '"etag"':
            body = f'"{ref.etag}"'
        assert body in good
        body = good.replace(body, body[:-1] + '\\udc80"')
    event = {
        "Records": [sqs_record("m-poison", body, "101"), sqs_record("m-good", eventbridge_body(ref), "102")]
    }
    response = starter.handler(event, FakeContext())  # type: ignore[arg-type]
    assert response == {"batchItemFailures": []}  # nothing goes back to block the FIFO group
    (message,) = parked(dead_letter_queue)
    assert message["Body"] == body
    assert message["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"].startswith(reason)
    started = wired.ledger.get(client_token_for(ref))
    assert started is not None and started.state is FileState.STARTED  # the file behind it went on
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "parked" in error.getMessage() and getattr(error, "message_id", None) == "m-poison"
    (metrics,) = [entry for entry in lines(capsys.readouterr().out) if "_aws" in entry]
    assert metrics[Metric.INTAKE_MESSAGE_PARKED] == [1.0]
    assert Metric.INTAKE_MESSAGE_FAILED not in metrics  # parked, not failed: no retry to alarm on


def test_a_message_that_may_succeed_later_is_not_parked(
    wired: Pipeline, dead_letter_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def outage(*_: Any, **__: Any) -> Any:
        raise ConnectionError("S3 unreachable")

    monkeypatch.setattr(starter, "_handle_record", outage)
    ref = wired.upload("incoming/fleet.jsonl", valid_file())
    response = starter.handler({"Records": [sqs_record("m-1", eventbridge_body(ref), "1")]}, FakeContext())  # type: ignore[arg-type]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert parked(dead_letter_queue) == []


def test_when_parking_fails_the_message_fails_and_sqs_retries_it(
    wired: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Unreachable:
        def send_message(self, **_: Any) -> Any:
            raise ConnectionError("SQS unreachable")

    monkeypatch.setattr(starter, "_parking", lambda: DeadLetterParking("https://sqs.invalid/q", Unreachable))
    response = starter.handler({"Records": [sqs_record("m-1", "not an event", "1")]}, FakeContext())  # type: ignore[arg-type]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    (metrics,) = [entry for entry in lines(capsys.readouterr().out) if "_aws" in entry]
    assert metrics[Metric.INTAKE_MESSAGE_FAILED] == [1.0]
    assert Metric.INTAKE_MESSAGE_PARKED not in metrics


def test_a_batch_where_every_record_fails_still_answers_with_failures(wired: Pipeline) -> None:
    event = {"Records": [sqs_record("m-1", "{}", "1")]}
    response = starter.handler(event, FakeContext())  # type: ignore[arg-type]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_the_s3_test_event_is_acknowledged(wired: Pipeline) -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "fleet-input"})
    response = starter.handler({"Records": [sqs_record("m-1", body, "1")]}, FakeContext())  # type: ignore[arg-type]
    assert response == {"batchItemFailures": []}


def test_a_missing_setting_fails_the_cold_start_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TABLE_NAME", "ledger")
    monkeypatch.delenv("EXECUTION_ROLE_ARN", raising=False)
    starter._settings.cache_clear()
    starter._intake.cache_clear()
    with pytest.raises(ConfigurationError, match="EXECUTION_ROLE_ARN"):
        starter.handler({"Records": []}, FakeContext())  # type: ignore[arg-type]
    starter._settings.cache_clear()
    starter._intake.cache_clear()


def test_each_invocation_gives_the_deployer_its_own_time_limit(
    wired: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start of many calls (Greengrass V2) stops in time: the handler sets the limit it reads."""
    from bulk_deployer.invocation import INVOCATION, InvocationTime

    now = [1000.0]
    monkeypatch.setattr(INVOCATION, "clock", lambda: now[0])
    monkeypatch.setattr(INVOCATION, "_deadline", None)
    assert isinstance(INVOCATION, InvocationTime)
    starter.handler({"Records": []}, FakeContext())  # type: ignore[arg-type]
    assert INVOCATION.time_left() == 60  # FakeContext: 60,000 ms left
