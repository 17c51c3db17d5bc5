"""Commands about input files: ``submit`` (and ``--wait``), ``status``, ``list``, ``report``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.contract import ReportFile
from bulk_deployer.ledger_model import FileState, LedgerFile
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.timefmt import iso_of
from bulk_deployer.token import client_token_for

from bulk_deployer_cli import offline
from bulk_deployer_cli.commands import INPUT_FILE, REF, WAIT, Command, at_least, limit, object_name, option
from bulk_deployer_cli.lookup import counts_key, file_summary, find_by_bulk_deployment, find_file
from bulk_deployer_cli.outcome import Problems, problem_lines, problems, report_key
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, CliError, Output, table
from bulk_deployer_cli.rows import RowShape
from bulk_deployer_cli.stack import Target
from bulk_deployer_cli.v2_fleet import validated
from bulk_deployer_cli.v2_follow import target_text
from bulk_deployer_cli.watch import follow, follow_again, progress_for, queue_position, succeeded

_LIST_COLUMNS = ("registered_at", "key", "state", "bulk_deployment_id", "bulk_status", "records")


# -- submit -----------------------------------------------------------------------------------


def default_key(path: Path, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = path.suffix or ".jsonl"
    return f"{path.stem}-{stamp}{suffix}"


def submit_command(args: argparse.Namespace) -> int:
    """validate an input file locally, upload it, optionally follow it to its outcome

    Validate FILE locally (an invalid file is refused: nothing is uploaded), upload it under the incoming
    prefix and print bucket, key, version id and client token (on a Greengrass V2 stack, FILE is checked
    with its starter's rules). --wait follows it (V2: each target's devices as they change): exit 0 when
    every group or device succeeded, 1 otherwise, 3 on --timeout (naming the devices not done).
    """
    out: Output = args.output_writer
    target: Target = args.target
    path: Path = args.file
    result = validated(target, path)
    if not result.valid:
        if args.json:
            out.result({"submitted": False, "validation": result.as_dict()}, "")
        else:
            out.result(None, offline.summary(path, result) + "\nnothing uploaded")
        return EXIT_FAILED
    prefix = target.resources.incoming_prefix
    name = args.key or default_key(path)
    key = name if name.startswith(prefix) else prefix + name
    bucket = target.resources.bucket
    with path.open("rb") as body:
        response = target.client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            ServerSideEncryption="AES256",
        )
    ref = ObjectRef(bucket, key, etag=str(response["ETag"]).strip('"'), version_id=response.get("VersionId"))
    token = client_token_for(ref)
    uploaded = {
        "submitted": True,
        "bucket": bucket,
        "key": key,
        "version_id": ref.version_id,
        "etag": ref.etag,
        "token": token,
        "records": result.records,
    }
    if not args.wait:
        out.result(uploaded, _uploaded_text)
        return EXIT_OK
    if not out.plain:
        print(_uploaded_text(uploaded), flush=True)
    waited = follow(
        target,
        token,
        timeout=args.timeout,
        poll_seconds=args.poll_seconds,
        progress=progress_for(args),
        again=follow_again(args, token),
    )
    if out.plain:
        out.result(
            {**uploaded, "outcome": waited.outcome, "file": waited.file, **(waited.problems or {})}, ""
        )
    return waited.exit_code


def _uploaded_text(data: dict[str, Any]) -> str:
    return (
        f"uploaded s3://{data['bucket']}/{data['key']} ({data['records']} record(s))\n"
        f"  version id:   {data['version_id'] or '-'}\n"
        f"  client token: {data['token']}"
    )


# -- status and list ------------------------------------------------------------------------------


def status_command(args: argparse.Namespace) -> int:
    """the ledger entry of a file and the live Greengrass status

    Show a file's ledger entry (by KEY, --token or --bulk-deployment-id) and, once started, the live
    status of its bulk deployment (on a Greengrass V2 stack: the status the tracker last recorded).
    --wait follows it like submit --wait (exit 0 every group or device succeeded, 1 otherwise, 3
    timeout).
    """
    target: Target = args.target
    file: LedgerFile | None
    if args.bulk_deployment_id:
        file = find_by_bulk_deployment(target, args.bulk_deployment_id)
        bulk_id: str | None = args.bulk_deployment_id
    elif args.token or args.key:
        file = find_file(target, args.token or args.key)
        bulk_id = file.bulk_deployment_id
    else:
        raise CliError("status needs KEY, --token or --bulk-deployment-id")
    if args.wait and file is not None:
        waited = follow(
            target,
            file.token,
            timeout=args.timeout,
            poll_seconds=args.poll_seconds,
            progress=progress_for(args),
            again=follow_again(args, file.token),
        )
        if args.output_writer.plain:
            args.output_writer.result(
                {"outcome": waited.outcome, "file": waited.file, **(waited.problems or {})}, ""
            )
        return waited.exit_code
    rows = target.report_rows
    data: dict[str, Any] = {"file": file_summary(file, rows) if file else None, "live": None}
    if file is not None and file.state in (FileState.QUEUED, FileState.STARTING):
        data["queue_position"] = queue_position(target, file.token)
        data["dispatch_paused"] = target.control.paused()
    if bulk_id and target.is_v1:  # a V2 file's deployments are the tracker's to settle (--wait reads them)
        data["live"] = _live(target, bulk_id)
    if file is not None and len(versions := _versions(target, file)) > 1:
        data["other_versions"] = versions[1:]
    args.output_writer.result(data, lambda shown: _status_text(shown, rows.noun))
    return EXIT_OK


def _live(target: Target, bulk_id: str) -> dict[str, Any]:
    try:
        status = target.deployer.status(bulk_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "BadRequestException":
            raise CliError(f"Greengrass knows no bulk deployment {bulk_id}") from None
        raise
    return {
        "bulk_deployment_id": bulk_id,
        "status": status.status,
        "created_at": status.created_at,
        "metrics": dict(status.metrics),
        "error_message": status.error_message,
        "tags": dict(status.tags),
    }


def _versions(target: Target, file: LedgerFile) -> list[dict[str, Any]]:
    return [
        {"token": f.token, "state": f.state.value, "registered_at": iso_of(f.registered_at)}
        for f in target.ledger.files_for_key(file.ref.bucket, file.ref.key, limit=5)
    ]


def _status_text(data: dict[str, Any], noun: str) -> str:
    lines: list[str] = []
    file = data["file"]
    if file is None:
        lines.append("no ledger entry (a bulk deployment this stack did not start?)")
    else:
        lines += [
            f"s3://{file['bucket']}/{file['key']}",
            f"  state:        {file['state']}",
            f"  token:        {file['token']}",
            f"  version id:   {file['version_id'] or '-'}",
            f"  records:      {file['records'] if file['records'] is not None else '-'}",
            f"  registered:   {file['registered_at']}",
        ]
        if "queue_position" in data:
            lines.append(f"  queue:        position {data['queue_position'] or '?'}")
            if data.get("dispatch_paused"):
                lines.append(f"  PAUSED:       {data['dispatch_paused']}")
        for label, name in (("started", "started_at"), ("finished", "finished_at"), ("error", "error")):
            if file.get(name):
                lines.append(f"  {label + ':':<13} {file[name]}")
        if counts := _counts_text(file[f"{noun}_counts"]):
            lines.append(f"  {noun + 's:':<13} {counts}")
        if file.get("report_key"):
            lines.append(f"  report:       s3://{file['bucket']}/{file['report_key']}")
    live = data.get("live")
    if file is not None and live is None and file["bulk_deployment_id"]:
        status = file["bulk_status"] or "-"
        lines.append(f"deployment {file['bulk_deployment_id']}: {status} (as the tracker last saw it)")
    if live:
        metrics = ", ".join(f"{k} {v}" for k, v in sorted(live["metrics"].items()))
        lines.append(
            f"bulk deployment {live['bulk_deployment_id']}: {live['status']} ({metrics or 'no metrics'})"
        )
        if live.get("error_message"):
            lines.append(f"  error: {live['error_message']}")
    for other in data.get("other_versions", []):
        lines.append(f"  older version: {other['token'][:12]}… {other['state']} {other['registered_at']}")
    return "\n".join(lines)


def list_command(args: argparse.Namespace) -> int:
    """recent files, newest first

    Recent files with outcome, bulk deployment id, status, records and the report's counts (per group
    status; per device status on a Greengrass V2 stack), newest first. Scans the ledger's file items
    (read cost grows with the table; for occasional use).
    """
    target: Target = args.target
    report_rows = target.report_rows
    files = [file_summary(f, report_rows) for f in target.ledger.recent_files(limit=args.limit)]
    for f in files:
        f[report_rows.member] = _counts_text(f[counts_key(report_rows)]) or None
    columns = (*_LIST_COLUMNS, report_rows.member)
    args.output_writer.result(files, lambda shown: table(shown, columns, empty="no files in the ledger"))
    return EXIT_OK


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


# -- report ---------------------------------------------------------------------------------------


def read_object(target: Target, key: str) -> bytes:
    try:
        body: bytes = target.client("s3").get_object(Bucket=target.resources.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise CliError(f"s3://{target.resources.bucket}/{key} does not exist (yet)") from None
        raise
    return body


def report_command(args: argparse.Namespace) -> int:
    """a file's outcome: per-status counts, and which lines and groups (or devices) did not succeed

    Summarize reports/<token>/ of a file (KEY or TOKEN): the rejection report, or the deployment report
    (counts per group status; failed groups with their line and error; records never deployed, with
    their line and group: invalid records, or the rest of a stopped deployment; on a Greengrass V2
    stack per device). Exit 1 when the file was rejected or did not fully succeed. --save PATH saves
    the report: PATH.csv gets groups.csv (devices.csv on V2), any other name report.json.
    """
    target: Target = args.target
    file = find_file(target, args.ref)
    if file.state is FileState.REJECTED:
        document = json.loads(read_object(target, str(file.report_key)))
        if args.save:
            _save(args.save, json.dumps(document, indent=2).encode())
        data = {"token": file.token, "key": file.ref.key, "outcome": "rejected", **document}
        args.output_writer.result(data, _rejected_text)
        return EXIT_FAILED
    if file.state not in (FileState.REPORTING, FileState.FINISHED):
        raise CliError(f"{file.ref.key} is {file.state.value}: there is no deployment report yet")
    shape = target.row_shape
    rows = shape.rows
    summary = file_summary(file, rows)
    final = file.state is FileState.FINISHED
    found = problems(target, file, shape, args.max_failed) if final else Problems()
    ok = not final or (succeeded(file, shape) and not found.any)
    interim = file.report_interim
    data = {
        **summary,
        "final": final,
        "succeeded": ok if final else None,
        **found.as_dict(rows.member),
        "still_in_progress": list(interim.still_in_progress) if interim and not final else [],
        "report": f"s3://{file.ref.bucket}/{report_key(target, file, ReportFile.REPORT)}",
        f"{rows.member}_csv": f"s3://{file.ref.bucket}/{report_key(target, file, rows.csv_name)}"
        if final
        else None,
    }
    wants_json = args.save is not None and args.save.suffix.lower() != ".csv"
    v2_final = final and not target.is_v1
    # report.json, read once: for a V2 file's targets and for --save
    report_json = (
        read_object(target, report_key(target, file, ReportFile.REPORT)) if v2_final or wants_json else b""
    )
    if v2_final:  # per target: its deployment, what it replaced and removed
        data["targets"] = json.loads(report_json).get("targets", [])
    if args.save:
        csv_key = report_key(target, file, rows.csv_name)
        _save(args.save, report_json if wants_json else read_object(target, csv_key))
        data["saved"] = str(args.save)
    args.output_writer.result(data, lambda shown: _report_text(shown, shape, found))
    return EXIT_OK if ok else EXIT_FAILED


def _save(path: Path, body: bytes) -> None:
    try:
        path.write_bytes(body)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def _rejected_text(data: dict[str, Any]) -> str:
    lines = [f"{data['key']}: REJECTED, {data['error_count']} error(s) in {data['records']} record(s)"]
    lines += [f"  line {e['line'] or '-'}: {e['code']}: {e['message']}" for e in data.get("errors", [])]
    return "\n".join(lines)


def _report_text(data: dict[str, Any], shape: RowShape, found: Problems) -> str:
    rows = shape.rows
    counts = _counts_text(data[counts_key(rows)]) or f"no {rows.member}"
    lines = [
        f"{data['key']}: bulk deployment {data['bulk_deployment_id']} {data['bulk_status']}"
        + ("" if data["final"] else f" (interim: {rows.member} still settling)"),
        f"  {rows.member + ':':<9} {counts}",
        "  metrics:  " + (", ".join(f"{k} {v}" for k, v in sorted(data["bulk_metrics"].items())) or "-"),
    ]
    if data.get("error"):
        lines.append(f"  error:    {data['error']}")
    for summary in data.get("targets", []):
        lines.append(f"  target {target_text(summary)}")
    lines += [f"  {line}" for line in problem_lines(found, shape)]
    if data["final"] and not data["succeeded"] and not found.any:
        lines.append("  not every record was deployed (see the metrics)")
    if data["still_in_progress"]:
        lines.append(f"  still in progress: {len(data['still_in_progress'])} (sample)")
    lines.append(f"  report:   {data['report']}")
    if data.get("saved"):
        lines.append(f"  saved to: {data['saved']}")
    return "\n".join(lines)


# Registered by main; each command's help is its function's docstring.
COMMANDS = (
    Command(
        "submit",
        submit_command,
        options=(
            INPUT_FILE,
            option(
                "--key",
                type=object_name,
                metavar="NAME",
                help="object name under the incoming prefix (default: FILE's name + UTC time); no empty, "
                "'.' or '..' segment, e.g. --key release-42.jsonl",
            ),
            *WAIT,
        ),
    ),
    Command(
        "status",
        status_command,
        options=(
            option("key", nargs="?", help="object key (or name under the incoming prefix), e.g. fleet.jsonl"),
            option(
                "--token", metavar="TOKEN", help="the file's client token, e.g. --token 5fede2bf7a74...41c9d"
            ),
            option(
                "--bulk-deployment-id",
                metavar="ID",
                help="the file that started this bulk deployment, "
                "e.g. --bulk-deployment-id b6b77e5e-d58c-4915-8e95-46e0010576de",
            ),
            *WAIT,
        ),
    ),
    Command("list", list_command, options=(limit(20),)),
    Command(
        "report",
        report_command,
        options=(
            REF,
            option(
                "--save",
                type=Path,
                metavar="PATH",
                help="save the report (JSON, or CSV when the name ends .csv), e.g. --save groups.csv",
            ),
            option(
                "--max-failed",
                type=at_least(0),
                default=20,
                metavar="N",
                help="failed or undeployed groups or devices to name (default 20), e.g. --max-failed 100",
            ),
        ),
    ),
)
