"""Commands that need no AWS: ``validate`` and ``inspect-event``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bulk_deployer.config import DEFAULT_STAGED_PREFIX
from bulk_deployer.deployers.greengrass_v1 import input_file_uri
from bulk_deployer.deployers.greengrass_v1.validation import validate_path
from bulk_deployer.events import KeySpelling, UnreadableMessage, parse_event, unwrap_sqs
from bulk_deployer.validation import ValidationResult

from bulk_deployer_cli.commands import INPUT_FILE, Command, option
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, CliError


def validated(path: Path) -> ValidationResult:
    try:
        return validate_path(path)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def validate_command(args: argparse.Namespace) -> int:
    """check an input file locally with the same rules as the starter

    Check a bulk deployment input file (JSON Lines) with the starter's rules.
    """
    path: Path = args.file
    result = validated(path)
    args.output_writer.result(result.as_dict(), lambda _data: summary(path, result))
    return EXIT_OK if result.valid else EXIT_FAILED


def summary(path: Path | str, result: ValidationResult) -> str:
    if result.valid:
        return f"{path}: valid, {result.records} record(s)"
    lines = [f"{path}: INVALID, {result.error_count} error(s) in {result.records} record(s)"]
    for error in result.errors:
        where = f"line {error.line}" if error.line is not None else "file"
        lines.append(f"  {where}: {error.code}: {error.message}")
    hidden = result.error_count - len(result.errors)
    if hidden:
        lines.append(f"  ... and {hidden} more")
    return "\n".join(lines)


def inspect_event(args: argparse.Namespace) -> int:
    """show the object references, tokens and URIs an event yields (offline)

    Read an event as delivered (SQS-wrapped or bare; EventBridge or classic S3) and print, for each object
    it names, the client token and the staged input file URI.
    """
    document = _read_json(args.file)
    bodies = unwrap_sqs(document)
    documents: list[Any] = []
    if bodies is None:
        documents.append(document)
    else:
        for index, body in enumerate(bodies):
            try:
                documents.append(json.loads(body))
            except (ValueError, RecursionError):
                raise CliError(f"SQS record {index} has a body that is not JSON") from None
    output = []
    for doc in documents:
        try:
            parsed = parse_event(doc)
        except UnreadableMessage as exc:
            raise CliError(f"{args.file} is not an S3 event the starter can read: {exc}") from None
        for obj in parsed.objects:
            ref = obj.ref
            region = ref.region or args.region or os.environ.get("AWS_REGION")
            if not region:
                raise CliError("the event names no region: pass --region or set AWS_REGION")
            spellings = [_spelling(s, region, args.staged_prefix) for s in obj.spellings]
            entry: dict[str, Any] = {
                "bucket": ref.bucket,
                "etag": ref.etag,
                "version_id": ref.version_id,
                "size": ref.size,
            }
            if obj.ambiguous:
                # Offline, nothing tells which spelling is real; the starter asks S3. Printing one
                # token would be printing a token the starter may not use.
                entry |= {"ambiguous_key": True, "note": _AMBIGUOUS_NOTE, "candidates": spellings}
            else:
                entry |= {k: v for k, v in spellings[0].items() if k != "spelling"}
            output.append(entry)
    args.output_writer.result(output, lambda data: json.dumps(data, indent=2, ensure_ascii=False))
    return EXIT_OK


_AMBIGUOUS_NOTE = (
    "EventBridge may or may not form-encode keys: the starter uses the candidate whose key holds an "
    "object with this ETag (and version) in S3, and that candidate's token"
)


def _spelling(spelling: KeySpelling, region: str, staged_prefix: str) -> dict[str, Any]:
    staged_key = f"{staged_prefix}{spelling.token}.jsonl"
    return {
        "key": spelling.ref.key,
        "spelling": "form-decoded" if spelling.form_decoded else "as delivered",
        "token": spelling.token,
        "input_file_uri": input_file_uri(spelling.ref.bucket, staged_key, region),
    }


def _read_json(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None
    except RecursionError:
        raise CliError(f"{path} is nested too deeply to be an event") from None


# Registered by main; each command's help is its function's docstring.
COMMANDS = (
    Command("validate", validate_command, options=(INPUT_FILE,), needs_target=False),
    Command(
        "inspect-event",
        inspect_event,
        options=(
            option("file", type=Path, help="a JSON file holding the event ('-' for stdin), e.g. event.json"),
            option(
                "--staged-prefix",
                default=DEFAULT_STAGED_PREFIX,
                metavar="PREFIX",
                help="prefix of staged copies (default: %(default)s), e.g. --staged-prefix staged/",
            ),
        ),
        needs_target=False,
    ),
)
