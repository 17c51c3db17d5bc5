"""The ledger's file entry as typed values, and the one place its attribute names are spelled.

An item is parsed once (``LedgerFile.from_item``) into frozen values; everything outside the
ledger modules reads fields, never attribute names, so a misspelt field is a type error
instead of a silent ``None``. ``to_item`` is the inverse, used to write a new entry and to
check the round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from bulk_deployer.objectref import ObjectRef
from bulk_deployer.timefmt import datetime_of, iso_of


class Attr(StrEnum):
    """Attribute names of a file item (the keys and indexes are in ``ledger_model``)."""

    PK = "pk"
    TOKEN = "token"  # noqa: S105 - an attribute name, not a secret
    STATE = "state"
    BUCKET = "bucket"
    KEY = "key"
    ETAG = "etag"
    VERSION_ID = "version_id"
    SIZE = "size"
    EVENT_TIME = "event_time"
    SEQUENCE_NUMBER = "sequence_number"
    ARRIVAL_SK = "arrival_sk"
    REGISTERED_AT = "registered_at"
    UPDATED_AT = "updated_at"
    PROCESSING_UNTIL = "processing_until"
    OBJECT_ID = "object_id"
    REGISTERED_SK = "registered_sk"
    EXPIRES_AT = "expires_at"
    QUEUE_PK = "queue_pk"
    QUEUE_SK = "queue_sk"
    START_REQUEST = "start_request"
    RECORDS = "records"
    STAGED_KEY = "staged_key"
    STARTING_SINCE = "starting_since"
    START_ATTEMPTS = "start_attempts"
    START_REJECTIONS = "start_rejections"
    LAST_START_ERROR = "last_start_error"
    STARTED_AT = "started_at"
    BULK_DEPLOYMENT_ID = "bulk_deployment_id"
    BULK_DEPLOYMENT_ARN = "bulk_deployment_arn"
    BULK_STATUS = "bulk_status"
    BULK_METRICS = "bulk_metrics"
    BULK_CREATED_AT = "bulk_created_at"
    BULK_ERROR_MESSAGE = "bulk_error_message"
    BULK_ERROR_DETAILS = "bulk_error_details"
    LAST_CHECKED_AT = "last_checked_at"
    TERMINAL_SEEN_AT = "terminal_seen_at"
    REPORT_PROGRESS = "report_progress"
    REPORT_CHECKED_AT = "report_checked_at"
    REPORT_INTERIM = "report_interim"
    REPORT_SUMMARY = "report_summary"
    REPORT_KEY = "report_key"
    FINISHED_AT = "finished_at"
    ERROR_COUNT = "error_count"
    REASON = "reason"
    SUPERSEDED_BY_VERSION_ID = "superseded_by_version_id"
    SUPERSEDED_AT = "superseded_at"
    CANCEL_REASON = "cancel_reason"
    CANCELLED_AT = "cancelled_at"
    RETRIED_AT = "retried_at"


def _time_or_none(value: datetime | None) -> str | None:
    return iso_of(value) if value is not None else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


def _counts(raw: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(raw or {}).items()}


class StartRequest(NamedTuple):
    """What a file's start will ask of the service, frozen when the file is queued.

    Greengrass V1: the StartBulkDeployment parameters (the role Greengrass assumes, the staged
    file's URI, the tags). A deployer that deploys to each target of a file itself (Greengrass
    V2) passes no role and freezes the file's targets, in file order: what the file's
    deployment holds while it runs, known without reading the file again.
    """

    execution_role_arn: str
    input_file_uri: str
    tags: Mapping[str, str]
    targets: tuple[str, ...] = ()

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "execution_role_arn": self.execution_role_arn,
            "input_file_uri": self.input_file_uri,
            "tags": dict(self.tags),
        }
        if self.targets:
            item["targets"] = list(self.targets)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StartRequest:
        return cls(
            execution_role_arn=str(item["execution_role_arn"]),
            input_file_uri=str(item["input_file_uri"]),
            tags={str(k): str(v) for k, v in dict(item.get("tags") or {}).items()},
            targets=tuple(str(t) for t in item.get("targets") or ()),
        )


class Arrival(NamedTuple):
    """Where a file stands in line: the intake message's FIFO sequence number, if any."""

    sequence_number: str | None = None

    def sort_key(self, event_time: str, token: str) -> str:
        """Sequence number first (zero-padded: they are up to 128-bit decimals), then event time."""
        return f"{(self.sequence_number or '').rjust(40, '0')}#{event_time}#{token}"


