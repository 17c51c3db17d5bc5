"""The deployment slots: how many files may be deployed at once, and what each one holds.

One ledger item answers both questions every dispatcher asks before it starts a file. It
holds two things:

- a short **dispatch lease** (``holder``): one dispatcher at a time picks and starts a file; a
  crashed dispatcher blocks the others for at most the lease;
- the **holds**: one entry per started file whose deployment runs, naming what it holds (the
  deployer's resources, as short digests). A hold is added in the same transaction that marks
  the file STARTED, and the tracker removes it when that deployment ends.

A deployment to many targets (Greengrass V2) is done with each target at its own time: the
tracker takes a settled target's digest out of the file's hold at once (``release_resources``),
so a later file waiting only for that target starts without waiting for the whole earlier
file. The hold itself stays, counting against the capacity, until the file's deployment ends.
The resources are a string set, so one ``DELETE`` takes digests out atomically; a hold written
as a list (by the version before) is rewritten as a set the first time one of its digests goes.

The deployer says how many files may run at once (``capacity``) and what each holds. Greengrass
V1 runs one bulk deployment per account and region: capacity 1, every file holding the same
resource. A deployer whose deployments go to targets (Greengrass V2) lets files run side by side
when they share no target. When the holds reach the capacity, taking the lease fails at once:
one conditional write, no Greengrass call.

Items written by earlier versions (``slot_state = active`` with the file's token and bulk
deployment id) keep blocking until the tracker frees them, as they did.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from botocore.exceptions import ClientError

from bulk_deployer.dynamo import TableAccess, conditional_failed, from_item, to_item, write_if
from bulk_deployer.timefmt import iso_utc

SLOT_PK = "slot"
DISPATCHING = "dispatching"
ACTIVE = "active"  # what the CLI shows while a file holds the slot; the state of legacy items
_KEY = {"pk": {"S": SLOT_PK}}
_GONE: dict[str, Any] = {}  # a hold whose resources were all released: DynamoDB has no empty set
_LIST_HOLD_ATTEMPTS = 3


def resource_digest(resource: str) -> str:
    """A resource (a target ARN, say) as stored in a hold: 64 bits keep 1,000 targets small."""
    return hashlib.sha256(resource.encode()).hexdigest()[:16]


class Hold(NamedTuple):
    """A started file's claim: its resources (digests) until its deployment ends."""

    token: str
    resources: frozenset[str]
    since: str | None = None


class SlotState(NamedTuple):
    holder: str | None  # the dispatcher holding the dispatch lease, if any
    lease_until: int | None
    holds: Mapping[str, Hold] = MappingProxyType({})
    # An item written by an earlier version: one bulk deployment holds the whole slot.
    legacy_token: str | None = None
    legacy_bulk_deployment_id: str | None = None

    @property
    def state(self) -> str | None:
        """ACTIVE while a deployment holds the slot, DISPATCHING while a dispatcher does, else None."""
        if self.holds or self.legacy_token:
            return ACTIVE
        return DISPATCHING if self.holder else None

    @property
    def tokens(self) -> list[str]:
        """The files whose deployments hold the slot, oldest first."""
        legacy = [self.legacy_token] if self.legacy_token else []
        return legacy + [h.token for h in sorted(self.holds.values(), key=lambda h: h.since or "")]

    def held_resources(self) -> set[str]:
        return {r for hold in self.holds.values() for r in hold.resources}


