"""The ledger's file entries: one DynamoDB item per input file version, moved by conditional writes.

Every transition names the states it may come from, so at-least-once deliveries, retries
and racing invocations can never move a file twice or start it twice. The schema is in
``ledger_model``, the typed entry it returns in ``ledger_records``; the slot and the controls
live in ``slot`` and ``control``.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from bulk_deployer.dynamo import conditional_failed, from_item, to_item
from bulk_deployer.ledger_model import (
    BY_BULK_DEPLOYMENT_INDEX,
    BY_KEY_INDEX,
    QUEUE_INDEX,
    TRACKING_PREFIX,
    WAITING_PREFIX,
    WORK_PARTITION,
    Arrival,
    FileState,
    LedgerFile,
    Registration,
    StaleTransition,
    StartRequest,
)
from bulk_deployer.ledger_records import (
    Attr,
    DeploymentStatusSnapshot,
    ReportProgress,
    ReportSummary,
    file_pk,
    object_id,
)
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.timefmt import iso_of, iso_utc


class BulkDeploymentLedger:
    """Data access for the ledger table. No business rules beyond the allowed transitions."""

    def __init__(
        self, client: Any, table_name: str, *, ttl_days: int, clock: Callable[[], float] = time.time
    ) -> None:
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
        registered_at = datetime.fromtimestamp(now, UTC)
        file = LedgerFile(
            token=token,
            state=FileState.RECEIVED,
            ref=ObjectRef(ref.bucket, ref.key, ref.etag, version_id=ref.version_id, size=ref.size),
            registered_at=registered_at,
            arrival=arrival,
            arrival_sk=arrival.sort_key(ref.event_time or iso_utc(now), token),
            event_time=ref.event_time,
            updated_at=registered_at,
            processing_until=int(now) + lease_seconds,
            expires_at=int(now) + self._ttl_seconds,
        )
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(file.to_item()),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not conditional_failed(exc) or "Item" not in exc.response:
                raise
            return Registration(False, self._file(from_item(exc.response["Item"])))
        return Registration(True, file)

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
            TableName=self._table, Key={"pk": {"S": file_pk(token)}}, ConsistentRead=True
        )
        item = response.get("Item")
        return self._file(from_item(item)) if item else None

    def mark_rejected(self, token: str, *, report_key: str, error_count: int) -> LedgerFile:
        return self._transition(
            token,
            (FileState.RECEIVED,),
            FileState.REJECTED,
            {Attr.REPORT_KEY: report_key, Attr.ERROR_COUNT: error_count},
        )

    def mark_superseded(self, token: str, *, reason: str) -> LedgerFile:
        return self._transition(token, (FileState.RECEIVED,), FileState.SUPERSEDED, {Attr.REASON: reason})

    def supersede_queued(self, token: str, *, reason: str, current_version_id: str | None) -> LedgerFile:
        """QUEUED → SUPERSEDED, off the work list: the key received a newer version (or was deleted)
        before this file's turn came. Only QUEUED: a STARTING file may have a start in flight."""
        return self._transition(
            token,
            (FileState.QUEUED,),
            FileState.SUPERSEDED,
            {
                Attr.REASON: reason,
                Attr.SUPERSEDED_BY_VERSION_ID: current_version_id,
                Attr.SUPERSEDED_AT: self._now_iso(),
            },
            remove=(Attr.QUEUE_PK, Attr.QUEUE_SK),
        )

    def enqueue(
        self, file: LedgerFile, request: StartRequest, *, records: int, staged_key: str
    ) -> LedgerFile:
        """QUEUED, in arrival order, with the exact start request it will use."""
        return self._transition(
            file.token,
            (FileState.RECEIVED,),
            FileState.QUEUED,
            {
                Attr.START_REQUEST: request.as_item(),
                Attr.RECORDS: records,
                Attr.STAGED_KEY: staged_key,
                Attr.QUEUE_PK: WORK_PARTITION,
                Attr.QUEUE_SK: WAITING_PREFIX + file.arrival_sk,
            },
            remove=(Attr.PROCESSING_UNTIL,),
        )

    def waiting(self, limit: int = 25) -> list[LedgerFile]:
        """Files waiting to start, oldest first (eventually consistent: re-read before acting)."""
        return self._work(WAITING_PREFIX, limit=limit)

    def tracked(self, limit: int = 100) -> list[LedgerFile]:
        """Started files the tracker still follows, oldest first."""
        return self._work(TRACKING_PREFIX, limit=limit)

    def work(self, limit: int = 200) -> tuple[list[LedgerFile], list[LedgerFile]]:
        """(waiting, tracked) in one query when they fit in one page: an idle tracker run costs one read."""
        response = self._db.query(
            TableName=self._table,
            IndexName=QUEUE_INDEX,
            KeyConditionExpression="queue_pk = :w",
            ExpressionAttributeValues={":w": {"S": WORK_PARTITION}},
            ScanIndexForward=True,
            Limit=limit,
        )
        files = [self._file(from_item(item)) for item in response.get("Items", [])]
        waiting = [f for f in files if f.queue_sk.startswith(WAITING_PREFIX)]
        if "LastEvaluatedKey" in response:  # a long queue: the tracked files sort after it
            return waiting, self.tracked()
        return waiting, [f for f in files if f.queue_sk.startswith(TRACKING_PREFIX)]

    def _work(self, prefix: str, *, limit: int) -> list[LedgerFile]:
        response = self._db.query(
            TableName=self._table,
            IndexName=QUEUE_INDEX,
            KeyConditionExpression="queue_pk = :w AND begins_with(queue_sk, :p)",
            ExpressionAttributeValues={":w": {"S": WORK_PARTITION}, ":p": {"S": prefix}},
            ScanIndexForward=True,
            Limit=limit,
        )
        return [self._file(from_item(item)) for item in response.get("Items", [])]

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
            {Attr.LAST_START_ERROR: message[:2000]},
            remove=(Attr.QUEUE_PK, Attr.QUEUE_SK),
        )

    def mark_started(
        self, token: str, *, bulk_deployment_id: str, arn: str, slot_hold: Mapping[str, Any]
    ) -> LedgerFile:
        """STARTED, moved to the tracker's list, and its hold on the slot added — one transaction."""
        at = iso_utc(self._clock())
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": file_pk(token)}},
                        "UpdateExpression": "SET #state = :started, updated_at = :at, started_at = :at, "
                        "bulk_deployment_id = :id, bulk_deployment_arn = :arn, queue_sk = :track",
                        "ConditionExpression": "#state = :starting",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": to_item(
                            {
                                ":started": FileState.STARTED.value,
                                ":starting": FileState.STARTING.value,
                                ":at": at,
                                ":id": bulk_deployment_id,
                                ":arn": arn,
                                ":track": f"{TRACKING_PREFIX}{at}#{token}",
                            }
                        ),
                    }
                },
                dict(slot_hold),
            ]
        )
        file = self.get(token)
        if file is None:  # pragma: no cover - the transaction just wrote it
            raise StaleTransition(token)
        return file

    # -- following a started file (the tracker) ----------------------------------------------

    def record_status(self, token: str, status: DeploymentStatusSnapshot) -> LedgerFile:
        """The bulk deployment's latest status, metrics and errors, while it is not terminal."""
        return self._transition(
            token,
            (FileState.STARTED,),
            FileState.STARTED,
            {**status.to_values(), Attr.LAST_CHECKED_AT: self._now_iso()},
        )

    def mark_reporting(self, token: str, status: DeploymentStatusSnapshot) -> LedgerFile:
        """The bulk deployment is terminal: from now on only its group deployments are followed."""
        now = self._now_iso()
        return self._transition(
            token,
            (FileState.STARTED,),
            FileState.REPORTING,
            {**status.to_values(), Attr.LAST_CHECKED_AT: now, Attr.TERMINAL_SEEN_AT: now},
        )

    def save_report_progress(
        self, token: str, progress: ReportProgress | None, *, interim: ReportSummary | None = None
    ) -> LedgerFile:
        """Checkpoint a report pass (or clear it, keeping the interim summary, between passes)."""
        values: dict[Attr, Any] = {
            Attr.REPORT_CHECKED_AT: self._now_iso(),
            Attr.REPORT_INTERIM: interim.as_dict() if interim else None,  # None: left as it is
            Attr.REPORT_PROGRESS: progress.as_item() if progress else None,
        }
        remove = (Attr.REPORT_PROGRESS,) if progress is None else ()
        return self._transition(token, (FileState.REPORTING,), FileState.REPORTING, values, remove=remove)

    def mark_finished(self, token: str, *, report_key: str, summary: ReportSummary) -> LedgerFile:
        return self._transition(
            token,
            (FileState.REPORTING,),
            FileState.FINISHED,
            {Attr.REPORT_KEY: report_key, Attr.REPORT_SUMMARY: summary.as_dict()}
            | {Attr.FINISHED_AT: self._now_iso()},
            remove=(Attr.QUEUE_PK, Attr.QUEUE_SK, Attr.REPORT_PROGRESS),
        )

    def _now_iso(self) -> str:
        return iso_utc(self._clock())

    def files_for_key(self, bucket: str, key: str, limit: int = 20) -> list[LedgerFile]:
        response = self._db.query(
            TableName=self._table,
            IndexName=BY_KEY_INDEX,
            KeyConditionExpression="object_id = :o",
            ExpressionAttributeValues={":o": {"S": object_id(bucket, key)}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [self._file(from_item(item)) for item in response.get("Items", [])]

    def file_for_bulk_deployment(self, bulk_deployment_id: str) -> LedgerFile | None:
        response = self._db.query(
            TableName=self._table,
            IndexName=BY_BULK_DEPLOYMENT_INDEX,
            KeyConditionExpression="bulk_deployment_id = :b",
            ExpressionAttributeValues={":b": {"S": bulk_deployment_id}},
            Limit=1,
        )
        items = response.get("Items", [])
        return self._file(from_item(items[0])) if items else None

    # -- helpers -------------------------------------------------------------------------

    def _transition(
        self,
        token: str,
        from_states: tuple[FileState, ...],
        to_state: FileState,
        values: Mapping[Attr, Any],
        *,
        remove: tuple[Attr, ...] = (),
    ) -> LedgerFile:
        values = {k: v for k, v in values.items() if v is not None}
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
        attribute_values = {":at": iso_utc(self._clock()), **values}
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": file_pk(token)}},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                ExpressionAttributeNames={"#state": "state", **(names or {})},
                ExpressionAttributeValues=to_item(attribute_values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise StaleTransition(token) from exc
            raise
        return self._file(from_item(response["Attributes"]))

    @staticmethod
    def _file(values: Mapping[str, Any]) -> LedgerFile:
        return LedgerFile.from_item(values)

    # -- operator actions (CLI) --------------------------------------------------------------

    def cancel(self, token: str, *, reason: str) -> LedgerFile:
        """QUEUED → CANCELLED, off the work list. A STARTING file may have a start call in
        flight, so only QUEUED can be cancelled (StaleTransition otherwise)."""
        return self._transition(
            token,
            (FileState.QUEUED,),
            FileState.CANCELLED,
            {Attr.CANCEL_REASON: reason[:2000], Attr.CANCELLED_AT: self._now_iso()},
            remove=(Attr.QUEUE_PK, Attr.QUEUE_SK),
        )

    def retry_start_failed(self, token: str) -> LedgerFile:
        """START_FAILED → QUEUED at its original place in line (so it goes first), with a fresh
        count of refusals. Same token, same frozen request: a retry cannot start it twice."""
        file = self.get(token)
        if file is None or file.state is not FileState.START_FAILED:
            raise StaleTransition(token)
        return self._transition(
            token,
            (FileState.START_FAILED,),
            FileState.QUEUED,
            {
                Attr.QUEUE_PK: WORK_PARTITION,
                Attr.QUEUE_SK: WAITING_PREFIX + file.arrival_sk,
                Attr.RETRIED_AT: self._now_iso(),
            },
            remove=(Attr.START_REJECTIONS,),
        )

    def recent_files(self, limit: int = 20) -> list[LedgerFile]:
        """The newest files by registration time. A Scan of every file item, sorted here: it
        reads the whole table (cost grows with the table, bounded by the TTL), so it is for
        an operator's occasional look, never for the functions."""
        newest: list[tuple[str, LedgerFile]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :file)",
            "ExpressionAttributeValues": {":file": {"S": "file#"}},
        }
        while True:
            response = self._db.scan(**kwargs)
            for item in response.get("Items", []):
                file = self._file(from_item(item))
                newest.append((f"{iso_of(file.registered_at)}#{file.token}", file))
            newest = heapq.nlargest(limit, newest, key=lambda pair: pair[0])
            if "LastEvaluatedKey" not in response:
                return [file for _, file in newest]
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def started_since(self, since_iso: str) -> list[LedgerFile]:
        """Files that started at or after a time, oldest first (a Scan, like recent_files: the
        operator's redrive check, not a hot path)."""
        files: list[LedgerFile] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :file) AND started_at >= :since",
            "ExpressionAttributeValues": {":file": {"S": "file#"}, ":since": {"S": since_iso}},
        }
        while True:
            response = self._db.scan(**kwargs)
            files.extend(self._file(from_item(item)) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return sorted(files, key=lambda f: f.started_at or datetime.min.replace(tzinfo=UTC))
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