class DeploymentStatusSnapshot(NamedTuple):
    """The deployment's status as the tracker last saw it: deployer-neutral (a status name,
    counters by name, the service's creation time as it spelled it, and its errors)."""

    status: str
    metrics: Mapping[str, int] = MappingProxyType({})
    created_at: str | None = None
    error_message: str | None = None
    error_details: tuple[Mapping[str, Any], ...] = ()

    def to_values(self) -> dict[Attr, Any]:
        return {
            Attr.BULK_STATUS: self.status,
            Attr.BULK_METRICS: dict(self.metrics),
            Attr.BULK_CREATED_AT: self.created_at,
            Attr.BULK_ERROR_MESSAGE: self.error_message,
            Attr.BULK_ERROR_DETAILS: [dict(d) for d in self.error_details] or None,
        }

    @classmethod
    def from_values(cls, item: Mapping[str, Any]) -> DeploymentStatusSnapshot | None:
        if not item.get(Attr.BULK_STATUS):
            return None
        return cls(
            status=str(item[Attr.BULK_STATUS]),
            metrics=_counts(item.get(Attr.BULK_METRICS)),
            created_at=_str_or_none(item.get(Attr.BULK_CREATED_AT)),
            error_message=_str_or_none(item.get(Attr.BULK_ERROR_MESSAGE)),
            error_details=tuple(dict(d) for d in item.get(Attr.BULK_ERROR_DETAILS) or []),
        )

    def same_as(self, other: DeploymentStatusSnapshot | None) -> bool:
        """Nothing worth a write changed (status, counters, error message)."""
        return other is not None and (self.status, dict(self.metrics), self.error_message) == (
            other.status,
            dict(other.metrics),
            other.error_message,
        )


def _parts(raw: Any) -> list[dict[str, Any]]:
    return [{"PartNumber": int(p["PartNumber"]), "ETag": str(p["ETag"])} for p in raw or []]


class ReportProgress:
    """Where a report pass stands; stored in the ledger between runs. Mutable on purpose: it
    is the report writer's working state (each parse of a ledger entry yields a fresh copy). A
    plain class: a dataclass costs every cold start that imports the ledger a millisecond."""

    def __init__(
        self,
        pass_started_at: str,
        *,
        json_upload_id: str | None = None,
        csv_upload_id: str | None = None,
        json_parts: list[dict[str, Any]] | None = None,
        csv_parts: list[dict[str, Any]] | None = None,
        next_token: str | None = None,
        rows: int = 0,
        counts: dict[str, int] | None = None,
        in_progress: list[str] | None = None,  # a sample of group ARNs
        failed: list[str] | None = None,  # a sample of group ARNs
    ) -> None:
        self.pass_started_at = pass_started_at
        self.json_upload_id = json_upload_id
        self.csv_upload_id = csv_upload_id
        self.json_parts = json_parts if json_parts is not None else []
        self.csv_parts = csv_parts if csv_parts is not None else []
        self.next_token = next_token
        self.rows = rows
        self.counts = counts if counts is not None else {}
        self.in_progress = in_progress if in_progress is not None else []
        self.failed = failed if failed is not None else []

    def as_item(self) -> dict[str, Any]:
        return dict(self.__dict__)

    # Compared by value, as the LedgerFile holding it is.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReportProgress) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"ReportProgress(**{self.__dict__!r})"

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ReportProgress:
        return cls(
            pass_started_at=str(item["pass_started_at"]),
            json_upload_id=item.get("json_upload_id"),
            csv_upload_id=item.get("csv_upload_id"),
            json_parts=_parts(item.get("json_parts")),
            csv_parts=_parts(item.get("csv_parts")),
            next_token=item.get("next_token"),
            rows=int(item.get("rows", 0)),
            counts=_counts(item.get("counts")),
            in_progress=[str(a) for a in item.get("in_progress", [])],
            failed=[str(a) for a in item.get("failed", [])],
        )


