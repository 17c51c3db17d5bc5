"""ISO-8601 timestamps as the ledger and Greengrass write them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso_utc(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_of(value: Any) -> float | None:
    """Seconds since the epoch of an ISO-8601 timestamp; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
