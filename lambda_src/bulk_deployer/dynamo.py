"""Small helpers shared by the classes that read and write the ledger table."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class TableAccess:
    """What a class that reads and writes items of the ledger table is given: the client, the
    table, and the clock that stamps its writes (tests give a clock they move).

    Like every collaborator the wiring builds, it is a plain class with its own ``__init__``, not
    a dataclass: a service is not a value (it compares by identity), and a dataclass costs the
    cold start about a millisecond each to define, compiling methods (docs/performance.md)."""

    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self.client: Final = client
        self.table_name: Final = table_name
        self.clock: Final = clock


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values → DynamoDB attribute values; None values are left out."""
    return {k: _serializer.serialize(_plain(v)) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values → plain values: numbers as the int or float they were written
    from (boto3 gives Decimal, which json.dumps refuses: free-form values such as a deployment's
    error details go on into reports)."""
    return {k: _numbers(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _numbers(value: Any) -> Any:
    """The inverse of ``_plain``, nested anywhere."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, set):
        return {_numbers(v) for v in value}
    return value


def conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


def write_if(write: Callable[..., Any], **request: Any) -> bool:
    """Make a conditional write: False when its condition does not hold (another holder got there
    first, or the item is no longer ours), True when it was written; other errors raise."""
    try:
        write(**request)
    except ClientError as exc:
        if conditional_failed(exc):
            return False
        raise
    return True
