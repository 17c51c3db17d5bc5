"""IoT jobs as Greengrass V2 uses them: one job per deployment, ONE EXECUTION PER DEVICE.

Why not moto's: moto gives a thing-group job one execution for the group itself. Here a group
job reaches every member (recursively) at creation and, being continuous, every thing that joins
later; executions are created no faster than the rollout rate, and each moves over emulator time
as its device behaves: QUEUED -> IN_PROGRESS -> SUCCEEDED | FAILED | TIMED_OUT, or REJECTED,
CANCELED, REMOVED. Transitions are computed lazily from the clock (see State.advance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .devices import Behaviour

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"})
_COUNTS = {
    "CANCELED": "numberOfCanceledThings",
    "SUCCEEDED": "numberOfSucceededThings",
    "FAILED": "numberOfFailedThings",
    "REJECTED": "numberOfRejectedThings",
    "QUEUED": "numberOfQueuedThings",
    "IN_PROGRESS": "numberOfInProgressThings",
    "REMOVED": "numberOfRemovedThings",
    "TIMED_OUT": "numberOfTimedOutThings",
}


@dataclass
class Execution:
    thing_name: str
    thing_arn: str
    number: int
    queued_at: float
    status: str = "QUEUED"
    since: float = 0.0  # when it entered `status`
    started_at: float | None = None
    details: dict[str, str] = field(default_factory=dict)
    version: int = 1
    force_canceled: bool = False

    def move(self, status: str, at: float, details: dict[str, str] | None = None) -> None:
        self.status, self.since = status, at
        if status == "IN_PROGRESS":
            self.started_at = at
        if details is not None:
            self.details = details
        self.version += 1

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def summary(self) -> dict[str, Any]:
        """JobExecutionSummary."""
        found: dict[str, Any] = {
            "status": self.status,
            "queuedAt": self.queued_at,
            "lastUpdatedAt": self.since,
            "executionNumber": self.number,
            "retryAttempt": 0,
        }
        if self.started_at is not None:
            found["startedAt"] = self.started_at
        return found


@dataclass
class Job:
    job_id: str
    arn: str
    target_arn: str
    continuous: bool  # a thing-group job; a thing's job is a snapshot (it completes)
    created_at: float
    rate_per_minute: float
    timeout_minutes: int | None
    rollback: bool  # the deployment's failureHandlingPolicy is ROLLBACK
    status: str = "IN_PROGRESS"
    updated_at: float = 0.0
    completed_at: float | None = None
    reason_code: str | None = None
    comment: str | None = None
    force_canceled: bool = False
    pending: dict[str, tuple[str, float]] = field(default_factory=dict)  # thing -> ARN, enqueued at
    next_release_at: float = 0.0
    executions: dict[str, Execution] = field(default_factory=dict)  # the latest per thing
    open: dict[str, Execution] = field(default_factory=dict)  # those not terminal yet
    numbers: dict[str, int] = field(default_factory=dict)
    quiet_until: float = float("-inf")  # nothing is due before (State.advance skips the job)

    # ------------------------------------------------------------------ targets
    def enqueue(self, thing: str, arn: str, at: float) -> None:
        """A device to reach (at creation, or joining the group later: continuous)."""
        current = self.executions.get(thing)
        if self.status == "IN_PROGRESS" and (current is None or current.status == "REMOVED"):
            self.pending.setdefault(thing, (arn, at))
            self.quiet_until = float("-inf")

    def remove(self, thing: str, at: float) -> None:
        """The device left the group: not yet reached, it never will be; unfinished, REMOVED."""
        self.pending.pop(thing, None)
        current = self.open.pop(thing, None)
        if current is not None and not current.terminal:
            current.move("REMOVED", at)
            self.updated_at = at

    def release(self, now: float) -> None:
        """Create the executions the rollout rate allows by `now` (no faster than the rate)."""
        if self.status != "IN_PROGRESS":
            return
        released: list[str] = []  # deleted after the walk: next(iter()) past deleted keys is O(deleted)
        for thing, (arn, enqueued) in self.pending.items():
            at = max(self.next_release_at, enqueued)
            if at > now:
                break
            released.append(thing)
            self.numbers[thing] = self.numbers.get(thing, 0) + 1
            self.executions[thing] = self.open[thing] = Execution(
                thing, arn, self.numbers[thing], at, since=at
            )
            self.next_release_at = at + 60.0 / self.rate_per_minute
            self.updated_at = at
        for thing in released:
            del self.pending[thing]

    def next_release(self) -> float:
        if not self.pending or self.status != "IN_PROGRESS":
            return float("inf")
        return max(self.next_release_at, next(iter(self.pending.values()))[1])

    def cancel(
        self, at: float, force: bool, reason_code: str | None = None, comment: str | None = None
    ) -> None:
        """Not-yet-started executions are CANCELED (with force, those IN_PROGRESS too)."""
        self.status, self.updated_at, self.force_canceled = "CANCELED", at, force
        self.reason_code, self.comment = reason_code, comment
        self.pending.clear()
        for execution in self.open.values():
            if execution.status == "QUEUED" or (force and execution.status == "IN_PROGRESS"):
                execution.force_canceled = execution.status == "IN_PROGRESS"
                execution.move("CANCELED", at)
        self.open = {t: e for t, e in self.open.items() if not e.terminal}

    # ------------------------------------------------------------------ device lifecycle
    def step(
        self, execution: Execution, behaviour: Behaviour, pickup: float, apply: float
    ) -> tuple[float, str] | None:
        """The execution's next transition (time, status) as its device behaves now, or None."""
        if execution.terminal:
            return None
        start = max(execution.since, behaviour.since)
        wait = behaviour.apply_seconds if behaviour.apply_seconds is not None else apply
        candidates: list[tuple[float, str]] = []
        if execution.status == "QUEUED":
            if behaviour.kind != "offline":
                candidates.append(
                    (start + pickup, "REJECTED" if behaviour.kind == "rejecting" else "IN_PROGRESS")
                )
        else:
            if self.timeout_minutes is not None and execution.started_at is not None:
                candidates.append((execution.started_at + self.timeout_minutes * 60.0, "TIMED_OUT"))
            outcome = {"healthy": "SUCCEEDED", "failing": "FAILED", "rejecting": "REJECTED"}.get(
                behaviour.kind
            )
            if outcome is not None:
                candidates.append((start + wait, outcome))
        return min(candidates, default=None)

    def details_for(self, status: str, behaviour: Behaviour) -> dict[str, str] | None:
        """The detailsMap the nucleus reports with a terminal status (None: left as it was)."""
        if status == "SUCCEEDED":
            return {"detailed-deployment-status": "SUCCESSFUL"}
        if status not in ("FAILED", "REJECTED"):
            return None
        stack, types, cause = behaviour.errors()
        if status == "REJECTED":
            detailed = "REJECTED"
        elif not self.rollback:
            detailed = "FAILED_ROLLBACK_NOT_REQUESTED"
        else:
            detailed = "FAILED_UNABLE_TO_ROLLBACK" if behaviour.rollback_fails else "FAILED_ROLLBACK_COMPLETE"
        return {
            "detailed-deployment-status": detailed,
            "deployment-failure-cause": cause,
            "deployment-error-stack": "[" + ", ".join(stack) + "]",
            "deployment-error-types": "[" + ", ".join(types) + "]",
        }

    def settle(self) -> None:
        """A snapshot job is COMPLETED once every execution is terminal."""
        if self.continuous or self.status != "IN_PROGRESS" or self.pending:
            return
        if self.executions and all(e.terminal for e in self.executions.values()):
            self.status = "COMPLETED"
            self.completed_at = self.updated_at = max(e.since for e in self.executions.values())

    # ------------------------------------------------------------------ answers
    def describe(self) -> dict[str, Any]:
        counts = dict.fromkeys(_COUNTS.values(), 0)
        for execution in self.executions.values():
            counts[_COUNTS[execution.status]] += 1
        details: dict[str, Any] = dict(counts)
        if self.pending:
            details["processingTargets"] = [self.target_arn]
        job: dict[str, Any] = {
            "jobArn": self.arn,
            "jobId": self.job_id,
            "targetSelection": "CONTINUOUS" if self.continuous else "SNAPSHOT",
            "status": self.status,
            "forceCanceled": self.force_canceled,
            "targets": [self.target_arn],
            "jobExecutionsRolloutConfig": {"maximumPerMinute": int(self.rate_per_minute)},
            "createdAt": self.created_at,
            "lastUpdatedAt": max(self.updated_at, self.created_at),
            "jobProcessDetails": details,
            "isConcurrent": bool(self.pending),
        }
        if self.timeout_minutes is not None:
            job["timeoutConfig"] = {"inProgressTimeoutInMinutes": self.timeout_minutes}
        for key, value in (
            ("completedAt", self.completed_at),
            ("reasonCode", self.reason_code),
            ("comment", self.comment),
        ):
            if value is not None:
                job[key] = value
        return {"job": job}

    def listed(self, status: str | None) -> list[Execution]:
        if status is None:
            return list(self.executions.values())
        return [e for e in self.executions.values() if e.status == status]

    def describe_execution(self, execution: Execution, now: float) -> dict[str, Any]:
        found: dict[str, Any] = {
            "jobId": self.job_id,
            "thingArn": execution.thing_arn,
            "status": execution.status,
            "forceCanceled": execution.force_canceled,
            "statusDetails": {"detailsMap": dict(execution.details)},
            "queuedAt": execution.queued_at,
            "lastUpdatedAt": execution.since,
            "executionNumber": execution.number,
            "versionNumber": execution.version,
        }
        if execution.started_at is not None:
            found["startedAt"] = execution.started_at
            if self.timeout_minutes is not None and execution.status == "IN_PROGRESS":
                left = execution.started_at + self.timeout_minutes * 60.0 - now
                found["approximateSecondsBeforeTimedOut"] = max(0, int(left))
        return {"execution": found}
