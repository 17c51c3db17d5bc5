"""``bulk-deployer``: the operator's command line (shares validator, token and event code).

Exit codes: 0 success (a valid file), 1 an invalid file, 2 a usage or I/O error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bulk_deployer import __version__
from bulk_deployer.config import DEFAULT_STAGED_PREFIX
from bulk_deployer.events import UnrecognizedMessage, parse_event, unwrap_sqs
from bulk_deployer.greengrass import input_file_uri
from bulk_deployer.token import client_token_for
from bulk_deployer.validation import ValidationResult, validate_path

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A one-line message for stderr, no traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CliError as exc:
        print(f"bulk-deployer: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulk-deployer",
        description="Exactly-once AWS IoT Greengrass bulk deployments from files dropped into S3.",
        epilog="Exit codes: 0 success, 1 invalid input file, 2 usage or I/O error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check an input file locally with the same rules as the starter",
        description="Check a bulk deployment input file (JSON Lines) with the starter's rules.",
    )
    validate.add_argument("file", type=Path, help="the input file")
    validate.add_argument("--json", action="store_true", help="print the result as JSON")
    validate.set_defaults(run=_validate)

    inspect = commands.add_parser(
        "inspect-event",
        help="show the object references, tokens and URIs an event yields (offline)",
        description="Read an event as delivered (SQS-wrapped or bare; EventBridge or classic S3) "
        "and print, for each object it names, the client token and the staged input file URI.",
    )
    inspect.add_argument("file", type=Path, help="a JSON file holding the event ('-' for stdin)")
    inspect.add_argument("--region", help="region for the URI when the event names none")
    inspect.add_argument(
        "--staged-prefix",
        default=DEFAULT_STAGED_PREFIX,
        help="prefix of staged copies (default: %(default)s)",
    )
    inspect.set_defaults(run=_inspect_event)
    return parser


def _validate(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        result = validate_path(path)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        print(_summary(path, result))
    return EXIT_OK if result.valid else EXIT_INVALID


def _summary(path: Path, result: ValidationResult) -> str:
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


def _inspect_event(args: argparse.Namespace) -> int:
    document = _read_json(args.file)
    bodies = unwrap_sqs(document)
    documents: list[Any] = []
    if bodies is None:
        documents.append(document)
    else:
        for index, body in enumerate(bodies):
            try:
                documents.append(json.loads(body))
            except ValueError:
                raise CliError(f"SQS record {index} has a body that is not JSON") from None
    output = []
    for doc in documents:
        try:
            parsed = parse_event(doc)
        except UnrecognizedMessage as exc:
            raise CliError(f"{args.file} is not an S3 event: {exc}") from None
        for obj in parsed.objects:
            ref = obj.ref
            region = ref.region or args.region or os.environ.get("AWS_REGION")
            if not region:
                raise CliError("the event names no region: pass --region or set AWS_REGION")
            token = client_token_for(ref)
            output.append(
                {
                    "bucket": ref.bucket,
                    "key": ref.key,
                    "etag": ref.etag,
                    "version_id": ref.version_id,
                    "size": ref.size,
                    "token": token,
                    "input_file_uri": input_file_uri(
                        ref.bucket, f"{args.staged_prefix}{token}.jsonl", region
                    ),
                }
            )
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return EXIT_OK


def _read_json(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
