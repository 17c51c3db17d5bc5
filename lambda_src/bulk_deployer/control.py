"""Operator controls and run leases kept in the ledger table."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from bulk_deployer.dynamo import conditional_failed, from_item, to_item
from bulk_deployer.timefmt import iso_utc

_DISPATCH_PK = "control#dispatch"


class DispatchControl:
    """Whether dispatching is paused (after a START_FAILED, or by an operator) and why."""

    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._db = client
        self._table = table_name
        self._clock = clock

    def pause(self, reason: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item=to_item(
                {"pk": _DISPATCH_PK, "paused": True, "reason": reason[:2000], "since": iso_utc(self._clock())}
            ),
        )

    def resume(self) -> None:
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": _DISPATCH_PK}})

    def paused(self) -> str | None:
        """The reason dispatching is paused, or None when it is not."""
        item = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": _DISPATCH_PK}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        return str(values.get("reason") or "paused") if values.get("paused") else None


class RunLease:
    """One run at a time (the tracker) without reserved concurrency, which small accounts lack."""

    def __init__(
        self, client: Any, table_name: str, name: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = client
        self._table = table_name
        self._pk = f"lease#{name}"
        self._clock = clock

    def acquire(self, holder: str, *, seconds: int) -> bool:
        now = int(self._clock())
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item({"pk": self._pk, "holder": holder, "until": now + seconds, "at": iso_utc(now)}),
                ConditionExpression="attribute_not_exists(pk) OR #until < :now",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def release(self, holder: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"pk": {"S": self._pk}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
