"""``plan`` on a V2 stack: what an input file would add, change and remove on each target, and
which devices will probably not take it soon, before it is uploaded.

Why: on V2 a line is a whole deployment to a target, and in REPLACE mode (the default) every
component it omits is uninstalled. Hand-writing one from memory is how a fleet loses a
component, so ``plan`` shows each line against what its target runs now (its current
deployment, as the starter reads it).

The functions here are pure over plain data (deployments as GetDeployment answers, lines as
dicts); the fleet they ask is ``V2Fleet`` (v2_fleet).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bulk_deployer.deployers.greengrass_v2.identity import parse_target
from bulk_deployer.deployers.greengrass_v2.plan import plan_target
from bulk_deployer.deployers.greengrass_v2.records import TARGET_ARN, update_mode
from bulk_deployer.validation import ValidationResult

from bulk_deployer_cli.outcome import numbered_objects
from bulk_deployer_cli.v2_fleet import V2Fleet, target_name

# The nucleus reports a core device's status when a deployment ends and at least once a day
# (fleet status service, periodicStatusPublishIntervalSeconds 86,400 by default): a device silent
# for longer is probably offline.
DEFAULT_OFFLINE_HOURS = 25.0
DEFAULT_MAX_DEVICES = 200  # devices plan asks about (two calls each), per file


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
    looks: dict[str, DeviceLook] = {}  # a device in several targets is asked about once
    for row in rows:
        _device_warnings(fleet, row, members[row["target"]], in_file, targeted, now, offline_hours, looks)
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
    if target.is_group:
        devices, more = fleet.members(target.name, max(budget, 0))
    else:
        devices, more = ([target.name], False) if budget > 0 else ([], True)
    row["devices"] = len(devices)
    if more:
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
    looks: dict[str, DeviceLook],
) -> None:
    """The row's devices that will probably not take it soon, and those that run a union."""
    offline, overlapping = row["offline"], row["overlapping"]
    for name in devices:
        if name not in looks:
            looks[name] = _look(fleet, name)
        look = looks[name]
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


def _look(fleet: V2Fleet, name: str) -> DeviceLook:
    device = fleet.core_device(name)
    return DeviceLook(
        name,
        None if device is None else str(device.get("status")),
        None if device is None else _epoch(device.get("lastStatusUpdateTimestamp")),
        fleet.effective_targets(name) if device is not None else set(),
    )


def _target_text(arn: str, line: int | None) -> str:
    name = target_name(arn)
    return f"{name} (line {line})" if line else f"{name} (deployed, not in this file)"


def plan_text(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for error in data["file_errors"]:
        lines.append(f"file: {error}")
    for row in data["targets"]:
        name = target_name(row["target"]) or "-"
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


def numbered_lines(body: bytes) -> list[tuple[int, dict[str, Any]]]:
    """The file's JSON-object lines, numbered as a file read as text numbers them (lines that are
    not objects are the validator's to report)."""
    return numbered_objects(io.StringIO(body.decode("utf-8", errors="replace"), newline=None))
