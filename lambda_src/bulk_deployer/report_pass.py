"""One pass over an ended deployment's per-target results: a final report, or an interim one.

Targets go on changing after a deployment has ended (Greengrass V1: group deployments after a
bulk deployment is ``Completed``; "the information returned can change until the deployments
are in a terminal state"). A pass pages through every row the deployer gives, streaming the
report (``report_writer``); if every row has settled — or the settle bound has passed — the
report is completed and the file FINISHED, otherwise the uploads are dropped, an interim
summary is written and a later pass retries. The deployer names the rows (``ReportRows``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

from bulk_deployer.contract import FileOutcome, Metric, ReportFile
from bulk_deployer.deployers.base import Deployer, TargetOutcome
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import LedgerFile, ReportProgress, ReportSummary
from bulk_deployer.observability import logger
from bulk_deployer.outcomes import NoOutcomes, OutcomeSink
from bulk_deployer.report_writer import ReportWriter
from bulk_deployer.reports import ReportStore
from bulk_deployer.timefmt import iso_of, iso_utc
from bulk_deployer.tracker_config import TrackerSettings

# Stop starting new report pages when less than this is left of the run's time.
REPORT_TIME_MARGIN_SECONDS = 30.0


class ReportStep(StrEnum):
    NOT_DUE = "not_due"  # between passes: rechecked every report_recheck_seconds
    CONTINUING = "continuing"  # out of time: the next run resumes from the checkpoint
    INTERIM = "interim"  # rows still settling: interim report written
    FINAL = "final"  # final report written, file FINISHED


class ReportPass:
    """Advances an ended file's report from its checkpoint, as many pages as the run has time for."""

    def __init__(
        self,
        settings: TrackerSettings,
        ledger: BulkDeploymentLedger,
        deployer: Deployer,
        s3: Any,
        reports: ReportStore,
        *,
        count: Callable[[Metric, int], None],
        outcomes: OutcomeSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings: Final = settings
        self.ledger: Final = ledger
        self.deployer: Final = deployer
        self.s3: Final = s3
        self.reports: Final = reports
        self.count: Final = count
        self.outcomes: Final[OutcomeSink] = NoOutcomes() if outcomes is None else outcomes
        self.clock: Final = clock

    def advance(self, file: LedgerFile, remaining_seconds: Callable[[], float]) -> ReportStep:
        """Read as many pages as time allows; finish the report when every row has settled."""
        if file.report_progress is None and not self._recheck_due(file):
            return ReportStep.NOT_DUE
        progress = file.report_progress or ReportProgress(iso_utc(self.clock()))
        bucket = file.ref.bucket
        rows = self.deployer.report_rows
        writer = ReportWriter(
            self.s3,
            bucket,
            self.reports.key_for(file.token, ReportFile.REPORT),
            self.reports.key_for(file.token, rows.csv_name),
            progress,
            self.deployer.report_columns,
            rows.member,
        )
        header = self._report_header(file)
        writer.begin(header)
        next_token = progress.next_token
        while not writer.read_all:
            if remaining_seconds() < REPORT_TIME_MARGIN_SECONDS:
                logger.info(
                    "report continues in the next run", extra={"token": file.token, "rows": progress.rows}
                )
                return ReportStep.CONTINUING
            page, next_token = self.deployer.target_results(
                str(file.bulk_deployment_id), next_token=next_token, page_size=self.settings.report_page_size
            )
            if writer.add_page(page, next_token):
                self.ledger.save_report_progress(file.token, progress)
        bound_passed = self._settle_bound_passed(file)
        settled = self._settled(progress)
        summary = _summary(progress, settled, bound_passed)
        named = summary.as_dict(rows.count_key, rows.failed_sample_key)
        if settled or bound_passed:
            writer.complete({**named, "report_written_at": iso_utc(self.clock())})
            report_key = self.reports.key_for(file.token, ReportFile.REPORT)
            self.ledger.mark_finished(file.token, report_key=report_key, summary=summary)
            failed = sum(
                n
                for status, n in progress.counts.items()
                if self.deployer.target_outcome(status) is TargetOutcome.FAILED
            )
            if failed:
                self.count(rows.failed_metric, failed)
            logger.info(
                "final report written",
                extra={"token": file.token, "report_key": report_key, **named},
            )
            self.outcomes.publish(
                FileOutcome.FINISHED,
                file.ref.key,
                {
                    "token": file.token,
                    "bulk_deployment_id": file.bulk_deployment_id,
                    "status": file.deployment_status,
                    "report_key": report_key,
                    **named,
                },
            )
            return ReportStep.FINAL
        writer.abort()
        interim = {**header, **named, "checked_at": iso_utc(self.clock())}
        self.reports.put_json(bucket, file.token, ReportFile.REPORT, interim)
        self.ledger.save_report_progress(file.token, None, interim=summary)
        return ReportStep.INTERIM

    def _report_header(self, file: LedgerFile) -> dict[str, Any]:
        ref = file.ref
        deployment = file.deployment
        return {
            "outcome": FileOutcome.FINISHED.value,
            "input": {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id, "etag": ref.etag},
            "token": file.token,
            "bulk_deployment_id": file.bulk_deployment_id,
            "bulk_deployment_arn": file.bulk_deployment_arn,
            "status": file.deployment_status,
            "created_at": deployment.created_at if deployment else None,
            "started_at": iso_of(file.started_at) if file.started_at else None,
            "terminal_seen_at": iso_of(file.terminal_seen_at) if file.terminal_seen_at else None,
            "metrics": dict(deployment.metrics) if deployment else {},
            "error_message": deployment.error_message if deployment else None,
            "error_details": [dict(d) for d in deployment.error_details] if deployment else [],
            **self.deployer.report_details(str(file.bulk_deployment_id)),
        }

    def _settled(self, progress: ReportProgress) -> bool:
        """Every target read so far has settled (no status the service may still change)."""
        return all(self.deployer.target_outcome(s) is not TargetOutcome.PENDING for s in progress.counts)

    def _recheck_due(self, file: LedgerFile) -> bool:
        checked = file.report_checked_at
        return checked is None or self.clock() - checked.timestamp() >= self.settings.report_recheck_seconds

    def _settle_bound_passed(self, file: LedgerFile) -> bool:
        terminal = file.terminal_seen_at
        return (
            terminal is not None
            and self.clock() - terminal.timestamp() > self.settings.report_settle_bound_seconds
        )


def _summary(progress: ReportProgress, settled: bool, bound_passed: bool) -> ReportSummary:
    still = progress.counts and not settled
    return ReportSummary(
        final=bool(settled or bound_passed),
        rows=progress.rows,
        counts=dict(sorted(progress.counts.items())),
        still_in_progress=tuple(progress.in_progress) if still else (),
        failed_sample=tuple(progress.failed),
        settle_bound_passed=bool(bound_passed and not settled),
    )
