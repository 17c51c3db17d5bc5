"""Event shapes → object references.

Two shapes reach the starter through its SQS queue: S3 "Object Created" events delivered
by EventBridge (the production path) and classic S3 notifications (``Records[].s3``).
Reading is pure: no AWS call. It turns a message into object references *and their client
tokens*, so whatever fails while reading fails the same way on every receive: it all ends as
``UnreadableMessage``, which the starter parks at once instead of retrying. Where a shape is
ambiguous (whether EventBridge encodes the key is not documented) the parser offers both
spellings, each with its token, and the caller confirms against the ledger and S3.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal, NamedTuple
from urllib.parse import unquote_plus

from bulk_deployer.objectref import ObjectRef
from bulk_deployer.token import client_token_for

EventKind = Literal["eventbridge", "s3", "test", "ignored"]


def object_created_event(
    ref: ObjectRef, *, event_id: str, time: str, region: str, account: str = ""
) -> dict[str, Any]:
    """The EventBridge "Object Created" event S3 sends for ``ref``: the shape parsed below.

    For everything that injects an event by hand: the CLI's reconcile, tests and benchmarks.
    """
    obj: dict[str, Any] = {"key": ref.key, "size": ref.size, "etag": ref.etag, "sequencer": "0"}
    if ref.version_id:
        obj["version-id"] = ref.version_id
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": time,
        "region": region,
        "resources": [f"arn:aws:s3:::{ref.bucket}"],
        "detail": {"version": "0", "bucket": {"name": ref.bucket}, "object": obj, "reason": "PutObject"},
    }


class UnreadableMessage(ValueError):
    """Reading the message into object references and tokens failed: no later receive can succeed.

    Reading is pure, so the cause is the message itself whatever the exception was (a lone
    surrogate in a key cannot be encoded for its token, say). The message is parked, not dropped.
    """


class UnrecognizedMessage(UnreadableMessage):
    """The message is not an event this tool knows."""


class KeySpelling(NamedTuple):
    """One way to read an event's key, with the client token that reading gives."""

    ref: ObjectRef
    token: str
    form_decoded: bool = False


class EventObject:
    """One object named by an event, with the key's other plausible spelling if any."""

    __slots__ = ("alternative_key", "ref", "spellings")

    def __init__(self, ref: ObjectRef, alternative_key: str | None = None) -> None:
        self.ref: Final = ref
        # EventBridge keys are taken as delivered; if that key names no object with this ETag,
        # the form-decoded spelling is tried (emulators and the classic shape encode keys).
        self.alternative_key: Final = alternative_key
        # Every reading of the key with its token, as delivered first: computed while reading, so
        # a key that cannot give a token fails the message there (and it is parked).
        spellings = [KeySpelling(ref, client_token_for(ref))]
        if alternative_key is not None:
            decoded = ref.with_key(alternative_key)
            spellings.append(KeySpelling(decoded, client_token_for(decoded), form_decoded=True))
        self.spellings: Final = tuple(spellings)

    @property
    def ambiguous(self) -> bool:
        """Whether only S3 can tell which spelling of the key is the object's."""
        return len(self.spellings) > 1


class ParsedEvent(NamedTuple):
    kind: EventKind
    objects: list[EventObject]  # empty for an event that names no upload
    note: str = ""


def parse_message_body(body: str) -> ParsedEvent:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise UnrecognizedMessage("the message body is not JSON (or nested too deeply to read)") from None
    return parse_event(document)


def parse_event(document: Any) -> ParsedEvent:
    """Object references and tokens of a decoded event; ``UnreadableMessage`` whatever fails."""
    try:
        return _parse_event(document)
    except UnreadableMessage:
        raise
    except Exception as exc:
        raise UnreadableMessage(f"the event cannot be read: {type(exc).__name__}: {exc}") from exc


def _parse_event(document: Any) -> ParsedEvent:
    if not isinstance(document, dict):
        raise UnrecognizedMessage("the event is not a JSON object")
    if "detail-type" in document and "detail" in document:
        return _eventbridge(document)
    if "Records" in document:
        return _classic(document)
    if document.get("Event") == "s3:TestEvent":
        return ParsedEvent("test", [], note=f"S3 test event for bucket {document.get('Bucket')!r}")
    raise UnrecognizedMessage("neither an EventBridge event nor an S3 notification")


def _eventbridge(document: dict[str, Any]) -> ParsedEvent:
    if document.get("source") != "aws.s3" or document.get("detail-type") != "Object Created":
        return ParsedEvent(
            "ignored",
            [],
            note=f"EventBridge {document.get('source')!r} {document.get('detail-type')!r} is not an upload",
        )
    detail = _mapping(document.get("detail"), "detail")
    obj = _mapping(detail.get("object"), "detail.object")
    key = _string(obj.get("key"), "detail.object.key")
    etag = obj.get("etag", obj.get("eTag"))  # moto spells it eTag
    ref = ObjectRef(
        bucket=_string(_mapping(detail.get("bucket"), "detail.bucket").get("name"), "detail.bucket.name"),
        key=key,
        etag=_string(etag, "detail.object.etag"),
        version_id=_optional_string(obj.get("version-id", obj.get("versionId"))),
        size=_optional_int(obj.get("size")),
        event_time=_optional_string(document.get("time")),
        region=_optional_string(document.get("region")),
    )
    decoded = unquote_plus(key)
    return ParsedEvent("eventbridge", [EventObject(ref, decoded if decoded != key else None)])


def _classic(document: dict[str, Any]) -> ParsedEvent:
    records = document.get("Records")
    if not isinstance(records, list):
        raise UnrecognizedMessage("Records is not a list")
    objects: list[EventObject] = []
    skipped: list[str] = []
    for index, raw_record in enumerate(records):
        record = _mapping(raw_record, f"Records[{index}]")
        name = str(record.get("eventName", ""))
        if record.get("eventSource") != "aws:s3" or not name.startswith("ObjectCreated:"):
            skipped.append(f"{record.get('eventSource')} {name}".strip())
            continue
        s3 = _mapping(record.get("s3"), f"Records[{index}].s3")
        obj = _mapping(s3.get("object"), f"Records[{index}].s3.object")
        objects.append(
            EventObject(
                ObjectRef(
                    bucket=_string(
                        _mapping(s3.get("bucket"), "s3.bucket").get("name"),
                        f"Records[{index}].s3.bucket.name",
                    ),
                    key=unquote_plus(_string(obj.get("key"), f"Records[{index}].s3.object.key")),
                    etag=_string(obj.get("eTag", obj.get("etag")), f"Records[{index}].s3.object.eTag"),
                    version_id=_optional_string(obj.get("versionId")),
                    size=_optional_int(obj.get("size")),
                    event_time=_optional_string(record.get("eventTime")),
                    region=_optional_string(record.get("awsRegion")),
                )
            )
        )
    if not objects:
        return ParsedEvent(
            "ignored", [], note="no object creation in " + (", ".join(skipped) or "an empty batch")
        )
    return ParsedEvent("s3", objects)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UnrecognizedMessage(f"{where} is missing or not an object")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UnrecognizedMessage(f"{where} is missing or not a non-empty string")
    return value


def _optional_string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def unwrap_sqs(document: Any) -> list[str] | None:
    """Bodies of an SQS batch as Lambda receives it, or None if this is not one."""
    if not isinstance(document, dict):
        return None
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        return None
    if not all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records):
        return None
    return [str(r.get("body", "")) for r in records]
