"""Initializing -> Running: read and check a bulk deployment's input file the way Greengrass does.

Why apart from the service: this is what the service does with one file (assume the role, read
the object within the size limit, split and check its lines); the service keeps the clock, the
state machine and the requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .aws import AwsError, AwsStandIn
from .config import EmulatorConfig
from .input_file import InputFileError, check_line, check_size, split_lines
from .model import BulkDeployment
from .policy import is_allowed

ROLE_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:[\w+=,.@/-]*/)?(?P<name>[\w+=,.@-]{1,64})$"
)


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class LoadFailed(Exception):
    """The bulk deployment fails while initializing; `message` is its ErrorMessage."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LoadedFile:
    role_policies: list[Any]  # the execution role's permission policies, for each group's deployment
    lines: list[tuple[int, bytes]]  # (line number, body), checked already unless checked as they come


def load_input_file(cfg: EmulatorConfig, aws: AwsStandIn | None, bulk: BulkDeployment) -> LoadedFile:
    """The file's lines (fully checked by default) and the role's policies; LoadFailed otherwise."""
    if aws is None:
        raise LoadFailed("InvalidInputFile: no AWS stand-in configured to read the input file")
    object_arn = f"arn:{partition(cfg.region)}:s3:::{bulk.bucket}/{bulk.key}"
    try:
        name = ROLE_ARN.match(bulk.role_arn).group("name")  # type: ignore[union-attr]
        policies = aws.get_role(name).permission_policies
    except AwsError as exc:
        raise LoadFailed(f"Greengrass cannot assume the execution role: {exc.message}") from None
    if cfg.check_role_permissions and not is_allowed(policies, "s3:GetObject", object_arn):
        raise LoadFailed(f"Access Denied: the execution role may not s3:GetObject on {object_arn}")
    try:
        check_size(aws.object_size(bulk.bucket, bulk.key), cfg.max_file_bytes)
        data = aws.read_object(bulk.bucket, bulk.key)
        check_size(len(data), cfg.max_file_bytes)  # the object may have changed since the HEAD
    except AwsError as exc:
        raise LoadFailed(f"InvalidInputFile: Unable to read the input file from S3: {exc.code}") from None
    except InputFileError as exc:
        raise LoadFailed(exc.message) from None
    lines = split_lines(data, skip_blank=cfg.blank_lines == "skip", strip_bom=cfg.strip_bom)
    if cfg.validate_before_deploying:
        try:
            for number, body in lines:
                check_line(number, body)
        except InputFileError as exc:
            raise LoadFailed(exc.message) from None
    return LoadedFile(policies, lines)
