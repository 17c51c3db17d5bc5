"""Outcome notifications for any S3 key: the subject as SNS accepts it, the exact key in the body."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bulk_deployer.aws_text import subject_text
from bulk_deployer.contract import FileOutcome
from bulk_deployer.outcomes import SnsOutcomes
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

# SNS's documented rule for Subject: ASCII text that begins with a letter, number or punctuation
# mark, no line breaks or control characters, fewer than 100 characters.
SNS_SUBJECT = re.compile(r"[A-Za-z0-9!-/:-@\[-`{-~][ -~]{0,98}")
# Any character S3 allows in a key (UTF-8: everything but lone surrogates).
KEYS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=300).map(lambda k: "incoming/" + k)


class RecordingSns:
    """Records the publish calls after checking the Subject rule SNS applies server-side."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> None:
        if not SNS_SUBJECT.fullmatch(kwargs["Subject"]):
            raise ValueError(f"InvalidParameter: Subject {kwargs['Subject']!r}")
        self.calls.append(kwargs)


@given(key=KEYS)
@settings(max_examples=300)
def test_every_key_gives_a_subject_sns_accepts_and_the_body_keeps_the_key(key: str) -> None:
    sns = RecordingSns()
    SnsOutcomes(sns, "arn:aws:sns:us-east-1:123456789012:outcomes").publish(
        FileOutcome.FINISHED, key, {"token": "t"}
    )
    (call,) = sns.calls
    assert json.loads(call["Message"])["key"] == key


@pytest.mark.parametrize(
    "key",
    [
        "incoming/line\nbreak.jsonl",
        "incoming/tab\tand\rcr.jsonl",
        "incoming/\x00\x1f\x7f.jsonl",
        "incoming/für.jsonl",
    ],
)
def test_keys_with_line_breaks_control_or_non_ascii_characters_still_notify(key: str) -> None:
    subject = subject_text(f"bulk-deployer: finished {key}")
    assert SNS_SUBJECT.fullmatch(subject)
    assert subject.startswith("bulk-deployer: finished incoming/")


def test_a_long_key_is_cut_with_an_ellipsis() -> None:
    subject = subject_text("bulk-deployer: finished incoming/" + "a" * 200)
    assert len(subject) == 99 and subject.endswith("...")


@pytest.fixture
def topic() -> Iterator[tuple[Any, str, str]]:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        arn = sns.create_topic(Name="outcomes")["TopicArn"]
        url = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        yield sns, arn, url


def test_a_key_with_a_line_break_is_delivered_exactly_in_the_body(topic: tuple[Any, str, str]) -> None:
    sns, arn, url = topic
    key = "incoming/two\nlines.jsonl"
    SnsOutcomes(sns, arn).publish(FileOutcome.REJECTED, key, {"token": "t"})
    (message,) = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=url)["Messages"]
    envelope = json.loads(message["Body"])
    assert "\n" not in envelope["Subject"] and "\\n" in envelope["Subject"]
    assert json.loads(envelope["Message"])["key"] == key
