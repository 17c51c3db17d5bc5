"""The bulk deployment input file rules, as the Greengrass V1 documentation states them.

Why a separate, pure module: the rules are the part of the emulator most worth getting exactly
right (the product's own validator is compared against it), and they need no AWS at all.
Wording of the messages is the documented wording; see docs/local.md for what is assumed.

Where the documentation is silent, the emulator is as strict as a Java line reader would make the
service, and as strict as the product's validator: a line ends with LF or CRLF, any other CR fails
the line (a Java reader ends a line at a lone CR), a line's length is counted in UTF-16 code units
(Java's ``String.length()``: an emoji counts twice), and only JSON whitespace is blank.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_LINE_CHARS = 256  # "Each line must be shorter than 256 characters." (counted as Java counts)
BLANK = b" \t"  # JSON's whitespace within a line (not a vertical tab or form feed)
VALID_DEPLOYMENT_TYPE = "NewDeployment"
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class InputRecord:
    """One well-formed line: a group version to deploy."""

    line_number: int
    group_id: str
    group_version_id: str
    deployment_type: str


class InputFileError(Exception):
    """The first bad line (or the file as a whole); `message` is the bulk ErrorMessage."""

    def __init__(self, message: str, line_number: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line_number = line_number


def too_large_message(max_bytes: int) -> str:
    # Wording not documented (only the limit is).
    return f"InvalidInputFile: Input file is too large. Valid file is less than {max_bytes} bytes."


def check_size(size: int, max_bytes: int) -> None:
    if size >= max_bytes:
        raise InputFileError(too_large_message(max_bytes))


def split_lines(data: bytes, *, skip_blank: bool, strip_bom: bool) -> list[tuple[int, bytes]]:
    """Lines without their LF or CRLF ends, with their 1-based numbers.

    A final line end does not start a new line. A CR that is not part of a CRLF stays in its
    line, for check_line to refuse.
    """
    if strip_bom and data.startswith(BOM):
        data = data[len(BOM) :]
    pieces = data.split(b"\n")
    last = pieces.pop()  # after the last LF: b"" when the file ends with one
    bodies = [piece[:-1] if piece.endswith(b"\r") else piece for piece in pieces]
    if last:
        bodies.append(last)  # no line end: a CR at its end is not part of a CRLF
    lines: list[tuple[int, bytes]] = []
    for number, body in enumerate(bodies, start=1):
        if skip_blank and not body.strip(BLANK):
            continue
        lines.append((number, body))
    return lines


def check_line(line_number: int, body: bytes) -> InputRecord:
    """Apply the per-line rules, in order: no stray CR, length, JSON, ids, deployment type.

    ``body`` is the line without its line end (as split_lines gives it).
    """
    if b"\r" in body:  # a Java reader would end the line here: not the line the file means
        raise _parse_error(line_number)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _parse_error(line_number) from None
    if len(text.encode("utf-16-le")) // 2 >= MAX_LINE_CHARS:
        raise InputFileError(
            f"Line {line_number} is too long in S3 File. Valid line is less than {MAX_LINE_CHARS} chars.",
            line_number,
        )
    try:
        obj = json.loads(text)
    except ValueError:
        raise _parse_error(line_number) from None
    if not isinstance(obj, dict):
        raise _parse_error(line_number)
    group_id = obj.get("GroupId")
    version_id = obj.get("GroupVersionId")
    if not _non_empty_string(group_id) or not _non_empty_string(version_id):
        # The documentation gives this one wording for a missing GroupVersionId too.
        raise InputFileError(f"InvalidInputFile: Missing GroupId at line number: {line_number}", line_number)
    deployment_type = obj.get("DeploymentType")
    if deployment_type != VALID_DEPLOYMENT_TYPE:
        raise InputFileError(
            f"InvalidInputFile: Invalid deployment type at line number : {line_number}. "
            f"Only valid type is '{VALID_DEPLOYMENT_TYPE}'.",
            line_number,
        )
    return InputRecord(line_number, str(group_id), str(version_id), VALID_DEPLOYMENT_TYPE)


def check_file(data: bytes, *, max_bytes: int, skip_blank: bool, strip_bom: bool) -> list[InputRecord]:
    """Whole-file check: every record, or InputFileError for the first bad line."""
    check_size(len(data), max_bytes)
    return [check_line(n, raw) for n, raw in split_lines(data, skip_blank=skip_blank, strip_bom=strip_bom)]


def _parse_error(line_number: int) -> InputFileError:
    return InputFileError(f"Failed to parse input file at line number: {line_number}", line_number)


def _non_empty_string(value: object) -> bool:
    return isinstance(value, str) and value != ""
