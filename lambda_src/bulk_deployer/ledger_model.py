"""What the ledger holds: the table schema and the work list's keys. The typed file entry and
the values stored with it are in ``ledger_records`` (re-exported here).

Item kinds (partition key ``pk``): ``file#<token>`` (one per input file version),
``slot`` (the one bulk deployment this account may run at a time), ``control#dispatch``
(paused or not) and ``lease#<name>`` (one run of the tracker at a time).

The ``queue`` index is the work list: every file that still needs attention has
``queue_pk = "work"`` and a ``queue_sk`` that orders it — ``q#<arrival>`` while it waits to
start, ``t#<started>#<token>`` while the tracker follows it. One query answers "is there
anything to do?".
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bulk_deployer.ledger_records import (
    WORK_PARTITION,
    Arrival,
    Attr,
    DeploymentStatusSnapshot,
    FileState,
    LedgerFile,
    ReportProgress,
    ReportSummary,
    StartRequest,
)

__all__ = [
    "WORK_PARTITION",
    "Arrival",
    "DeploymentStatusSnapshot",
    "FileState",
    "LedgerFile",
    "ReportProgress",
    "ReportSummary",
    "StartRequest",
]

QUEUE_INDEX = "queue"
BY_KEY_INDEX = "by_key"
BY_BULK_DEPLOYMENT_INDEX = "by_bulk_deployment"
TTL_ATTRIBUTE = Attr.EXPIRES_AT.value
PARTITION_KEY = Attr.PK.value
WAITING_PREFIX = "q#"
TRACKING_PREFIX = "t#"
# index name: (partition key, sort key or None) — every key a String, every projection ALL.
INDEX_KEYS: dict[str, tuple[str, str | None]] = {
    QUEUE_INDEX: (Attr.QUEUE_PK.value, Attr.QUEUE_SK.value),
    BY_KEY_INDEX: (Attr.OBJECT_ID.value, Attr.REGISTERED_SK.value),
    BY_BULK_DEPLOYMENT_INDEX: (Attr.BULK_DEPLOYMENT_ID.value, None),
}


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable parameters for the ledger: the local stand-ins and tests use this, and the
    CDK table is built from the same ``INDEX_KEYS``, so the schema lives in one place."""
    attributes = {PARTITION_KEY} | {name for keys in INDEX_KEYS.values() for name in keys if name}
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": partition, "KeyType": "HASH"}]
                + ([{"AttributeName": sort, "KeyType": "RANGE"}] if sort else []),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (partition, sort) in INDEX_KEYS.items()
        ],
    }


WAITING_STATES = (FileState.QUEUED, FileState.STARTING)
TRACKED_STATES = (FileState.STARTED, FileState.REPORTING)


class StaleTransition(Exception):
    """The item is no longer in the state the transition expected (another writer won)."""


class Registration(NamedTuple):
    """The answer to "register this token": new, or the existing entry."""

    created: bool
    file: LedgerFile
