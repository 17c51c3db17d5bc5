"""Steering the queue: ``queue``, ``pause``, ``resume``, ``cancel``, ``stop``.

Why the CLI may dispatch: after ``resume`` an operator wants to see the next file start now,
not at the tracker's next run. It builds the dispatcher as the functions do, from the deployed
tracker's settings (``deployed.py``; the slot makes concurrent dispatchers safe); if the caller
may not start bulk deployments, the tracker starts the file within its schedule period anyway.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

import click
from botocore.exceptions import ClientError
from bulk_deployer.ledger_model import FileState, LedgerFile, StaleTransition
from bulk_deployer.slot import SlotState

from bulk_deployer_cli.commands import REF, Command, limit, option
from bulk_deployer_cli.lookup import file_summary, find_file
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, CliError, table
from bulk_deployer_cli.stack import Target
from bulk_deployer_cli.v2_follow import stop_file

_FAILED_TOKEN = re.compile(r"\(token ([0-9a-f]{64})\)")
_QUEUE_COLUMNS = ("position", "key", "state", "records", "registered_at", "token")


def queue_command(args: argparse.Namespace) -> int:
    """queued files in dispatch order; paused or not, and why

    The files waiting to start, in the order they will start; whether dispatching is paused and why; what
    holds the deployment slot.
    """
    target: Target = args.target
    waiting = target.ledger.waiting(limit=args.limit)
    slot = target.slot.get()
    rows = []
    for position, file in enumerate(waiting, start=1):
        summary = file_summary(file, target.report_rows)
        rows.append(
            {
                "position": position,
                **{k: summary[k] for k in ("key", "state", "records", "registered_at", "token")},
            }
        )
    held = [_holding(target, slot, token) for token in slot.tokens]
    first = held[0] if held else {"token": None, "bulk_deployment_id": None}
    data = {
        "paused": target.control.paused(),
        "slot": {"state": slot.state, **first, "held_by": held},
        "queued": rows,
    }
    args.output_writer.result(data, _queue_text)
    return EXIT_OK


def _holding(target: Target, slot: SlotState, token: str) -> dict[str, Any]:
    """A file whose deployment holds the slot, with its deployment's id."""
    if token == slot.legacy_token:
        return {"token": token, "bulk_deployment_id": slot.legacy_bulk_deployment_id}
    file = target.ledger.get(token)
    return {"token": token, "bulk_deployment_id": file.bulk_deployment_id if file else None}


def _queue_text(data: dict[str, Any]) -> str:
    lines = [f"dispatching: PAUSED — {data['paused']}" if data["paused"] else "dispatching: running"]
    slot = data["slot"]
    for holding in slot["held_by"]:
        deployment = holding["bulk_deployment_id"] or "?"
        lines.append(f"slot: held by bulk deployment {deployment} (file {holding['token']})")
    if not slot["held_by"] and slot["state"]:
        lines.append(f"slot: {slot['state']}")
    lines.append(table(data["queued"], _QUEUE_COLUMNS, empty="queue: empty"))
    return "\n".join(lines)


def pause_command(args: argparse.Namespace) -> int:
    """stop starting queued files (running ones go on)

    Pause dispatching: queued files stay queued; a running bulk deployment goes on.
    """
    reason = f"paused by an operator{': ' + args.reason if args.reason else ''}"
    args.target.control.pause(reason)
    args.output_writer.result(
        {"paused": reason}, f"dispatching paused ({reason}); running bulk deployments go on"
    )
    return EXIT_OK


def resume_command(args: argparse.Namespace) -> int:
    """resume dispatching; a START_FAILED file is retried first

    Resume dispatching. If it was paused by a START_FAILED file, that file is put back at its place in
    line (first) with a fresh retry count, then the next file is dispatched (on a Greengrass V2 stack
    the tracker starts it at its next run: the CLI starts no V2 deployments).
    """
    target: Target = args.target
    reason = target.control.paused()
    tokens = list(
        dict.fromkeys([*([] if args.skip_failed else _FAILED_TOKEN.findall(reason or "")), *args.token])
    )
    retried = []
    for token in tokens:
        try:
            retried.append(target.ledger.retry_start_failed(token).token)
        except StaleTransition:
            file = target.ledger.get(token)
            if token in args.token:
                raise CliError(
                    f"{token} is {file.state.value if file else 'unknown'}, not START_FAILED"
                ) from None
    target.control.resume()
    data: dict[str, Any] = {"was_paused": reason, "retried": retried, "dispatch": None}
    if not args.no_dispatch and target.is_v1:
        data["dispatch"] = _dispatch(target)
    elif not args.no_dispatch:
        data["dispatch"] = {"result": _LEFT_TO_THE_TRACKER, "detail": f"Greengrass {target.greengrass}"}
    args.output_writer.result(data, _resume_text)
    return EXIT_OK


def _dispatch(target: Target) -> dict[str, Any]:
    # Imported here: the functions' graph loads Powertools, which only resume needs.
    from bulk_deployer_cli.deployed import dispatch_once  # noqa: PLC0415

    return dispatch_once(target)


_LEFT_TO_THE_TRACKER = "left_to_the_tracker"
_DISPATCH_TEXT = {
    _LEFT_TO_THE_TRACKER: "left to the tracker, which starts the next file at its next run ({detail} stack)",
    "started": "started bulk deployment {id}",
    "recovered": "recorded bulk deployment {id}, started by an interrupted attempt",
    "slot_taken": "another dispatcher (the tracker) is starting the next file right now; see `queue`",
    "busy": "another bulk deployment is running ({detail}); the next file starts when it ends",
    "paused": "still paused ({detail})",
    "empty": "nothing is queued",
    "start_failed": "Greengrass refused the start again ({detail}); dispatching is paused",
    "error": "could not dispatch ({detail}); the tracker starts the next file within its schedule period",
}


