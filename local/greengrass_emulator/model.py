"""The emulator's state: bulk deployments, their group deployments, and the call log.

Why plain dataclasses: the engine mutates them under one lock; the HTTP layer and the control
surface only ever see the dictionaries these classes render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NON_TERMINAL = frozenset({"Initializing", "Running", "Stopping"})
TERMINAL = frozenset({"Completed", "Stopped", "Failed"})


class BadRequest(Exception):
    """The service's only modelled error: HTTP 400 BadRequestException with a Message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def iso(ts: float) -> str:
    """Timestamps are strings in this API; ISO 8601 UTC with milliseconds, like the service."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class GroupDeployment:
    """One record's outcome: a group deployment (or, with `deployment_id` None, an invalid record)."""

    line_number: int
    group_id: str
    group_version_id: str
    group_arn: str
    created_at: float
    settle_at: float
    fails: bool
    deployment_id: str | None = None
    deployment_arn: str | None = None
    error_message: str | None = None

    def status(self, now: float) -> str:
        if self.deployment_id is None:
            return "Failure"
        if now < self.settle_at:
            return "InProgress"
        return "Failure" if self.fails else "Success"

    def error(self, now: float) -> str | None:
        if self.deployment_id is None:
            return self.error_message
        if self.fails and now >= self.settle_at:
            return f"Emulated failure: group {self.group_id} is marked to fail"
        return None

    def report(self, now: float) -> dict[str, Any]:
        """One entry of ListBulkDeploymentDetailedReports."""
        entry: dict[str, Any] = {
            "CreatedAt": iso(self.created_at),
            "DeploymentStatus": self.status(now),
            "DeploymentType": "NewDeployment",
            "GroupArn": self.group_arn,
        }
        if self.deployment_id is not None:
            entry["DeploymentId"] = self.deployment_id
            entry["DeploymentArn"] = self.deployment_arn
        message = self.error(now)
        if message:
            entry["ErrorMessage"] = message
            entry["ErrorDetails"] = [{"DetailedErrorCode": "GG-EMULATOR", "DetailedErrorMessage": message}]
        return entry


@dataclass
class BulkDeployment:
    bulk_id: str
    arn: str
    token: str | None
    role_arn: str
    input_uri: str
    bucket: str
    key: str
    tags: dict[str, str]
    created_at: float
    sequence: int
    status: str = "Initializing"
    # The file's lines (number, raw bytes), processed one per `record_seconds` while Running.
    pending: list[tuple[int, bytes]] = field(default_factory=list)
    next_index: int = 0
    run_started_at: float | None = None
    stop_requested_at: float | None = None
    ended_at: float | None = None
    records_processed: int = 0
    invalid_input_records: int = 0
    retry_attempts: int = 0
    error_message: str | None = None
    group_deployments: list[GroupDeployment] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def status_response(self) -> dict[str, Any]:
        """GetBulkDeploymentStatus."""
        body: dict[str, Any] = {
            "BulkDeploymentStatus": self.status,
            "BulkDeploymentMetrics": {
                "RecordsProcessed": self.records_processed,
                "InvalidInputRecords": self.invalid_input_records,
                "RetryAttempts": self.retry_attempts,
            },
            "CreatedAt": iso(self.created_at),
        }
        if self.error_message:
            body["ErrorMessage"] = self.error_message
            body["ErrorDetails"] = []
        if self.tags:
            body["tags"] = dict(self.tags)
        return body

    def summary(self) -> dict[str, Any]:
        """ListBulkDeployments entry."""
        return {
            "BulkDeploymentArn": self.arn,
            "BulkDeploymentId": self.bulk_id,
            "CreatedAt": iso(self.created_at),
        }

    def snapshot(self, now: float) -> dict[str, Any]:
        """Everything, for the control surface."""
        return {
            **self.summary(),
            **self.status_response(),
            "ClientToken": self.token,
            # The emulator clock's seconds, for latency measurements (benchmarks).
            "CreatedAtSeconds": self.created_at,
            "EndedAtSeconds": self.ended_at,
            "ExecutionRoleArn": self.role_arn,
            "InputFileUri": self.input_uri,
            "Bucket": self.bucket,
            "Key": self.key,
            "GroupDeployments": [
                {
                    **g.report(now),
                    "GroupId": g.group_id,
                    "GroupVersionId": g.group_version_id,
                    "Line": g.line_number,
                }
                for g in self.group_deployments
            ],
        }


@dataclass
class TokenEntry:
    bulk_id: str
    params: tuple[str, str, tuple[tuple[str, str], ...]]
    remembered_at: float


@dataclass
class Call:
    """One request to an emulated operation, whatever its outcome."""

    operation: str
    at: float
    outcome: str  # ok | BadRequest | throttled | error | lost_response
    client_token: str | None = None
    input_uri: str | None = None
    role_arn: str | None = None
    bulk_id: str | None = None
    created: bool = False  # StartBulkDeployment that created a new bulk deployment
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "at": iso(self.at),
            "outcome": self.outcome,
            "client_token": self.client_token,
            "input_uri": self.input_uri,
            "role_arn": self.role_arn,
            "bulk_deployment_id": self.bulk_id,
            "created": self.created,
            "message": self.message,
        }
