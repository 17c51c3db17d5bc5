"""Validation of bulk-deployment input files: pure, streamed, strict.

Greengrass checks a file only after StartBulkDeployment has returned and then fails the
whole bulk deployment at the first bad line. We check every line first, with rules at
least as strict as the service's, and report every problem at once, so an operator fixes
a file in one round trip and nothing starts for a file the service would refuse.

The service's line reader is not documented; the rules are those of a Java one or stricter. A
line ends with LF or CRLF, and any other carriage return is an error: a Java reader ends a line
at a lone CR too, so the service could read other lines than the ones checked here. A line's
length is counted in UTF-16 code units, as Java's ``String.length()`` counts: a character
outside the Basic Multilingual Plane (an emoji) counts twice.

The validator consumes bytes chunk by chunk and keeps only the current partial line and a
compact table of GroupId hashes, so a 100 MB file (about 700,000 lines) validates in
bounded memory inside a Lambda function. The rules about one line's bytes (stray CR, UTF-16
length, a member named twice) are in ``line_checks``, the table of GroupId hashes in ``group_ids``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bulk_deployer.group_ids import GroupIdHashes
from bulk_deployer.line_checks import STRAY_CR, LongLine, repeated_key, stray_cr_byte, utf16_units

MAX_FILE_BYTES = 100_000_000  # the service accepts files *smaller* than 100 MB
MAX_LINE_CHARS = 256  # the service accepts lines *shorter* than 256 characters (UTF-16 code units)
MAX_REPORTED_ERRORS = 100
DEPLOYMENT_TYPE = "NewDeployment"

_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = b" \t\n\r"  # RFC 8259's only whitespace: a vertical tab or form feed is not blank
_GROUP_ID = operator.itemgetter("GroupId")
_GROUP_VERSION_ID = operator.itemgetter("GroupVersionId")
_DEPLOYMENT_TYPE = operator.itemgetter("DeploymentType")
# The records common writers produce, compact or with Python's default ", " and ": ", members in
# the order of the service's documentation, ids of printable ASCII without quotes or escapes: a
# chunk of these is proved valid by one regular-expression pass, with no JSON objects built. An
# id is at most 91 characters, so a matching line is at most 72 + 2 * 91 = 254 characters long:
# shorter than MAX_LINE_CHARS without being measured. Anything else takes the JSON paths.
_ID = r"[ !#-\[\]-~]{1,91}"


@dataclass(frozen=True)
class _RecordForm:
    opening: bytes  # how every line of the form starts
    records: re.Pattern[str]  # any number of whole lines of the form
    group_ids: re.Pattern[str]  # the GroupId of each line


def _record_form(colon: str, comma: str) -> _RecordForm:
    opening = '{"GroupId"' + colon + '"'
    record = (
        re.escape(opening)
        + _ID
        + re.escape('"' + comma + '"GroupVersionId"' + colon + '"')
        + _ID
        + re.escape(f'"{comma}"DeploymentType"{colon}"{DEPLOYMENT_TYPE}"}}')
        + r"\n"
    )
    return _RecordForm(
        opening.encode(), re.compile(f"(?:{record})*+"), re.compile(re.escape(opening) + '([^"]*)"')
    )


_RECORD_FORMS = (_record_form(":", ","), _record_form(": ", ", "))
# A UTF-16 code unit takes at most 3 UTF-8 bytes (a 4-byte character is 2 units): a line this long
# in bytes is too long without decoding it, and its bytes need not be kept.
_SURELY_TOO_LONG_BYTES = 4 * MAX_LINE_CHARS


@dataclass(frozen=True)
class ValidationError:
    line: int | None
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class ValidationResult:
    records: int
    error_count: int
    errors: tuple[ValidationError, ...] = field(default_factory=tuple)
    bytes_read: int = 0

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "records": self.records,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
        }


class InputFileValidator:
    """Feed the file's bytes in chunks of any size, then call finish() for the verdict.

    ``allowed_groups``, when given, is the stack's allow-list of deployable GroupIds: a record
    naming another group is refused here, with its line, instead of becoming an invalid
    record after the bulk deployment has started.
    """

    def __init__(self, allowed_groups: frozenset[str] | None = None) -> None:
        self._allowed = allowed_groups
        self._pending = b""
        self._long_line: LongLine | None = None  # inside a line already known to be too long
        self._line_no = 0
        self._records = 0
        self._bytes = 0
        self._error_count = 0
        self._errors: list[ValidationError] = []
        self._groups = GroupIdHashes()
        self._stopped = False

    def feed(self, chunk: bytes) -> None:
        if self._stopped or not chunk:
            return
        self._bytes += len(chunk)
        if self._bytes >= MAX_FILE_BYTES:
            self._too_large(self._bytes, counted=False)
            return
        if self._long_line is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self._long_line.see(chunk)
                return
            self._long_line.see(chunk[:end])
            self._end_long_line(ended_by_line_feed=True)
            chunk = chunk[end + 1 :]
        data = self._pending + chunk if self._pending else chunk
        end = data.rfind(b"\n") + 1  # data[:end] holds the complete lines
        self._pending = data[end:]
        if len(self._pending) >= _SURELY_TOO_LONG_BYTES:
            self._long_line = LongLine()
            self._long_line.see(self._pending)
            self._pending = b""
        if end and not self._all_in_a_record_form(data, end):
            lines = data.split(b"\n")
            del lines[-1]  # the partial line, kept as pending
            self._check_lines(lines, data, end)

    def finish(self) -> ValidationResult:
        if not self._stopped:
            if self._long_line is not None:
                self._end_long_line(ended_by_line_feed=False)
            elif self._pending:
                # The last line, without a line end: a CR at its end is not part of a CRLF.
                self._check_lines([self._pending], self._pending, len(self._pending), last=True)
            self._pending = b""
            self._add_duplicate_errors()
            if self._records == 0:
                self._error(None, "empty_file", "the file holds no records")
        return ValidationResult(
            records=self._records,
            error_count=self._error_count,
            errors=tuple(self._errors),
            bytes_read=self._bytes,
        )

    def _end_long_line(self, *, ended_by_line_feed: bool) -> None:
        assert self._long_line is not None
        stray_cr = self._long_line.first_stray_cr(ended_by_line_feed=ended_by_line_feed)
        self._long_line = None
        self._line_no += 1
        self._records += 1
        if stray_cr is not None:
            self._stray_carriage_return(self._line_no, stray_cr)
        else:
            self._line_too_long(self._line_no, None)

    def _check_lines(self, lines: list[bytes], data: bytes, end: int, *, last: bool = False) -> None:
        """The JSON paths: every line not proved valid by a record form, a chunk's worth at a time.

        ``data[:end]`` holds exactly ``lines`` (with their newlines, unless ``last``: the file's
        last line, not ended by a line feed), for whole-chunk checks.
        """
        if lines and not self._all_valid(lines, data, end):
            self._check_each_line(lines, last=last)

    def _all_in_a_record_form(self, data: bytes, end: int) -> bool:
        """The fastest path: every line of ``data[:end]`` is a valid record in one common form."""
        form = next((f for f in _RECORD_FORMS if data.startswith(f.opening)), None)
        if form is None:
            return False
        try:
            text = data[:end].decode("ascii")
        except UnicodeDecodeError:
            return False
        if form.records.fullmatch(text) is None:
            return False
        group_ids = form.group_ids.findall(text)  # one per line: each line matched the form
        return self._accept_run(group_ids, len(group_ids))

    def _all_valid(self, lines: list[bytes], data: bytes, end: int) -> bool:
        """The fast path: when every line of the chunk is a valid record, prove it in C-level passes.

        Nothing is recorded unless every check passes; otherwise the chunk goes line by line.
        No line may name a member twice (orjson keeps the last GroupId, another parser the first:
        which group deploys would be ambiguous). Proof at C speed: every member has a colon
        outside strings, so as many colons in the text as distinct keys parsed means no repeats
        (colons inside strings or nested objects only make the count larger: then line by line).
        """
        # A line has no more UTF-16 code units than UTF-8 bytes: fewer bytes than this is short enough.
        if max(map(len, lines)) >= MAX_LINE_CHARS:
            return False
        # orjson takes a CR for whitespace: a stray one must send the chunk line by line.
        if data.find(b"\r", 0, end) >= 0 and STRAY_CR.search(data, 0, end):
            return False
        try:
            objects = list(map(orjson.loads, lines))
            if set(map(type, objects)) != {dict} or data.count(b":", 0, end) != sum(map(len, objects)):
                return False
            group_ids = list(map(_GROUP_ID, objects))
            version_ids = list(map(_GROUP_VERSION_ID, objects))
            types = set(map(_DEPLOYMENT_TYPE, objects))
            "".join(group_ids)  # TypeError unless every one is a string
            "".join(version_ids)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return False
        if not all(group_ids) or not all(version_ids) or types != {DEPLOYMENT_TYPE}:
            return False
        return self._accept_run(group_ids, len(lines))

    def _accept_run(self, group_ids: list[str], lines: int) -> bool:
        """Record a chunk of valid records, unless one names a group outside the allow-list."""
        if self._allowed is not None and not self._allowed.issuperset(group_ids):
            return False
        self._groups.add_run(group_ids, self._line_no + 1)
        self._line_no += lines
        self._records += lines
        return True

    def _check_each_line(self, lines: list[bytes], *, last: bool = False) -> None:
        """The slow path, for chunks with at least one problem: name every problem with its line.

        A stray CR comes first: where it is, a Java reader would see other lines than these.
        """
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        line_no = self._line_no
        records = self._records
        for raw in lines:
            line_no += 1
            if stray_cr := stray_cr_byte(raw, ended_by_line_feed=not last):
                self._stray_carriage_return(line_no, stray_cr)
                records += 1
                continue
            if len(raw) >= MAX_LINE_CHARS and self._long_or_undecodable(line_no, raw):
                records += 1
                continue
            try:
                obj = loads(raw)
            except decode_error as exc:
                if self._unparsable(line_no, raw, exc):
                    records += 1
                continue
            records += 1
            if type(obj) is not dict:
                self._error(line_no, "invalid_json", "the line is not a JSON object")
            elif (repeated := repeated_key(raw, obj)) is not None:
                self._error(line_no, "invalid_json", f"the line names {repeated} more than once")
            else:
                self._check_fields(line_no, obj)
        self._line_no = line_no
        self._records = records

    def _check_fields(self, line_no: int, obj: dict[str, Any]) -> None:
        """The slow path: name every problem of a record that is not a valid one."""
        group_id = obj.get("GroupId")
        if type(group_id) is not str or not group_id:
            self._error(line_no, "missing_group_id", "GroupId is missing, null, empty or not a string")
        else:
            self._groups.add(group_id, line_no)
            if self._allowed is not None and group_id not in self._allowed:
                self._error(
                    line_no,
                    "group_not_allowed",
                    f"GroupId {group_id!r} is not in this stack's deployable groups (deployableGroupIds)",
                )
        version_id = obj.get("GroupVersionId")
        if type(version_id) is not str or not version_id:
            self._error(
                line_no,
                "missing_group_version_id",
                "GroupVersionId is missing, null, empty or not a string",
            )
        if obj.get("DeploymentType") != DEPLOYMENT_TYPE:
            self._error(
                line_no,
                "invalid_deployment_type",
                f"DeploymentType must be exactly {DEPLOYMENT_TYPE!r} "
                "(the only type bulk deployments support)",
            )

    def _add_duplicate_errors(self) -> None:
        duplicates = self._groups.duplicates()
        if not duplicates:
            return
        stored = list(self._errors)
        for line, first in duplicates:
            self._error_count += 1
            stored.append(
                ValidationError(line, "duplicate_group", f"the GroupId is already listed on line {first}")
            )
        stored.sort(key=lambda e: e.line or 0)
        self._errors = stored[:MAX_REPORTED_ERRORS]

    def _long_or_undecodable(self, line_no: int, raw: bytes) -> bool:
        """True when the (possibly long) line got an error here and needs no further check."""
        body = raw[:-1] if raw.endswith(b"\r") else raw
        if len(body) >= _SURELY_TOO_LONG_BYTES:
            self._line_too_long(line_no, None)
            return True
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._error(line_no, "invalid_encoding", f"the line is not valid UTF-8 (byte {exc.start + 1})")
            return True
        units = utf16_units(text)
        if units >= MAX_LINE_CHARS:
            self._line_too_long(line_no, units, len(text))
            return True
        return False

    def _unparsable(self, line_no: int, raw: bytes, exc: Exception) -> bool:
        """Classify a line orjson refused; return whether it counts as a record."""
        if not raw.strip(_JSON_WHITESPACE):
            self._error(
                line_no,
                "blank_line",
                "blank line (only a single newline may end the file; remove empty lines)",
            )
            return False
        if raw.startswith(_BOM):
            self._error(
                line_no,
                "invalid_encoding",
                "the line starts with a byte order mark; save the file as UTF-8 without BOM",
            )
            return True
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as decode_exc:
            self._error(
                line_no, "invalid_encoding", f"the line is not valid UTF-8 (byte {decode_exc.start + 1})"
            )
            return True
        self._error(line_no, "invalid_json", f"the line is not strict JSON: {exc}")
        return True

    def _line_too_long(self, line_no: int, units: int | None, chars: int | None = None) -> None:
        if units is None:
            length = f"at least {MAX_LINE_CHARS} characters long"
        elif units == chars:
            length = f"{units} characters long"
        else:  # counted as Java counts: a character outside the BMP is two UTF-16 code units
            length = (
                f"{units} UTF-16 code units long ({chars} characters; one outside the BMP, "
                "such as an emoji, counts twice)"
            )
        self._error(
            line_no,
            "line_too_long",
            f"the line is {length}; Greengrass accepts lines shorter than {MAX_LINE_CHARS}",
        )

    def _stray_carriage_return(self, line_no: int, byte: int) -> None:
        self._error(
            line_no,
            "stray_carriage_return",
            f"a carriage return (CR) not followed by a line feed at byte {byte} of the line; "
            "a Java line reader would end the line there: use LF or CRLF line ends only",
        )

    @property
    def stopped(self) -> bool:
        """True once the file is known to be too large: further bytes are not read."""
        return self._stopped

    def refuse_too_large(self, size: int) -> None:
        """Record a size known before reading (from the event or HEAD) as too large."""
        self._too_large(size, counted=True)

    def _too_large(self, size: int, *, counted: bool) -> None:
        self._stopped = True
        shown = f"{size:,} bytes" if counted else f"at least {size:,} bytes"
        self._error(
            None,
            "file_too_large",
            f"the file is {shown}; Greengrass accepts files smaller than {MAX_FILE_BYTES:,} bytes",
        )

    def _error(self, line: int | None, code: str, message: str) -> None:
        self._error_count += 1
        if len(self._errors) < MAX_REPORTED_ERRORS:
            self._errors.append(ValidationError(line, code, message))


def validate_stream(
    chunks: Iterable[bytes], *, size: int | None = None, allowed_groups: frozenset[str] | None = None
) -> ValidationResult:
    """Validate a file given as chunks; a known size of 100 MB or more is refused unread."""
    validator = InputFileValidator(allowed_groups)
    if size is not None and size >= MAX_FILE_BYTES:
        validator.refuse_too_large(size)
        return validator.finish()
    for chunk in chunks:
        validator.feed(chunk)
        if validator.stopped:
            break
    return validator.finish()


def validate_bytes(data: bytes, *, allowed_groups: frozenset[str] | None = None) -> ValidationResult:
    return validate_stream([data], size=len(data), allowed_groups=allowed_groups)


def validate_path(
    path: Path, *, chunk_size: int = 1 << 20, allowed_groups: frozenset[str] | None = None
) -> ValidationResult:
    def chunks() -> Iterable[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    return validate_stream(chunks(), size=path.stat().st_size, allowed_groups=allowed_groups)
