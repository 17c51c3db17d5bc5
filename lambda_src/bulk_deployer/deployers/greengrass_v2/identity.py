"""Names of one file's Greengrass V2 deployments: ids, tokens, targets and where its files go.

A file deploys to each of its targets with one CreateDeployment; the core knows the file by one
composite deployment id, ``gg2-<file token>``, and each target's deployment by a client token
derived from the file's token and the target, so a repeated start is the same request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bulk_deployer.deployers.greengrass_v2.records import TARGET_ARN

COMPOSITE_PREFIX = "gg2-"


def target_token_for(file_token: str, target_arn: str) -> str:
    """The clientToken of a file's deployment to one target: 64 lowercase hex characters.

    The API takes 1 to 64 of ``[a-zA-Z0-9-]``; a sha256 in hex is exactly that, and the same
    file and target always give the same token (a retried start is an idempotent request).
    """
    return hashlib.sha256(f"{file_token}\n{target_arn}".encode()).hexdigest()


def composite_id(file_token: str) -> str:
    return COMPOSITE_PREFIX + file_token


def file_token_of(deployment_id: str) -> str:
    if not deployment_id.startswith(COMPOSITE_PREFIX):
        raise ValueError(f"{deployment_id!r} is not a Greengrass V2 file deployment id")
    return deployment_id.removeprefix(COMPOSITE_PREFIX)


@dataclass(frozen=True)
class Target:
    """A target ARN's parts: a thing (one core device) or a thing group."""

    arn: str
    is_group: bool
    name: str
    prefix: str  # arn:<partition>:iot:<region>:<account>

    def thing_arn(self, thing_name: str) -> str:
        return f"arn:{self.prefix}:thing/{thing_name}"


def parse_target(arn: str) -> Target:
    """A validated line's target (the validator's own pattern: one rule for what a target is)."""
    found = TARGET_ARN.fullmatch(arn)
    if found is None:
        raise ValueError(f"{arn!r} is not a thing or thing group ARN")
    prefix = f"{found['partition']}:iot:{found['region']}:{found['account']}"
    return Target(arn, found["kind"] == "thinggroup", found["name"], prefix)


def staged_object(input_file_uri: str) -> tuple[str, str]:
    """(bucket, key) of the staged copy a start request names: ``s3://bucket/key``, as
    ``start_request.V2StartRequests`` writes it."""
    parts = urlsplit(input_file_uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{input_file_uri!r} does not name an S3 object as s3://bucket/key")
    return parts.netloc, unquote(parts.path.lstrip("/"))


@dataclass(frozen=True)
class FileKeys:
    """Where a file's deployer-owned S3 objects go, under the reports prefix."""

    prefix: str  # e.g. "reports/"
    file_token: str

    def _key(self, kind: str, index: int, suffix: str) -> str:
        return f"{self.prefix}{self.file_token}/{kind}/{index:05d}.{suffix}"

    def replaced(self, index: int) -> str:
        """The target's deployment before ours (GetDeployment's answer): rollback reads it."""
        return self._key("replaced", index, "json")

    def members(self, index: int) -> str:
        """The thing group's members when the deployment started, one thing name a line."""
        return self._key("members", index, "txt")

    def devices(self, index: int) -> str:
        """The target's per-device results once it settled, one JSON object a line."""
        return self._key("devices", index, "jsonl")
