"""Greengrass V2 deployments: one latest per target, revisions, replace semantics, client tokens.

Why separate from the jobs: a deployment is the spec and its history (revision, latest or not,
cancelled, tags); what happens on devices lives in its IoT job. A thing deployment's status
follows its one device; a thing-group deployment stays ACTIVE (continuous) until it is replaced
or cancelled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .jobs import Job

TARGET_ARN = re.compile(
    r"^arn:(?P<partition>[^:]*):iot:(?P<region>[^:]*):(?P<account>[0-9]+):(?P<kind>thing|thinggroup)/(?P<name>.+)$"
)
DEFAULT_POLICIES: dict[str, Any] = {
    "failureHandlingPolicy": "ROLLBACK",
    "componentUpdatePolicy": {"timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS"},
    "configurationValidationPolicy": {"timeoutInSeconds": 30},
}
_FROM_DEVICE = {
    "QUEUED": "ACTIVE",
    "IN_PROGRESS": "ACTIVE",
    "SUCCEEDED": "COMPLETED",
    "FAILED": "FAILED",
    "TIMED_OUT": "FAILED",
    "REJECTED": "FAILED",
    "CANCELED": "CANCELED",
    "REMOVED": "CANCELED",
}


@dataclass
class Deployment:
    deployment_id: str
    arn: str
    target_arn: str
    target_name: str
    to_group: bool
    revision_id: str
    created_at: float
    name: str | None
    components: dict[str, Any]
    policies: dict[str, Any]
    job_configuration: dict[str, Any]
    parent_target_arn: str | None
    tags: dict[str, str]
    job: Job
    is_latest: bool = True
    fixed_status: str | None = None  # CANCELED or the replaced status: no longer follows the job

    @property
    def status(self) -> str:
        if self.fixed_status is not None:
            return self.fixed_status
        if self.to_group:
            return "ACTIVE"
        execution = self.job.executions.get(self.target_name)
        return "ACTIVE" if execution is None else _FROM_DEVICE[execution.status]

    def summary(self) -> dict[str, Any]:
        """ListDeployments entry."""
        found: dict[str, Any] = {
            "targetArn": self.target_arn,
            "revisionId": self.revision_id,
            "deploymentId": self.deployment_id,
            "creationTimestamp": self.created_at,
            "deploymentStatus": self.status,
            "isLatestForTarget": self.is_latest,
        }
        if self.name is not None:
            found["deploymentName"] = self.name
        if self.parent_target_arn is not None:
            found["parentTargetArn"] = self.parent_target_arn
        return found

    def describe(self) -> dict[str, Any]:
        """GetDeployment: the summary, the spec (policies with their defaults), the job, the tags."""
        found = {
            **self.summary(),
            "iotJobId": self.job.job_id,
            "iotJobArn": self.job.arn,
            "components": self.components,
            "deploymentPolicies": self.policies,
            "iotJobConfiguration": self.job_configuration,
        }
        if self.tags:
            found["tags"] = dict(self.tags)
        return found

    def versions(self) -> dict[str, str]:
        return {name: spec["componentVersion"] for name, spec in self.components.items()}


def with_default_policies(given: dict[str, Any] | None) -> dict[str, Any]:
    given = given or {}
    return {
        "failureHandlingPolicy": given.get(
            "failureHandlingPolicy", DEFAULT_POLICIES["failureHandlingPolicy"]
        ),
        "componentUpdatePolicy": {
            **DEFAULT_POLICIES["componentUpdatePolicy"],
            **given.get("componentUpdatePolicy", {}),
        },
        "configurationValidationPolicy": {
            **DEFAULT_POLICIES["configurationValidationPolicy"],
            **given.get("configurationValidationPolicy", {}),
        },
    }


def rollout_rate(job_configuration: dict[str, Any], default: float) -> float:
    """maximumPerMinute, or an exponential rollout's base rate (never faster than the real one)."""
    rollout = job_configuration.get("jobExecutionsRolloutConfig", {})
    rates = [rollout["maximumPerMinute"]] if "maximumPerMinute" in rollout else []
    if "exponentialRate" in rollout:
        rates.append(rollout["exponentialRate"]["baseRatePerMinute"])
    return float(min(rates)) if rates else default


@dataclass
class TokenEntry:
    deployment_id: str
    fingerprint: str
    answer: dict[str, str]
    remembered_at: float


def fingerprint(params: dict[str, Any]) -> str:
    """The request without its token: what "the same request" means for idempotency."""
    return json.dumps({k: v for k, v in params.items() if k != "clientToken"}, sort_keys=True)


@dataclass
class DeploymentStore:
    by_id: dict[str, Deployment] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)  # target ARN -> deployment id
    revisions: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, TokenEntry] = field(default_factory=dict)

    def next_revision(self, target_arn: str) -> str:
        self.revisions[target_arn] = self.revisions.get(target_arn, 0) + 1
        return str(self.revisions[target_arn])

    def latest_for(self, target_arn: str) -> Deployment | None:
        found = self.latest.get(target_arn)
        return self.by_id.get(found) if found else None

    def remembered(self, token: str, now: float, ttl: float) -> TokenEntry | None:
        entry = self.tokens.get(token)
        if entry is not None and now - entry.remembered_at >= ttl:
            del self.tokens[token]
            return None
        return entry

    def listed(self, target_arn: str | None, parent_arn: str | None, history: str) -> list[Deployment]:
        """Newest first, filtered as ListDeployments filters."""
        return [
            d
            for d in reversed(list(self.by_id.values()))  # created in this order
            if (target_arn is None or d.target_arn == target_arn)
            and (parent_arn is None or d.parent_target_arn == parent_arn)
            and (history == "ALL" or d.is_latest)
        ]
