"""What the ledger holds: the table schema, the file states and the values stored with them.

Item kinds (partition key ``pk``): ``file#<token>`` (one per input file version),
``slot`` (the one bulk deployment this account may run at a time), ``control#dispatch``
(paused or not) and ``lease#<name>`` (one run of the tracker at a time).

The ``queue`` index is the work list: every file that still needs attention has
``queue_pk = "work"`` and a ``queue_sk`` that orders it — ``q#<arrival>`` while it waits to
start, ``t#<started>#<token>`` while the tracker follows it. One query answers "is there
anything to do?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bulk_deployer.objectref import ObjectRef

QUEUE_INDEX = "queue"
BY_KEY_INDEX = "by_key"
BY_BULK_DEPLOYMENT_INDEX = "by_bulk_deployment"
TTL_ATTRIBUTE = "expires_at"
WORK_PARTITION = "work"
WAITING_PREFIX = "q#"
TRACKING_PREFIX = "t#"


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable parameters for the ledger: the local stand-ins and tests use this, and an
    infrastructure test checks the CDK table against it, so the schema lives in one place."""
    indexes = {
        QUEUE_INDEX: [("queue_pk", "HASH"), ("queue_sk", "RANGE")],
        BY_KEY_INDEX: [("object_id", "HASH"), ("registered_sk", "RANGE")],
        BY_BULK_DEPLOYMENT_INDEX: [("bulk_deployment_id", "HASH")],
    }
    attributes = {"pk"} | {name for keys in indexes.values() for name, _ in keys}
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in keys],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, keys in indexes.items()
        ],
    }


class FileState(StrEnum):
    RECEIVED = "RECEIVED"
    REJECTED = "REJECTED"
    SUPERSEDED = "SUPERSEDED"
    QUEUED = "QUEUED"
    STARTING = "STARTING"
    STARTED = "STARTED"  # the bulk deployment is not terminal yet
    REPORTING = "REPORTING"  # terminal; group deployments may still be settling
    FINISHED = "FINISHED"  # the final report is written
    START_FAILED = "START_FAILED"
    CANCELLED = "CANCELLED"  # taken out of the queue by an operator (never started)


WAITING_STATES = (FileState.QUEUED, FileState.STARTING)
TRACKED_STATES = (FileState.STARTED, FileState.REPORTING)


class StaleTransition(Exception):
    """The item is no longer in the state the transition expected (another writer won)."""


@dataclass(frozen=True)
class StartRequest:
    """The exact StartBulkDeployment parameters, frozen when a file is queued."""

    execution_role_arn: str
    input_file_uri: str
    tags: Mapping[str, str]

    def as_item(self) -> dict[str, Any]:
        return {
            "execution_role_arn": self.execution_role_arn,
            "input_file_uri": self.input_file_uri,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StartRequest:
        return cls(
            execution_role_arn=str(item["execution_role_arn"]),
            input_file_uri=str(item["input_file_uri"]),
            tags={str(k): str(v) for k, v in dict(item.get("tags") or {}).items()},
        )


@dataclass(frozen=True)
class Arrival:
    """Where a file stands in line: the intake message's FIFO sequence number, if any."""

    sequence_number: str | None = None

    def sort_key(self, event_time: str, token: str) -> str:
        """Sequence number first (zero-padded: they are up to 128-bit decimals), then event time."""
        return f"{(self.sequence_number or '').rjust(40, '0')}#{event_time}#{token}"


@dataclass(frozen=True)
class LedgerFile:
    token: str
    state: FileState
    item: Mapping[str, Any]

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(
            bucket=str(self.item["bucket"]),
            key=str(self.item["key"]),
            etag=str(self.item["etag"]),
            version_id=self.item.get("version_id") or None,
            size=int(self.item["size"]) if self.item.get("size") is not None else None,
        )

    @property
    def start_request(self) -> StartRequest | None:
        raw = self.item.get("start_request")
        return StartRequest.from_item(raw) if raw else None

    @property
    def queue_sk(self) -> str:
        return str(self.item.get("queue_sk", ""))

    @property
    def start_attempts(self) -> int:
        return int(self.item.get("start_attempts", 0))

    @property
    def start_rejections(self) -> int:
        return int(self.item.get("start_rejections", 0))

    @property
    def starting_since(self) -> int | None:
        value = self.item.get("starting_since")
        return int(value) if value is not None else None

    @property
    def bulk_deployment_id(self) -> str | None:
        value = self.item.get("bulk_deployment_id")
        return str(value) if value else None

    def number(self, name: str, default: int = 0) -> int:
        value = self.item.get(name)
        return int(value) if value is not None else default


@dataclass(frozen=True)
class Registration:
    """The answer to "register this token": new, or the existing entry."""

    created: bool
    file: LedgerFile
