"""ISO-8601 timestamps as the ledger and Greengrass write them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso_of(value: datetime) -> str:
    """The ledger's spelling of a time: UTC, microseconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_utc(epoch_seconds: float) -> str:
    return iso_of(datetime.fromtimestamp(epoch_seconds, UTC))


def datetime_of(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime (UTC when it names no zone); None when
    absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def epoch_of(value: Any) -> float | None:
    """Seconds since the epoch of an ISO-8601 timestamp; None when absent or unreadable."""
    parsed = datetime_of(value)
    return parsed.timestamp() if parsed is not None else None