def _resume_text(data: dict[str, Any]) -> str:
    lines = ["dispatching resumed" + ("" if data["was_paused"] else " (it was not paused)")]
    lines += [f"  retrying START_FAILED file {token}" for token in data["retried"]]
    dispatch = data["dispatch"]
    if dispatch:
        text = _DISPATCH_TEXT.get(dispatch["result"], dispatch["result"])
        lines.append(
            "  dispatch: " + text.format(id=dispatch.get("bulk_deployment_id"), detail=dispatch.get("detail"))
        )
        if dispatch.get("metrics_error"):
            lines.append(f"  metrics: not published ({dispatch['metrics_error']})")
    return "\n".join(lines)


def cancel_command(args: argparse.Namespace) -> int:
    """take a queued file out of the queue; on Greengrass V2, also stop a started one

    Take a QUEUED file out of the queue (state CANCELLED). On a Greengrass V1 stack a started file cannot
    be cancelled: use `stop`. On a Greengrass V2 stack a STARTED file's deployments still in flight are
    cancelled (CancelDeployment per target): devices that already applied it keep it (use
    `rollback-input` for them); the file then finishes CANCELED.
    """
    target: Target = args.target
    file = find_file(target, args.ref)
    try:
        cancelled = target.ledger.cancel(file.token, reason=args.reason)
    except StaleTransition:
        current = target.ledger.get(file.token) or file
        if not target.is_v1 and current.state is FileState.STARTED:
            return _stop_v2(args, current)
        hint = (
            " (use `stop` for a started bulk deployment)"
            if current.state in (FileState.STARTING, FileState.STARTED)
            else ""
        )
        args.output_writer.note(
            f"bulk-deployer: {current.ref.key} is {current.state.value}, not QUEUED{hint}"
        )
        args.output_writer.result({"cancelled": False, "file": file_summary(current, target.report_rows)}, "")
        return EXIT_FAILED
    args.output_writer.result(
        {"cancelled": True, "file": file_summary(cancelled, target.report_rows)},
        f"cancelled {cancelled.ref.key} ({cancelled.token})",
    )
    return EXIT_OK


def _stop_v2(args: argparse.Namespace, file: LedgerFile) -> int:
    target: Target = args.target
    stopped = stop_file(target, file)
    note = (
        "devices that already applied it keep it (a cancel undoes nothing: `rollback-input` writes the file "
        "that does); the file finishes CANCELED at the tracker's next run"
    )
    args.output_writer.result(
        {
            "cancelled": True,
            "stopped_deployments": stopped,
            "note": note,
            "file": file_summary(file, target.report_rows),
        },
        f"cancelled {len(stopped)} deployment(s) of {file.ref.key} still in flight"
        + "".join(f"\n  {s['target']}: {s['deployment_id']}" for s in stopped)
        + f"\n{note}",
    )
    return EXIT_OK


def stop_command(args: argparse.Namespace) -> int:
    """stop a running bulk deployment

    StopBulkDeployment. Group deployments already created go on; records not yet processed are not
    deployed. Queued files start next unless dispatching is paused.
    """
    target: Target = args.target
    bulk_id = args.bulk_deployment_id
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("stop needs --yes when not run interactively")
        question = f"Stop bulk deployment {bulk_id}? Groups not yet deployed will not be."
        if not click.confirm(question, default=False, err=True):
            args.output_writer.result({"stopped": False}, "not stopped")
            return EXIT_FAILED
    try:
        target.client("greengrass").stop_bulk_deployment(BulkDeploymentId=bulk_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "BadRequestException":
            message = exc.response.get("Error", {}).get("Message", "")
            raise CliError(f"Greengrass refused to stop {bulk_id}: {message}") from None
        raise
    paused = target.control.paused()
    note = (
        "dispatching is paused: queued files wait for `resume`"
        if paused
        else "queued files will start next unless you `pause` first"
    )
    args.output_writer.result(
        {"stopped": True, "bulk_deployment_id": bulk_id, "dispatch_paused": paused, "note": note},
        f"stopping bulk deployment {bulk_id}; {note}",
    )
    return EXIT_OK


# Registered by main; each command's help is its function's docstring.
COMMANDS = (
    Command("queue", queue_command, options=(limit(100),)),
    Command(
        "pause",
        pause_command,
        options=(
            option(
                "--reason",
                default="",
                metavar="TEXT",
                help="shown by `queue` and `doctor`, e.g. --reason 'change freeze until Monday'",
            ),
        ),
    ),
    Command(
        "resume",
        resume_command,
        options=(
            option(
                "--skip-failed",
                action="store_true",
                help="leave START_FAILED files failed, e.g. --skip-failed",
            ),
            option(
                "--token",
                action="append",
                default=[],
                metavar="TOKEN",
                help="also retry this START_FAILED file (repeatable), e.g. --token 5fede2bf7a74...41c9d",
            ),
            option(
                "--no-dispatch",
                action="store_true",
                help="leave the start to the tracker, e.g. --no-dispatch",
            ),
        ),
    ),
    Command(
        "cancel",
        cancel_command,
        options=(
            REF,
            option(
                "--reason",
                default="cancelled by an operator",
                metavar="TEXT",
                help="kept in the ledger entry, e.g. --reason 'wrong versions'",
            ),
        ),
    ),
    Command(
        "stop",
        stop_command,
        options=(
            option(
                "bulk_deployment_id",
                metavar="BULK_DEPLOYMENT_ID",
                help="as `status` or `queue` shows it, e.g. b6b77e5e-d58c-4915-8e95-46e0010576de",
            ),
            option("--yes", action="store_true", help="do not ask for confirmation, e.g. --yes"),
        ),
        v1_only=True,
    ),
)
