"""The StartBulkDeployment request: the execution role and where Greengrass reads the staged file."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from bulk_deployer.deployers.base import StartRequest


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def input_file_uri(bucket: str, key: str, region: str) -> str:
    """The virtual-hosted https URI of an object, its key percent-encoded as a URL path."""
    return f"https://{bucket}.s3.{region}.{dns_suffix(region)}/{quote(key, safe='/')}"


class V1StartRequests:
    """StartBulkDeployment requests under one execution role, for staged copies in one region."""

    def __init__(self, execution_role_arn: str, region: str) -> None:
        self._execution_role_arn = execution_role_arn
        self._region = region

    def build(
        self, bucket: str, staged_key: str, tags: Mapping[str, str], targets: tuple[str, ...] = ()
    ) -> StartRequest:
        """A bulk deployment's groups are in its file: V1 freezes no targets (``targets`` is empty)."""
        return StartRequest(
            execution_role_arn=self._execution_role_arn,
            input_file_uri=input_file_uri(bucket, staged_key, self._region),
            tags=dict(tags),
        )
