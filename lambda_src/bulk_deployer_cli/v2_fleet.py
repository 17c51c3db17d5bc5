"""The V2 stack's rules and its fleet, as Greengrass V2 and IoT describe it: what ``make-input``,
``plan`` and ``rollback-input`` on a V2 stack read from AWS.

Why: these commands start from what each target runs now (its current deployment:
ListDeployments + GetDeployment, as the starter reads it), and every file they write passes the
stack's own validator (its starter's settings: account, region, allow-list). ``V2Stack`` and
``V2Fleet`` are kept apart so that the building of lines and plans (v2_authoring, v2_plan) stays
pure over plain data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.config import ConfigurationError, StarterSettings
from bulk_deployer.deployers.greengrass_v2.identity import parse_target
from bulk_deployer.deployers.greengrass_v2.records import StackRules
from bulk_deployer.deployers.greengrass_v2.starter import (
    current_deployment,
    describe_deployment,
    latest_deployment_id,
)
from bulk_deployer.deployers.greengrass_v2.validation import validate_bytes, validate_path
from bulk_deployer.validation import ValidationResult

from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.stack import STARTER_FUNCTION_OUTPUT, Target

_PAGE = 100


# -- the stack's rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class V2Stack:
    """What a V2 stack's starter checks every line against, read from the deployed starter's
    settings (so the CLI refuses exactly what the starter would)."""

    settings: StarterSettings
    rules: StackRules

    @classmethod
    def of(cls, target: Target) -> V2Stack:
        # Imported here: the functions' graph loads Powertools, which only these commands need.
        from bulk_deployer.wiring import v2_stack_rules  # noqa: PLC0415

        function = target.resources.require(STARTER_FUNCTION_OUTPUT)
        environment = target.function_environment(function)
        try:
            settings = StarterSettings.from_env({**environment, "AWS_REGION": target.region_name})
        except ConfigurationError as exc:
            raise CliError(f"the settings of {function}: {exc}") from None
        return cls(settings, v2_stack_rules(settings))

    def validate_path(self, path: Path) -> ValidationResult:
        try:
            return validate_path(path, self.rules)
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None

    def validate_bytes(self, body: bytes) -> ValidationResult:
        return validate_bytes(body, self.rules)

    def arn(self, kind: str, name: str) -> str:
        """A thing's (``thing``) or thing group's (``thinggroup``) ARN in the stack's account."""
        rules = self.rules
        return f"arn:{rules.partition}:iot:{rules.region}:{rules.account}:{kind}/{name}"

    def allows(self, target_arn: str) -> bool:
        allowed = self.rules.allowed_targets
        return allowed is None or target_arn in allowed


def validated(target: Target, path: Path) -> ValidationResult:
    """An input file checked as the stack's starter checks it (V1 or V2)."""
    if target.is_v1:
        from bulk_deployer_cli import offline  # noqa: PLC0415

        return offline.validated(path)
    return V2Stack.of(target).validate_path(path)


# -- the fleet, as Greengrass V2 and IoT describe it ----------------------------------------------


class V2Fleet:
    """Reads deployments, thing groups and core devices (greengrassv2 and iot clients)."""

    def __init__(self, gg: Any, iot: Any) -> None:
        self._gg = gg
        self._iot = iot

    @classmethod
    def of(cls, target: Target) -> V2Fleet:
        return cls(target.client("greengrassv2"), target.client("iot"))

    def current(self, target_arn: str) -> dict[str, Any] | None:
        return current_deployment(self._gg, target_arn)

    def latest_id(self, target_arn: str) -> str | None:
        return latest_deployment_id(self._gg, target_arn)

    def describe(self, deployment_id: str) -> dict[str, Any]:
        return describe_deployment(self._gg, deployment_id)

    def deployed_targets(self) -> Iterator[tuple[str, str]]:
        """(target ARN, deployment id) of every target's latest deployment, newest first
        (subdeployments left out: the stack creates none)."""
        kwargs: dict[str, Any] = {"historyFilter": "LATEST_ONLY", "maxResults": _PAGE}
        seen: set[str] = set()
        while True:
            answer = self._gg.list_deployments(**kwargs)
            for summary in answer.get("deployments") or []:
                arn = str(summary.get("targetArn", ""))
                if summary.get("parentTargetArn") or not summary.get("isLatestForTarget", True):
                    continue
                if arn not in seen:
                    seen.add(arn)
                    yield arn, str(summary["deploymentId"])
            if not answer.get("nextToken"):
                return
            kwargs["nextToken"] = answer["nextToken"]

    def exists(self, target_arn: str) -> bool:
        target = parse_target(target_arn)
        try:
            if target.is_group:
                self._iot.describe_thing_group(thingGroupName=target.name)
            else:
                self._iot.describe_thing(thingName=target.name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return True

    def members(self, group_name: str, limit: int) -> tuple[list[str], bool]:
        """The group's things (recursive), at most ``limit``; and whether there were more."""
        found: list[str] = []
        kwargs: dict[str, Any] = {"thingGroupName": group_name, "recursive": True, "maxResults": _PAGE}
        while True:
            answer = self._iot.list_things_in_thing_group(**kwargs)
            for name in answer.get("things") or []:
                if len(found) >= limit:
                    return found, True
                found.append(str(name))
            if not answer.get("nextToken"):
                return found, False
            kwargs["nextToken"] = answer["nextToken"]

    def core_device(self, thing_name: str) -> dict[str, Any] | None:
        try:
            return dict(self._gg.get_core_device(coreDeviceThingName=thing_name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    def effective_targets(self, thing_name: str) -> set[str]:
        """The targets whose deployments reached the device (ListEffectiveDeployments)."""
        targets: set[str] = set()
        kwargs: dict[str, Any] = {"coreDeviceThingName": thing_name, "maxResults": _PAGE}
        while True:
            try:
                answer = self._gg.list_effective_deployments(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return targets
                raise
            targets |= {str(d["targetArn"]) for d in answer.get("effectiveDeployments") or []}
            if not answer.get("nextToken"):
                return targets
            kwargs["nextToken"] = answer["nextToken"]


def target_name(target_arn: str) -> str:
    """What people call a target: ``thinggroup/line-2``, ``thing/press-7`` (the ARN's last part)."""
    return target_arn.rsplit(":", 1)[-1]
