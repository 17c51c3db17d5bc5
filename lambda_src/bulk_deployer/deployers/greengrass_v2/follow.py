"""Following one target's deployment until it settles, then writing its per-device results.

A thing target settles when its deployment leaves ACTIVE. A thing-group target never does
(continuous): it settles when every member recorded at start has a terminal job execution, or
when its deadline passes (the line's job timeout, else the stack's, after the rollout's time);
members still queued, in progress or never reached are then PENDING. Either kind settles at
once when the deployment was replaced by a newer one to the same target (someone else's) or
cancelled. A pass over a running group costs GetDeployment and DescribeJob; listing the
executions (250 a page) is left for when the counts say every device may be done, or the
deadline has passed.

A 100,000-device group is followed in bounded memory: its executions (listed a page at a time)
and the members recorded at start (streamed from S3) go into an index on local disk
(``ExecutionIndex``) and are joined there, for the check (one query: how many members are not
terminal) and for the rows (streamed from the join into the upload).
A check that finds a member not terminal is remembered with the job's counts (``mark_swept``):
the next passes list the executions again only once the counts have moved, or after
``resweep_seconds`` (the counts may lag the list), so a group that waits for a member until its
deadline costs two calls a pass, not 400 pages of listing. And a status pass starts listing only
within its budget (``pages_per_pass``, 100,000 devices' worth): a file of several big groups
that settle at once settles over several passes (of one tracker run or the next ones), each
group's rows written once, instead of one pass that outlasts the function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from bulk_deployer.deployers.greengrass_v2 import report
from bulk_deployer.deployers.greengrass_v2.identity import FileKeys, parse_target
from bulk_deployer.deployers.greengrass_v2.line_upload import LineUpload
from bulk_deployer.deployers.greengrass_v2.members import ExecutionIndex, ExecutionSummary, GroupMembers
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger, TargetRecord

_ENDED = {
    "COMPLETED": report.TARGET_SUCCEEDED,
    "FAILED": report.TARGET_FAILED,
    "CANCELED": report.TARGET_CANCELED,
}


@dataclass(frozen=True)
class TargetProgress:
    settled: bool
    counts: Mapping[str, int] = field(default_factory=dict)
    outcome: str | None = None


@dataclass(frozen=True)
class FollowSettings:
    reports_prefix: str = "reports/"
    reason_limit: int = 50  # DescribeJobExecution calls for failure reasons, per target
    clock: Callable[[], float] = time.time
    resweep_seconds: float = 600.0  # a group's members checked again with unchanged counts after this
    # ListJobExecutionsForJob pages a status pass may start listing: 100,000 devices' worth (about
    # 40 s at IoT's 10 a second); the targets past it are listed by the next passes.
    pages_per_pass: int = 400


class TargetFollower:
    def __init__(
        self,
        gg: Any,
        iot: Any,
        s3: Any,
        ledger: TargetLedger,
        members: GroupMembers,
        settings: FollowSettings,
    ) -> None:
        self._gg = gg
        self._iot = iot
        self._s3 = s3
        self._ledger = ledger
        self._members = members
        self._settings = settings
        self._pass_began_at = 0  # members.pages_listed when the status pass began

    def begin_pass(self) -> None:
        """A status pass begins: its listing budget (``pages_per_pass``) is whole again."""
        self._pass_began_at = self._members.pages_listed

    def _may_list(self) -> bool:
        """A listing may start (once started, it is finished: a pass may go one group over)."""
        return self._members.pages_listed - self._pass_began_at < self._settings.pages_per_pass

    def follow(self, file_token: str, record: TargetRecord, bucket: str) -> TargetProgress:
        """Where a STARTED target stands; a target that settles now is written and recorded."""
        if record.settled:
            return TargetProgress(True, record.counts, record.outcome)
        deployment = self._gg.get_deployment(deploymentId=record.deployment_id)
        ended = _ended(deployment, parse_target(record.target_arn).is_group)
        if ended is not None:
            return self._settle(file_token, record, bucket, ended)
        past_deadline = record.deadline_at is not None and self._settings.clock() >= record.deadline_at
        if past_deadline:
            return self._settle(file_token, record, bucket, None)
        if not parse_target(record.target_arn).is_group:
            return self._unsettled(record)
        return self._follow_group(file_token, record, bucket)

    def _unsettled(self, record: TargetRecord) -> TargetProgress:
        """Where a target that does not settle in this pass stands: a thing's device in progress,
        a group's job counts."""
        if not parse_target(record.target_arn).is_group:
            return TargetProgress(False, {"IN_PROGRESS": 1})
        return TargetProgress(False, job_counts(self._iot, str(record.iot_job_id)))

    def _follow_group(self, file_token: str, record: TargetRecord, bucket: str) -> TargetProgress:
        """A running group: settled once every member recorded at start has a terminal execution."""
        counts = job_counts(self._iot, str(record.iot_job_id))
        if not self._may_be_done(record, counts) or not self._may_list():
            return TargetProgress(False, counts)
        with self._index(file_token, record, bucket) as executions:
            if executions.members_not_in(report.TERMINAL_EXECUTION) == 0:
                return self._settle(file_token, record, bucket, None, executions)
        self._ledger.mark_swept(file_token, record.index, counts)
        return TargetProgress(False, counts)

    def _may_be_done(self, record: TargetRecord, counts: Mapping[str, int]) -> bool:
        """Every execution terminal and at least one per member, and not already found otherwise
        at these counts (``resweep_seconds`` ago at most)."""
        if (
            counts.get("QUEUED", 0) + counts.get("IN_PROGRESS", 0) > 0
            or sum(counts.values()) < record.members
        ):
            return False
        recent = (
            record.swept_at is not None
            and self._settings.clock() < record.swept_at + self._settings.resweep_seconds
        )
        return not (recent and record.swept_counts == counts)

    def _settle(
        self,
        file_token: str,
        record: TargetRecord,
        bucket: str,
        outcome: str | None,
        executions: ExecutionIndex | None = None,
    ) -> TargetProgress:
        """Write the target's rows and record it settled (its executions listed now unless given)."""
        if executions is None:
            if not self._may_list():
                return self._unsettled(record)
            with self._index(file_token, record, bucket) as listed:
                return self._settle(file_token, record, bucket, outcome, listed)
        job_id = str(record.iot_job_id)
        keys = FileKeys(self._settings.reports_prefix, file_token)
        unfinished = report.REPLACED if outcome == report.TARGET_REPLACED else report.PENDING
        if outcome == report.TARGET_CANCELED:
            unfinished = report.CANCELED
        counts: dict[str, int] = {}
        reasons_left = self._settings.reason_limit
        devices = keys.devices(record.index)
        with LineUpload(self._s3, bucket, devices, content_type="application/x-ndjson") as out:
            for row in self._rows(record, executions, unfinished):
                if row["status"] in report.FAILED_EXECUTION and reasons_left > 0:
                    reasons_left -= 1
                    answer = self._iot.describe_job_execution(jobId=job_id, thingName=row["thing_name"])
                    details = (answer["execution"].get("statusDetails") or {}).get("detailsMap") or {}
                    row["reason"] = report.failure_reason(details)
                    row["error_types"] = report.error_types(details)
                counts[row["status"]] = counts.get(row["status"], 0) + 1
                out.write(orjson.dumps(row) + b"\n")
        if outcome is None:
            succeeded = set(counts) <= {report.SUCCEEDED}
            outcome = report.TARGET_SUCCEEDED if succeeded else report.TARGET_FAILED
        self._ledger.mark_settled(file_token, record.index, outcome, counts)
        return TargetProgress(True, counts, outcome)

    def _index(self, file_token: str, record: TargetRecord, bucket: str) -> ExecutionIndex:
        """The target's executions and its members at start (a group's, read back from S3)."""
        target = parse_target(record.target_arn)
        keys = FileKeys(self._settings.reports_prefix, file_token)
        members = self._members.read(bucket, keys.members(record.index)) if target.is_group else [target.name]
        return self._members.index(str(record.iot_job_id), members)

    def _rows(
        self, record: TargetRecord, executions: ExecutionIndex, unfinished: str
    ) -> Iterator[dict[str, Any]]:
        """Members in recorded order, then devices that joined the group after the start."""
        for name, execution in executions.members():
            yield _row(record.target_arn, name, execution, unfinished, joined_later=False)
        for execution in executions.joined_later():
            yield _row(record.target_arn, execution.thing_name, execution, unfinished, joined_later=True)


