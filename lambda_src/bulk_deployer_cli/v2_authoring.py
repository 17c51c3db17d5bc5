"""Greengrass V2 input files from the fleet: ``make-input``, ``plan`` and ``rollback-input`` on a V2 stack.

Why: on V2 a line is a whole deployment to a target, and in REPLACE mode (the default) every
component it omits is uninstalled. Hand-writing one from memory is how a fleet loses a
component. So these commands start from what each target runs now (its current deployment:
ListDeployments + GetDeployment, as the starter reads it), show what a file would add, change
and remove before it is uploaded, and write the file that puts back what a finished file
replaced (the copy the starter saved before creating each deployment). Every file they write
passes the stack's own validator (its starter's settings: account, region, allow-list).

The functions here are pure over plain data (deployments as GetDeployment answers, lines as
dicts); ``V2Fleet`` and ``V2Stack`` are the only ones that call AWS.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.config import ConfigurationError, StarterSettings
from bulk_deployer.deployers.greengrass_v2.identity import FileKeys, parse_target
from bulk_deployer.deployers.greengrass_v2.plan import plan_target
from bulk_deployer.deployers.greengrass_v2.records import (
    RESERVED_TAG_KEYS,
    TARGET_ARN,
    StackRules,
    update_mode,
)
from bulk_deployer.deployers.greengrass_v2.starter import current_deployment, describe_deployment
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger, TargetRecord, TargetState
from bulk_deployer.deployers.greengrass_v2.validation import validate_bytes, validate_path
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.ledger_model import FileState, LedgerFile
from bulk_deployer.validation import ValidationResult

from bulk_deployer_cli.lookup import find_file
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, CliError, Output
from bulk_deployer_cli.stack import STARTER_FUNCTION_OUTPUT, Target
from bulk_deployer_cli.written import write_input

# Members of a GetDeployment answer that a line restates; the rest (ids, status, timestamps, the
# job) are the service's.
_RESTATED = ("components", "deploymentPolicies", "iotJobConfiguration", "deploymentName")
# The nucleus reports a core device's status when a deployment ends and at least once a day
# (fleet status service, periodicStatusPublishIntervalSeconds 86,400 by default): a device silent
# for longer is probably offline.
DEFAULT_OFFLINE_HOURS = 25.0
DEFAULT_MAX_DEVICES = 200  # devices plan asks about (two calls each), per file
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


# -- lines from deployments (make-input, rollback-input) ------------------------------------------


def line_from_deployment(target_arn: str, deployment: Mapping[str, Any] | None) -> dict[str, Any]:
    """The input-file line that deploys again what ``deployment`` (a GetDeployment answer) deploys
    to the target: its components, policies, job configuration and name, and its tags but ours
    (each deployment's token tags are the start's own) and AWS's. REPLACE (the default): the
    target ends with exactly these components."""
    line: dict[str, Any] = {"targetArn": target_arn, "components": {}}
    for name in _RESTATED:
        value = (deployment or {}).get(name)
        if value not in (None, {}, ""):
            line[name] = copy.deepcopy(value)
    tags = {
        str(k): str(v)
        for k, v in dict((deployment or {}).get("tags") or {}).items()
        if str(k).lower() not in RESERVED_TAG_KEYS and not str(k).lower().startswith("aws:")
    }
    if tags:
        line["tags"] = tags
    return line


@dataclass(frozen=True)
class ComponentEdits:
    """make-input's ``--set NAME=VERSION``, ``--add NAME=VERSION`` and ``--remove NAME``."""

    set_versions: Mapping[str, str] = field(default_factory=dict)
    add: Mapping[str, str] = field(default_factory=dict)
    remove: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, sets: Sequence[str], adds: Sequence[str], removes: Sequence[str]) -> ComponentEdits:
        edits = cls(_versions("--set", sets), _versions("--add", adds), frozenset(removes))
        named = [*edits.set_versions, *edits.add, *edits.remove]
        twice = sorted({n for n in named if named.count(n) > 1})
        if twice:
            raise CliError(f"{', '.join(twice)}: named by more than one of --set, --add, --remove")
        return edits

    def apply(self, components: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The components edited, and what changed, in words."""
        edited = copy.deepcopy(dict(components))
        changes: list[str] = []
        for name, version in self.set_versions.items():
            if name in edited and edited[name].get("componentVersion") != version:
                changes.append(f"{name} {edited[name].get('componentVersion')} → {version}")
                edited[name]["componentVersion"] = version
        for name, version in self.add.items():
            if name not in edited:
                changes.append(f"+ {name} {version}")
                edited[name] = {"componentVersion": version}
            elif edited[name].get("componentVersion") != version:
                changes.append(f"{name} {edited[name].get('componentVersion')} → {version}")
                edited[name]["componentVersion"] = version
        for name in sorted(self.remove):
            if name in edited:
                changes.append(f"- {name} {edited.pop(name).get('componentVersion')}")
        return edited, changes

    def unused(self, seen: Iterable[Mapping[str, Any]]) -> list[str]:
        """``--set`` and ``--remove`` names that no chosen target deploys (a typo, most likely)."""
        present = {name for components in seen for name in components}
        return sorted(n for n in [*self.set_versions, *self.remove] if n not in present)


def _versions(flag: str, values: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        name, sep, version = value.partition("=")
        if not sep or not name or not version:
            raise CliError(f"{flag} {value!r}: expected COMPONENT=VERSION")
        found[name] = version
    return found


@dataclass(frozen=True)
class TargetChoice:
    """Which targets make-input writes: named ones, or among the deployed ones by name or all."""

    thing_groups: Sequence[str] = ()
    things: Sequence[str] = ()
    name_regex: re.Pattern[str] | None = None
    everything: bool = False

    def any(self) -> bool:
        return bool(self.thing_groups or self.things or self.name_regex or self.everything)


def make_input(
    fleet: V2Fleet, stack: V2Stack, choice: TargetChoice, edits: ComponentEdits
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, str]]]:
    """The lines (one per chosen target, from its current deployment, edited), what each changed,
    and the targets left out with why."""
    chosen: dict[str, dict[str, Any] | None] = {}
    for kind, names in (("thinggroup", choice.thing_groups), ("thing", choice.things)):
        for name in names:
            arn = stack.arn(kind, name)
            if not fleet.exists(arn):
                raise CliError(
                    f"no {'thing group' if kind == 'thinggroup' else 'thing'} {name!r} in this account"
                )
            chosen[arn] = fleet.current(arn)
    if choice.name_regex or choice.everything:
        for arn, deployment_id in fleet.deployed_targets():
            name = parse_target(arn).name if TARGET_ARN.fullmatch(arn) else arn
            if arn not in chosen and (
                choice.everything or (choice.name_regex and choice.name_regex.search(name))
            ):
                chosen[arn] = fleet.describe(deployment_id)
    left_out: list[dict[str, str]] = []
    lines, written = [], []
    currents = [dict((d or {}).get("components") or {}) for d in chosen.values()]
    unused = edits.unused(currents)
    if unused:
        raise CliError(
            f"no chosen target deploys {', '.join(unused)} (to add a component: --add NAME=VERSION)"
        )
    for arn, deployment in chosen.items():
        if not stack.allows(arn):
            left_out.append({"target": arn, "reason": "not in this stack's deployable targets"})
            continue
        line = line_from_deployment(arn, deployment)
        line["components"], changes = edits.apply(line["components"])
        if deployment is None and not line["components"]:
            left_out.append({"target": arn, "reason": "no current deployment and nothing added (--add)"})
            continue
        lines.append(line)
        written.append(
            {
                "target": arn,
                "current_deployment": (deployment or {}).get("deploymentId"),
                "components": {n: c.get("componentVersion") for n, c in line["components"].items()},
                "changes": changes,
            }
        )
    if not lines and not left_out:
        raise CliError("no target chosen: no deployed target matches")
    return lines, written, left_out


def file_body(lines: Iterable[Mapping[str, Any]]) -> bytes:
    return "".join(
        json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines
    ).encode()


# -- plan ---------------------------------------------------------------------------------------


def component_changes(
    line: Mapping[str, Any], current: Mapping[str, Any] | None
) -> dict[str, list[dict[str, Any]]]:
    """What a line does to its target's components, given its current deployment: the request
    the starter would send (``plan_target``: MERGE overlays, REPLACE removes what it omits)."""
    # Tokens and tags play no part in the components: placeholders of the right shape.
    placeholder = "0" * 64
    plan = plan_target(line, current, file_token=placeholder, target_token=placeholder, file_tags={})
    before: dict[str, Any] = dict((current or {}).get("components") or {})
    after: dict[str, Any] = plan.request["components"]
    added, changed, unchanged = [], [], []
    for name, spec in after.items():
        old = before.get(name)
        version = spec.get("componentVersion")
        if old is None:
            added.append({"name": name, "version": version})
            continue
        configuration = _options(spec) != _options(old)
        if old.get("componentVersion") != version or configuration:
            changed.append(
                {
                    "name": name,
                    "from": old.get("componentVersion"),
                    "to": version,
                    "configuration_changed": configuration,
                }
            )
        else:
            unchanged.append({"name": name, "version": version})
    removed = [{"name": n, "version": before[n].get("componentVersion")} for n in plan.removed_components]
    return {"added": added, "changed": changed, "removed": removed, "unchanged": unchanged}


def _options(spec: Mapping[str, Any]) -> Any:
    """A component's configuration update and runWith, with a ``merge`` string read as JSON (the
    API keeps it as given: spacing is no change)."""
    update = dict(spec.get("configurationUpdate") or {})
    if isinstance(update.get("merge"), str):
        with contextlib.suppress(ValueError):
            update["merge"] = json.loads(update["merge"])
    return (update, spec.get("runWith") or {})


@dataclass
class DeviceLook:
    """What plan found out about one device: its status, and the other targets it gets."""

    thing_name: str
    status: str | None
    last_status_at: float | None
    other_targets: set[str]


def offline_reason(look: DeviceLook, now: float, offline_hours: float) -> str | None:
    """Why a device will probably not take the deployment soon, or None."""
    if look.status is None:
        return "not a Greengrass core device (never connected)"
    if look.last_status_at is not None and now - look.last_status_at > offline_hours * 3600:
        hours = (now - look.last_status_at) / 3600
        return f"no status for {hours:.0f} h (probably offline)"
    if look.status == "UNHEALTHY":
        return "UNHEALTHY (a component is broken)"
    return None


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def plan_file(
    fleet: V2Fleet,
    lines: Sequence[tuple[int, dict[str, Any]]],
    validation: ValidationResult,
    *,
    now: float,
    offline_hours: float = DEFAULT_OFFLINE_HOURS,
    max_devices: int = DEFAULT_MAX_DEVICES,
) -> dict[str, Any]:
    """Per target: the component changes, problems (what the starter or Greengrass would refuse)
    and warnings (removals, offline devices, devices that also get other targets' deployments)."""
    errors: dict[int | None, list[str]] = {}
    for error in validation.errors:
        errors.setdefault(error.line, []).append(f"{error.code}: {error.message}")
    rows: list[dict[str, Any]] = []
    members: dict[str, list[str]] = {}
    budget = max_devices
    for number, line in lines:
        row, names = _plan_target(fleet, number, line, errors.get(number, []), budget)
        budget -= len(names)
        rows.append(row)
        members[row["target"]] = names
    # A device in several targets of the file, or already running another target's deployment,
    # runs the union of their components.
    in_file: dict[str, set[str]] = {}
    for arn, names in members.items():
        for name in names:
            in_file.setdefault(name, set()).add(arn)
    targeted = {row["target"]: row["line"] for row in rows}
    for row in rows:
        _device_warnings(fleet, row, members[row["target"]], in_file, targeted, now, offline_hours)
    problems = sum(1 for r in rows if r["problems"]) + len(errors.get(None, []))
    return {
        "valid": validation.valid,
        "file_errors": errors.get(None, []),
        "targets": rows,
        "problems": problems,
        "removals": sum(len(r["removed"]) for r in rows),
        "warnings": sum(len(r["warnings"]) for r in rows),
    }


def _plan_target(
    fleet: V2Fleet, number: int, line: Mapping[str, Any], problems: list[str], budget: int
) -> tuple[dict[str, Any], list[str]]:
    """One line's row (changes, problems, removal warning) and the devices it reaches (at most
    ``budget`` of them are listed)."""
    arn = str(line.get("targetArn", ""))
    row: dict[str, Any] = {
        "line": number,
        "target": arn,
        "mode": None,
        "current_deployment": None,
        "added": [],
        "changed": [],
        "removed": [],
        "unchanged": 0,
        "devices": None,
        "problems": list(problems),
        "warnings": [],
        "offline": [],
        "overlapping": [],
    }
    if row["problems"] or not TARGET_ARN.fullmatch(arn):
        return row, []
    target = parse_target(arn)
    if not fleet.exists(arn):
        kind = "thing group" if target.is_group else "thing"
        row["problems"].append(f"the {kind} does not exist: Greengrass would refuse it")
        return row, []
    current = fleet.current(arn)
    row["current_deployment"] = (current or {}).get("deploymentId")
    row["mode"] = update_mode(line).value
    changes = component_changes(line, current)
    row.update({k: changes[k] for k in ("added", "changed", "removed")})
    row["unchanged"] = len(changes["unchanged"])
    if changes["removed"]:
        names = ", ".join(f"{c['name']} {c['version']}" for c in changes["removed"])
        row["warnings"].append(
            f"REMOVES {names}: REPLACE uninstalls every component the line omits "
            '(keep them, or write "updateMode": "MERGE")'
        )
    devices, more = fleet.members(target.name, max(budget, 0)) if target.is_group else ([target.name], False)
    row["devices"] = len(devices)
    if more or budget <= 0:
        row["warnings"].append(f"devices: only the first {len(devices)} checked (--max-devices)")
    return row, devices


def _device_warnings(
    fleet: V2Fleet,
    row: dict[str, Any],
    devices: Sequence[str],
    in_file: Mapping[str, set[str]],
    targeted: Mapping[str, int],
    now: float,
    offline_hours: float,
) -> None:
    """The row's devices that will probably not take it soon, and those that run a union."""
    offline, overlapping = row["offline"], row["overlapping"]
    for name in devices:
        device = fleet.core_device(name)
        look = DeviceLook(
            name,
            None if device is None else str(device.get("status")),
            None if device is None else _epoch(device.get("lastStatusUpdateTimestamp")),
            fleet.effective_targets(name) if device is not None else set(),
        )
        reason = offline_reason(look, now, offline_hours)
        if reason:
            offline.append({"thing_name": name, "reason": reason})
        others = sorted((look.other_targets | in_file.get(name, set())) - {row["target"]})
        if others:
            also = [{"target": other, "line": targeted.get(other)} for other in others]
            overlapping.append({"thing_name": name, "also": also})
    if offline:
        row["warnings"].append(
            f"{len(offline)} device(s) may not take it soon: "
            + "; ".join(f"{d['thing_name']}: {d['reason']}" for d in offline[:5])
        )
    if overlapping:
        row["warnings"].append(
            f"{len(overlapping)} device(s) also get other targets' deployments and run the union: "
            + "; ".join(
                f"{d['thing_name']} also in "
                + ", ".join(_target_text(a["target"], a["line"]) for a in d["also"])
                for d in overlapping[:5]
            )
        )


def _target_text(arn: str, line: int | None) -> str:
    name = arn.rsplit(":", 1)[-1]
    return f"{name} (line {line})" if line else f"{name} (deployed, not in this file)"


def plan_text(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for error in data["file_errors"]:
        lines.append(f"file: {error}")
    for row in data["targets"]:
        name = row["target"].rsplit(":", 1)[-1] or "-"
        head = f"line {row['line']}: {name}"
        if row["mode"]:
            current = row["current_deployment"] or "none"
            devices = f", {row['devices']} device(s)" if row["devices"] is not None else ""
            head += f" ({row['mode']}; current deployment {current}{devices})"
        lines.append(head)
        lines += [f"  + {c['name']} {c['version']}" for c in row["added"]]
        for c in row["changed"]:
            version = f"{c['from']} → {c['to']}" if c["from"] != c["to"] else f"{c['to']}"
            lines.append(
                f"  ~ {c['name']} {version}"
                + (" (configuration changed)" if c["configuration_changed"] else "")
            )
        lines += [f"  - {c['name']} {c['version']}  REMOVED" for c in row["removed"]]
        if row["unchanged"]:
            lines.append(f"  = {row['unchanged']} unchanged")
        lines += [f"  ✗ {p}" for p in row["problems"]]
        lines += [f"  ! {w}" for w in row["warnings"]]
    lines.append(
        f"{len(data['targets'])} target(s): {data['problems']} problem(s), "
        f"{data['removals']} removal(s), {data['warnings']} warning(s)"
    )
    return "\n".join(lines)


def read_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The file's JSON-object lines, numbered (lines that are not are the validator's to report)."""
    found = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append((number, value))
    return found


# -- rollback-input -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RolledTarget:
    """One target of a finished file: what it ran before the file (None: nothing), and now."""

    record: TargetRecord
    replaced: Mapping[str, Any] | None
    latest_deployment_id: str | None


def rollback_lines(
    targets: Iterable[RolledTarget],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The lines that deploy again each target's replaced deployment, what each rolls back, and
    the targets left out with why. A target that had no deployment before the file is left out:
    rolling it back would be an empty REPLACE deployment, which uninstalls every component; write
    ``{"targetArn": ..., "components": {}}`` yourself if that is what you want."""
    lines, rolled, left_out = [], [], []
    for target in targets:
        record = target.record
        arn = record.target_arn
        if record.state is TargetState.REFUSED:
            left_out.append(
                {"target": arn, "reason": f"refused at start ({record.error_code}): nothing was deployed"}
            )
            continue
        if record.deployment_id is None:
            left_out.append({"target": arn, "reason": "never started: nothing was deployed"})
            continue
        if target.replaced is None:
            left_out.append(
                {
                    "target": arn,
                    "reason": "it had no deployment before this file: nothing to go back to "
                    '(an empty REPLACE line, "components": {}, would uninstall everything)',
                }
            )
            continue
        line = line_from_deployment(arn, target.replaced)
        lines.append(line)
        rolled.append(
            {
                "target": arn,
                "redeploys": target.replaced.get("deploymentId"),
                "replaces": record.deployment_id,
                "components": {n: c.get("componentVersion") for n, c in line["components"].items()},
                "deployed_since": target.latest_deployment_id not in (None, record.deployment_id),
            }
        )
    return lines, rolled, left_out


class FileTargets:
    """A V2 file's per-target records (the ledger table) and the deployments they replaced (S3)."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._ledger = TargetLedger(TableAccess(target.client("dynamodb"), target.resources.table))

    def records(self, file_token: str) -> list[TargetRecord]:
        head = self._ledger.head(file_token)
        if head is None:
            return []
        return [r for _, r in sorted(self._ledger.records(file_token, head.count).items())]

    def replaced(self, file_token: str, index: int) -> dict[str, Any] | None:
        key = FileKeys(self._target.resources.reports_prefix, file_token).replaced(index)
        try:
            body = self._target.client("s3").get_object(Bucket=self._target.resources.bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise CliError(
                    f"s3://{self._target.resources.bucket}/{key} is missing: cannot roll back"
                ) from None
            raise
        found: dict[str, Any] | None = json.loads(body.read())
        return found


def rollback_targets(target: Target, file: LedgerFile) -> list[RolledTarget]:
    if file.state is not FileState.FINISHED:
        raise CliError(f"{file.ref.key} is {file.state.value}: rollback needs its final report")
    stored = FileTargets(target)
    fleet = V2Fleet.of(target)
    found = []
    for record in stored.records(file.token):
        started = record.state is TargetState.STARTED and record.deployment_id is not None
        replaced = stored.replaced(file.token, record.index) if started else None
        latest = (fleet.current(record.target_arn) or {}).get("deploymentId") if started else None
        found.append(RolledTarget(record, replaced, latest))
    return found


def summary_text(
    written: Sequence[Mapping[str, Any]], left_out: Sequence[Mapping[str, str]], noun: str
) -> str:
    lines = [f"{len(written)} target(s) {noun}"]
    for entry in written:
        name = str(entry["target"]).rsplit(":", 1)[-1]
        detail = ", ".join(entry.get("changes") or []) or ", ".join(
            f"{n} {v}" for n, v in dict(entry.get("components") or {}).items()
        )
        lines.append(f"  {name}: {detail or 'no components'}")
        if entry.get("deployed_since"):
            lines.append(f"    note: {name} was deployed again since this file")
    lines += [f"  left out {str(e['target']).rsplit(':', 1)[-1]}: {e['reason']}" for e in left_out]
    return "\n".join(lines)


# -- the commands on a V2 stack (authoring.py's run functions branch here) -----------------------


def _write_checked(
    out: Output,
    stack: V2Stack,
    lines: list[dict[str, Any]],
    path: Path | None,
    summary: dict[str, Any],
    human: str,
) -> None:
    body = file_body(lines)
    result = stack.validate_bytes(body)
    if not result.valid:
        error = result.errors[0]
        raise CliError(
            f"the file built is not valid for this stack (line {error.line}: {error.code}: {error.message}); "
            "nothing written"
        )
    write_input(out, body, path, summary, human)


def make_input_command(args: Any) -> int:
    target: Target = args.target
    try:
        pattern = re.compile(args.name_regex) if args.name_regex else None
    except re.error as exc:
        raise CliError(f"--name-regex: {exc}") from None
    choice = TargetChoice(tuple(args.thing_group), tuple(args.thing), pattern, bool(args.all))
    if args.group_id or args.version:
        raise CliError("--group-id and --version are for Greengrass V1 groups: use --thing-group or --thing")
    if not choice.any():
        raise CliError(
            "choose targets: --thing-group NAME, --thing NAME (repeatable), --name-regex REGEX or --all"
        )
    edits = ComponentEdits.parse(args.set, args.add, args.remove)
    stack = V2Stack.of(target)
    lines, written, left_out = make_input(V2Fleet.of(target), stack, choice, edits)
    if not lines:
        args.output_writer.note(summary_text(written, left_out, "to deploy"))
        raise CliError("no chosen target can be written: nothing to write")
    summary = {"targets": written, "left_out": left_out, "records": len(lines)}
    _write_checked(
        args.output_writer, stack, lines, args.save, summary, summary_text(written, left_out, "to deploy")
    )
    return EXIT_OK


def plan_command(args: Any) -> int:
    target: Target = args.target
    path: Path = args.file
    stack = V2Stack.of(target)
    validation = stack.validate_path(path)
    data = plan_file(
        V2Fleet.of(target),
        read_lines(path),
        validation,
        now=time.time(),
        offline_hours=args.offline_hours,
        max_devices=args.max_devices,
    )
    args.output_writer.result(data, plan_text)
    return EXIT_FAILED if data["problems"] or not data["valid"] else EXIT_OK


def rollback_command(args: Any) -> int:
    target: Target = args.target
    file = find_file(target, args.ref)
    lines, rolled, left_out = rollback_lines(rollback_targets(target, file))
    summary = {
        "token": file.token,
        "key": file.ref.key,
        "targets": rolled,
        "left_out": left_out,
        "records": len(lines),
    }
    human = summary_text(rolled, left_out, "to roll back")
    if not lines:
        args.output_writer.note(human)
        raise CliError("no target to roll back")
    _write_checked(args.output_writer, V2Stack.of(target), lines, args.save, summary, human)
    return EXIT_OK
