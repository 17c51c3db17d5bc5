"""The tracker: follows every started bulk deployment to its end, frees the slot, starts the next.

Runs on a schedule, one run at a time (a lease item in the ledger). Each run:

1. follows the active bulk deployment (GetBulkDeploymentStatus) and, at its terminal state,
   releases the slot, so that
2. ``dispatch()`` starts the next queued file within one schedule period; while more files
   wait, the run keeps following the bulk deployment it started (every TRACKER_POLL_SECONDS,
   for up to TRACKER_FOLLOW_SECONDS) and starts the next one as soon as it ends, so a backlog
   of small files drains at several files per period instead of one. Where files may run side
   by side (Greengrass V2), a look that finds a file ended, or a target of one settled (its
   digest leaves the file's hold at once), tries the next start too while ours run on;
3. follows the group deployments of terminal bulk deployments until each is Success or
   Failure (or a bound passes) and writes ``reports/<token>/report.json`` + ``groups.csv``,
   continuing across runs from a checkpoint;
4. emits queue health metrics (SQS cannot see files waiting in the ledger) and, hourly,
   reconciles the incoming prefix against the ledger.

An idle run (nothing started, nothing queued) costs two ledger reads and no Greengrass call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, Final

from bulk_deployer.config import TRACKER_FOLLOW_MARGIN_SECONDS
from bulk_deployer.contract import Metric
from bulk_deployer.control import DispatchControl, RunLease
from bulk_deployer.deployers.base import Deployer, DeploymentStatus, Lifecycle
from bulk_deployer.dispatch import Dispatcher, DispatchOutcome, DispatchResult
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import DeploymentStatusSnapshot, FileState, LedgerFile
from bulk_deployer.observability import file_log_context, logger
from bulk_deployer.outcomes import NoOutcomes, OutcomeSink
from bulk_deployer.reconcile import Reconciler
from bulk_deployer.report_pass import ReportPass, ReportStep
from bulk_deployer.reports import ReportStore
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.tracker_config import TrackerSettings


@dataclass
class TrackerRun:
    """What one run did, for logs and tests."""

    ran: bool = True
    followed: int = 0
    ended: list[str] = field(default_factory=list)
    dispatched: DispatchOutcome | None = None  # the last dispatch of the run
    started: list[str] = field(default_factory=list)  # tokens of the files this run started
    reports: dict[ReportStep, list[str]] = field(default_factory=lambda: {step: [] for step in ReportStep})
    unprocessed: int | None = None
    # Per running file, what this run freed of its hold (its settled targets, say).
    released: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def reports_final(self) -> list[str]:
        return self.reports[ReportStep.FINAL]

    @property
    def reports_interim(self) -> list[str]:
        return self.reports[ReportStep.INTERIM]

    @property
    def reports_continuing(self) -> list[str]:
        return self.reports[ReportStep.CONTINUING]


class Followed(Enum):
    """What one look at a started file found."""

    RUNNING = "running"
    FREED = "freed"  # still running, done with some of what it held (a target settled)
    ENDED = "ended"


@dataclass(frozen=True)
class Look:
    """One look at our started files: how many still run, whether what they held shrank."""

    running: int
    freed: bool


class BulkDeploymentTracker:
    """One tracker run at a time: follows started files, frees the slot, dispatches, reports."""

    def __init__(
        self,
        settings: TrackerSettings,
        ledger: BulkDeploymentLedger,
        slot: DeploymentSlot,
        control: DispatchControl,
        lease: RunLease,
        reconcile_gate: RunLease,
        deployer: Deployer,
        dispatcher: Dispatcher,
        s3: Any,
        reports: ReportStore,
        reconciler: Reconciler,
        *,
        count: Callable[[Metric, int], None],
        seconds: Callable[[Metric, int], None],
        outcomes: OutcomeSink | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings: Final = settings
        self.ledger: Final = ledger
        self.slot: Final = slot
        self.control: Final = control
        self.lease: Final = lease
        self.reconcile_gate: Final = reconcile_gate
        self.deployer: Final = deployer
        self.dispatcher: Final = dispatcher
        self.s3: Final = s3
        self.reports: Final = reports
        self.reconciler: Final = reconciler
        self.count: Final = count
        self.seconds: Final = seconds
        self.outcomes: Final[OutcomeSink] = NoOutcomes() if outcomes is None else outcomes
        self.clock: Final = clock
        self.sleep: Final = sleep

    @cached_property
    def _reporting(self) -> ReportPass:
        return ReportPass(
            self.settings,
            self.ledger,
            self.deployer,
            self.s3,
            self.reports,
            count=self.count,
            outcomes=self.outcomes,
            clock=self.clock,
        )

    def run(self, remaining_seconds: Callable[[], float]) -> TrackerRun:
        holder = uuid.uuid4().hex
        if not self.lease.acquire(holder, seconds=self.settings.tracker_lease_seconds):
            logger.info("another tracker run is in progress; skipping this one")
            return TrackerRun(ran=False)
        try:
            return self._run(remaining_seconds)
        finally:
            self.lease.release(holder)

    def _run(self, remaining_seconds: Callable[[], float]) -> TrackerRun:
        result = TrackerRun()
        follow_until = self.clock() + self.settings.tracker_follow_seconds
        waiting, tracked = self.ledger.work()
        follow_on = self._follow_and_dispatch(result, waiting, tracked, first=True)
        while follow_on and self._time_to_follow(follow_until, remaining_seconds):
            self.sleep(self.settings.tracker_poll_seconds)
            try:
                # While the bulk deployment runs, a look reads only the tracked files (a few
                # items), not the whole work list.
                look = self._follow_started(result, self.ledger.tracked())
                if look.running and not self._room_for_more(look, result):
                    continue
                waiting, tracked = self.ledger.work()
                if look.running:  # and the slot has room: another file may start beside ours
                    follow_on = bool(waiting) and self._dispatch_next(result, waiting, running=True)
                else:
                    follow_on = self._follow_and_dispatch(result, waiting, tracked, first=False)
            except Exception:
                # Following on is a shortcut: the next scheduled run looks again. The reports
                # below must not be lost to, say, throttling of one more status call.
                logger.exception("following on failed; the next run looks again")
                break
        if tracked or result.ended:
            for file in self.ledger.tracked():
                if file.state is FileState.REPORTING:
                    keys = {"bulk_deployment_id": file.bulk_deployment_id, **file.ref.log_keys()}
                    with file_log_context(file.token, **keys):
                        progress = self._reporting.advance(file, remaining_seconds)
                    result.reports[progress].append(file.token)
        self._queue_health(waiting)
        if self.reconcile_gate.acquire("tracker", seconds=self.settings.reconcile_every_seconds):
            result.unprocessed = self._reconcile()
        return result

    # -- the active bulk deployment --------------------------------------------------------

    def _follow_and_dispatch(
        self, result: TrackerRun, waiting: list[LedgerFile], tracked: list[LedgerFile], *, first: bool
    ) -> bool:
        """Follow our started bulk deployments, start the next file if the slot is free.

        Returns whether following on is worth it: a bulk deployment of ours is running and
        another file waits behind it.
        """
        running = self._follow_started(result, tracked).running > 0
        if not waiting or (running and not first):
            return running and bool(waiting)
        return self._dispatch_next(result, waiting, running=running)

    def _dispatch_next(self, result: TrackerRun, waiting: list[LedgerFile], *, running: bool) -> bool:
        """Start the next waiting file if the slot has room; whether following on is worth it."""
        try:
            outcome = self._dispatch(running)
        except Exception:
            # A start whose answer was lost, throttling past the retries, an outage: the file
            # stays queued (or STARTING, to be recovered by its token tag) and the next run
            # tries again; the reports below still make progress meanwhile.
            logger.exception("dispatch failed; the next run tries again")
            return False
        result.dispatched = outcome
        if outcome.result in (DispatchResult.STARTED, DispatchResult.RECOVERED):
            result.started.append(str(outcome.token))
            return len(waiting) > 1
        if outcome.result is DispatchResult.STARTING:
            return True  # part-way through a start of many calls: resume it while time is left
        # Nothing started: paused, busy, refused, or the slot is ours and still running (then
        # following on is worth it unless dispatching is paused: nothing would start). Blocked:
        # a waiting file shares a target with one of ours, which may settle while we follow.
        waits_for_ours = outcome.result in (DispatchResult.SLOT_TAKEN, DispatchResult.BLOCKED)
        return running and waits_for_ours and self.control.paused() is None

    def _follow_started(self, result: TrackerRun, tracked: list[LedgerFile]) -> Look:
        """Follow each STARTED file: how many still run, and whether any freed what it held."""
        running = 0
        freed = False
        for file in tracked:
            if file.state is FileState.STARTED:
                result.followed += 1
                followed = self._follow(file, result)
                if followed is Followed.ENDED:
                    result.ended.append(file.token)
                else:
                    running += 1
                freed = freed or followed is not Followed.RUNNING
        return Look(running, freed)

    def _room_for_more(self, look: Look, result: TrackerRun) -> bool:
        """While ours run, whether a dispatch could start another file now: the slot has room
        (never with one file at a time) and the holds shrank, or the last dispatch started one."""
        if look.running >= self.slot.capacity:
            return False
        last = result.dispatched.result if result.dispatched else None
        started = last in (DispatchResult.STARTED, DispatchResult.RECOVERED, DispatchResult.STARTING)
        return look.freed or started

    def _time_to_follow(self, follow_until: float, remaining_seconds: Callable[[], float]) -> bool:
        """Another look fits in the follow window and leaves the run time for its reports."""
        poll = self.settings.tracker_poll_seconds
        fits_window = self.clock() + poll <= follow_until
        return fits_window and remaining_seconds() > poll + TRACKER_FOLLOW_MARGIN_SECONDS

    def _follow(self, file: LedgerFile, result: TrackerRun) -> Followed:
        """Update the ledger from the service, free what the deployment is done with."""
        bulk_id = str(file.bulk_deployment_id)
        status = self.deployer.status(bulk_id)
        snapshot = _snapshot(status, self.deployer.counter_metrics)
        self._emit_metric_deltas(file, status)
        with file_log_context(file.token, bulk_deployment_id=bulk_id, **file.ref.log_keys()):
            if not status.terminal:
                if not snapshot.same_as(file.deployment):
                    self.ledger.record_status(file.token, snapshot)
                freed = self._release_settled(file.token, status.settled_resources, result)
                self._check_overdue(file)
                return Followed.FREED if freed else Followed.RUNNING
            self.ledger.mark_reporting(file.token, snapshot)
            self.slot.release_file(file.token)
            self.count(self.deployer.lifecycle_metrics.ended(status.lifecycle), 1)
            log = logger.warning if status.lifecycle is not Lifecycle.SUCCEEDED else logger.info
            log(
                "bulk deployment ended",
                extra={
                    "state": FileState.REPORTING.value,
                    "bulk_status": status.status,
                    "metrics": dict(status.metrics),
                    "error_message": status.error_message,
                },
            )
            return Followed.ENDED

    def _release_settled(self, token: str, settled: frozenset[str], result: TrackerRun) -> bool:
        """Free the resources a running deployment is done with (each once a run); True if some were."""
        new = settled - result.released.get(token, frozenset())
        if not new:
            return False
        self.slot.release_resources(token, new)
        result.released[token] = result.released.get(token, frozenset()) | new
        logger.info("settled, freed for later files", extra={"freed": len(new), "settled": len(settled)})
        return True

    def _emit_metric_deltas(self, file: LedgerFile, status: DeploymentStatus) -> None:
        before = dict(file.deployment.metrics) if file.deployment else {}
        for metric in self.deployer.counter_metrics:
            delta = int(status.metrics.get(metric, 0)) - int(before.get(metric, 0))
            if delta > 0:
                self.count(metric, delta)

    def _check_overdue(self, file: LedgerFile) -> None:
        if file.started_at is None:
            return
        running_for = self.clock() - file.started_at.timestamp()
        if running_for > self.settings.overdue_after_seconds:
            self.count(self.deployer.lifecycle_metrics.overdue, 1)
            logger.warning(
                "bulk deployment is overdue",
                extra={
                    "running_seconds": int(running_for),
                    "bound_seconds": self.settings.overdue_after_seconds,
                },
            )

    # -- the next file -------------------------------------------------------------------

    def _dispatch(self, still_running: bool) -> DispatchOutcome:
        outcome = self.dispatcher.dispatch()
        stuck = outcome.result in (DispatchResult.SLOT_TAKEN, DispatchResult.BLOCKED)
        if stuck and self._free_stale_holds(still_running):
            outcome = self.dispatcher.dispatch()
        return outcome

    def _free_stale_holds(self, still_running: bool) -> bool:
        """Free holds of files whose deployments no longer run (a crash between the end and the
        release); True if one was freed."""
        if still_running and self.slot.capacity == 1:
            return False  # the one hold is a running deployment's
        freed = False
        for token in self.slot.get().tokens:
            file = self.ledger.get(token)
            if file is None or file.state is not FileState.STARTED:
                logger.warning(
                    "freeing a slot left held by an ended deployment",
                    extra={"held_by": token, "bulk_deployment_id": file.bulk_deployment_id if file else None},
                )
                freed = self.slot.release_file(token) or freed
        return freed

    # -- health ----------------------------------------------------------------------------

    def _queue_health(self, waiting: list[LedgerFile]) -> None:
        self.count(Metric.QUEUED_FILES, len(waiting))
        oldest = min((f.registered_at.timestamp() for f in waiting), default=None)
        age = int(self.clock() - oldest) if oldest is not None else 0
        self.seconds(Metric.OLDEST_QUEUED_FILE_AGE_SECONDS, age)
        self.count(Metric.DISPATCH_PAUSED, 1 if self.control.paused() is not None else 0)

    def _reconcile(self) -> int:
        unprocessed = self.reconciler.unprocessed()
        self.count(Metric.UNPROCESSED_INPUT_FILES, len(unprocessed))
        for obj in unprocessed:
            logger.warning(
                "input object has no ledger entry (a lost event?)",
                extra={
                    "bucket": obj.bucket,
                    "key": obj.key,
                    "version_id": obj.version_id,
                    "etag": obj.etag,
                    "last_modified": obj.last_modified,
                },
            )
        return len(unprocessed)


def _snapshot(status: DeploymentStatus, counter_metrics: tuple[Metric, ...]) -> DeploymentStatusSnapshot:
    return DeploymentStatusSnapshot(
        status=status.status,
        metrics={metric.value: int(status.metrics.get(metric, 0)) for metric in counter_metrics},
        created_at=status.created_at,
        error_message=status.error_message,
        error_details=tuple(dict(d) for d in status.error_details),
    )