class ReportSummary(NamedTuple):
    """A report pass's summary: kept in the ledger (interim or final) and written in the report."""

    final: bool
    rows: int  # how many rows the report has (group deployments, devices)
    counts: Mapping[str, int]
    still_in_progress: tuple[str, ...] = ()
    failed_sample: tuple[str, ...] = ()
    settle_bound_passed: bool = False

    def as_dict(
        self, count_key: str = "group_count", failed_sample_key: str = "failed_groups_sample"
    ) -> dict[str, Any]:
        """As stored in the ledger (the default keys, those of the first reports), or as a report
        names it (the deployer's ``ReportRows`` keys)."""
        return {
            "final": self.final,
            count_key: self.rows,
            "counts": dict(self.counts),
            "still_in_progress": list(self.still_in_progress),
            failed_sample_key: list(self.failed_sample),
            "settle_bound_passed": self.settle_bound_passed,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> ReportSummary | None:
        if not item:
            return None
        return cls(
            final=bool(item.get("final")),
            rows=int(item.get("group_count", 0)),
            counts=_counts(item.get("counts")),
            still_in_progress=tuple(str(a) for a in item.get("still_in_progress") or []),
            failed_sample=tuple(str(a) for a in item.get("failed_groups_sample") or []),
            settle_bound_passed=bool(item.get("settle_bound_passed")),
        )


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


class LedgerFile(NamedTuple):
    """One input file version's ledger entry, parsed. Timestamps are aware UTC datetimes.

    A ``NamedTuple``, immutable and compared by value like a frozen dataclass, because both
    functions define it at every cold start: with 37 fields a frozen dataclass costs about
    17 million instructions to define (its generated methods are compiled from source), this
    about a third of that (docs/performance.md, step 3b). Build it by keyword.
    """

    token: str
    state: FileState
    ref: ObjectRef
    registered_at: datetime
    arrival: Arrival = Arrival()
    arrival_sk: str = ""
    event_time: str | None = None  # as the S3 event spelled it
    updated_at: datetime | None = None
    processing_until: int | None = None  # epoch seconds: the RECEIVED owner's lease
    expires_at: int | None = None  # epoch seconds: the TTL
    queue_sk: str = ""  # the place on the work list; empty when off it
    start_request: StartRequest | None = None
    records: int | None = None
    staged_key: str | None = None
    starting_since: int | None = None  # epoch seconds
    start_attempts: int = 0
    start_rejections: int = 0
    last_start_error: str | None = None
    started_at: datetime | None = None
    bulk_deployment_id: str | None = None
    bulk_deployment_arn: str | None = None
    deployment: DeploymentStatusSnapshot | None = None
    last_checked_at: datetime | None = None
    terminal_seen_at: datetime | None = None
    report_progress: ReportProgress | None = None
    report_checked_at: datetime | None = None
    report_interim: ReportSummary | None = None
    report_summary: ReportSummary | None = None
    report_key: str | None = None
    finished_at: datetime | None = None
    error_count: int | None = None  # REJECTED: how many validation errors
    reason: str | None = None  # SUPERSEDED: why
    superseded_by_version_id: str | None = None
    superseded_at: datetime | None = None
    cancel_reason: str | None = None
    cancelled_at: datetime | None = None
    retried_at: datetime | None = None

    @property
    def on_work_list(self) -> bool:
        return bool(self.queue_sk)

    @property
    def deployment_status(self) -> str | None:
        """The deployment's last seen status name (None before the tracker's first look)."""
        return self.deployment.status if self.deployment else None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> LedgerFile:
        """A deserialized DynamoDB item (plain values) → the typed entry."""
        get = item.get
        raw_request = get(Attr.START_REQUEST)
        raw_progress = get(Attr.REPORT_PROGRESS)
        registered_at = datetime_of(get(Attr.REGISTERED_AT))
        if registered_at is None:
            raise ValueError(f"ledger entry {get(Attr.TOKEN)!r} has no registration time")
        return cls(
            token=str(item[Attr.TOKEN]),
            state=FileState(item[Attr.STATE]),
            ref=ObjectRef(
                bucket=str(item[Attr.BUCKET]),
                key=str(item[Attr.KEY]),
                etag=str(item[Attr.ETAG]),
                version_id=get(Attr.VERSION_ID) or None,
                size=_int_or_none(get(Attr.SIZE)),
            ),
            registered_at=registered_at,
            arrival=Arrival(_str_or_none(get(Attr.SEQUENCE_NUMBER))),
            arrival_sk=str(get(Attr.ARRIVAL_SK) or ""),
            event_time=_str_or_none(get(Attr.EVENT_TIME)),
            updated_at=datetime_of(get(Attr.UPDATED_AT)),
            processing_until=_int_or_none(get(Attr.PROCESSING_UNTIL)),
            expires_at=_int_or_none(get(Attr.EXPIRES_AT)),
            queue_sk=str(get(Attr.QUEUE_SK) or ""),
            start_request=StartRequest.from_item(raw_request) if raw_request else None,
            records=_int_or_none(get(Attr.RECORDS)),
            staged_key=_str_or_none(get(Attr.STAGED_KEY)),
            starting_since=_int_or_none(get(Attr.STARTING_SINCE)),
            start_attempts=int(get(Attr.START_ATTEMPTS) or 0),
            start_rejections=int(get(Attr.START_REJECTIONS) or 0),
            last_start_error=_str_or_none(get(Attr.LAST_START_ERROR)),
            started_at=datetime_of(get(Attr.STARTED_AT)),
            bulk_deployment_id=_str_or_none(get(Attr.BULK_DEPLOYMENT_ID)),
            bulk_deployment_arn=_str_or_none(get(Attr.BULK_DEPLOYMENT_ARN)),
            deployment=DeploymentStatusSnapshot.from_values(item),
            last_checked_at=datetime_of(get(Attr.LAST_CHECKED_AT)),
            terminal_seen_at=datetime_of(get(Attr.TERMINAL_SEEN_AT)),
            report_progress=ReportProgress.from_item(raw_progress) if raw_progress else None,
            report_checked_at=datetime_of(get(Attr.REPORT_CHECKED_AT)),
            report_interim=ReportSummary.from_item(get(Attr.REPORT_INTERIM)),
            report_summary=ReportSummary.from_item(get(Attr.REPORT_SUMMARY)),
            report_key=_str_or_none(get(Attr.REPORT_KEY)),
            finished_at=datetime_of(get(Attr.FINISHED_AT)),
            error_count=_int_or_none(get(Attr.ERROR_COUNT)),
            reason=_str_or_none(get(Attr.REASON)),
            superseded_by_version_id=_str_or_none(get(Attr.SUPERSEDED_BY_VERSION_ID)),
            superseded_at=datetime_of(get(Attr.SUPERSEDED_AT)),
            cancel_reason=_str_or_none(get(Attr.CANCEL_REASON)),
            cancelled_at=datetime_of(get(Attr.CANCELLED_AT)),
            retried_at=datetime_of(get(Attr.RETRIED_AT)),
        )

    def to_item(self) -> dict[str, Any]:
        """The entry as plain item values (absent fields left out), keys and indexes included."""
        ref = self.ref
        registered = iso_of(self.registered_at)
        values: dict[Attr, Any] = {
            Attr.PK: file_pk(self.token),
            Attr.TOKEN: self.token,
            Attr.STATE: self.state.value,
            Attr.BUCKET: ref.bucket,
            Attr.KEY: ref.key,
            Attr.ETAG: ref.etag,
            Attr.VERSION_ID: ref.version_id,
            Attr.SIZE: ref.size,
            Attr.EVENT_TIME: self.event_time,
            Attr.SEQUENCE_NUMBER: self.arrival.sequence_number,
            Attr.ARRIVAL_SK: self.arrival_sk or None,
            Attr.REGISTERED_AT: registered,
            Attr.UPDATED_AT: _time_or_none(self.updated_at),
            Attr.PROCESSING_UNTIL: self.processing_until,
            Attr.OBJECT_ID: object_id(ref.bucket, ref.key),
            Attr.REGISTERED_SK: f"{registered}#{self.token}",
            Attr.EXPIRES_AT: self.expires_at,
            Attr.QUEUE_PK: WORK_PARTITION if self.queue_sk else None,
            Attr.QUEUE_SK: self.queue_sk or None,
            Attr.START_REQUEST: self.start_request.as_item() if self.start_request else None,
            Attr.RECORDS: self.records,
            Attr.STAGED_KEY: self.staged_key,
            Attr.STARTING_SINCE: self.starting_since,
            Attr.START_ATTEMPTS: self.start_attempts or None,
            Attr.START_REJECTIONS: self.start_rejections or None,
            Attr.LAST_START_ERROR: self.last_start_error,
            Attr.STARTED_AT: _time_or_none(self.started_at),
            Attr.BULK_DEPLOYMENT_ID: self.bulk_deployment_id,
            Attr.BULK_DEPLOYMENT_ARN: self.bulk_deployment_arn,
            **(self.deployment.to_values() if self.deployment else {}),
            Attr.LAST_CHECKED_AT: _time_or_none(self.last_checked_at),
            Attr.TERMINAL_SEEN_AT: _time_or_none(self.terminal_seen_at),
            Attr.REPORT_PROGRESS: self.report_progress.as_item() if self.report_progress else None,
            Attr.REPORT_CHECKED_AT: _time_or_none(self.report_checked_at),
            Attr.REPORT_INTERIM: self.report_interim.as_dict() if self.report_interim else None,
            Attr.REPORT_SUMMARY: self.report_summary.as_dict() if self.report_summary else None,
            Attr.REPORT_KEY: self.report_key,
            Attr.FINISHED_AT: _time_or_none(self.finished_at),
            Attr.ERROR_COUNT: self.error_count,
            Attr.REASON: self.reason,
            Attr.SUPERSEDED_BY_VERSION_ID: self.superseded_by_version_id,
            Attr.SUPERSEDED_AT: _time_or_none(self.superseded_at),
            Attr.CANCEL_REASON: self.cancel_reason,
            Attr.CANCELLED_AT: _time_or_none(self.cancelled_at),
            Attr.RETRIED_AT: _time_or_none(self.retried_at),
        }
        return {str(k): v for k, v in values.items() if v is not None}


WORK_PARTITION = "work"


def file_pk(token: str) -> str:
    return f"file#{token}"


def object_id(bucket: str, key: str) -> str:
    """The by_key index's partition: one S3 key."""
    return f"{bucket}/{key}"
