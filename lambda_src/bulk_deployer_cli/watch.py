"""``submit --wait``: follow one file through the ledger and Greengrass until its outcome.

Registered → queued (position) → started (bulk deployment id) → running (records processed)
→ group deployments settling → final status and report. Reads only: the starter and the
tracker do the work; this loop never changes state.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.ledger_model import FileState, LedgerFile

from bulk_deployer_cli.lookup import counts_key, file_summary
from bulk_deployer_cli.outcome import problem_lines, problems
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, Interrupted
from bulk_deployer_cli.progress import Progress
from bulk_deployer_cli.rows import RowShape
from bulk_deployer_cli.stack import Target
from bulk_deployer_cli.v2_follow import V2Watch

_ENDED_BADLY = {
    FileState.REJECTED: "rejected: the starter found invalid lines",
    FileState.SUPERSEDED: "superseded: a newer version was uploaded to the same key (or it was deleted)",
    FileState.START_FAILED: "start failed: Greengrass refused it; dispatching is paused",
    FileState.CANCELLED: "cancelled by an operator",
}


def progress_for(args: argparse.Namespace) -> Progress:
    """A bar on a terminal, lines on a pipe, JSON lines with ``--output json`` (all on stderr)."""
    mode = "json" if args.output == "json" else "auto"
    return Progress(mode=mode, interval=float(getattr(args, "progress_seconds", 10.0)))


def follow_again(args: argparse.Namespace, token: str) -> str:
    """The command that follows the file again, with the connection options this one was given."""
    words = ["bulk-deployer"]
    for name in ("stack", "region", "profile", "endpoint_url"):
        value = getattr(args, name, None)
        if value:
            words += [f"--{name.replace('_', '-')}", str(value)]
    if getattr(args, "local", False):
        words.append("--local")
    words += ["status", "--token", token, "--wait"]
    return shlex.join(words)


@dataclass
class WaitResult:
    exit_code: int
    outcome: str
    file: dict[str, Any] | None
    problems: dict[str, Any] | None = None


def queue_position(target: Target, token: str) -> int | None:
    for index, waiting in enumerate(target.ledger.waiting(limit=1000), start=1):
        if waiting.token == token:
            return index
    return None


def succeeded(file: LedgerFile, shape: RowShape) -> bool:
    """Every group (or device) deployed: the deployment succeeded (V1: Completed, no invalid
    records) and every row of its report succeeded (V1: a group deployment Success per record)."""
    counts = dict(file.report_summary.counts) if file.report_summary else {}
    metrics = dict(file.deployment.metrics) if file.deployment else {}
    return int(metrics.get("InvalidInputRecords", 0)) == 0 and shape.all_succeeded(
        file.deployment_status, counts, file.records or 0
    )


def follow(
    target: Target,
    token: str,
    *,
    timeout: float,
    poll_seconds: float,
    progress: Progress,
    again: str = "",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WaitResult:
    """Poll until the file's outcome. Ctrl-C raises ``Interrupted`` with ``again``, the command
    that follows it again: the file carries on whether anyone watches it or not."""
    deadline = clock() + timeout
    # A V2 file's targets and devices, as they change (v2_follow).
    devices = None if target.is_v1 else V2Watch(target, progress, clock)
    try:
        while True:
            file = target.ledger.get(token)
            ended = _step(target, file, progress, devices)
            if ended is not None:
                return ended
            if clock() >= deadline:
                state = file.state.value if file else "not registered"
                progress.stage(
                    f"timed out after {timeout:g}s (the file is {state}); it carries on"
                    + (f": follow it again with `{again}`" if again else "")
                )
                summary = file_summary(file, target.report_rows) if file else None
                if devices is not None and file is not None and summary is not None:
                    summary["devices_not_succeeded"] = devices.name_devices(file)
                return WaitResult(EXIT_TIMEOUT, "timeout", summary)
            sleep(poll_seconds)
    except KeyboardInterrupt:
        raise Interrupted(again) from None
    finally:
        progress.close()


def _step(
    target: Target, file: LedgerFile | None, progress: Progress, devices: V2Watch | None = None
) -> WaitResult | None:
    if file is None:
        progress.stage("uploaded; waiting for the starter to register it")
        return None
    state = file.state
    if state is FileState.RECEIVED:
        progress.stage("registered; validating and staging")
    elif state in (FileState.QUEUED, FileState.STARTING):
        position = queue_position(target, file.token)
        paused = target.control.paused()
        where = f"position {position}" if position else "next"
        progress.stage(
            f"queued ({where} in the queue)" + (f"; dispatching is PAUSED: {paused}" if paused else "")
        )
    elif state is FileState.STARTED:
        # A V2 file's stage lines take turns with its targets' lines: each printed once.
        say = progress.stage if devices is None else devices.stage
        say(f"started: {target.deployment_noun} {file.bulk_deployment_id}")
        if devices is not None:
            devices.step(file)
        else:
            _records(target, file, progress)
    elif state is FileState.REPORTING:
        if devices is not None:
            devices.step(file)
        interim = file.report_interim.counts if file.report_interim else {}
        counts = ", ".join(f"{k} {v}" for k, v in sorted(interim.items()))
        _final_records(target, file, progress, counts)
        (progress.stage if devices is None else devices.stage)(
            f"{target.deployment_noun} {file.deployment_status}; {target.report_rows.member} settling"
            + (f" ({counts})" if counts else "")
        )
    elif state is FileState.FINISHED:
        return _finished(target, file, progress, devices)
    elif state in _ENDED_BADLY:
        summary = file_summary(file, target.report_rows)
        detail = summary.get("error") or ""
        progress.stage(_ENDED_BADLY[state] + (f": {detail}" if detail else ""))
        return WaitResult(EXIT_FAILED, state.value.lower(), summary)
    return None


def _records(target: Target, file: LedgerFile, progress: Progress) -> None:
    try:
        status = target.deployer.status(str(file.bulk_deployment_id))
    except ClientError:
        return  # the tracker's view in the ledger is enough; try again at the next poll
    total = file.records or 0
    done = int(status.metrics.get("RecordsProcessed", 0))
    progress.records(done, total, status.status)


def _finished(target: Target, file: LedgerFile, progress: Progress, devices: V2Watch | None) -> WaitResult:
    """The outcome line, then what did not succeed (by line and group; a V2 file's devices)."""
    if devices is not None:
        devices.step(file)  # each target's last line, before the outcome
    rows = target.report_rows
    summary = file_summary(file, rows)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary[counts_key(rows)].items()))
    _final_records(target, file, progress, counts)
    progress.stage(
        f"finished: {summary['bulk_status']}; {rows.member}: {counts or 'none'}; report s3://"
        f"{file.ref.bucket}/{summary['report_key']}"
    )
    ok = succeeded(file, target.row_shape)
    if ok:
        return WaitResult(EXIT_OK, "succeeded", summary)
    if devices is not None:  # a V2 file's devices, named once (the report's rows say the same)
        summary["devices_not_succeeded"] = devices.name_devices(file)
        return WaitResult(EXIT_FAILED, "failed", summary)
    return _failed(target, file, progress, summary)


def _final_records(target: Target, file: LedgerFile, progress: Progress, counts: str) -> None:
    """The bar at the deployment's end, as the tracker recorded it: a file may go from running to
    completed between two polls, and its bar must not stay where the last poll left it."""
    if not target.is_v1 or not file.records:
        return
    metrics = dict(file.deployment.metrics) if file.deployment else {}
    done = int(metrics.get("RecordsProcessed", 0))
    if file.deployment_status == target.row_shape.succeeded_status:
        done = max(done, file.records)
    groups = f"{target.report_rows.member}: {counts}" if counts else ""
    progress.records(done, file.records, file.deployment_status or "", groups)


def _failed(target: Target, file: LedgerFile, progress: Progress, summary: dict[str, Any]) -> WaitResult:
    """A finished file that did not fully succeed: say which lines and groups, and why."""
    shape = target.row_shape
    found = problems(target, file, shape, limit=20)
    lines = problem_lines(found, shape)
    if not lines:
        metrics = dict(file.deployment.metrics) if file.deployment else {}
        lines = [f"not every record was deployed (metrics: {metrics or '-'})"]
    for text in lines:
        progress.stage(text)
    return WaitResult(EXIT_FAILED, "failed", summary, found.as_dict(shape.rows.member))
