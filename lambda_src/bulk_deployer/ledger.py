"""The ledger: one DynamoDB table holding every input file's state, the queue and the slot.

Every transition is a conditional write, so at-least-once deliveries, retries and racing
invocations can never move a file twice or start it twice. Item kinds (partition key
``pk``): ``file#<token>`` (one per input file version), ``slot`` (the one bulk deployment
this account may run at a time) and ``control#dispatch`` (paused or not).

Indexes (sparse): ``queue`` (files waiting to start, arrival order), ``by_key`` (all files
of one S3 key, newest first), ``by_bulk_deployment`` (lookup by bulk deployment id).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from bulk_deployer.objectref import ObjectRef

QUEUE_INDEX = "queue"
BY_KEY_INDEX = "by_key"
BY_BULK_DEPLOYMENT_INDEX = "by_bulk_deployment"
_QUEUED_MARK = "queued"
_SLOT_PK = "slot"
_CONTROL_PK = "control#dispatch"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


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


TTL_ATTRIBUTE = "expires_at"


class FileState(StrEnum):
    RECEIVED = "RECEIVED"
    REJECTED = "REJECTED"
    SUPERSEDED = "SUPERSEDED"
    QUEUED = "QUEUED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    START_FAILED = "START_FAILED"


WAITING_STATES = (FileState.QUEUED, FileState.STARTING)


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


@dataclass(frozen=True)
class Registration:
    """The answer to "register this token": new, or the existing entry."""

    created: bool
    file: LedgerFile


@dataclass(frozen=True)
class Slot:
    holder: str | None
    state: str | None  # "dispatching" (short lease) or "active" (a bulk deployment runs)
    lease_until: int | None
    token: str | None
    bulk_deployment_id: str | None


def utc_now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _file_pk(token: str) -> str:
    return f"file#{token}"


def _to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_plain(v)) for k, v in values.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


class BulkDeploymentLedger:
    """Data access for the ledger table. No business rules beyond the allowed transitions."""

    def __init__(self, client: Any, table_name: str, *, ttl_days: int, clock: Any = time.time) -> None:
        self._db = client
        self._table = table_name
        self._ttl_seconds = ttl_days * 86_400
        self._clock = clock

    # -- files ---------------------------------------------------------------------------

    def register(self, token: str, ref: ObjectRef, arrival: Arrival, *, lease_seconds: int) -> Registration:
        """Create the file's entry in RECEIVED, owned for lease_seconds; or return the existing one.

        One conditional write either way, so a duplicate costs no read.
        """
        now = self._clock()
        registered_at = utc_now_iso(now)
        values: dict[str, Any] = {
            "pk": _file_pk(token),
            "token": token,
            "state": FileState.RECEIVED.value,
            "bucket": ref.bucket,
            "key": ref.key,
            "etag": ref.etag,
            "version_id": ref.version_id,
            "size": ref.size,
            "event_time": ref.event_time,
            "sequence_number": arrival.sequence_number,
            "arrival_sk": arrival.sort_key(ref.event_time or registered_at, token),
            "registered_at": registered_at,
            "updated_at": registered_at,
            "processing_until": int(now) + lease_seconds,
            "object_id": f"{ref.bucket}/{ref.key}",
            "registered_sk": f"{registered_at}#{token}",
            "expires_at": int(now) + self._ttl_seconds,
        }
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_to_item(values),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional_failed(exc) or "Item" not in exc.response:
                raise
            return Registration(False, self._file(_from_item(exc.response["Item"])))
        return Registration(True, self._file(values))

    def take_over(self, token: str, *, lease_seconds: int) -> LedgerFile | None:
        """Resume a RECEIVED file whose previous owner's lease ran out (it crashed or timed out)."""
        now = int(self._clock())
        try:
            return self._update(
                token,
                "SET processing_until = :until, updated_at = :at",
                "#state = :received AND processing_until < :now",
                {":until": now + lease_seconds, ":received": FileState.RECEIVED.value, ":now": now},
            )
        except StaleTransition:
            return None

    def get(self, token: str) -> LedgerFile | None:
        response = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": _file_pk(token)}}, ConsistentRead=True
        )
        item = response.get("Item")
        return self._file(_from_item(item)) if item else None

    def mark_rejected(self, token: str, *, report_key: str, error_count: int) -> LedgerFile:
        return self._transition(
            token,
            (FileState.RECEIVED,),
            FileState.REJECTED,
            {"report_key": report_key, "error_count": error_count},
        )

    def mark_superseded(self, token: str, *, reason: str) -> LedgerFile:
        return self._transition(token, (FileState.RECEIVED,), FileState.SUPERSEDED, {"reason": reason})

    def enqueue(
        self, file: LedgerFile, request: StartRequest, *, records: int, staged_key: str
    ) -> LedgerFile:
        """QUEUED, in arrival order, with the exact start request it will use."""
        return self._transition(
            file.token,
            (FileState.RECEIVED,),
            FileState.QUEUED,
            {
                "start_request": request.as_item(),
                "records": records,
                "staged_key": staged_key,
                "queue_pk": _QUEUED_MARK,
                "queue_sk": file.item["arrival_sk"],
            },
            remove=("processing_until",),
        )

    def queued(self, limit: int = 25) -> list[LedgerFile]:
        """Waiting files, oldest first (eventually consistent: re-read before acting)."""
        response = self._db.query(
            TableName=self._table,
            IndexName=QUEUE_INDEX,
            KeyConditionExpression="queue_pk = :q",
            ExpressionAttributeValues={":q": {"S": _QUEUED_MARK}},
            ScanIndexForward=True,
            Limit=limit,
        )
        return [self._file(_from_item(item)) for item in response.get("Items", [])]

    def mark_starting(self, token: str) -> LedgerFile:
        """STARTING: a StartBulkDeployment call may be in flight from now on."""
        now = int(self._clock())
        return self._update(
            token,
            "SET #state = :starting, updated_at = :at, starting_since = if_not_exists(starting_since, :now) "
            "ADD start_attempts :one",
            "#state IN (:queued, :starting)",
            {
                ":starting": FileState.STARTING.value,
                ":queued": FileState.QUEUED.value,
                ":now": now,
                ":one": 1,
            },
        )

    def requeue(self, token: str) -> LedgerFile:
        """Back to QUEUED (the service was busy); the file keeps its place in line."""
        return self._transition(token, (FileState.STARTING,), FileState.QUEUED, {})

    def record_start_error(self, token: str, message: str) -> LedgerFile:
        """Count a refused start (only refusals count toward the retry limit)."""
        return self._update(
            token,
            "SET last_start_error = :message, updated_at = :at ADD start_rejections :one",
            "#state = :starting",
            {":message": message[:2000], ":starting": FileState.STARTING.value, ":one": 1},
        )

    def mark_start_failed(self, token: str, message: str) -> LedgerFile:
        return self._transition(
            token,
            (FileState.STARTING,),
            FileState.START_FAILED,
            {"last_start_error": message[:2000]},
            remove=("queue_pk", "queue_sk"),
        )

    def mark_started(self, token: str, *, holder: str, bulk_deployment_id: str, arn: str) -> LedgerFile:
        """STARTED and the slot handed to the bulk deployment, in one transaction."""
        now = self._clock()
        at = utc_now_iso(now)
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": _file_pk(token)}},
                        "UpdateExpression": "SET #state = :started, updated_at = :at, started_at = :at, "
                        "bulk_deployment_id = :id, bulk_deployment_arn = :arn REMOVE queue_pk, queue_sk",
                        "ConditionExpression": "#state = :starting",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": _to_item(
                            {
                                ":started": FileState.STARTED.value,
                                ":starting": FileState.STARTING.value,
                                ":at": at,
                                ":id": bulk_deployment_id,
                                ":arn": arn,
                            }
                        ),
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": _SLOT_PK}},
                        "UpdateExpression": "SET slot_state = :active, #token = :token, "
                        "bulk_deployment_id = :id, updated_at = :at REMOVE lease_until",
                        "ConditionExpression": "holder = :holder",
                        "ExpressionAttributeNames": {"#token": "token"},
                        "ExpressionAttributeValues": _to_item(
                            {
                                ":active": "active",
                                ":token": token,
                                ":id": bulk_deployment_id,
                                ":at": at,
                                ":holder": holder,
                            }
                        ),
                    }
                },
            ]
        )
        file = self.get(token)
        if file is None:  # pragma: no cover - the transaction just wrote it
            raise StaleTransition(token)
        return file

    def files_for_key(self, bucket: str, key: str, limit: int = 20) -> list[LedgerFile]:
        response = self._db.query(
            TableName=self._table,
            IndexName=BY_KEY_INDEX,
            KeyConditionExpression="object_id = :o",
            ExpressionAttributeValues={":o": {"S": f"{bucket}/{key}"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [self._file(_from_item(item)) for item in response.get("Items", [])]

    def file_for_bulk_deployment(self, bulk_deployment_id: str) -> LedgerFile | None:
        response = self._db.query(
            TableName=self._table,
            IndexName=BY_BULK_DEPLOYMENT_INDEX,
            KeyConditionExpression="bulk_deployment_id = :b",
            ExpressionAttributeValues={":b": {"S": bulk_deployment_id}},
            Limit=1,
        )
        items = response.get("Items", [])
        return self._file(_from_item(items[0])) if items else None

    # -- the slot ------------------------------------------------------------------------

    def acquire_slot(self, holder: str, *, lease_seconds: int) -> bool:
        """Take the slot to dispatch, unless a bulk deployment or a live dispatcher holds it."""
        now = int(self._clock())
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": _SLOT_PK}},
                UpdateExpression="SET holder = :holder, slot_state = :dispatching, lease_until = :until, "
                "updated_at = :at REMOVE #token, bulk_deployment_id",
                ConditionExpression="attribute_not_exists(holder) OR "
                "(slot_state = :dispatching AND lease_until < :now)",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues=_to_item(
                    {
                        ":holder": holder,
                        ":dispatching": "dispatching",
                        ":until": now + lease_seconds,
                        ":now": now,
                        ":at": utc_now_iso(now),
                    }
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_slot(self, holder: str) -> bool:
        """Give the slot back; False if it was no longer ours."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"pk": {"S": _SLOT_PK}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def slot(self) -> Slot:
        item = self._db.get_item(TableName=self._table, Key={"pk": {"S": _SLOT_PK}}, ConsistentRead=True).get(
            "Item"
        )
        values = _from_item(item) if item else {}
        return Slot(
            holder=values.get("holder"),
            state=values.get("slot_state"),
            lease_until=int(values["lease_until"]) if "lease_until" in values else None,
            token=values.get("token"),
            bulk_deployment_id=values.get("bulk_deployment_id"),
        )

    # -- dispatch control ----------------------------------------------------------------

    def pause(self, reason: str) -> None:
        now = self._clock()
        self._db.put_item(
            TableName=self._table,
            Item=_to_item(
                {"pk": _CONTROL_PK, "paused": True, "reason": reason[:2000], "since": utc_now_iso(now)}
            ),
        )

    def resume(self) -> None:
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": _CONTROL_PK}})

    def paused(self) -> str | None:
        """The reason dispatching is paused, or None when it is not."""
        item = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": _CONTROL_PK}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        values = _from_item(item)
        return str(values.get("reason") or "paused") if values.get("paused") else None

    # -- helpers -------------------------------------------------------------------------

    def _transition(
        self,
        token: str,
        from_states: tuple[FileState, ...],
        to_state: FileState,
        values: Mapping[str, Any],
        *,
        remove: tuple[str, ...] = (),
    ) -> LedgerFile:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        sets = ["#state = :to", "updated_at = :at"] + [f"#a{i} = :a{i}" for i in range(len(values))]
        expression = "SET " + ", ".join(sets)
        if remove:
            expression += " REMOVE " + ", ".join(remove)
        placeholders = {f":from{i}": state.value for i, state in enumerate(from_states)}
        condition = f"#state IN ({', '.join(placeholders)})"
        attribute_values: dict[str, Any] = {":to": to_state.value, **placeholders}
        attribute_values.update({f":a{i}": value for i, value in enumerate(values.values())})
        return self._update(token, expression, condition, attribute_values, names)

    def _update(
        self,
        token: str,
        expression: str,
        condition: str,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
    ) -> LedgerFile:
        attribute_values = {":at": utc_now_iso(self._clock()), **values}
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": _file_pk(token)}},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                ExpressionAttributeNames={"#state": "state", **(names or {})},
                ExpressionAttributeValues=_to_item(attribute_values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise StaleTransition(token) from exc
            raise
        return self._file(_from_item(response["Attributes"]))

    @staticmethod
    def _file(values: Mapping[str, Any]) -> LedgerFile:
        return LedgerFile(token=str(values["token"]), state=FileState(values["state"]), item=values)
