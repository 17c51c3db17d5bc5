"""dispatch(): start the oldest queued file when the deployment service can take it.

Called by the starter after it queues a file and by the tracker when a deployment ends. The
ledger's slot item makes sure only one dispatcher acts at a time and that no more files run
than the deployer's capacity, none sharing a resource with another (Greengrass V1: one bulk
deployment per account and region). Files start in arrival order, except that a file may pass
an earlier one it shares no resource with while that one waits. The frozen start request and
client token make every retry send the identical request.

A queued file may wait for hours. When its turn comes, its key is looked at once more: if the
key now holds another version (the operator replaced the file) or nothing (the operator deleted
it), the file is SUPERSEDED instead of started — deploying what the operator already replaced,
and then the replacement, would deploy every group twice, the first time with the wrong thing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final, NamedTuple

from bulk_deployer.contract import TOKEN_TAG, FileOutcome, LogEvent, Metric
from bulk_deployer.control import DispatchControl
from bulk_deployer.deployers.base import Deployer, StartIncomplete, StartRejected
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import WAITING_STATES, FileState, LedgerFile, StaleTransition
from bulk_deployer.observability import file_log_context, logger
from bulk_deployer.outcomes import NoOutcomes, OutcomeSink
from bulk_deployer.slot import DeploymentSlot, SlotState, resource_digest
from bulk_deployer.timefmt import iso_utc
from bulk_deployer.token import normalize_etag

# How far back (seconds before a file entered STARTING) recovery looks for its deployment.
_RECOVERY_MARGIN_SECONDS = 300


class DispatchResult(StrEnum):
    STARTED = "started"
    RECOVERED = "recovered"  # found already started by an earlier, interrupted attempt
    SLOT_TAKEN = "slot_taken"
    BLOCKED = "blocked"  # every waiting file shares a resource with a running deployment
    PAUSED = "paused"
    EMPTY = "empty"
    BUSY = "busy"  # another bulk deployment is running in this account and region
    START_FAILED = "start_failed"
    STARTING = "starting"  # a start of many calls is part-way: the next dispatch resumes it


class DispatchOutcome(NamedTuple):
    result: DispatchResult
    token: str | None = None
    bulk_deployment_id: str | None = None
    detail: str = ""


class Dispatcher:
    """Starts waiting files when the slot has room: one dispatcher at a time, under its lease."""

    def __init__(
        self,
        ledger: BulkDeploymentLedger,
        slot: DeploymentSlot,
        control: DispatchControl,
        deployer: Deployer,
        objects: InputObjectStore,
        *,
        count: Callable[[Metric, int], None],
        lease_seconds: int,
        max_rejections: int,
        retry_base_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        outcomes: OutcomeSink | None = None,
    ) -> None:
        self.ledger: Final = ledger
        self.slot: Final = slot
        self.control: Final = control
        self.deployer: Final = deployer
        self.objects: Final = objects
        self.count: Final = count
        self.lease_seconds: Final = lease_seconds
        self.max_rejections: Final = max_rejections
        self.retry_base_seconds: Final = retry_base_seconds
        self.sleep: Final = sleep
        self.outcomes: Final[OutcomeSink] = NoOutcomes() if outcomes is None else outcomes

    def dispatch(self, candidate: LedgerFile | None = None) -> DispatchOutcome:
        """Start the oldest waiting file the slot has room for; a started file keeps its hold.

        ``candidate`` is a file the caller just queued: the queue index is eventually
        consistent and may not show it yet.
        """
        holder = uuid.uuid4().hex
        slot = self.slot.acquire(holder, lease_seconds=self.lease_seconds)
        if slot is None:
            return DispatchOutcome(DispatchResult.SLOT_TAKEN)
        try:
            return self._dispatch_holding(holder, slot, candidate)
        finally:
            self.slot.release(holder)  # a started file's hold stays: it was added with STARTED

    def _dispatch_holding(
        self, holder: str, slot: SlotState, candidate: LedgerFile | None
    ) -> DispatchOutcome:
        reason = self.control.paused()
        if reason is not None:
            return DispatchOutcome(DispatchResult.PAUSED, detail=reason)
        while True:
            file, blocked = self._next_to_start(slot, candidate)
            if file is None and blocked:  # each waits for a running file it shares a target with
                self.count(self.deployer.lifecycle_metrics.waiting, 1)
                return DispatchOutcome(DispatchResult.BLOCKED)
            if file is None:
                return DispatchOutcome(DispatchResult.EMPTY)
            # Logs name the file being dispatched, which need not be the one that triggered dispatch().
            with file_log_context(file.token, **file.ref.log_keys()):
                if file.state is FileState.STARTING:
                    recovered = self._recover(holder, file)
                    if recovered is not None:
                        return recovered
                busy = self._busy(holder, file)
                if busy is not None:
                    return busy
                if file.state is FileState.QUEUED and self._superseded(file):
                    continue  # the next file in line
                return self._start(holder, file)

    def _superseded(self, file: LedgerFile) -> bool:
        """SUPERSEDED if the key no longer holds this file's version, just before it would start."""
        ref = file.ref
        head = self.objects.head(ref.bucket, ref.key)
        if head is not None and head.is_version_of(ref):
            return False
        if head is None:
            reason, current = "the key was deleted while the file was queued", None
        else:
            current = head.version_id
            reason = (
                f"the key received a newer version while the file was queued (now version "
                f"{current or 'null'}, ETag {normalize_etag(head.etag)})"
            )
        self.ledger.supersede_queued(file.token, reason=reason, current_version_id=current)
        self.count(Metric.INPUT_FILE_SUPERSEDED, 1)
        logger.info(
            "queued input file superseded before its start",
            extra={"state": FileState.SUPERSEDED.value, "reason": reason, "current_version_id": current},
        )
        details = {"token": file.token, "reason": reason, "current_version_id": current}
        self.outcomes.publish(FileOutcome.SUPERSEDED, ref.key, details)
        return True

    def _next_to_start(self, slot: SlotState, candidate: LedgerFile | None) -> tuple[LedgerFile | None, bool]:
        """The oldest waiting file that shares no resource with a running or an earlier waiting one.

        Returns it (or None) and whether a waiting file was passed over for sharing a resource.
        """
        seen: dict[str, LedgerFile] = {f.token: f for f in self.ledger.waiting()}
        if candidate is not None:
            seen.setdefault(candidate.token, candidate)
        claimed = slot.held_resources()
        blocked = False
        for listed in sorted(seen.values(), key=lambda f: f.queue_sk):
            current = self.ledger.get(listed.token)  # the index may lag: re-read
            if current is None or current.state not in WAITING_STATES:
                continue
            resources = self._resources(current)
            if resources & claimed:
                claimed |= resources  # nor may a later file pass it on these
                blocked = True
                continue
            return current, blocked
        return None, blocked

    def _resources(self, file: LedgerFile) -> set[str]:
        request = file.start_request
        if request is None:  # pragma: no cover - enqueue always writes it
            raise StaleTransition(f"{file.token} has no start request")
        return {resource_digest(r) for r in self.deployer.resources(request)}

    def _recover(self, holder: str, file: LedgerFile) -> DispatchOutcome | None:
        """A file left STARTING may have started: look for its token tag before starting again."""
        since = file.starting_since
        created_since = None if since is None else iso_utc(since - _RECOVERY_MARGIN_SECONDS)
        found = self.deployer.find_by_token(file.token, created_since=created_since)
        if found is None:
            return None
        logger.warning(
            LogEvent.BULK_DEPLOYMENT_RECOVERED,
            extra={"bulk_deployment_id": found.deployment_id, "state": FileState.STARTED.value},
        )
        return self._recovered(holder, file, found.deployment_id, found.arn or "")

    def _recovered(self, holder: str, file: LedgerFile, bulk_deployment_id: str, arn: str) -> DispatchOutcome:
        """Record a bulk deployment an earlier attempt started unseen, as if this one had."""
        self._mark_started(holder, file, bulk_deployment_id, arn)
        self.count(self.deployer.lifecycle_metrics.started, 1)
        return DispatchOutcome(DispatchResult.RECOVERED, file.token, bulk_deployment_id)

    def _mark_started(
        self,
        holder: str,
        file: LedgerFile,
        bulk_deployment_id: str,
        arn: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        request = file.start_request
        resources = self.deployer.resources(request) if request is not None else frozenset()
        started = self.ledger.mark_started(
            file.token,
            bulk_deployment_id=bulk_deployment_id,
            arn=arn,
            slot_hold=self.slot.hold_item(holder, file.token, resources),
        )
        self.outcomes.publish(
            FileOutcome.STARTED,
            started.ref.key,
            {"token": file.token, "bulk_deployment_id": bulk_deployment_id, "arn": arn, **(details or {})},
        )

    def _busy(self, holder: str, file: LedgerFile) -> DispatchOutcome | None:
        """None when Greengrass can take a start; otherwise why not (or that it already took ours)."""
        latest = self.deployer.latest()
        if latest is None or latest.terminal:
            return None
        if file.state is FileState.STARTING and latest.tags.get(TOKEN_TAG) == file.token:
            # Our own start went through although its answer was lost (a timeout, a 5xx after
            # the work was done) and the retry was refused as concurrent: record it, start nothing.
            logger.warning(
                "the running bulk deployment is this file's: its start succeeded unseen",
                extra={"bulk_deployment_id": latest.deployment_id, "state": FileState.STARTED.value},
            )
            return self._recovered(holder, file, latest.deployment_id, latest.arn or "")
        if file.state is FileState.STARTING:
            self.ledger.requeue(file.token)
        self.count(self.deployer.lifecycle_metrics.waiting, 1)
        logger.info(
            "another bulk deployment is running; the file stays queued",
            extra={"running_bulk_deployment_id": latest.deployment_id, "state": FileState.QUEUED.value},
        )
        return DispatchOutcome(
            DispatchResult.BUSY, file.token, detail=f"{latest.deployment_id} is {latest.status}"
        )

    def _start(self, holder: str, file: LedgerFile) -> DispatchOutcome:
        request = file.start_request
        if request is None:  # pragma: no cover - enqueue always writes it
            raise StaleTransition(f"{file.token} has no start request")
        while True:
            file = self.ledger.mark_starting(file.token)
            try:
                started = self.deployer.start(file.token, request)
            except StartIncomplete as exc:
                logger.info(
                    "start part-way; the next dispatch resumes it",
                    extra={"state": FileState.STARTING.value, "detail": str(exc)},
                )
                return DispatchOutcome(DispatchResult.STARTING, file.token, detail=str(exc))
            except StartRejected as exc:
                busy = self._busy(holder, file)
                if busy is not None:
                    return busy
                outcome = self._rejected(file, exc)
                if outcome is not None:
                    return outcome
                continue
            self._mark_started(holder, file, started.deployment_id, started.arn, started.details)
            self.count(self.deployer.lifecycle_metrics.started, 1)
            log = logger.warning if started.details else logger.info
            log(
                LogEvent.BULK_DEPLOYMENT_STARTED,
                extra={
                    "bulk_deployment_id": started.deployment_id,
                    "state": FileState.STARTED.value,
                    **started.details,
                },
            )
            return DispatchOutcome(DispatchResult.STARTED, file.token, started.deployment_id)

    def _rejected(self, file: LedgerFile, exc: StartRejected) -> DispatchOutcome | None:
        """Count a refusal; after the last one, fail the file and pause dispatching."""
        self.count(Metric.START_FAILED, 1)
        file = self.ledger.record_start_error(file.token, str(exc))
        if file.start_rejections < self.max_rejections:
            logger.warning(
                "Greengrass refused the start; retrying",
                extra={"service_message": exc.message, "code": exc.code, "rejections": file.start_rejections},
            )
            self.sleep(self.retry_base_seconds * 2 ** (file.start_rejections - 1))
            return None
        reason = (
            f"START_FAILED: s3://{file.ref.bucket}/{file.ref.key} (token {file.token}) was refused "
            f"{file.start_rejections} times: {exc}"
        )
        self.ledger.mark_start_failed(file.token, str(exc))
        self.control.pause(reason)
        self.outcomes.publish(
            FileOutcome.START_FAILED,
            file.ref.key,
            {"token": file.token, "error": str(exc), "dispatch_paused": True},
        )
        logger.error(
            "Greengrass refused the start; dispatching is paused until an operator resumes it",
            extra={"service_message": exc.message, "code": exc.code, "state": FileState.START_FAILED.value},
        )
        return DispatchOutcome(DispatchResult.START_FAILED, file.token, detail=str(exc))
