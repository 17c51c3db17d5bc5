"""Operator controls and run leases kept in the ledger table."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from bulk_deployer.dynamo import TableAccess, from_item, to_item, write_if
from bulk_deployer.timefmt import iso_utc

_DISPATCH_PK = "control#dispatch"


class DispatchControl(TableAccess):
    """Whether dispatching is paused (after a START_FAILED, or by an operator) and why."""

    def pause(self, reason: str) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=to_item(
                {"pk": _DISPATCH_PK, "paused": True, "reason": reason[:2000], "since": iso_utc(self.clock())}
            ),
        )

    def resume(self) -> None:
        self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": _DISPATCH_PK}})

    def paused(self) -> str | None:
        """The reason dispatching is paused, or None when it is not."""
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": _DISPATCH_PK}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        return str(values.get("reason") or "paused") if values.get("paused") else None


class RunLease(TableAccess):
    """One run at a time (the tracker) without reserved concurrency, which small accounts lack."""

    def __init__(
        self, client: Any, table_name: str, name: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(client, table_name, clock=clock)
        self.name: Final = name

    @property
    def _pk(self) -> str:
        return f"lease#{self.name}"

    def acquire(self, holder: str, *, seconds: int) -> bool:
        now = int(self.clock())
        return write_if(
            self.client.put_item,
            TableName=self.table_name,
            Item=to_item({"pk": self._pk, "holder": holder, "until": now + seconds, "at": iso_utc(now)}),
            ConditionExpression="attribute_not_exists(pk) OR #until < :now",
            ExpressionAttributeNames={"#until": "until"},
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )

    def release(self, holder: str) -> None:
        """Give the lease back; one that has expired and been taken by another run stays theirs."""
        write_if(
            self.client.delete_item,
            TableName=self.table_name,
            Key={"pk": {"S": self._pk}},
            ConditionExpression="holder = :holder",
            ExpressionAttributeValues={":holder": {"S": holder}},
        )
