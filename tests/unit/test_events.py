from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bulk_deployer.aws_text import attribute_text
from bulk_deployer.events import (
    UnreadableMessage,
    UnrecognizedMessage,
    parse_event,
    parse_message_body,
    unwrap_sqs,
)
from bulk_deployer.token import client_token_for
from hypothesis import given
from hypothesis import strategies as st

EVENTS = Path(__file__).parent.parent / "data" / "events"


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def classic(key: str, name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": name,
                "s3": {
                    "bucket": {"name": "b"},
                    "object": {"key": key, "size": 3, "eTag": "e", "versionId": "v"},
                },
            }
        ]
    }


def test_eventbridge_sample_from_the_aws_documentation() -> None:
    parsed = parse_event(load("eventbridge-object-created-aws-docs.json"))
    assert parsed.kind == "eventbridge"
    (obj,) = parsed.objects
    ref = obj.ref
    assert (ref.bucket, ref.key, ref.etag, ref.version_id, ref.size) == (
        "example-bucket",
        "example-key",
        "b1946ac92492d2347c6235b4d2611184",
        "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        5,
    )
    assert ref.region == "ca-central-1"
    assert ref.event_time == "2021-11-12T00:00:00Z"
    assert obj.alternative_key is None


def test_classic_sample_from_the_aws_documentation() -> None:
    parsed = parse_event(load("s3-notification-put-aws-docs.json"))
    assert parsed.kind == "s3"
    (obj,) = parsed.objects
    assert (obj.ref.bucket, obj.ref.key, obj.ref.etag, obj.ref.version_id, obj.ref.size) == (
        "amzn-s3-demo-bucket",
        "HappyFace.jpg",
        "d41d8cd98f00b204e9800998ecf8427e",
        "096fKKXTRTtl3on89fVO.nfljtsv6qko",
        1024,
    )
    assert obj.ref.region == "us-west-2"


def test_s3_test_event_is_recognized() -> None:
    parsed = parse_event(load("s3-test-event-aws-docs.json"))
    assert parsed.kind == "test"
    assert parsed.objects == []
    assert "amzn-s3-demo-bucket" in parsed.note


def test_moto_variant_with_eTag_and_raw_key_offers_the_decoded_key_as_alternative() -> None:
    (obj,) = parse_event(load("eventbridge-object-created-moto.json")).objects
    assert obj.ref.etag == "0123456789abcdef0123456789abcdef-2"
    assert obj.ref.key == "incoming/line a+b%20c ü.jsonl"
    assert obj.alternative_key == "incoming/line a b c ü.jsonl"
    assert obj.ref.version_id == "null"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("incoming/red+flower.jsonl", "incoming/red flower.jsonl"),
        ("incoming/a%2Bb.jsonl", "incoming/a+b.jsonl"),
        ("incoming/100%25.jsonl", "incoming/100%.jsonl"),
        ("incoming/f%C3%BCr+%C3%BC.jsonl", "incoming/für ü.jsonl"),
        ("incoming/plain.jsonl", "incoming/plain.jsonl"),
    ],
)
def test_classic_keys_are_form_decoded(encoded: str, decoded: str) -> None:
    (obj,) = parse_event(classic(encoded)).objects
    assert obj.ref.key == decoded
    assert obj.alternative_key is None


def test_deletes_and_other_eventbridge_events_are_ignored_not_errors() -> None:
    assert parse_event(load("s3-notification-delete.json")).kind == "ignored"
    deleted = load("eventbridge-object-created-aws-docs.json") | {"detail-type": "Object Deleted"}
    assert parse_event(deleted).kind == "ignored"
    other = load("eventbridge-object-created-aws-docs.json") | {"source": "aws.ec2"}
    assert parse_event(other).kind == "ignored"


def test_a_classic_batch_keeps_only_the_creations() -> None:
    document = classic("incoming/a.jsonl")
    document["Records"] += classic("incoming/b.jsonl", "ObjectRemoved:Delete")["Records"]
    document["Records"] += classic("incoming/c.jsonl", "ObjectCreated:CompleteMultipartUpload")["Records"]
    assert [o.ref.key for o in parse_event(document).objects] == ["incoming/a.jsonl", "incoming/c.jsonl"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"hello": "world"}',
        '{"detail-type": "Object Created", "source": "aws.s3", "detail": {"object": {"key": "k"}}}',
        '{"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}, "object": {"key": "k"}}}',
        '{"Records": "nope"}',
        '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}',
    ],
)
def test_malformed_messages_are_unrecognized_with_a_reason(body: str) -> None:
    with pytest.raises(UnrecognizedMessage) as info:
        parse_message_body(body)
    assert str(info.value)


