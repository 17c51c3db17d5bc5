"""A Greengrass V2 file's start request: its staged copy, its tags and its targets, no role."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from bulk_deployer.deployers.base import StartRequest


def partition_of(region: str) -> str:
    """The ARN partition of a region: a target's ARN must name the stack's."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class V2StartRequests:
    """The functions read the staged copy themselves (no Greengrass service reads it): an s3://
    URI names it. The targets, in line order, are what the file holds while it deploys."""

    def build(
        self, bucket: str, staged_key: str, tags: Mapping[str, str], targets: tuple[str, ...] = ()
    ) -> StartRequest:
        # The key percent-encoded, as identity.staged_object reads it back.
        return StartRequest("", f"s3://{bucket}/{quote(staged_key, safe='/')}", dict(tags), tuple(targets))
