"""Greengrass V1 bulk deployments through boto3's ``greengrass`` client.

Greengrass V1 reached its end of support on 2026-10-07. The core depends only on
``deployers.base.Deployer``; this is its V1 implementation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from bulk_deployer.contract import TOKEN_TAG, Metric
from bulk_deployer.deployers.base import (
    DeploymentStatus,
    LifecycleMetrics,
    ReportRows,
    StartedDeployment,
    StartRejected,
    StartRequest,
    TargetOutcome,
    TargetResult,
)
from bulk_deployer.deployers.greengrass_v1.report import REPORT_COLUMNS, REPORT_ROWS, group_result
from bulk_deployer.deployers.greengrass_v1.statuses import (
    COUNTER_METRICS,
    LIFECYCLE_METRICS,
    lifecycle_of,
    target_outcome_of,
)
from bulk_deployer.timefmt import epoch_of

_REJECTION_CODES = frozenset({"BadRequestException", "AccessDeniedException", "ValidationException"})
# Throttled requests were not carried out: the only start failures that are safe to repeat blindly.
_THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "429"}
)


_ACCOUNT = frozenset({"greengrass-v1:bulk-deployments"})


class GreengrassV1Deployer:
    """Greengrass V1 bulk deployments.

    ``start_client`` must not retry by itself (``aws.START_CLIENT_CONFIG``): a start whose
    answer was lost (a timeout, a 5xx after the work was done) may have started a bulk
    deployment, and a blind retry would start a second one once the service has forgotten
    the token and the first has ended. Only throttled starts, which did nothing, are retried
    here; any other failure leaves the file STARTING, and the next dispatch looks for the
    deployment by its token tag before it starts anything.
    """

    # One bulk deployment at a time per account and region: every file holds the same resource.
    capacity = 1
    report_rows: ReportRows = REPORT_ROWS
    lifecycle_metrics: LifecycleMetrics = LIFECYCLE_METRICS
    report_columns: tuple[str, ...] = REPORT_COLUMNS
    counter_metrics: tuple[Metric, ...] = COUNTER_METRICS

    def __init__(
        self,
        client: Any,
        start_client: Any = None,
        *,
        throttle_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._gg = client
        self._start_gg = start_client or client
        self._throttle_retries = throttle_retries
        self._sleep = sleep

    def resources(self, request: StartRequest) -> frozenset[str]:
        return _ACCOUNT

    def start(self, token: str, request: StartRequest) -> StartedDeployment:
        for attempt in range(self._throttle_retries + 1):
            try:
                response = self._start_gg.start_bulk_deployment(
                    AmznClientToken=token,
                    ExecutionRoleArn=request.execution_role_arn,
                    InputFileUri=request.input_file_uri,
                    tags=dict(request.tags),
                )
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = str(error.get("Code", ""))
                if code in _REJECTION_CODES:
                    raise StartRejected(code, str(error.get("Message", ""))) from exc
                if code in _THROTTLING_CODES and attempt < self._throttle_retries:
                    self._sleep(min(0.2 * 2**attempt, 5.0))
                    continue
                raise
            return StartedDeployment(response["BulkDeploymentId"], response["BulkDeploymentArn"])
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self, deployment_id: str) -> DeploymentStatus:
        response = self._gg.get_bulk_deployment_status(BulkDeploymentId=deployment_id)
        status = str(response.get("BulkDeploymentStatus", ""))
        return DeploymentStatus(
            deployment_id=deployment_id,
            status=status,
            lifecycle=lifecycle_of(status),
            created_at=response.get("CreatedAt"),
            tags=dict(response.get("tags") or {}),
            error_message=response.get("ErrorMessage"),
            error_details=list(response.get("ErrorDetails") or []),
            metrics=dict(response.get("BulkDeploymentMetrics") or {}),
        )

    def latest(self) -> DeploymentStatus | None:
        """The most recent bulk deployment of the account and region (the documented check)."""
        for summary in self._summaries(page_size=1):
            return self._with_arn(summary)
        return None

    def find_by_token(self, token: str, *, created_since: str | None) -> DeploymentStatus | None:
        """The bulk deployment tagged with this token, searching newest first back to a time."""
        for summary in self._summaries(page_size=50):
            created = summary.get("CreatedAt")
            if created_since and created and _older(created, created_since):
                return None
            status = self._with_arn(summary)
            if status.tags.get(TOKEN_TAG) == token:
                return status
        return None

    def target_results(
        self, deployment_id: str, *, next_token: str | None, page_size: int
    ) -> tuple[list[TargetResult], str | None]:
        """One page of group deployment results and the token of the next page (None at the end)."""
        kwargs: dict[str, Any] = {"BulkDeploymentId": deployment_id, "MaxResults": str(page_size)}
        if next_token:
            kwargs["NextToken"] = next_token
        response = self._gg.list_bulk_deployment_detailed_reports(**kwargs)
        page = [group_result(d) for d in response.get("Deployments") or []]
        return page, response.get("NextToken") or None

    def target_outcome(self, status: str) -> TargetOutcome:
        return target_outcome_of(status)

    def report_details(self, deployment_id: str) -> Mapping[str, Any]:
        return {}  # a bulk deployment's report is its group deployments' rows

    def stop(self, deployment_id: str) -> tuple[str, ...]:
        self._gg.stop_bulk_deployment(BulkDeploymentId=deployment_id)
        return (deployment_id,)

    def _with_arn(self, summary: Mapping[str, Any]) -> DeploymentStatus:
        status = self.status(str(summary["BulkDeploymentId"]))
        return status._replace(arn=summary.get("BulkDeploymentArn"))

    def _summaries(self, *, page_size: int) -> Iterator[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {"MaxResults": str(page_size)}
        while True:
            response = self._gg.list_bulk_deployments(**kwargs)
            yield from response.get("BulkDeployments") or []
            token = response.get("NextToken")
            if not token:
                return
            kwargs["NextToken"] = token


def _older(created: str, since: str) -> bool:
    """Unknown timestamp formats never stop a search."""
    created_at, since_at = epoch_of(created), epoch_of(since)
    return created_at is not None and since_at is not None and created_at < since_at
