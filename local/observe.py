"""Watching the pipeline from outside, as an operator would: uploads, the ledger, reports, outcomes.

Used by the demo and the end-to-end tests. Everything here goes through the stand-ins' APIs
(S3, DynamoDB, SQS, SNS) or the emulator's control API; nothing reaches into the runner.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID
from bulk_deployer.deployers.greengrass_v1 import input_file_uri
from bulk_deployer.ledger_model import FileState, LedgerFile
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.token import client_token_for

from local.pipeline import LocalPipeline
from local.stack_config import REGION


class Timeout(AssertionError):
    """A condition was not met in time (an AssertionError, so tests report it as a failure)."""


def wait_for[T](
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
    on_poll: Callable[[], None] | None = None,
) -> T:
    """Poll until ``predicate()`` is truthy and return it; bounded, so a broken run fails fast."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if on_poll is not None:
            on_poll()
        if time.monotonic() > deadline:
            raise Timeout(f"{what} not met within {timeout:g}s")
        time.sleep(interval)


@dataclass(frozen=True)
class Upload:
    """One uploaded object version and the token the pipeline will know it by."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    body: bytes

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(bucket=self.bucket, key=self.key, etag=self.etag, version_id=self.version_id)

    @property
    def token(self) -> str:
        return client_token_for(self.ref)


class Observer:
    """An operator's view of one running LocalPipeline."""

    def __init__(self, pipeline: LocalPipeline) -> None:
        self.pipeline = pipeline
        self.s3 = pipeline.aws_client("s3")
        self.sqs = pipeline.aws_client("sqs")
        self.ledger = pipeline.ledger()

    @property
    def bucket(self) -> str:
        return self.pipeline.bucket

    # ------------------------------------------------------------------ input
    def upload(self, name: str, body: bytes | str) -> Upload:
        """Put an object under the incoming prefix (S3 → EventBridge → intake queue follows)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        key = f"{self.pipeline.config.incoming_prefix}{name}"
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return Upload(self.bucket, key, response.get("VersionId"), str(response["ETag"]).strip('"'), data)

    def redeliver(self, body: str) -> str:
        """Send an intake message again, as a late duplicate delivery would arrive.

        A fresh deduplication id: SQS drops a same-body message only within its 5-minute
        deduplication window, and EventBridge retries and S3 duplicates can come later.
        """
        response = self.sqs.send_message(
            QueueUrl=self.pipeline.resources.intake_queue_url,
            MessageBody=body,
            MessageGroupId=INTAKE_MESSAGE_GROUP_ID,
            MessageDeduplicationId=uuid.uuid4().hex,
        )
        return str(response["MessageId"])

    def intake_bodies(self, key: str) -> list[str]:
        """The intake message bodies the starter has been given for this key (from the runner)."""
        return [
            body
            for invocation in self.pipeline.history.items("starter")
            for body in invocation.bodies
            if _event_key(body) == key
        ]

    # ------------------------------------------------------------------ ledger
    def file(self, upload: Upload) -> LedgerFile | None:
        return self.ledger.get(upload.token)

    def state(self, upload: Upload) -> FileState | None:
        file = self.file(upload)
        return file.state if file else None

    def wait_state(self, upload: Upload, *states: FileState, timeout: float = 10.0) -> LedgerFile:
        def reached() -> LedgerFile | None:
            file = self.file(upload)
            return file if file is not None and file.state in states else None

        wanted = "/".join(s.value for s in states)
        return wait_for(reached, timeout=timeout, what=f"{upload.key} in state {wanted}")

    # ------------------------------------------------------------------ S3
    def read_json(self, key: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        return document

    def read_text(self, key: str) -> str:
        return str(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8"))

    def exists(self, key: str) -> bool:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key)
        return any(obj["Key"] == key for obj in listed.get("Contents", []))

    def report_key(self, upload: Upload, name: str = "report.json") -> str:
        return f"{self.pipeline.config.reports_prefix}{upload.token}/{name}"

    def staged_key(self, upload: Upload) -> str:
        return f"{self.pipeline.config.staged_prefix}{upload.token}.jsonl"

    def staged_uri(self, upload: Upload) -> str:
        return input_file_uri(self.bucket, self.staged_key(upload), REGION)

    # ------------------------------------------------------------------ Greengrass (emulator)
    def bulk_deployments(self, upload: Upload) -> list[dict[str, Any]]:
        """Bulk deployments the emulator created for this file's staged copy (oldest first)."""
        return self.pipeline.emulator.deployments(input_uri=self.staged_uri(upload))

    def start_calls(self, upload: Upload) -> int:
        return self.pipeline.emulator.start_calls(input_uri=self.staged_uri(upload))

    # ------------------------------------------------------------------ queues, topic
    def queue_depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letters(self) -> int:
        return self.queue_depth(self.pipeline.resources.intake_dead_letter_queue_url)

    def tap_outcomes(self) -> OutcomeTap:
        """Subscribe a queue to the outcomes topic (raw delivery) to read what operators get."""
        name = f"outcomes-tap-{uuid.uuid4().hex[:8]}"
        url = str(self.sqs.create_queue(QueueName=name)["QueueUrl"])
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.pipeline.aws_client("sns").subscribe(
            TopicArn=self.pipeline.resources.outcomes_topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        return OutcomeTap(self.sqs, url)


class OutcomeTap:
    """Outcome notifications received so far, in order."""

    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self._url = url
        self.messages: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while True:
            response = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10)
            batch = response.get("Messages") or []
            if not batch:
                return self.messages
            for message in batch:
                self.messages.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])

    def outcomes(self, key: str | None = None) -> list[str]:
        self.drain()
        return [str(m.get("outcome")) for m in self.messages if key is None or m.get("key") == key]


def _event_key(body: str) -> str | None:
    try:
        event = json.loads(body)
        return str(event["detail"]["object"]["key"])
    except (ValueError, KeyError, TypeError):
        return None
