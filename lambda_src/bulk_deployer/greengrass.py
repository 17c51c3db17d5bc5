"""The deployer: the one place that talks to Greengrass.

Greengrass V1 reached its end of support on 2026-10-07. Everything else in the project
depends only on the ``Deployer`` protocol below, so a Greengrass V2 deployer can be added
beside ``GreengrassV1Deployer`` without touching the ledger, the intake or the dispatcher.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import quote

from botocore.exceptions import ClientError

from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.ledger_model import StartRequest
from bulk_deployer.timefmt import epoch_of

NON_TERMINAL = frozenset({"Initializing", "Running", "Stopping"})
TERMINAL = frozenset({"Completed", "Stopped", "Failed"})
_REJECTION_CODES = frozenset({"BadRequestException", "AccessDeniedException", "ValidationException"})
# Throttled requests were not carried out: the only start failures that are safe to repeat blindly.
_THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "429"}
)


class StartRejected(Exception):
    """The service refused the start for a reason retrying the same request will not fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StartedDeployment:
    bulk_deployment_id: str
    arn: str


@dataclass(frozen=True)
class DeploymentStatus:
    bulk_deployment_id: str
    status: str
    created_at: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    error_message: str | None = None
    error_details: list[Mapping[str, Any]] = field(default_factory=list)
    metrics: Mapping[str, int] = field(default_factory=dict)
    arn: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class Deployer(Protocol):
    def start(self, token: str, request: StartRequest) -> StartedDeployment: ...

    def status(self, bulk_deployment_id: str) -> DeploymentStatus: ...

    def latest(self) -> DeploymentStatus | None: ...

    def find_by_token(self, token: str, *, created_since: str | None) -> DeploymentStatus | None: ...

    def detailed_reports(
        self, bulk_deployment_id: str, *, next_token: str | None, page_size: int
    ) -> tuple[list[Mapping[str, Any]], str | None]: ...


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def input_file_uri(bucket: str, key: str, region: str) -> str:
    """The virtual-hosted https URI of an object, its key percent-encoded as a URL path."""
    return f"https://{bucket}.s3.{region}.{dns_suffix(region)}/{quote(key, safe='/')}"


class GreengrassV1Deployer:
    """Greengrass V1 bulk deployments through boto3's ``greengrass`` client.

    ``start_client`` must not retry by itself (``aws.START_CLIENT_CONFIG``): a start whose
    answer was lost (a timeout, a 5xx after the work was done) may have started a bulk
    deployment, and a blind retry would start a second one once the service has forgotten
    the token and the first has ended. Only throttled starts, which did nothing, are retried
    here; any other failure leaves the file STARTING, and the next dispatch looks for the
    deployment by its token tag before it starts anything.
    """

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

    def status(self, bulk_deployment_id: str) -> DeploymentStatus:
        response = self._gg.get_bulk_deployment_status(BulkDeploymentId=bulk_deployment_id)
        return DeploymentStatus(
            bulk_deployment_id=bulk_deployment_id,
            status=str(response.get("BulkDeploymentStatus", "")),
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

    def detailed_reports(
        self, bulk_deployment_id: str, *, next_token: str | None, page_size: int
    ) -> tuple[list[Mapping[str, Any]], str | None]:
        """One page of group deployment results and the token of the next page (None at the end)."""
        kwargs: dict[str, Any] = {"BulkDeploymentId": bulk_deployment_id, "MaxResults": str(page_size)}
        if next_token:
            kwargs["NextToken"] = next_token
        response = self._gg.list_bulk_deployment_detailed_reports(**kwargs)
        return list(response.get("Deployments") or []), response.get("NextToken") or None

    def _with_arn(self, summary: Mapping[str, Any]) -> DeploymentStatus:
        status = self.status(str(summary["BulkDeploymentId"]))
        return replace(status, arn=summary.get("BulkDeploymentArn"))

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
