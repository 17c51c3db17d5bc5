"""The starter's logic: one uploaded object version → rejected, superseded or queued (then dispatched).

Knows nothing of SQS or Lambda; the handler gives it message bodies and arrival order.
Every permanent condition of a file ends in an outcome recorded in the ledger. A message that
cannot be read into object references and tokens raises ``UnreadableMessage`` before any I/O
(the handler parks it); after that, only transient errors (throttling, 5xx, a file another
invocation is processing right now) raise, so the message is retried and, in the end,
dead-lettered, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import cached_property
from typing import Final, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from bulk_deployer.config import StarterSettings
from bulk_deployer.contract import TOKEN_TAG, FileOutcome, LogEvent, Metric, ReportFile
from bulk_deployer.deployers.base import StartRequestBuilder
from bulk_deployer.dispatch import Dispatcher, DispatchOutcome
from bulk_deployer.events import EventObject, parse_message_body
from bulk_deployer.input_objects import InputObjectStore, ObjectChanged, ObjectUnreadable
from bulk_deployer.key_spelling import KeySpellingResolver
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import WAITING_STATES, Arrival, FileState, LedgerFile
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.observability import file_log_context, logger
from bulk_deployer.outcomes import NoOutcomes, OutcomeSink
from bulk_deployer.reports import ReportStore, rejection_report
from bulk_deployer.tags import merge_tags
from bulk_deployer.validation import FileValidator, ValidationError, ValidationResult, validate_chunks

_KMS_ENCRYPTIONS = frozenset({"aws:kms", "aws:kms:dsse"})


class Outcome(StrEnum):
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"
    QUEUED = "queued"


class FileInFlight(Exception):
    """Another invocation is processing this file right now; retry the message later."""


class IntakeResult(NamedTuple):
    outcome: Outcome
    token: str | None = None
    detail: str = ""
    dispatch: DispatchOutcome | None = None


class InputFileIntake:
    """One S3 event's files: each registered once, validated, staged and queued or rejected."""

    def __init__(
        self,
        settings: StarterSettings,
        ledger: BulkDeploymentLedger,
        objects: InputObjectStore,
        reports: ReportStore,
        dispatcher: Dispatcher,
        count: Callable[[Metric, int], None],
        *,
        start_requests: StartRequestBuilder,
        file_validator: Callable[[], FileValidator],  # a new validator, with the deployer's rules, per file
        outcomes: OutcomeSink | None = None,
    ) -> None:
        self.settings: Final = settings
        self.ledger: Final = ledger
        self.objects: Final = objects
        self.reports: Final = reports
        self.dispatcher: Final = dispatcher
        self.count: Final = count
        self.start_requests: Final = start_requests
        self.file_validator: Final = file_validator
        self.outcomes: Final[OutcomeSink] = NoOutcomes() if outcomes is None else outcomes

    @cached_property
    def _resolver(self) -> KeySpellingResolver:
        return KeySpellingResolver(self.ledger, self.objects)

    def handle_message(self, body: str, arrival: Arrival) -> list[IntakeResult]:
        """``UnreadableMessage`` when the body cannot be read into references and tokens."""
        parsed = parse_message_body(body)
        if parsed.kind == "test":
            logger.info("S3 test event acknowledged", extra={"note": parsed.note})
            return [IntakeResult(Outcome.IGNORED, detail=parsed.note)]
        if parsed.kind == "ignored":
            logger.debug("event ignored", extra={"note": parsed.note})
            return [IntakeResult(Outcome.IGNORED, detail=parsed.note)]
        return [self.handle_object(obj, arrival) for obj in parsed.objects]

    def handle_object(self, obj: EventObject, arrival: Arrival) -> IntakeResult:
        if not any(self._in_scope(spelling.ref.key) for spelling in obj.spellings):
            logger.debug("key outside the incoming prefix or a folder marker", extra=obj.ref.log_keys())
            return IntakeResult(Outcome.IGNORED, detail=f"{obj.ref.key!r} is not an input file key")
        spelling = self._resolver.resolve(obj)
        with file_log_context(spelling.token, **spelling.ref.log_keys()):
            return self._handle(spelling.token, spelling.ref, arrival)

    def _in_scope(self, key: str) -> bool:
        return key.startswith(self.settings.incoming_prefix) and not key.endswith("/")

    def _handle(self, token: str, ref: ObjectRef, arrival: Arrival) -> IntakeResult:
        registration = self.ledger.register(
            token, ref, arrival, lease_seconds=self.settings.processing_lease_seconds
        )
        file = registration.file
        if not registration.created:
            if file.state is not FileState.RECEIVED:
                return self._duplicate(file)
            taken = self.ledger.take_over(token, lease_seconds=self.settings.processing_lease_seconds)
            if taken is None:
                raise FileInFlight(f"token {token} is being processed by another invocation")
            logger.warning("resuming a file an earlier invocation left unfinished")
            file = taken
        else:
            logger.info("input file registered", extra={"state": FileState.RECEIVED.value})
        return self._process(file, ref)

    def _duplicate(self, file: LedgerFile) -> IntakeResult:
        self.count(Metric.DUPLICATE_EVENT_IGNORED, 1)
        logger.info("duplicate event ignored", extra={"state": file.state.value})
        dispatched = None
        if file.state in WAITING_STATES:
            # A redelivery after a failed dispatch: move the queue on (idempotent).
            dispatched = self._dispatch(file)
        return IntakeResult(Outcome.DUPLICATE, file.token, f"already {file.state.value}", dispatched)

    def _process(self, file: LedgerFile, ref: ObjectRef) -> IntakeResult:
        head = self.objects.head(ref.bucket, ref.key)
        if head is None or not head.is_version_of(ref):
            return self._superseded(file, "the key no longer holds this version" if head else "deleted")
        if ref.size is None:
            ref = ref._replace(size=head.size)
        if head.server_side_encryption in _KMS_ENCRYPTIONS:
            return self._rejected_for(
                file,
                ref,
                "unsupported_encryption",
                f"the object is encrypted with {head.server_side_encryption}; Greengrass reads only "
                "SSE-S3 input files: upload it again without SSE-KMS",
            )
        try:
            result = validate_chunks(self.file_validator(), self.objects.chunks(ref), size=ref.size)
            if not result.valid:
                return self._rejected(file, ref, result)
            return self._stage_and_queue(file, ref, result)
        except ObjectChanged as exc:
            return self._superseded(file, str(exc))
        except ObjectUnreadable as exc:
            return self._rejected_for(file, ref, "unreadable_object", str(exc))

    def _stage_and_queue(self, file: LedgerFile, ref: ObjectRef, result: ValidationResult) -> IntakeResult:
        """Copy the validated version where Greengrass will read it, freeze the request, queue."""
        staged_key = f"{self.settings.staged_prefix}{file.token}.jsonl"
        self.objects.stage(ref, staged_key)
        tags = merge_tags(
            self.settings.default_tags, self.objects.tags(ref), required={TOKEN_TAG: file.token}
        )
        request = self.start_requests.build(ref.bucket, staged_key, tags, result.targets)
        queued = self.ledger.enqueue(file, request, records=result.records, staged_key=staged_key)
        self.count(Metric.INPUT_FILE_QUEUED, 1)
        logger.info(
            "input file valid, staged and queued",
            extra={"state": FileState.QUEUED.value, "records": result.records, "staged_key": staged_key},
        )
        dispatched = self._dispatch(queued)
        return IntakeResult(
            Outcome.QUEUED, file.token, dispatched.result.value if dispatched else "", dispatched
        )

    def _dispatch(self, candidate: LedgerFile) -> DispatchOutcome | None:
        """Try to start the oldest file now; on an AWS error, leave it to the tracker.

        The file is safe in the ledger (QUEUED, or STARTING to be recovered by its token tag),
        and the tracker dispatches on every run. Failing the message instead would only hold up
        every file behind it in the FIFO group and, in the end, dead-letter a file that started.
        """
        try:
            return self.dispatcher.dispatch(candidate=candidate)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "dispatch failed; the file stays in the ledger and the tracker retries within one period",
                extra={"error": str(exc)},
            )
            return None

    def _superseded(self, file: LedgerFile, reason: str) -> IntakeResult:
        self.ledger.mark_superseded(file.token, reason=reason)
        self.count(Metric.INPUT_FILE_SUPERSEDED, 1)
        logger.info("input file superseded", extra={"state": FileState.SUPERSEDED.value, "reason": reason})
        self.outcomes.publish(FileOutcome.SUPERSEDED, file.ref.key, {"token": file.token, "reason": reason})
        return IntakeResult(Outcome.SUPERSEDED, file.token, reason)

    def _rejected_for(self, file: LedgerFile, ref: ObjectRef, code: str, message: str) -> IntakeResult:
        error = ValidationError(None, code, message)
        return self._rejected(file, ref, ValidationResult(records=0, error_count=1, errors=(error,)))

    def _rejected(self, file: LedgerFile, ref: ObjectRef, result: ValidationResult) -> IntakeResult:
        report_key = self.reports.put_json(
            ref.bucket, file.token, ReportFile.REJECTED, rejection_report(ref, file.token, result)
        )
        self.ledger.mark_rejected(file.token, report_key=report_key, error_count=result.error_count)
        self.count(Metric.INPUT_FILE_REJECTED, 1)
        logger.info(
            LogEvent.INPUT_FILE_REJECTED,
            extra={
                "state": FileState.REJECTED.value,
                "error_count": result.error_count,
                "first_errors": [e.as_dict() for e in result.errors[:5]],
                "report_key": report_key,
            },
        )
        self.outcomes.publish(
            FileOutcome.REJECTED,
            ref.key,
            {
                "token": file.token,
                "error_count": result.error_count,
                "first_errors": [e.as_dict() for e in result.errors[:5]],
                "report_key": report_key,
            },
        )
        return IntakeResult(Outcome.REJECTED, file.token, f"{result.error_count} error(s); see {report_key}")