class DeploymentSlot(TableAccess):
    def __init__(
        self, client: Any, table_name: str, capacity: int = 1, *, clock: Callable[[], float] = time.time
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        super().__init__(client, table_name, clock=clock)
        self.capacity: Final = capacity  # how many files' deployments may hold the slot at once

    def acquire(self, holder: str, *, lease_seconds: int) -> SlotState | None:
        """Take the dispatch lease, unless a live dispatcher has it or the holds are at capacity.

        Returns the slot as it now is (its holds: what the next start must not share).
        """
        now = int(self.clock())
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=_KEY,
                UpdateExpression="SET holder = :holder, slot_state = :dispatching, lease_until = :until, "
                "updated_at = :at, holds = if_not_exists(holds, :none)",
                ConditionExpression="(attribute_not_exists(holder) OR "
                "(slot_state = :dispatching AND lease_until < :now)) AND "
                "(attribute_not_exists(holds) OR size(holds) < :capacity)",
                ExpressionAttributeValues=to_item(
                    {
                        ":holder": holder,
                        ":dispatching": DISPATCHING,
                        ":until": now + lease_seconds,
                        ":now": now,
                        ":at": iso_utc(now),
                        ":capacity": self.capacity,
                    }
                )
                | {":none": {"M": {}}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return None
            raise
        return _state(response.get("Attributes", {}))

    def release(self, holder: str) -> bool:
        """Give the dispatch lease back (the holds stay); False if it was no longer ours."""
        return self._write_if(
            self.client.update_item,
            UpdateExpression="REMOVE holder, slot_state, lease_until",
            ConditionExpression="holder = :holder",
            ExpressionAttributeValues={":holder": {"S": holder}},
        )

    def release_file(self, token: str) -> bool:
        """Free what a file's ended deployment held; False if it holds nothing any more."""
        released = self._write_if(
            self.client.update_item,
            UpdateExpression="REMOVE holds.#token",
            ConditionExpression="attribute_exists(holds.#token)",
            ExpressionAttributeNames={"#token": token},
        )
        return released or self._release_legacy(token)

    def release_resources(self, token: str, resources: Iterable[str]) -> bool:
        """Take what a running file is done with out of its hold (the hold stays, counting against
        the capacity); False if the file holds nothing any more."""
        digests = {resource_digest(r) for r in resources}
        if not digests:
            return self._held_by(token)
        if self._write_if(
            self.client.update_item,
            UpdateExpression="DELETE holds.#token.resources :digests",
            ConditionExpression="attribute_exists(holds.#token) AND "
            "attribute_type(holds.#token.resources, :string_set)",
            ExpressionAttributeNames={"#token": token},
            ExpressionAttributeValues=to_item({":digests": digests, ":string_set": "SS"}),
        ):
            return True
        # No hold, no resources left, or a hold written as a list.
        for _ in range(_LIST_HOLD_ATTEMPTS):
            written = self._raw_resources(token)
            if written is None:
                return False
            if written is _GONE or self._rewrite_resources(token, written, digests):
                return True
        return self._held_by(token)  # pragma: no cover - the list hold kept changing under us

    def get(self) -> SlotState:
        return _state(self._item())

    def hold_item(self, holder: str, token: str, resources: Iterable[str]) -> dict[str, Any]:
        """A transaction item adding a started file's hold, while its dispatcher has the lease."""
        # A string set (None leaves out an empty one, which DynamoDB refuses).
        digests = {resource_digest(r) for r in resources} or None
        hold = {"resources": digests, "since": iso_utc(self.clock())}
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": _KEY,
                "UpdateExpression": "SET holds.#token = :hold, updated_at = :at",
                "ConditionExpression": "holder = :holder",
                "ExpressionAttributeNames": {"#token": token},
                "ExpressionAttributeValues": to_item(
                    {":hold": hold, ":at": iso_utc(self.clock()), ":holder": holder}
                ),
            }
        }

    def _write_if(self, write: Any, **request: Any) -> bool:
        """A conditional write of the slot item (``dynamo.write_if``)."""
        return write_if(write, TableName=self.table_name, Key=_KEY, **request)

    def _item(self) -> dict[str, Any]:
        item: dict[str, Any] = (
            self.client.get_item(TableName=self.table_name, Key=_KEY, ConsistentRead=True).get("Item") or {}
        )
        return item

    def _held_by(self, token: str) -> bool:
        return token in self.get().holds

    def _raw_resources(self, token: str) -> dict[str, Any] | None:
        """A hold's resources as stored (``_GONE`` when all were released); None without a hold."""
        hold = self._item().get("holds", {}).get("M", {}).get(token)
        if hold is None:
            return None
        resources: dict[str, Any] = hold.get("M", {}).get("resources", _GONE)
        return resources

    def _rewrite_resources(self, token: str, written: dict[str, Any], digests: set[str]) -> bool:
        """Write a hold's resources less ``digests`` as a set, if they are still as read."""
        left = {str(r) for r in from_item({"r": written})["r"]} - digests
        request: dict[str, Any] = {
            "ConditionExpression": "holds.#token.resources = :written",
            "ExpressionAttributeNames": {"#token": token},
            "ExpressionAttributeValues": {":written": written},
        }
        if left:
            request["UpdateExpression"] = "SET holds.#token.resources = :left"
            request["ExpressionAttributeValues"] |= to_item({":left": left})
        else:
            request["UpdateExpression"] = "REMOVE holds.#token.resources"
        return self._write_if(self.client.update_item, **request)

    def _release_legacy(self, token: str) -> bool:
        return self._write_if(
            self.client.delete_item,
            ConditionExpression="slot_state = :active AND #token = :token",
            ExpressionAttributeNames={"#token": "token"},
            ExpressionAttributeValues=to_item({":active": ACTIVE, ":token": token}),
        )


def _state(item: Mapping[str, Any]) -> SlotState:
    values = from_item(item) if item else {}
    holds = {
        str(token): Hold(
            token=str(token),
            resources=frozenset(str(r) for r in value.get("resources") or ()),
            since=value.get("since"),
        )
        for token, value in dict(values.get("holds") or {}).items()
    }
    legacy = values.get("slot_state") == ACTIVE
    return SlotState(
        holder=values.get("holder") if not legacy else None,
        lease_until=int(values["lease_until"]) if "lease_until" in values else None,
        holds=holds,
        legacy_token=values.get("token") if legacy else None,
        legacy_bulk_deployment_id=values.get("bulk_deployment_id") if legacy else None,
    )
