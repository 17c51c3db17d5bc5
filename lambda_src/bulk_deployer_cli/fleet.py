"""Read-only views of the account's Greengrass groups for the authoring commands.

Why here and not in ``deployers/greengrass_v1``: the functions never look at groups; only operators
choosing groups (make-input), checking a file (plan) or undoing one (rollback-input) do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.timefmt import epoch_of

PAGE_SIZE = 100
DEPLOY_ACTION = "greengrass:CreateDeployment"


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    created_at: str
    version_id: str | None
    deployment_type: str | None


def missing(exc: ClientError) -> bool:
    """The service answers a missing group or version with a 400/404 "not found"."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return "NotFound" in code or code in ("BadRequestException", "404") or status == 404


def record(group_id: str, version_id: str) -> str:
    return json.dumps(
        {"GroupId": group_id, "GroupVersionId": version_id, "DeploymentType": "NewDeployment"},
        separators=(",", ":"),
    )


def version_of_group_arn(arn: str | None) -> str | None:
    """``.../greengrass/groups/<id>/versions/<version>`` (a deployment's GroupArn) → version."""
    if not arn or "/versions/" not in arn:
        return None
    return arn.rsplit("/versions/", 1)[1].split("/", 1)[0] or None


class Groups:
    def __init__(self, client: Any) -> None:
        self._gg = client

    def all(self, page_size: int = PAGE_SIZE) -> Iterator[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {"MaxResults": str(page_size)}
        while True:
            response = self._gg.list_groups(**kwargs)
            yield from response.get("Groups") or []
            if not response.get("NextToken"):
                return
            kwargs["NextToken"] = response["NextToken"]

    def get(self, group_id: str) -> Mapping[str, Any] | None:
        try:
            return dict(self._gg.get_group(GroupId=group_id))
        except ClientError as exc:
            if missing(exc):
                return None
            raise

    def version_exists(self, group_id: str, version_id: str) -> bool:
        try:
            self._gg.get_group_version(GroupId=group_id, GroupVersionId=version_id)
        except ClientError as exc:
            if missing(exc):
                return False
            raise
        return True

    def deployments(self, group_id: str) -> list[Deployment]:
        """The group's deployments, oldest first."""
        found: list[Deployment] = []
        kwargs: dict[str, Any] = {"GroupId": group_id, "MaxResults": str(PAGE_SIZE)}
        while True:
            response = self._gg.list_deployments(**kwargs)
            for d in response.get("Deployments") or []:
                found.append(
                    Deployment(
                        deployment_id=str(d.get("DeploymentId", "")),
                        created_at=str(d.get("CreatedAt", "")),
                        version_id=version_of_group_arn(d.get("GroupArn")),
                        deployment_type=d.get("DeploymentType"),
                    )
                )
            if not response.get("NextToken"):
                break
            kwargs["NextToken"] = response["NextToken"]
        return sorted(found, key=lambda d: epoch_of(d.created_at) or 0.0)

    def current_version(self, group_id: str) -> str | None:
        """The version of the group's newest NewDeployment (what it last deployed)."""
        for deployment in reversed(self.deployments(group_id)):
            if deployment.version_id and deployment.deployment_type in (
                None,
                "NewDeployment",
                "Redeployment",
            ):
                return deployment.version_id
        return None


class RolePolicies:
    """Whether the execution role may deploy a group: Allow and Deny statements of its inline and
    attached policies, with wildcards. Conditions, permission boundaries and SCPs are not
    evaluated (a ✓ here is necessary, not sufficient)."""

    def __init__(self, iam: Any, role_arn: str) -> None:
        self._statements = list(_statements(iam, role_arn.rsplit("/", 1)[-1]))

    def allows(self, action: str, resource: str) -> bool:
        allowed = False
        for statement in self._statements:
            actions_match = _matches(statement.get("Action"), action.lower(), fold=True)
            if not (actions_match and _matches(statement.get("Resource"), resource, fold=False)):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
        return allowed


def _statements(iam: Any, role_name: str) -> Iterator[Mapping[str, Any]]:
    documents: list[Any] = []
    for name in iam.list_role_policies(RoleName=role_name).get("PolicyNames", []):
        documents.append(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    for attached in iam.list_attached_role_policies(RoleName=role_name).get("AttachedPolicies", []):
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        documents.append(
            iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        )
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        statements = parsed.get("Statement", [])
        yield from [statements] if isinstance(statements, dict) else statements


def _matches(patterns: Any, value: str, *, fold: bool) -> bool:
    """IAM wildcards; actions compare case-insensitively (``fold``), resources exactly."""
    if patterns is None:
        return False
    items = [patterns] if isinstance(patterns, str) else list(patterns)
    return any(fnmatchcase(value, p.lower() if fold else p) for p in items)
