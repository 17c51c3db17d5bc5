"""Per-target records of a file's Greengrass V2 deployments, in the ledger table.

One item per target, ``target#<file token>#<index:05d>``, and one head item per file,
``target#<file token>#head``. A target's record is written CREATING before its
CreateDeployment call (a crash after the call leaves a record that says "look before creating
again") and STARTED with the deployment's ids after it; the tracker then records when the
target settled and how. A target the service refused (an error no retry fixes) is REFUSED with
the error, settled at once: the file goes on with its other targets. A resumed start reads the
records with BatchGetItem: targets already STARTED or REFUSED cost no Greengrass call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bulk_deployer.dynamo import TableAccess, from_item, to_item, write_if
from bulk_deployer.ledger_model import TTL_ATTRIBUTE

_BATCH = 100  # BatchGetItem's most keys per request


class TargetState(StrEnum):
    CREATING = "CREATING"  # written before CreateDeployment: the call may have been made
    STARTED = "STARTED"  # the deployment's ids are recorded
    REFUSED = "REFUSED"  # refused for good (error_code, error_message): never asked again


@dataclass(frozen=True)
class FileHead:
    """What a file's start was asked: the number of targets, the staged file, the tags."""

    file_token: str
    count: int
    input_file_uri: str
    tags: Mapping[str, str]
    created_at: str
    stopped: bool = False


@dataclass(frozen=True)
class TargetRecord:
    index: int
    target_arn: str
    target_token: str
    state: TargetState
    creating_at: float
    replaced_deployment_id: str | None = None
    removed_components: tuple[str, ...] = ()
    mode: str = "REPLACE"
    deployment_id: str | None = None
    iot_job_id: str | None = None
    iot_job_arn: str | None = None
    revision_id: str | None = None
    started_at: float | None = None
    deadline_at: float | None = None
    members: int = 0
    settled: bool = False
    outcome: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    ended_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    # A group's last check that found a member not terminal: the job's counts then, and when.
    swept_counts: Mapping[str, int] | None = None
    swept_at: float | None = None


def _pk(file_token: str, index: int | None) -> str:
    return f"target#{file_token}#" + ("head" if index is None else f"{index:05d}")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _counts(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(value or {}).items()}


def _record(item: Mapping[str, Any]) -> TargetRecord:
    counts = _counts(item.get("counts"))
    return TargetRecord(
        index=int(item["index"]),
        target_arn=str(item["target_arn"]),
        target_token=str(item["target_token"]),
        state=TargetState(str(item["state"])),
        creating_at=float(item["creating_at"]),
        replaced_deployment_id=item.get("replaced_deployment_id"),
        removed_components=tuple(item.get("removed_components") or ()),
        mode=str(item.get("mode", "REPLACE")),
        deployment_id=item.get("deployment_id"),
        iot_job_id=item.get("iot_job_id"),
        iot_job_arn=item.get("iot_job_arn"),
        revision_id=item.get("revision_id"),
        started_at=_number(item.get("started_at")),
        deadline_at=_number(item.get("deadline_at")),
        members=int(item.get("members", 0)),
        settled=bool(item.get("settled", False)),
        outcome=item.get("outcome"),
        counts=counts,
        ended_at=_number(item.get("ended_at")),
        error_code=item.get("error_code"),
        error_message=item.get("error_message"),
        swept_counts=_counts(item["swept_counts"]) if "swept_counts" in item else None,
        swept_at=_number(item.get("swept_at")),
    )


