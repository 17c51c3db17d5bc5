"""A V2 file's targets and devices while ``submit --wait`` follows it, and ``cancel`` of a running one.

Why: a V2 file is one deployment per target, each reaching many devices; "started" says nothing
an operator can act on. While it runs, each target gets a line when its devices' counts change
(from the target's record in the ledger, and, for a file of a few targets, its IoT job's counts:
two calls per poll, well inside the region's shared 30 requests a second); at the end the
devices that did not succeed are named. Reads only, except ``stop_file``, which stops the file
as the deployer does (``GreengrassV2Deployer.stop``: the head marked stopped, CancelDeployment
for every target still ACTIVE).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.deployers.greengrass_v2 import report
from bulk_deployer.deployers.greengrass_v2.follow import job_counts
from bulk_deployer.deployers.greengrass_v2.identity import FileKeys
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetRecord, TargetState
from bulk_deployer.ledger_model import LedgerFile

from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.progress import Progress
from bulk_deployer_cli.stack import Target
from bulk_deployer_cli.v2_authoring import FileTargets
from bulk_deployer_cli.v2_fleet import target_name

LIVE_TARGETS = 10  # a file of at most this many targets gets its running targets' job counts each poll
SHOWN_DEVICES = 20  # devices named at the end
_PENDING = frozenset({"QUEUED", "IN_PROGRESS", report.PENDING, report.ACTIVE, report.NOT_STARTED})


def device_tally(counts: Mapping[str, int]) -> dict[str, int]:
    """Device counts per status as succeeded, failed (anything terminal but SUCCEEDED) and pending
    (queued, in progress, or still so at the target's deadline)."""
    tally = {"succeeded": 0, "failed": 0, "pending": 0}
    for status, n in counts.items():
        key = "succeeded" if status == report.SUCCEEDED else "pending" if status in _PENDING else "failed"
        tally[key] += int(n)
    return tally


def tally_text(counts: Mapping[str, int]) -> str:
    tally = device_tally(counts)
    total = sum(tally.values())
    return f"{tally['succeeded']} succeeded, {tally['failed']} failed, {tally['pending']} pending of {total}"


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class V2Watch:
    """Prints a line per target (and one for the file's devices) when what it shows changes."""

    def __init__(
        self, target: Target, progress: Progress, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._target = target
        self._progress = progress
        self._clock = clock
        self._began = clock()
        self._shown: dict[str, str] = {}
        self._stored = FileTargets(target)

    def _show(self, key: str, text: str) -> None:
        if self._shown.get(key) != text:
            self._shown[key] = text
            self._progress.stage(f"  [{_elapsed(self._clock() - self._began)}] {text}")

    def stage(self, text: str) -> None:
        """A stage of the file, printed once however often the targets' lines come between."""
        if self._shown.get("stage") != text:
            self._shown["stage"] = text
            self._progress.stage(text)

    def step(self, file: LedgerFile) -> None:
        records = self._stored.records(file.token)
        live = len(records) <= LIVE_TARGETS
        counts = {record.index: self._counts(record, live) for record in records}
        for key, text in progress_lines(records, counts):
            self._show(key, text)

    def _counts(self, record: TargetRecord, live: bool) -> dict[str, int]:
        if record.settled or record.state is not TargetState.STARTED or not live or not record.iot_job_id:
            return dict(record.counts)
        try:
            return job_counts(self._target.client("iot"), record.iot_job_id)
        except ClientError:
            return dict(record.counts)  # the tracker's view is enough; the next poll asks again

    def not_succeeded(self, file: LedgerFile) -> list[dict[str, Any]]:
        """Devices that did not succeed (yet), by target: from each settled target's rows, and
        from a running target's job executions (one page)."""
        found: list[dict[str, Any]] = []
        keys = FileKeys(self._target.resources.reports_prefix, file.token)
        for record in self._stored.records(file.token):
            if record.state is TargetState.REFUSED:
                found.append(
                    {
                        "target": record.target_arn,
                        "thing_name": None,
                        "status": report.REFUSED,
                        "reason": record.error_message,
                    }
                )
            elif record.settled:
                rows = self._rows(keys.devices(record.index))
                not_ok = (row for row in rows if row.get("status") != report.SUCCEEDED)
                found += itertools.islice(not_ok, SHOWN_DEVICES - len(found))  # read no further
            elif record.iot_job_id:
                found += self._executions(record)
            if len(found) >= SHOWN_DEVICES:
                break
        return found[:SHOWN_DEVICES]

    def _rows(self, key: str) -> Iterator[dict[str, Any]]:
        """A settled target's device rows, streamed."""
        try:
            body = self._target.client("s3").get_object(Bucket=self._target.resources.bucket, Key=key)["Body"]
        except ClientError:
            return
        yield from (json.loads(line) for line in body.iter_lines() if line)

    def _executions(self, record: TargetRecord) -> list[dict[str, Any]]:
        try:
            answer = self._target.client("iot").list_job_executions_for_job(
                jobId=record.iot_job_id, maxResults=SHOWN_DEVICES
            )
        except ClientError:
            return []
        found = []
        for entry in answer.get("executionSummaries") or []:
            status = str((entry.get("jobExecutionSummary") or {}).get("status", ""))
            if status != report.SUCCEEDED:
                thing = str(entry.get("thingArn", "")).rsplit("/", 1)[-1]
                found.append(
                    {"target": record.target_arn, "thing_name": thing, "status": status, "reason": None}
                )
        return found

    def name_devices(self, file: LedgerFile) -> list[dict[str, Any]]:
        """The devices that did not succeed, each on a line; returned for --json."""
        devices = self.not_succeeded(file)
        for device in devices:
            reason = f": {device['reason']}" if device.get("reason") else ""
            thing = device.get("thing_name") or target_name(device["target"])
            self._progress.stage(f"  {device['status']} {thing} ({target_name(device['target'])}){reason}")
        return devices


def progress_lines(
    records: Sequence[TargetRecord], counts: Mapping[int, Mapping[str, int]]
) -> list[tuple[str, str]]:
    """What ``--wait`` shows of a file's targets, each line with the key it is repeated under:
    a line per target for a file of at most ``LIVE_TARGETS``, else one line for all of them
    (1,000 targets would be 1,000 lines); and one for the file's devices."""
    lines: list[tuple[str, str]] = []
    if len(records) <= LIVE_TARGETS:
        for r in records:
            lines.append((str(r.index), f"{target_name(r.target_arn)}: {_record_text(r, counts[r.index])}"))
    else:
        outcomes: dict[str, int] = {}
        for record in records:
            if record.settled:
                outcomes[str(record.outcome)] = outcomes.get(str(record.outcome), 0) + 1
        shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        settled = sum(outcomes.values())
        lines.append(
            ("targets", f"targets: {settled} of {len(records)} settled" + (f" ({shown})" if shown else ""))
        )
    total: dict[str, int] = {}
    for by_status in counts.values():
        for status, n in by_status.items():
            total[status] = total.get(status, 0) + n
    if total:
        lines.append(("devices", f"devices: {tally_text(total)}"))
    return lines


def target_text(summary: Mapping[str, Any]) -> str:
    """One target of a V2 report (``report.json``'s ``targets``): outcome, deployment, and what it
    replaced and removed (what ``rollback-input`` puts back)."""
    name = target_name(str(summary.get("target") or "-"))
    if summary.get("error_code"):
        return f"{name}: {summary.get('outcome')}: {summary['error_code']}: {summary.get('error_message')}"
    text = f"{name}: {summary.get('outcome') or 'not settled'}, deployment {summary.get('deployment_id')}"
    text += f", replaced {summary.get('replaced_deployment_id') or 'nothing'}"
    if summary.get("removed_components"):
        text += f", removed {', '.join(summary['removed_components'])}"
    return text


def _record_text(record: TargetRecord, counts: Mapping[str, int]) -> str:
    if record.state is TargetState.REFUSED:
        return f"refused: {record.error_code}: {record.error_message}"
    if record.state is TargetState.CREATING:
        return "starting"
    devices = tally_text(counts) if counts else "no device results yet"
    if record.settled:
        return f"{record.outcome} ({devices})"
    return f"running, deployment {record.deployment_id} ({devices})"


# -- cancel -----------------------------------------------------------------------------------------


def stop_file(target: Target, file: LedgerFile) -> list[dict[str, Any]]:
    """Stop a STARTED V2 file as the deployer stops one; the target deployments it cancelled."""
    # Imported here: the functions' graph loads Powertools, which only this command needs.
    from bulk_deployer.wiring import Clients, Effects, build_deployer  # noqa: PLC0415

    from bulk_deployer_cli.deployed import deployed_settings  # noqa: PLC0415

    if not file.bulk_deployment_id:
        raise CliError(f"{file.ref.key} has no deployment yet")
    clients = Clients(
        s3=target.client("s3"),
        dynamodb=target.client("dynamodb"),
        greengrass=None,
        sns=None,
        greengrassv2=target.client("greengrassv2"),
        iot=target.client("iot"),
    )
    settings = deployed_settings(target).settings
    effects = Effects(count=lambda _n, _v: None, seconds=lambda _n, _v: None)
    cancelled = set(build_deployer(clients, effects, settings).stop(file.bulk_deployment_id))
    return [
        {"target": r.target_arn, "deployment_id": r.deployment_id}
        for r in FileTargets(target).records(file.token)
        if r.deployment_id in cancelled
    ]
