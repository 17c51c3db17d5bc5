"""The slot: Greengrass runs one bulk deployment at a time per account and region.

One ledger item says who may start the next one. A dispatcher holds it briefly, under a
lease (a crashed dispatcher blocks for at most the lease); when a file starts, the slot is
handed to its bulk deployment in the same transaction that marks the file STARTED, and the
tracker releases it when that bulk deployment ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bulk_deployer.dynamo import TableAccess, from_item, to_item, write_if
from bulk_deployer.timefmt import iso_utc

SLOT_PK = "slot"
DISPATCHING = "dispatching"
ACTIVE = "active"


@dataclass(frozen=True)
class SlotState:
    holder: str | None
    state: str | None  # DISPATCHING (short lease) or ACTIVE (a bulk deployment runs)
    lease_until: int | None
    token: str | None
    bulk_deployment_id: str | None


@dataclass(frozen=True)
class DeploymentSlot(TableAccess):
    def acquire(self, holder: str, *, lease_seconds: int) -> bool:
        """Take the slot to dispatch, unless a bulk deployment or a live dispatcher holds it."""
        now = int(self.clock())
        return write_if(
            self.client.update_item,
            TableName=self.table_name,
            Key={"pk": {"S": SLOT_PK}},
            UpdateExpression="SET holder = :holder, slot_state = :dispatching, lease_until = :until, "
            "updated_at = :at REMOVE #token, bulk_deployment_id",
            ConditionExpression="attribute_not_exists(holder) OR "
            "(slot_state = :dispatching AND lease_until < :now)",
            ExpressionAttributeNames={"#token": "token"},
            ExpressionAttributeValues=to_item(
                {
                    ":holder": holder,
                    ":dispatching": DISPATCHING,
                    ":until": now + lease_seconds,
                    ":now": now,
                    ":at": iso_utc(now),
                }
            ),
        )

    def release(self, holder: str) -> bool:
        """Give the slot back; False if it was no longer ours."""
        return self._delete_if("holder = :v", holder)

    def release_bulk_deployment(self, bulk_deployment_id: str) -> bool:
        """Free the slot held by a bulk deployment that has ended; False if it holds no longer."""
        return self._delete_if("bulk_deployment_id = :v", bulk_deployment_id)

    def get(self) -> SlotState:
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": SLOT_PK}}, ConsistentRead=True
        ).get("Item")
        values = from_item(item) if item else {}
        return SlotState(
            holder=values.get("holder"),
            state=values.get("slot_state"),
            lease_until=int(values["lease_until"]) if "lease_until" in values else None,
            token=values.get("token"),
            bulk_deployment_id=values.get("bulk_deployment_id"),
        )

    def handover_item(self, holder: str, token: str, bulk_deployment_id: str) -> dict[str, Any]:
        """A transaction item giving the slot from its dispatcher to a started bulk deployment."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": {"pk": {"S": SLOT_PK}},
                "UpdateExpression": "SET slot_state = :active, #token = :token, "
                "bulk_deployment_id = :id, updated_at = :at REMOVE lease_until",
                "ConditionExpression": "holder = :holder",
                "ExpressionAttributeNames": {"#token": "token"},
                "ExpressionAttributeValues": to_item(
                    {
                        ":active": ACTIVE,
                        ":token": token,
                        ":id": bulk_deployment_id,
                        ":at": iso_utc(self.clock()),
                        ":holder": holder,
                    }
                ),
            }
        }

    def _delete_if(self, condition: str, value: str) -> bool:
        return write_if(
            self.client.delete_item,
            TableName=self.table_name,
            Key={"pk": {"S": SLOT_PK}},
            ConditionExpression=condition,
            ExpressionAttributeValues={":v": {"S": value}},
        )
