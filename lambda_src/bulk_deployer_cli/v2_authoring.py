"""Greengrass V2 input files from the fleet: ``make-input``, ``plan`` and ``rollback-input`` on a V2 stack.

Why: on V2 a line is a whole deployment to a target, and in REPLACE mode (the default) every
component it omits is uninstalled. Hand-writing one from memory is how a fleet loses a
component. So these commands start from what each target runs now (its current deployment:
ListDeployments + GetDeployment, as the starter reads it), show what a file would add, change
and remove before it is uploaded, and write the file that puts back what a finished file
replaced (the copy the starter saved before creating each deployment). Every file they write
passes the stack's own validator (its starter's settings: account, region, allow-list).

Here: the lines from deployments (make-input), rollback-input, and the three commands' run
functions. The functions that build lines are pure over plain data (deployments as
GetDeployment answers, lines as dicts); the stack's rules and the fleet are v2_fleet's, the plan
is v2_plan's, and ``FileTargets`` reads a finished file's records and replaced deployments.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.deployers.greengrass_v2.identity import FileKeys, parse_target
from bulk_deployer.deployers.greengrass_v2.records import RESERVED_TAG_KEYS, TARGET_ARN
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger, TargetRecord, TargetState
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.ledger_model import FileState, LedgerFile

from bulk_deployer_cli.commands import assignments
from bulk_deployer_cli.lookup import find_file
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, CliError, Output
from bulk_deployer_cli.stack import Target
from bulk_deployer_cli.v2_fleet import V2Fleet, V2Stack, target_name
from bulk_deployer_cli.v2_plan import numbered_lines, plan_file, plan_text
from bulk_deployer_cli.written import write_checked

# Members of a GetDeployment answer that a line restates; the rest (ids, status, timestamps, the
# job) are the service's.
_RESTATED = ("components", "deploymentPolicies", "iotJobConfiguration", "deploymentName")


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


_COMPONENT_VERSION = "COMPONENT=VERSION"


@dataclass(frozen=True)
class ComponentEdits:
    """make-input's ``--set NAME=VERSION``, ``--add NAME=VERSION`` and ``--remove NAME``."""

    set_versions: Mapping[str, str] = field(default_factory=dict)
    add: Mapping[str, str] = field(default_factory=dict)
    remove: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, sets: Sequence[str], adds: Sequence[str], removes: Sequence[str]) -> ComponentEdits:
        edits = cls(
            assignments("--set", sets, _COMPONENT_VERSION),
            assignments("--add", adds, _COMPONENT_VERSION),
            frozenset(removes),
        )
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
        latest = fleet.latest_id(record.target_arn) if started else None
        found.append(RolledTarget(record, replaced, latest))
    return found


def summary_text(
    written: Sequence[Mapping[str, Any]], left_out: Sequence[Mapping[str, str]], noun: str
) -> str:
    lines = [f"{len(written)} target(s) {noun}"]
    for entry in written:
        name = target_name(str(entry["target"]))
        detail = ", ".join(entry.get("changes") or []) or ", ".join(
            f"{n} {v}" for n, v in dict(entry.get("components") or {}).items()
        )
        lines.append(f"  {name}: {detail or 'no components'}")
        if entry.get("deployed_since"):
            lines.append(f"    note: {name} was deployed again since this file")
    lines += [f"  left out {target_name(str(e['target']))}: {e['reason']}" for e in left_out]
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
    write_checked(out, body, stack.validate_bytes(body), path, summary, human)


def make_input_command(args: Any) -> int:
    target: Target = args.target
    choice = TargetChoice(tuple(args.thing_group), tuple(args.thing), args.name_regex, bool(args.all))
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
    try:
        body = path.read_bytes()  # read once: validated, then planned
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    data = plan_file(
        V2Fleet.of(target),
        numbered_lines(body),
        stack.validate_bytes(body),
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
