"""``submit --wait``: follow one file through the ledger and Greengrass until its outcome.

Registered → queued (position) → started (bulk deployment id) → running (records processed)
→ group deployments settling → final status and report. Reads only: the starter and the
tracker do the work; this loop never changes state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.ledger_model import FileState, LedgerFile

from bulk_deployer_cli.lookup import counts_key, file_summary
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
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


@dataclass
class WaitResult:
    exit_code: int
    outcome: str
    file: dict[str, Any] | None


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
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WaitResult:
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
                progress.stage(f"timed out after {timeout:g}s (the file is {state}); it carries on")
                summary = file_summary(file, target.report_rows) if file else None
                if devices is not None and file is not None and summary is not None:
                    summary["devices_not_succeeded"] = devices.name_devices(file)
                return WaitResult(EXIT_TIMEOUT, "timeout", summary)
            sleep(poll_seconds)
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
        say(f"started: bulk deployment {file.bulk_deployment_id}")
        if devices is not None:
            devices.step(file)
        else:
            _records(target, file, progress)
    elif state is FileState.REPORTING:
        if devices is not None:
            devices.step(file)
        interim = file.report_interim.counts if file.report_interim else {}
        counts = ", ".join(f"{k} {v}" for k, v in sorted(interim.items()))
        (progress.stage if devices is None else devices.stage)(
            f"bulk deployment {file.deployment_status}; {target.report_rows.member} settling"
            + (f" ({counts})" if counts else "")
        )
    elif state is FileState.FINISHED:
        if devices is not None:
            devices.step(file)  # each target's last line, before the outcome
        rows = target.report_rows
        summary = file_summary(file, rows)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(summary[counts_key(rows)].items()))
        progress.stage(
            f"finished: {summary['bulk_status']}; {rows.member}: {counts or 'none'}; report s3://"
            f"{file.ref.bucket}/{summary['report_key']}"
        )
        ok = succeeded(file, target.row_shape)
        if devices is not None and not ok:
            summary["devices_not_succeeded"] = devices.name_devices(file)
        return WaitResult(EXIT_OK if ok else EXIT_FAILED, "succeeded" if ok else "failed", summary)
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
    if total:
        progress.records(done, total, f"records processed ({status.status})")
