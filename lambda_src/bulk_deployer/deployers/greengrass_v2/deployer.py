"""Greengrass V2 behind the core's ``Deployer`` interface: a file is one deployment per target.

The core starts, follows, reports and stops a file as one deployment, ``gg2-<file token>``;
here that is a CreateDeployment per line (``starter``), each target followed to the end of its
devices (``follow``), and per-device rows for the report (``report``). A target the service
refused at start is settled at once, REFUSED: the file is started when one target is, and ends
FAILED when any was refused; only a file whose every target was refused is refused. What holds
while a file runs is its targets, each until it settles (``settled_resources``): our deployments
to a target never overlap, and a later file to a settled target need not wait for the rest. V2
has no account-wide "one at a time": ``latest()`` is always None.

The Greengrass and IoT clients are expected to retry throttling with backoff themselves (the
wiring attaches a ``RequestBudget`` and ``BUDGETED_CLIENT_CONFIG``, whose ``on_throttle``
counts throttles); CreateDeployment errors that still come back are retried by the starter
within the time budget. A retried CreateDeployment is safe: it carries the target's token.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import (
    DeploymentStatus,
    Lifecycle,
    LifecycleMetrics,
    ReportRows,
    StartedDeployment,
    StartRejected,
    StartRequest,
    TargetOutcome,
    TargetResult,
)
from bulk_deployer.deployers.greengrass_v2 import report
from bulk_deployer.deployers.greengrass_v2.follow import FollowSettings, TargetFollower, TargetProgress
from bulk_deployer.deployers.greengrass_v2.identity import composite_id, file_token_of, staged_object
from bulk_deployer.deployers.greengrass_v2.members import GroupMembers
from bulk_deployer.deployers.greengrass_v2.results import DeviceResults
from bulk_deployer.deployers.greengrass_v2.starter import StartSettings, TargetStarter
from bulk_deployer.deployers.greengrass_v2.target_ledger import FileHead, TargetLedger, TargetState
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.timefmt import epoch_of, iso_utc

_ERROR_SAMPLE = 20


class GreengrassV2Deployer:
    report_rows: ReportRows = report.REPORT_ROWS
    lifecycle_metrics: LifecycleMetrics = report.LIFECYCLE_METRICS
    report_columns: tuple[str, ...] = report.REPORT_COLUMNS
    counter_metrics: tuple[Metric, ...] = report.COUNTER_METRICS

    def __init__(
        self,
        gg: Any,
        iot: Any,
        s3: Any,
        table: TableAccess,
        settings: StartSettings,
        *,
        capacity: int = 4,
        reason_limit: int = 50,
        ttl_days: int | None = None,
        list_pages_per_pass: int = FollowSettings.pages_per_pass,
    ) -> None:
        """``capacity``: files deploying at once (the stack's setting); ``reason_limit``: failed
        devices per target whose reason is read (DescribeJobExecution); ``ttl_days``: the ledger's;
        ``list_pages_per_pass``: job-execution pages a status pass may start listing."""
        self.capacity = capacity
        self._clock = settings.clock
        self._ledger = TargetLedger(table, ttl_days=ttl_days)
        members = GroupMembers(iot, s3)
        self._starter = TargetStarter(gg, s3, self._ledger, members, settings)
        follow = FollowSettings(
            settings.reports_prefix, reason_limit, settings.clock, pages_per_pass=list_pages_per_pass
        )
        self._follower = TargetFollower(gg, iot, s3, self._ledger, members, follow)
        self._results = DeviceResults(s3, self._ledger, settings.reports_prefix)
        self._gg = gg

    def resources(self, request: StartRequest) -> frozenset[str]:
        return frozenset(request.targets)

    def start(self, token: str, request: StartRequest) -> StartedDeployment:
        """Every target started or refused; the refused ones are named in the start's details."""
        head = self._head_for(token, request)
        refused = self._starter.start_all(token, request, head.count)
        details: dict[str, Any] = {}
        if refused:
            details["refused_targets"] = [
                {"target": r.target_arn, "error_code": r.error_code, "error_message": r.error_message}
                for r in refused[:_ERROR_SAMPLE]
            ]
            details["refused_target_count"] = len(refused)
        return StartedDeployment(composite_id(token), _arn(head), details)

    def _head_for(self, token: str, request: StartRequest) -> FileHead:
        """The file's head item, written at its first start; a token reused for another file is refused."""
        if not request.targets:
            raise StartRejected("NoTargets", "a Greengrass V2 start request names its targets")
        head = self._ledger.head(token)
        if head is None:
            first = FileHead(
                token,
                len(request.targets),
                request.input_file_uri,
                dict(request.tags),
                iso_utc(self._clock()),
            )
            head = first if self._ledger.create_head(first) else self._ledger.head(token)
        if head is None or (head.input_file_uri, head.count) != (
            request.input_file_uri,
            len(request.targets),
        ):
            started = head.input_file_uri if head else "another file"
            raise StartRejected("TokenReused", f"token {token} has started {started} already")
        return head

    def status(self, deployment_id: str) -> DeploymentStatus:
        token = file_token_of(deployment_id)
        head = self._ledger.head(token)
        if head is None:
            raise KeyError(f"no Greengrass V2 deployment {deployment_id}")
        bucket, _ = staged_object(head.input_file_uri)
        records = self._ledger.records(token, head.count)
        progress: dict[str, TargetProgress] = {}
        refusals: dict[str, str] = {}
        self._follower.begin_pass()
        for index in range(head.count):
            record = records.get(index)
            if record is not None and record.state is TargetState.REFUSED:
                progress[record.target_arn] = TargetProgress(True, {report.REFUSED: 1}, report.TARGET_REFUSED)
                refusals[record.target_arn] = report.refusal_reason(record.error_code, record.error_message)
            elif record is None or record.state is not TargetState.STARTED:
                progress[f"target {index + 1}"] = TargetProgress(False)
            else:
                progress[record.target_arn] = self._follower.follow(token, record, bucket)
        return _composite(deployment_id, head, progress, refusals)

    def latest(self) -> DeploymentStatus | None:
        """Greengrass V2 has no account-wide one-at-a-time: never busy."""
        return None

    def find_by_token(self, token: str, *, created_since: str | None) -> DeploymentStatus | None:
        """The file's deployment once every target is STARTED or REFUSED and one is STARTED (a
        part-way start resumes instead; a file whose every target was refused did not start)."""
        head = self._ledger.head(token)
        if head is None:
            return None
        since = epoch_of(created_since)
        created = epoch_of(head.created_at)
        if since is not None and created is not None and created < since:
            return None
        records = self._ledger.records(token, head.count)
        states = {r.state for r in records.values()}
        if len(records) < head.count or TargetState.CREATING in states or TargetState.STARTED not in states:
            return None
        return self.status(composite_id(token))

    def target_results(
        self, deployment_id: str, *, next_token: str | None, page_size: int
    ) -> tuple[list[TargetResult], str | None]:
        return self._results.page(file_token_of(deployment_id), next_token=next_token, page_size=page_size)

    def target_outcome(self, status: str) -> TargetOutcome:
        return report.device_outcome(status)

    def target_summaries(self, deployment_id: str) -> Iterator[dict[str, Any]]:
        """Per target: its deployment, job, revision, what it replaced, counts, start, end, outcome."""
        return self._results.summaries(file_token_of(deployment_id))

    def report_details(self, deployment_id: str) -> Mapping[str, Any]:
        return {"targets": list(self.target_summaries(deployment_id))}

    def stop(self, deployment_id: str) -> tuple[str, ...]:
        """Cancel each of the file's target deployments still ACTIVE (devices not yet reached)."""
        token = file_token_of(deployment_id)
        head = self._ledger.head(token)
        if head is None:
            raise KeyError(f"no Greengrass V2 deployment {deployment_id}")
        self._ledger.mark_stopped(token)
        cancelled: list[str] = []
        for record in self._ledger.records(token, head.count).values():
            if record.deployment_id is None or record.settled:
                continue
            current = self._gg.get_deployment(deploymentId=record.deployment_id)
            if current.get("deploymentStatus") == "ACTIVE":
                self._gg.cancel_deployment(deploymentId=record.deployment_id)
                cancelled.append(record.deployment_id)
        return tuple(cancelled)


def _arn(head: FileHead) -> str:
    """No single ARN names a file's deployments: the staged file they were made from does."""
    bucket, key = staged_object(head.input_file_uri)
    return f"s3://{bucket}/{key}"


def _composite(
    deployment_id: str,
    head: FileHead,
    progress: Mapping[str, TargetProgress],
    refusals: Mapping[str, str],
) -> DeploymentStatus:
    """The file's deployment from its targets': running until every one settled (by target ARN);
    ``refusals``: the refused targets' errors."""
    counts: dict[str, int] = {}
    pending_at_deadline = 0
    for target in progress.values():
        for status, n in target.counts.items():
            counts[status] = counts.get(status, 0) + n
        if target.settled:
            pending_at_deadline += target.counts.get(report.PENDING, 0)
    if not all(t.settled for t in progress.values()):
        lifecycle = Lifecycle.RUNNING
    elif head.stopped:
        lifecycle = Lifecycle.STOPPED
    elif all(t.outcome == report.TARGET_SUCCEEDED for t in progress.values()):
        lifecycle = Lifecycle.SUCCEEDED
    else:
        lifecycle = Lifecycle.FAILED
    error_message = None
    details: list[Mapping[str, Any]] = []
    if lifecycle is Lifecycle.FAILED:
        not_succeeded = {arn: t for arn, t in progress.items() if t.outcome != report.TARGET_SUCCEEDED}
        error_message = f"{len(not_succeeded)} of {len(progress)} targets did not succeed on every device"
        if refusals:
            error_message += f" ({len(refusals)} refused by Greengrass at start)"
        details = [
            {"target": arn, "outcome": t.outcome, "counts": dict(t.counts)}
            | ({"error": refusals[arn]} if arn in refusals else {})
            for arn, t in list(not_succeeded.items())[:_ERROR_SAMPLE]
        ]
    return DeploymentStatus(
        deployment_id=deployment_id,
        status=report.STATUS_WORDS[lifecycle],
        lifecycle=lifecycle,
        created_at=head.created_at,
        tags=dict(head.tags),
        error_message=error_message,
        error_details=details,
        metrics={**counts, **report.counter_metrics(counts, pending_at_deadline)},
        arn=_arn(head),
        settled_resources=frozenset(arn for arn, target in progress.items() if target.settled),
    )
