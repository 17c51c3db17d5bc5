"""Steering the queue: ``queue``, ``pause``, ``resume``, ``cancel``, ``stop``.

Why the CLI may dispatch: after ``resume`` an operator wants to see the next file start now,
not at the tracker's next run. It calls the same ``Dispatcher`` the functions use (the slot
makes concurrent dispatchers safe); if the caller may not start bulk deployments, the
tracker starts the file within its schedule period anyway.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from botocore.exceptions import ClientError

from bulk_deployer.cli.errors import describe
from bulk_deployer.cli.lookup import file_summary, find_file
from bulk_deployer.cli.output import EXIT_FAILED, EXIT_OK, CliError, table
from bulk_deployer.cli.stack import Target
from bulk_deployer.ledger_model import FileState, StaleTransition

_FAILED_TOKEN = re.compile(r"\(token ([0-9a-f]{64})\)")
_QUEUE_COLUMNS = ("position", "key", "state", "records", "registered_at", "token")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    queue = commands.add_parser(
        "queue",
        parents=[common],
        help="queued files in dispatch order; paused or not, and why",
        description="The files waiting to start, in the order they will start; whether dispatching is "
        "paused and why; what holds the deployment slot.",
    )
    queue.add_argument("--limit", type=int, default=100)
    queue.set_defaults(run=queue_command)

    pause = commands.add_parser(
        "pause",
        parents=[common],
        help="stop starting queued files (running ones go on)",
        description="Pause dispatching: queued files stay queued; a running bulk deployment goes on.",
    )
    pause.add_argument("--reason", default="", help="shown by `queue` and `doctor`")
    pause.set_defaults(run=pause_command)

    resume = commands.add_parser(
        "resume",
        parents=[common],
        help="resume dispatching; a START_FAILED file is retried first",
        description="Resume dispatching. If it was paused by a START_FAILED file, that file is put back "
        "at its place in line (first) with a fresh retry count, then the next file is dispatched.",
    )
    resume.add_argument("--skip-failed", action="store_true", help="leave START_FAILED files failed")
    resume.add_argument("--token", action="append", default=[], help="also retry this START_FAILED file")
    resume.add_argument("--no-dispatch", action="store_true", help="leave the start to the tracker")
    resume.set_defaults(run=resume_command)

    cancel = commands.add_parser(
        "cancel",
        parents=[common],
        help="take a queued file out of the queue",
        description="Take a QUEUED file out of the queue (state CANCELLED). Started files cannot be "
        "cancelled: use `stop`.",
    )
    cancel.add_argument("ref", metavar="KEY|TOKEN")
    cancel.add_argument("--reason", default="cancelled by an operator")
    cancel.set_defaults(run=cancel_command)

    stop = commands.add_parser(
        "stop",
        parents=[common],
        help="stop a running bulk deployment",
        description="StopBulkDeployment. Group deployments already created go on; records not yet "
        "processed are not deployed. Queued files start next unless dispatching is paused.",
    )
    stop.add_argument("bulk_deployment_id")
    stop.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    stop.set_defaults(run=stop_command)


def queue_command(args: argparse.Namespace) -> int:
    target: Target = args.target
    waiting = target.ledger.waiting(limit=args.limit)
    slot = target.slot.get()
    rows = []
    for position, file in enumerate(waiting, start=1):
        summary = file_summary(file)
        rows.append(
            {
                "position": position,
                **{k: summary[k] for k in ("key", "state", "records", "registered_at", "token")},
            }
        )
    data = {
        "paused": target.control.paused(),
        "slot": {"state": slot.state, "bulk_deployment_id": slot.bulk_deployment_id, "token": slot.token},
        "queued": rows,
    }
    args.output_writer.result(data, _queue_text)
    return EXIT_OK


def _queue_text(data: dict[str, Any]) -> str:
    lines = [f"dispatching: PAUSED — {data['paused']}" if data["paused"] else "dispatching: running"]
    slot = data["slot"]
    if slot["bulk_deployment_id"]:
        lines.append(f"slot: held by bulk deployment {slot['bulk_deployment_id']}")
    elif slot["state"]:
        lines.append(f"slot: {slot['state']}")
    lines.append(table(data["queued"], _QUEUE_COLUMNS, empty="queue: empty"))
    return "\n".join(lines)


def pause_command(args: argparse.Namespace) -> int:
    reason = f"paused by an operator{': ' + args.reason if args.reason else ''}"
    args.target.control.pause(reason)
    args.output_writer.result(
        {"paused": reason}, f"dispatching paused ({reason}); running bulk deployments go on"
    )
    return EXIT_OK


def resume_command(args: argparse.Namespace) -> int:
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
    if not args.no_dispatch:
        data["dispatch"] = _dispatch(target)
    args.output_writer.result(data, _resume_text)
    return EXIT_OK


def _dispatch(target: Target) -> dict[str, Any]:
    """One dispatch() like the functions do; errors are reported, not raised (the tracker retries)."""
    # Imported here: they load Powertools (logger, tracer, metrics), which only resume needs.
    from bulk_deployer.config import (  # noqa: PLC0415
        DEFAULT_SLOT_LEASE_SECONDS,
        DEFAULT_START_MAX_REFUSALS,
        DEFAULT_START_RETRY_BASE_SECONDS,
    )
    from bulk_deployer.dispatch import Dispatcher  # noqa: PLC0415
    from bulk_deployer.input_objects import InputObjectStore  # noqa: PLC0415
    from bulk_deployer.observability import logger  # noqa: PLC0415

    dispatcher = Dispatcher(
        target.ledger,
        target.slot,
        target.control,
        target.deployer,
        InputObjectStore(target.client("s3")),
        count=lambda _name, _value: None,
        lease_seconds=DEFAULT_SLOT_LEASE_SECONDS,
        max_rejections=DEFAULT_START_MAX_REFUSALS,
        retry_base_seconds=DEFAULT_START_RETRY_BASE_SECONDS,
        sleep=time.sleep,
    )
    level = logger.log_level
    logger.setLevel("CRITICAL")  # the CLI reports the outcome itself; no JSON logs on stdout
    try:
        outcome = dispatcher.dispatch()
    except (ClientError, StaleTransition) as exc:
        return {"result": "error", "detail": describe(exc)}
    finally:
        logger.setLevel(level)  # whatever happened: the logger is the process's, not the CLI's
    return {
        "result": outcome.result.value,
        "token": outcome.token,
        "bulk_deployment_id": outcome.bulk_deployment_id,
        "detail": outcome.detail,
    }


_DISPATCH_TEXT = {
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
    return "\n".join(lines)


def cancel_command(args: argparse.Namespace) -> int:
    target: Target = args.target
    file = find_file(target, args.ref)
    try:
        cancelled = target.ledger.cancel(file.token, reason=args.reason)
    except StaleTransition:
        current = target.ledger.get(file.token) or file
        hint = (
            " (use `stop` for a started bulk deployment)"
            if current.state in (FileState.STARTING, FileState.STARTED)
            else ""
        )
        args.output_writer.note(
            f"bulk-deployer: {current.ref.key} is {current.state.value}, not QUEUED{hint}"
        )
        args.output_writer.result({"cancelled": False, "file": file_summary(current)}, "")
        return EXIT_FAILED
    args.output_writer.result(
        {"cancelled": True, "file": file_summary(cancelled)},
        f"cancelled {cancelled.ref.key} ({cancelled.token})",
    )
    return EXIT_OK


def stop_command(args: argparse.Namespace) -> int:
    target: Target = args.target
    bulk_id = args.bulk_deployment_id
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("stop needs --yes when not run interactively")
        answer = input(f"Stop bulk deployment {bulk_id}? Groups not yet deployed will not be. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
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