class TargetLedger:
    """Reads and writes the per-target items of the ledger table.

    With ``ttl_days`` (the ledger's), each item expires that long after it was written, as the
    file's own entry does after its registration: never before the entry it belongs to.
    """

    def __init__(self, access: TableAccess, *, ttl_days: int | None = None) -> None:
        self._db = access.client
        self._table = access.table_name
        self._clock = access.clock
        self._ttl_seconds = None if ttl_days is None else ttl_days * 86_400

    def _expires_at(self) -> int | None:
        return None if self._ttl_seconds is None else int(self._clock()) + self._ttl_seconds

    # -- the head item ------------------------------------------------------------------------
    def head(self, file_token: str) -> FileHead | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": _pk(file_token, None)}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        values = from_item(item)
        return FileHead(
            file_token=file_token,
            count=int(values["count"]),
            input_file_uri=str(values["input_file_uri"]),
            tags={str(k): str(v) for k, v in dict(values.get("tags") or {}).items()},
            created_at=str(values["created_at"]),
            stopped=bool(values.get("stopped", False)),
        )

    def create_head(self, head: FileHead) -> bool:
        """Write the head once; False when it exists already (a resumed start)."""
        values = {
            "pk": _pk(head.file_token, None),
            "count": head.count,
            "input_file_uri": head.input_file_uri,
            "tags": dict(head.tags),
            "created_at": head.created_at,
            TTL_ATTRIBUTE: self._expires_at(),
        }
        return write_if(
            self._db.put_item,
            TableName=self._table,
            Item=to_item(values),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def mark_stopped(self, file_token: str) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(file_token, None)}},
            UpdateExpression="SET stopped = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    # -- target records -----------------------------------------------------------------------
    def records(self, file_token: str, count: int, first: int = 0) -> dict[int, TargetRecord]:
        """The records of targets ``first`` to ``count - 1`` that exist, by index (BatchGetItem)."""
        found: dict[int, TargetRecord] = {}
        for start in range(first, count, _BATCH):
            keys: list[dict[str, Any]] = [
                {"pk": {"S": _pk(file_token, i)}} for i in range(start, min(count, start + _BATCH))
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    record = _record(from_item(item))
                    found[record.index] = record
                request = answer.get("UnprocessedKeys") or {}
        return found

    def put_creating(self, file_token: str, record: TargetRecord) -> None:
        """CREATING, before the call: only where no record is (a STARTED one is never undone)."""
        values = {
            "pk": _pk(file_token, record.index),
            "index": record.index,
            "target_arn": record.target_arn,
            "target_token": record.target_token,
            "state": TargetState.CREATING.value,
            "creating_at": record.creating_at,
            "replaced_deployment_id": record.replaced_deployment_id,
            "removed_components": list(record.removed_components),
            "mode": record.mode,
            "members": record.members,
            TTL_ATTRIBUTE: self._expires_at(),
        }
        write_if(
            self._db.put_item,
            TableName=self._table,
            Item=to_item(values),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def mark_started(self, file_token: str, index: int, started: Mapping[str, Any]) -> None:
        """STARTED with the deployment's ids (deployment_id, iot_job_id, ..., deadline_at)."""
        self._set(file_token, index, {"state": TargetState.STARTED.value, **started})

    def mark_refused(self, file_token: str, record: TargetRecord, outcome: str) -> bool:
        """REFUSED, settled with ``outcome``: over a CREATING record or where none is yet (refused
        before its call), never over a STARTED one; False if one was STARTED meanwhile."""
        values = {
            "index": record.index,
            "target_arn": record.target_arn,
            "target_token": record.target_token,
            "state": TargetState.REFUSED.value,
            "error_code": record.error_code,
            "error_message": record.error_message,
            "settled": True,
            "outcome": outcome,
            "ended_at": self._clock(),
        }
        kept = {"creating_at": record.creating_at, TTL_ATTRIBUTE: self._expires_at()}
        present = {k: v for k, v in values.items() if v is not None}
        kept = {k: v for k, v in kept.items() if v is not None}
        names = {f"#a{i}": name for i, name in enumerate([*present, *kept])}
        state_name = f"#a{list(present).index('state')}"
        assignments = [f"#a{i} = :v{i}" for i in range(len(present))]
        assignments += [
            f"#a{i} = if_not_exists(#a{i}, :v{i})" for i in range(len(present), len(present) + len(kept))
        ]
        attributes = to_item(
            {
                **{f":v{i}": value for i, value in enumerate([*present.values(), *kept.values()])},
                ":creating": TargetState.CREATING.value,
            }
        )
        return write_if(
            self._db.update_item,
            TableName=self._table,
            Key={"pk": {"S": _pk(file_token, record.index)}},
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attributes,
            ConditionExpression=f"attribute_not_exists(pk) OR {state_name} = :creating",
        )

    def forget_refused(self, file_token: str, indexes: list[int]) -> None:
        """Drop these REFUSED records (a file whose every target was refused): a retried start,
        after the operator fixed the cause, asks each target again."""
        for index in indexes:
            write_if(
                self._db.delete_item,
                TableName=self._table,
                Key={"pk": {"S": _pk(file_token, index)}},
                ConditionExpression="#s = :refused",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":refused": {"S": TargetState.REFUSED.value}},
            )

    def mark_settled(self, file_token: str, index: int, outcome: str, counts: Mapping[str, int]) -> None:
        values = {"settled": True, "outcome": outcome, "counts": dict(counts), "ended_at": self._clock()}
        self._set(file_token, index, values)

    def mark_swept(self, file_token: str, index: int, counts: Mapping[str, int]) -> None:
        """A group's members were checked and one was not terminal: not again before the counts move."""
        self._set(file_token, index, {"swept_counts": dict(counts), "swept_at": self._clock()})

    def _set(self, file_token: str, index: int, values: Mapping[str, Any]) -> None:
        present = {k: v for k, v in values.items() if v is not None}
        names = {f"#a{i}": name for i, name in enumerate(present)}
        attributes = to_item({f":v{i}": value for i, value in enumerate(present.values())})
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(file_token, index)}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attributes,
            ConditionExpression="attribute_exists(pk)",
        )
