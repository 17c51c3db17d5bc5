"""An in-memory Greengrass V1 bulk-deployment API for integration tests.

Requests are checked against botocore's real service model (as botocore's Stubber does),
errors are real ``ClientError``s with the service's codes, and the documented rules hold:
token idempotency, one non-terminal bulk deployment at a time, newest-first listing.
End-to-end tests use the HTTP emulator in ``local/`` instead; both answer the deployer
contract suite (tests/deployers/test_contract.py) the same way.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

_MODEL = boto3.session.Session().client("greengrass", region_name="us-east-1").meta.service_model
_NON_TERMINAL = {"Initializing", "Running", "Stopping"}


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@dataclass
class FakeBulkDeployment:
    id: str
    arn: str
    token: str | None
    params: dict[str, Any]
    created_at: str
    status: str = "Initializing"
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)
    error_message: str | None = None
    error_details: list[dict[str, str]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)


class FakeGreengrass:
    def __init__(self) -> None:
        self.deployments: list[FakeBulkDeployment] = []
        self.calls: Counter[str] = Counter()
        self.start_requests: list[dict[str, Any]] = []
        self.fail_next: dict[str, list[Exception]] = {}
        self.forget_tokens = False
        # Operations whose next answer is lost after the work is done (a timeout, a 5xx).
        self.lose_next: set[str] = set()
        self._ids = itertools.count(1)

    # -- control -----------------------------------------------------------------------------

    def finish(self, bulk_deployment_id: str, status: str = "Completed") -> None:
        self._find(bulk_deployment_id).status = status

    def set_status(self, bulk_deployment_id: str, status: str, **changes: Any) -> FakeBulkDeployment:
        deployment = self._find(bulk_deployment_id)
        deployment.status = status
        for name, value in changes.items():
            setattr(deployment, name, value)
        return deployment

    def set_groups(self, bulk_deployment_id: str, statuses: list[str], *, error_for: str = "Failure") -> None:
        """One group deployment per status, group ids g-00000, g-00001, ..."""
        deployment = self._find(bulk_deployment_id)
        deployment.groups = [
            {
                "GroupArn": f"arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g-{i:05d}",
                "DeploymentId": f"d-{i:05d}",
                "DeploymentArn": f"arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g-{i:05d}/deployments/d-{i:05d}",
                "DeploymentStatus": status,
                "DeploymentType": "NewDeployment",
                "CreatedAt": "2026-11-27T12:00:00.000Z",
                **(
                    {
                        "ErrorMessage": "Greengrass core is offline",
                        "ErrorDetails": [
                            {"DetailedErrorCode": "GG-1", "DetailedErrorMessage": "core offline"}
                        ],
                    }
                    if status == error_for
                    else {}
                ),
            }
            for i, status in enumerate(statuses)
        ]

    def settle_groups(self, bulk_deployment_id: str, status: str = "Success") -> None:
        for group in self._find(bulk_deployment_id).groups:
            if group["DeploymentStatus"] not in ("Success", "Failure"):
                group["DeploymentStatus"] = status
                if status == "Failure":
                    group["ErrorMessage"] = "Greengrass core is offline"
                    group["ErrorDetails"] = [
                        {"DetailedErrorCode": "GG-1", "DetailedErrorMessage": "core offline"}
                    ]

    def settle_stopping(self) -> None:
        """Every Stopping bulk deployment has stopped (the service takes a while)."""
        for deployment in self.deployments:
            if deployment.status == "Stopping":
                deployment.status = "Stopped"

    def finish_all(self) -> None:
        for deployment in self.deployments:
            if deployment.status in _NON_TERMINAL:
                deployment.status = "Completed"

    def started_per_token(self) -> Counter[str]:
        return Counter(d.tags.get("bulk-deployer:token", "") for d in self.deployments)

    def run_foreign_deployment(self) -> FakeBulkDeployment:
        """Another tool in the same account starts a bulk deployment."""
        return self._create(None, {"ExecutionRoleArn": "arn:aws:iam::123456789012:role/other"}, {})

    # -- the API -------------------------------------------------------------------------------

    def start_bulk_deployment(self, **params: Any) -> dict[str, Any]:
        self._enter("StartBulkDeployment", params)
        self.start_requests.append(params)
        token = params.get("AmznClientToken")
        same = {k: v for k, v in params.items() if k != "AmznClientToken"}
        if token and not self.forget_tokens:
            for deployment in self.deployments:
                if deployment.token == token:
                    if deployment.params != same:
                        raise client_error(
                            "BadRequestException",
                            "The client token was used with different parameters.",
                            "StartBulkDeployment",
                        )
                    return {"BulkDeploymentId": deployment.id, "BulkDeploymentArn": deployment.arn}
        if any(d.status in _NON_TERMINAL for d in self.deployments):
            raise client_error(
                "BadRequestException",
                "There is already a bulk deployment in progress (concurrent deployment).",
                "StartBulkDeployment",
            )
        deployment = self._create(token, same, dict(params.get("tags") or {}))
        self._answer("StartBulkDeployment")
        return {"BulkDeploymentId": deployment.id, "BulkDeploymentArn": deployment.arn}

    def stop_bulk_deployment(self, **params: Any) -> dict[str, Any]:
        """Stopping, then Stopped (``settle_stopping``); a terminal one cannot be stopped."""
        self._enter("StopBulkDeployment", params)
        deployment = self._find(params["BulkDeploymentId"])
        if deployment.status not in _NON_TERMINAL:
            raise client_error(
                "BadRequestException", f"The bulk deployment is {deployment.status}.", "StopBulkDeployment"
            )
        deployment.status = "Stopping"
        return {}

    def get_bulk_deployment_status(self, **params: Any) -> dict[str, Any]:
        self._enter("GetBulkDeploymentStatus", params)
        deployment = self._find(params["BulkDeploymentId"])
        response: dict[str, Any] = {
            "BulkDeploymentStatus": deployment.status,
            "CreatedAt": deployment.created_at,
            "BulkDeploymentMetrics": {
                "RecordsProcessed": 0,
                "InvalidInputRecords": 0,
                "RetryAttempts": 0,
                **deployment.metrics,
            },
            "tags": dict(deployment.tags),
        }
        if deployment.error_message:
            response["ErrorMessage"] = deployment.error_message
            response["ErrorDetails"] = deployment.error_details
        return response

    def list_bulk_deployment_detailed_reports(self, **params: Any) -> dict[str, Any]:
        self._enter("ListBulkDeploymentDetailedReports", params)
        deployment = self._find(params["BulkDeploymentId"])
        size = int(params.get("MaxResults") or 100)
        start = int(params.get("NextToken") or 0)
        response: dict[str, Any] = {"Deployments": [dict(g) for g in deployment.groups[start : start + size]]}
        if start + size < len(deployment.groups):
            response["NextToken"] = str(start + size)
        return response

    def list_bulk_deployments(self, **params: Any) -> dict[str, Any]:
        self._enter("ListBulkDeployments", params)
        size = int(params.get("MaxResults") or 100)
        start = int(params.get("NextToken") or 0)
        newest_first = list(reversed(self.deployments))
        page = newest_first[start : start + size]
        response: dict[str, Any] = {
            "BulkDeployments": [
                {"BulkDeploymentId": d.id, "BulkDeploymentArn": d.arn, "CreatedAt": d.created_at}
                for d in page
            ]
        }
        if start + size < len(newest_first):
            response["NextToken"] = str(start + size)
        return response

    # -- helpers -------------------------------------------------------------------------------

    def _enter(self, operation: str, params: dict[str, Any]) -> None:
        validate_parameters(params, _MODEL.operation_model(operation).input_shape)
        self.calls[operation] += 1
        pending = self.fail_next.get(operation)
        if pending:
            raise pending.pop(0)

    def _answer(self, operation: str) -> None:
        if operation in self.lose_next:
            self.lose_next.discard(operation)
            raise client_error("InternalServerErrorException", "The answer was lost.", operation, status=500)

    def _create(self, token: str | None, params: dict[str, Any], tags: dict[str, str]) -> FakeBulkDeployment:
        number = next(self._ids)
        deployment = FakeBulkDeployment(
            id=f"bd-{number:04d}",
            arn=f"arn:aws:greengrass:us-east-1:123456789012:/greengrass/bulk/deployments/bd-{number:04d}",
            token=token,
            params=params,
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            tags=tags,
        )
        self.deployments.append(deployment)
        return deployment

    def _find(self, bulk_deployment_id: str) -> FakeBulkDeployment:
        for deployment in self.deployments:
            if deployment.id == bulk_deployment_id:
                return deployment
        raise client_error("BadRequestException", "Bulk deployment not found.", "GetBulkDeploymentStatus")