def test_unwrap_sqs_finds_the_bodies_of_a_lambda_batch() -> None:
    batch = {
        "Records": [{"eventSource": "aws:sqs", "body": "one"}, {"eventSource": "aws:sqs", "body": "two"}]
    }
    assert unwrap_sqs(batch) == ["one", "two"]
    assert unwrap_sqs(classic("k")) is None
    assert unwrap_sqs([]) is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_EVENTISH = st.fixed_dictionaries(
    {},
    optional={
        "detail-type": st.sampled_from(["Object Created", "Object Deleted"]) | _JSON,
        "source": st.just("aws.s3") | _JSON,
        "detail": _JSON,
        "Records": _JSON | st.lists(_JSON, max_size=2),
        "Event": st.just("s3:TestEvent") | _JSON,
    },
)


@given(document=_JSON | _EVENTISH)
def test_the_parser_never_raises_anything_but_unreadable(document: Any) -> None:
    try:
        parsed = parse_event(document)
    except UnreadableMessage as exc:
        assert str(exc)
        return
    assert parsed.kind in {"eventbridge", "s3", "test", "ignored"}
    for obj in parsed.objects:
        assert obj.ref.bucket and obj.ref.key and obj.ref.etag


# Any code point, lone surrogates and control characters included (hypothesis leaves surrogates
# out of text() by default): what a JSON escape can put into a key, an ETag or a bucket name.
_HOSTILE = st.text(st.characters(codec=None, categories=None), min_size=1, max_size=12)


@given(bucket=_HOSTILE, key=_HOSTILE, etag=_HOSTILE, version=_HOSTILE, encoded=st.booleans())
def test_reading_an_event_either_yields_every_token_or_fails_as_unreadable(
    bucket: str, key: str, etag: str, version: str, encoded: bool
) -> None:
    """Whatever fails while reading is permanent: the starter parks UnreadableMessage at once."""
    obj: dict[str, Any] = {"key": ("incoming/" + key) if not encoded else "incoming/%2B" + key}
    obj |= {"etag": etag, "version-id": version}
    document = {"detail-type": "Object Created", "source": "aws.s3"}
    document |= {"detail": {"bucket": {"name": bucket}, "object": obj}}
    body = json.dumps(document)  # escapes lone surrogates as JSON does: \udc80
    try:
        parsed = parse_message_body(body)
    except UnreadableMessage as exc:
        assert str(exc)
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in bucket + key + etag + version)
        return
    for event_object in parsed.objects:
        for spelling in event_object.spellings:
            assert spelling.token == client_token_for(spelling.ref)
        assert event_object.ambiguous == encoded or "+" in key or "%" in key


@pytest.mark.parametrize("field", ["bucket", "key", "etag"])
def test_a_lone_surrogate_in_an_event_is_unreadable_not_a_unicode_error(field: str) -> None:
    document = load("eventbridge-object-created-aws-docs.json")
    detail = document["detail"]
    target = detail["bucket"] if field == "bucket" else detail["object"]
    target["name" if field == "bucket" else field] += "\udc80"
    with pytest.raises(UnreadableMessage, match="UnicodeEncodeError"):
        parse_event(document)


def test_a_parking_reason_is_text_sqs_accepts() -> None:
    reason = attribute_text("UnreadableMessage: key 'a\udc80\x00b\x1f' ü 😀 \x7f\t")
    assert "\\udc80" in reason and "\\x00" in reason and "\\x1f" in reason
    assert "ü 😀 \x7f\t" in reason
    reason.encode("utf-8")  # no lone surrogate left


def _sqs_accepts(code_point: int) -> bool:
    """SQS's documented message attribute characters, as the SQS developer guide lists them."""
    return code_point in (0x9, 0xA, 0xD) or any(
        low <= code_point <= high for low, high in ((0x20, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))
    )


def test_attribute_text_keeps_exactly_the_characters_sqs_accepts() -> None:
    # Every code point of the first two planes (the ranges' edges all lie there) and a sample above.
    for code_point in [*range(0x20000), *range(0x20000, 0x110000, 251), 0x10FFFF]:
        char = chr(code_point)
        assert (attribute_text(char) == char) is _sqs_accepts(code_point), hex(code_point)
