"""Per-device results: their words, what each means to the report, and the rows' columns.

A device's status is its job execution's (SUCCEEDED, FAILED, TIMED_OUT, REJECTED, CANCELED,
REMOVED) once terminal, or ours when the target settled before it was: PENDING (queued, in
progress or never reached at the deadline: offline, not dropped), REPLACED (someone else's
newer deployment to the target took over) or CANCELED (our stop). A target the service refused
at start has no devices: one row of its own, REFUSED, with the service's error as its reason.
Rows are written when their target settles, so each of these is final: to the report,
everything but SUCCEEDED did not succeed (``TargetOutcome.FAILED``; PENDING devices are also
counted apart). Only the rows of a target asked for before it settled, ACTIVE (or
NOT_STARTED), may still change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import Lifecycle, LifecycleMetrics, ReportRows, TargetOutcome

# A V2 report's rows are devices: report.json's "devices", devices.csv, device_count.
REPORT_ROWS = ReportRows("device", Metric.DEVICES_NOT_SUCCEEDED)
# What the core counts as a file's deployments to its targets go by.
LIFECYCLE_METRICS = LifecycleMetrics.named("FileDeployment", waiting=Metric.WAITING_FOR_TARGETS)
REPORT_COLUMNS = ("target", "thing_name", "status", "reason", "error_types", "last_update", "joined_later")

SUCCEEDED = "SUCCEEDED"
PENDING = "PENDING"
ACTIVE = "ACTIVE"  # the row of a target that has not settled yet
NOT_STARTED = "NOT_STARTED"  # the row of a target that has not been started
REPLACED = "REPLACED"
CANCELED = "CANCELED"
REFUSED = "REFUSED"  # the one row of a target the service refused at start: no deployment, no devices
TERMINAL_EXECUTION = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"})
FAILED_EXECUTION = frozenset({"FAILED", "TIMED_OUT", "REJECTED"})  # the device reports why

# A target's own outcome (the per-target summary), beyond succeeded and failed.
TARGET_SUCCEEDED = "succeeded"
TARGET_FAILED = "failed"
TARGET_REPLACED = "replaced"
TARGET_CANCELED = "canceled"
TARGET_REFUSED = "refused"  # CreateDeployment refused it for good: nothing was deployed to it

# DescribeJob's jobProcessDetails counts, as device statuses (while a group target runs).
JOB_COUNTS = {
    "numberOfQueuedThings": "QUEUED",
    "numberOfInProgressThings": "IN_PROGRESS",
    "numberOfSucceededThings": "SUCCEEDED",
    "numberOfFailedThings": "FAILED",
    "numberOfTimedOutThings": "TIMED_OUT",
    "numberOfRejectedThings": "REJECTED",
    "numberOfCanceledThings": "CANCELED",
    "numberOfRemovedThings": "REMOVED",
}

COUNTER_METRICS = (
    Metric.DEVICE_DEPLOYMENTS_SUCCEEDED,
    Metric.DEVICE_DEPLOYMENTS_FAILED,
    Metric.DEVICES_PENDING_AT_DEADLINE,
    Metric.TARGETS_REFUSED,
)

# The composite deployment's status, in Greengrass V2's words for one deployment.
STATUS_WORDS = {
    Lifecycle.RUNNING: "ACTIVE",
    Lifecycle.SUCCEEDED: "COMPLETED",
    Lifecycle.FAILED: "FAILED",
    Lifecycle.STOPPED: "CANCELED",
}


def device_outcome(status: str) -> TargetOutcome:
    """SUCCEEDED succeeded; a target's row before it settled may change; the rest did not succeed."""
    if status == SUCCEEDED:
        return TargetOutcome.SUCCEEDED
    if status in (ACTIVE, NOT_STARTED):
        return TargetOutcome.PENDING
    return TargetOutcome.FAILED


def counter_metrics(counts: Mapping[str, int], pending_at_deadline: int) -> dict[str, int]:
    """The device counters the tracker re-emits as increments. A device failed when its execution
    says so (FAILED, TIMED_OUT, REJECTED), whether its target has settled or not; devices still
    queued or in progress are not failures (the report's final count, DevicesNotSucceeded, also
    counts the ones pending at the deadline). A refused target is counted apart too: one
    REFUSED row per target."""
    failed = sum(counts.get(status, 0) for status in FAILED_EXECUTION)
    return {
        Metric.DEVICE_DEPLOYMENTS_SUCCEEDED.value: counts.get(SUCCEEDED, 0),
        Metric.DEVICE_DEPLOYMENTS_FAILED.value: failed,
        Metric.DEVICES_PENDING_AT_DEADLINE.value: pending_at_deadline,
        Metric.TARGETS_REFUSED.value: counts.get(REFUSED, 0),
    }


def error_types(details: Mapping[str, str]) -> list[str]:
    """The nucleus's ``deployment-error-types`` ("[A, B]") as a list."""
    listed = details.get("deployment-error-types", "").strip().strip("[]")
    return [t.strip() for t in listed.split(",") if t.strip()]


def failure_reason(details: Mapping[str, str]) -> str | None:
    parts = [details.get("detailed-deployment-status"), details.get("deployment-failure-cause")]
    text = ": ".join(p for p in parts if p)
    return text or None


def refusal_reason(code: str | None, message: str | None) -> str:
    """A refused target's reason, in the report and the file's error details: the service's words."""
    return f"{code}: {message}" if message else str(code)


def device_row(
    target_arn: str,
    thing_name: str,
    status: str,
    *,
    last_update: str | None = None,
    joined_later: bool = False,
) -> dict[str, Any]:
    """A report row; a failed device's reason and error types are filled in when read."""
    return {
        "target": target_arn,
        "thing_name": thing_name,
        "status": status,
        "reason": None,
        "error_types": [],
        "last_update": last_update,
        "joined_later": joined_later,
    }
