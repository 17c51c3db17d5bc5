"""What the emulator asks of the AWS stand-in (moto server): IAM, S3, STS and group deployments.

Why behind one class: the engine stays testable without HTTP, and every boto3 detail (endpoint,
credentials, error codes) lives here. The emulator acts as the Greengrass service itself, so it
uses its own credentials, not the caller's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


class AwsError(Exception):
    """A call to the AWS stand-in failed; `code` is the AWS error code when there is one."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RoleInfo:
    arn: str
    trust_policy: Mapping[str, Any] | str
    permission_policies: list[Mapping[str, Any] | str]


@dataclass(frozen=True)
class CreatedDeployment:
    deployment_id: str
    deployment_arn: str


# One botocore session for every emulator in the process: building a session loads the service
# models again, which costs ~0.2 s per client. Sessions are not thread-safe: clients are made
# under this lock.
_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def _session() -> boto3.session.Session:
    global _SESSION  # noqa: PLW0603 - a process-wide cache
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


class AwsStandIn:
    """boto3 clients against the AWS stand-in's endpoint."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        with _SESSION_LOCK:
            if service not in self._clients:
                self._clients[service] = _session().client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                    aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                    aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
            return self._clients[service]

    def account_id(self) -> str:
        return str(_call(self._client("sts").get_caller_identity)["Account"])

    def get_role(self, role_name: str, with_policies: bool = True) -> RoleInfo:
        """The role, its trust policy and (optionally) its inline and attached policy documents."""
        iam = self._client("iam")
        role = _call(iam.get_role, RoleName=role_name)["Role"]
        documents: list[Mapping[str, Any] | str] = []
        if not with_policies:
            return RoleInfo(role["Arn"], role["AssumeRolePolicyDocument"], documents)
        for name in _call(iam.list_role_policies, RoleName=role_name)["PolicyNames"]:
            documents.append(
                _call(iam.get_role_policy, RoleName=role_name, PolicyName=name)["PolicyDocument"]
            )
        for attached in _call(iam.list_attached_role_policies, RoleName=role_name)["AttachedPolicies"]:
            policy = _call(iam.get_policy, PolicyArn=attached["PolicyArn"])["Policy"]
            version = _call(
                iam.get_policy_version, PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
            )
            documents.append(version["PolicyVersion"]["Document"])
        return RoleInfo(role["Arn"], role["AssumeRolePolicyDocument"], documents)

    def object_size(self, bucket: str, key: str) -> int:
        return int(_call(self._client("s3").head_object, Bucket=bucket, Key=key)["ContentLength"])

    def read_object(self, bucket: str, key: str) -> bytes:
        body = _call(self._client("s3").get_object, Bucket=bucket, Key=key)["Body"]
        data: bytes = body.read()
        return data

    def create_deployment(self, group_id: str, group_version_id: str) -> CreatedDeployment:
        """Create the group deployment in the stand-in's Greengrass (moto checks group, version, core)."""
        answer = _call(
            self._client("greengrass").create_deployment,
            GroupId=group_id,
            GroupVersionId=group_version_id,
            DeploymentType="NewDeployment",
        )
        return CreatedDeployment(answer["DeploymentId"], answer["DeploymentArn"])


def _call(method: Any, **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(str(error.get("Code", "Unknown")), str(error.get("Message", exc))) from exc
    except BotoCoreError as exc:
        raise AwsError(type(exc).__name__, str(exc)) from exc
