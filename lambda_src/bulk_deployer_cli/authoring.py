"""Writing and checking input files against the fleet: ``make-input``, ``plan``, ``rollback-input``.

Why: hand-written JSON lines are where bulk deployments go wrong; these commands build files
from the account's groups, show what a file would change before it is uploaded, and write
the file that undoes a finished one. Every file they write passes ``validate``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from bulk_deployer.deployers.greengrass_v1.report import REPORT_ROWS as GROUP_ROWS
from bulk_deployer.deployers.greengrass_v1.report import group_id_from_arn
from bulk_deployer.deployers.greengrass_v1.validation import validate_bytes
from bulk_deployer.ledger_model import FileState
from bulk_deployer.timefmt import epoch_of

from bulk_deployer_cli import offline, v2_authoring, v2_plan
from bulk_deployer_cli.commands import (
    HIDDEN,
    INPUT_FILE,
    REF,
    SAVE_FILE,
    Command,
    assignments,
    at_least,
    option,
    regex,
)
from bulk_deployer_cli.fleet import DEPLOY_ACTION, Groups, RolePolicies, record
from bulk_deployer_cli.lookup import find_file
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, CliError, Output, table
from bulk_deployer_cli.stack import Target
from bulk_deployer_cli.written import write_checked

_PLAN_COLUMNS = ("line", "group_id", "name", "current_version", "new_version", "change", "problem")


def _write_input(
    out: Output, lines: list[str], path: Path | None, summary: dict[str, Any], human: str
) -> None:
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    write_checked(out, body, validate_bytes(body), path, summary, human)


# -- make-input -------------------------------------------------------------------------------


def make_input_command(args: argparse.Namespace) -> int:
    """write an input file: V1 groups' latest versions, or V2 targets' current deployments, edited

    Greengrass V1: list the account's groups and write an input file with each chosen group's latest
    version (groups without a version are reported and left out). Greengrass V2: start from each chosen
    target's current deployment (--thing-group, --thing, or among the deployed targets --name-regex or
    --all) and change component versions (--set), add (--add) or remove (--remove) components.
    """
    target: Target = args.target
    if not target.is_v1:
        return v2_authoring.make_input_command(args)
    if not (args.group_id or args.name_regex or args.all or args.version):
        raise CliError("choose groups: --group-id ID (repeatable), --name-regex REGEX or --all")
    pattern: re.Pattern[str] | None = args.name_regex
    pins = assignments("--version", args.version, "GROUP_ID=VERSION_ID")
    wanted = set(args.group_id) | set(pins)
    chosen: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    seen: set[str] = set()
    matched = 0
    for group in Groups(target.client("greengrass")).all(page_size=args.page_size):
        group_id = str(group.get("Id"))
        seen.add(group_id)
        name = str(group.get("Name") or "")
        matched += bool(pattern and pattern.search(name))
        if not (args.all or group_id in wanted or (pattern and pattern.search(name))):
            continue
        version = pins.get(group_id) or group.get("LatestVersion")
        if not version:
            skipped.append({"group_id": group_id, "name": name, "reason": "the group has no version"})
            continue
        chosen.append(
            {"group_id": group_id, "name": name, "version_id": str(version), "pinned": group_id in pins}
        )
    unknown = sorted(wanted - seen)
    if unknown:
        raise CliError(f"no such group(s) in this account and region: {', '.join(unknown)}")
    if pattern is not None and not matched and not (args.all or wanted):
        raise CliError(
            f"no group matches {pattern.pattern} (of {len(seen)} group(s) in this account and region): "
            "nothing to write"
        )
    if not chosen:
        raise CliError("no chosen group has a version: nothing to write")
    summary = {"groups": chosen, "skipped": skipped, "records": len(chosen)}
    human = f"{len(chosen)} group(s)" + "".join(
        f"\n  left out {s['group_id']} ({s['name']}): {s['reason']}" for s in skipped
    )
    _write_input(
        args.output_writer,
        [record(str(c["group_id"]), str(c["version_id"])) for c in chosen],
        args.save,
        summary,
        human,
    )
    return EXIT_OK


# -- plan -----------------------------------------------------------------------------------------


def plan_command(args: argparse.Namespace) -> int:
    """dry run: what a file would change on which group or target, and what would fail

    Greengrass V1, for each line: the group's name, the version it last deployed → the version the file
    asks for; groups or versions that do not exist; groups the execution role may not deploy to.
    Greengrass V2, for each target: components added, changed and removed against its current
    deployment, targets the stack or Greengrass would refuse, devices probably offline, devices that
    also get other targets' deployments. Exit 1 if anything would fail or be refused (V2 removals and
    devices are warnings).
    """
    target: Target = args.target
    if not target.is_v1:
        return v2_authoring.plan_command(args)
    out: Output = args.output_writer
    path: Path = args.file
    result = offline.validated(path)
    if not result.valid:
        out.result(
            {"valid": False, "validation": result.as_dict(), "lines": []}, offline.summary(path, result)
        )
        return EXIT_FAILED
    groups = Groups(target.client("greengrass"))
    policies = RolePolicies(target.client("iam"), target.resources.execution_role_arn)
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                rows.append(_plan_line(groups, policies, number, json.loads(text)))
    problems = sum(1 for r in rows if r["problem"])
    data = {
        "valid": True,
        "lines": rows,
        "problems": problems,
        "changes": sum(1 for r in rows if r["change"] in ("new", "update")),
    }
    out.result(
        data,
        lambda d: (
            table(d["lines"], _PLAN_COLUMNS) + f"\n{d['changes']} change(s), {d['problems']} problem(s)"
        ),
    )
    return EXIT_FAILED if problems else EXIT_OK


def _plan_line(groups: Groups, policies: RolePolicies, number: int, line: dict[str, Any]) -> dict[str, Any]:
    group_id, version_id = str(line["GroupId"]), str(line["GroupVersionId"])
    row: dict[str, Any] = {
        "line": number,
        "group_id": group_id,
        "name": None,
        "current_version": None,
        "new_version": version_id,
        "change": None,
        "problem": None,
    }
    group = groups.get(group_id)
    if group is None:
        row["problem"] = "the group does not exist"
        return row
    row["name"] = group.get("Name")
    if not groups.version_exists(group_id, version_id):
        row["problem"] = "the version does not exist"
        return row
    current = groups.current_version(group_id)
    row["current_version"] = current
    row["change"] = "new" if current is None else ("none" if current == version_id else "update")
    arn = _group_arn(str(group.get("Arn") or ""), group_id)
    if arn and not policies.allows(DEPLOY_ACTION, arn):
        row["problem"] = "the execution role may not deploy this group (greengrass:CreateDeployment)"
    return row


def _group_arn(arn: str, group_id: str) -> str | None:
    """The resource IAM evaluates for CreateDeployment: ``arn:<p>:greengrass:<r>:<a>:/greengrass/groups/<id>``
    (rebuilt from the group's ARN, whose resource part stand-ins write differently)."""
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    return f"arn:{parts[1]}:greengrass:{parts[3]}:{parts[4]}:/greengrass/groups/{group_id}"


# -- rollback-input -------------------------------------------------------------------------------


def rollback_command(args: argparse.Namespace) -> int:
    """from a finished file, write the file that redeploys what it replaced

    Greengrass V1: for every group a finished file deployed successfully, the version the group had
    deployed before. Greengrass V2: for every target, the deployment the file replaced (as the starter
    saved it); a target that had none is left out. Submit the file written with `submit`.
    """
    target: Target = args.target
    if not target.is_v1:
        return v2_authoring.rollback_command(args)
    file = find_file(target, args.ref)
    if file.state is not FileState.FINISHED:
        raise CliError(f"{file.ref.key} is {file.state.value}: rollback needs its final report")
    key = f"{target.resources.reports_prefix}{file.token}/{GROUP_ROWS.csv_name}"
    body = target.client("s3").get_object(Bucket=target.resources.bucket, Key=key)["Body"]
    groups = Groups(target.client("greengrass"))
    lines, rolled, left_out = [], [], []
    for row in csv.DictReader(io.TextIOWrapper(body, encoding="utf-8")):
        if row.get("status") != "Success":
            continue
        group_id = row.get("group_id") or group_id_from_arn(row.get("group_arn") or "")
        entry = _previous(groups, group_id, row.get("deployment_id") or "")
        if "version_id" in entry:
            lines.append(record(group_id, entry["version_id"]))
            rolled.append(entry)
        else:
            left_out.append(entry)
    summary = {
        "token": file.token,
        "key": file.ref.key,
        "groups": rolled,
        "left_out": left_out,
        "records": len(lines),
    }
    human = (
        f"{len(lines)} group(s) to roll back"
        + "".join(f"\n  left out {e['group_id']}: {e['reason']}" for e in left_out)
        + "".join(
            f"\n  note: {e['group_id']} was deployed again since" for e in rolled if e.get("deployed_since")
        )
    )
    if not lines:
        args.output_writer.note(human)
        raise CliError("no group to roll back")
    _write_input(args.output_writer, lines, args.save, summary, human)
    return EXIT_OK


def _previous(groups: Groups, group_id: str, deployment_id: str) -> dict[str, Any]:
    history = groups.deployments(group_id)
    index = next((i for i, d in enumerate(history) if d.deployment_id == deployment_id), None)
    if index is None:
        return {"group_id": group_id, "reason": "its deployment is not in the group's history"}
    deployed = history[index]
    earlier = [d for d in history[:index] if d.version_id and epoch_of(d.created_at) is not None]
    if not earlier:
        return {"group_id": group_id, "reason": "no earlier deployment: nothing to go back to"}
    previous = earlier[-1]
    if previous.version_id == deployed.version_id:
        return {"group_id": group_id, "reason": "it already had that version before"}
    return {
        "group_id": group_id,
        "version_id": previous.version_id,
        "replaces_version": deployed.version_id,
        "deployed_since": len(history) > index + 1,
    }


# Registered by main; each command's help is its function's docstring.
COMMANDS = (
    Command(
        "make-input",
        make_input_command,
        options=(
            option(
                "--group-id",
                action="append",
                default=[],
                metavar="ID",
                help="V1: a group to include (repeatable), "
                "e.g. --group-id 8d8c0f1e-5f2d-4bcd-9a7e-0c4b1a7e2d11",
            ),
            option(
                "--thing-group",
                action="append",
                default=[],
                metavar="NAME",
                help="V2: a thing group to include (repeatable), e.g. --thing-group presses",
            ),
            option(
                "--thing",
                action="append",
                default=[],
                metavar="NAME",
                help="V2: a thing (core device) to include (repeatable), e.g. --thing press-7",
            ),
            option(
                "--name-regex",
                type=regex,
                metavar="REGEX",
                help="include groups (V2: deployed targets) whose name matches (re.search), "
                "e.g. --name-regex '^site-'",
            ),
            option(
                "--all",
                action="store_true",
                help="include every group (V2: every deployed target), e.g. --all",
            ),
            option(
                "--version",
                action="append",
                default=[],
                metavar="GROUP_ID=VERSION_ID",
                help="V1: pin a group's version (repeatable), "
                "e.g. --version 8d8c0f1e-5f2d-4bcd=3f1e2d4c-0b9a-4c8d",
            ),
            option(
                "--set",
                action="append",
                default=[],
                metavar="COMPONENT=VERSION",
                help="V2: change a component's version where a target deploys it (repeatable), "
                "e.g. --set com.example.App=1.3.0",
            ),
            option(
                "--add",
                action="append",
                default=[],
                metavar="COMPONENT=VERSION",
                help="V2: deploy this component too (repeatable), e.g. --add com.example.Agent=2.0.1",
            ),
            option(
                "--remove",
                action="append",
                default=[],
                metavar="COMPONENT",
                help="V2: stop deploying this component: it is uninstalled (repeatable), "
                "e.g. --remove com.example.Old",
            ),
            SAVE_FILE,
            option("--page-size", type=at_least(1), default=100, help=HIDDEN),
        ),
    ),
    Command(
        "plan",
        plan_command,
        options=(
            INPUT_FILE,
            option(
                "--offline-hours",
                type=float,
                default=v2_plan.DEFAULT_OFFLINE_HOURS,
                metavar="HOURS",
                help="V2: a device silent this long is probably offline (default %(default)s), "
                "e.g. --offline-hours 48",
            ),
            option(
                "--max-devices",
                type=at_least(1),
                default=v2_plan.DEFAULT_MAX_DEVICES,
                metavar="N",
                help="V2: devices to check, per file (two calls each; default %(default)s), "
                "e.g. --max-devices 500",
            ),
        ),
    ),
    Command("rollback-input", rollback_command, options=(REF, SAVE_FILE)),
)