def _row(
    target_arn: str, name: str, execution: ExecutionSummary | None, unfinished: str, *, joined_later: bool
) -> dict[str, Any]:
    """A device's row: its execution's terminal status, else what the target's end makes it."""
    if execution is None:
        return report.device_row(target_arn, name, unfinished, joined_later=joined_later)
    status = execution.status if execution.status in report.TERMINAL_EXECUTION else unfinished
    return report.device_row(
        target_arn, name, status, last_update=execution.last_update, joined_later=joined_later
    )


def _ended(deployment: Mapping[str, Any], is_group: bool) -> str | None:
    """The target's outcome when its deployment has ended by itself: replaced, cancelled, or (a
    thing target's) completed or failed; None while it may go on."""
    status = str(deployment.get("deploymentStatus", ""))
    if status == "INACTIVE" or deployment.get("isLatestForTarget") is False:
        return report.TARGET_REPLACED
    if status == "CANCELED" or (status in _ENDED and not is_group):
        return _ENDED[status]
    return None


def job_counts(iot: Any, job_id: str) -> dict[str, int]:
    """A target's devices by status, from its IoT job's counts (one DescribeJob): the tracker's
    and the CLI's live view of a running target."""
    details = iot.describe_job(jobId=job_id)["job"].get("jobProcessDetails") or {}
    return {
        status: int(details.get(name, 0)) for name, status in report.JOB_COUNTS.items() if details.get(name)
    }
