"""Validation of bulk-deployment input files: pure, streamed, strict.

Greengrass checks a file only after StartBulkDeployment has returned and then fails the
whole bulk deployment at the first bad line. We check every line first, with rules at
least as strict as the service's, and report every problem at once, so an operator fixes
a file in one round trip and nothing starts for a file the service would refuse.

The validator consumes bytes chunk by chunk and keeps only the current partial line and a
compact table of GroupId hashes, so a 100 MB file (about 700,000 lines) validates in
bounded memory inside a Lambda function.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

MAX_FILE_BYTES = 100_000_000  # the service accepts files *smaller* than 100 MB
MAX_LINE_CHARS = 256  # the service accepts lines *shorter* than 256 characters
MAX_REPORTED_ERRORS = 100
DEPLOYMENT_TYPE = "NewDeployment"

_BOM = b"\xef\xbb\xbf"
_GROUP_ID = operator.itemgetter("GroupId")
_GROUP_VERSION_ID = operator.itemgetter("GroupVersionId")
_DEPLOYMENT_TYPE = operator.methodcaller("get", "DeploymentType")
# A UTF-8 character is at most 4 bytes: a line this long in bytes is too long in characters
# without decoding it, and its bytes need not be kept.
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


class _GroupIdLedger:
    """Finds GroupIds listed twice, in about 20 bytes per record instead of ~100.

    A Python set of 700,000 strings costs about 100 MB. Here each record leaves only its
    id's 64-bit hash and its line number in compact arrays (in line order, filled at C
    speed), and each hash once more in one of 64 buckets chosen by its low bits;
    duplicates are found at the end one small bucket at a time. Two different ids with
    equal 64-bit hashes would be reported as a duplicate (probability about 1e-8 for a
    700,000-line file): the error is on the safe side, a file refused, never a duplicate
    let through.
    """

    _BUCKETS = 64  # a power of two: a bucket is chosen by masking the hash

    def __init__(self) -> None:
        self.hashes = array("q")
        self.lines = array("i")
        self._buckets = [array("q") for _ in range(self._BUCKETS)]

    def add(self, group_id: str, line: int) -> None:
        h = hash(group_id)
        self.hashes.append(h)
        self.lines.append(line)
        self._buckets[h & (self._BUCKETS - 1)].append(h)

    def add_run(self, group_ids: list[str], first_line: int) -> None:
        """Ids of consecutive lines starting at first_line (the fast path's whole chunk)."""
        hashes = list(map(hash, group_ids))
        self.hashes.extend(hashes)
        self.lines.extend(range(first_line, first_line + len(hashes)))
        appenders = [bucket.append for bucket in self._buckets]
        mask = self._BUCKETS - 1
        for h in hashes:
            appenders[h & mask](h)

    def duplicates(self) -> list[tuple[int, int]]:
        """(line, first line with the same GroupId) for every repeated GroupId."""
        repeated: set[int] = set()
        for bucket in self._buckets:
            if len(set(bucket)) != len(bucket):
                seen: set[int] = set()
                for h in bucket:
                    if h in seen:
                        repeated.add(h)
                    seen.add(h)
        if not repeated:
            return []
        first_line: dict[int, int] = {}
        found: list[tuple[int, int]] = []
        for h, line in zip(self.hashes, self.lines, strict=True):
            if h in repeated:
                first = first_line.setdefault(h, line)
                if first != line:
                    found.append((line, first))
        return sorted(found)


class InputFileValidator:
    """Feed the file's bytes in chunks of any size, then call finish() for the verdict.

    ``allowed_groups``, when given, is the stack's allow-list of deployable GroupIds: a record
    naming another group is refused here, with its line, instead of becoming an invalid
    record after the bulk deployment has started.
    """

    def __init__(self, allowed_groups: frozenset[str] | None = None) -> None:
        self._allowed = allowed_groups
        self._pending = b""
        self._skipping_long_line = False  # inside a line already known to be too long
        self._line_no = 0
        self._records = 0
        self._bytes = 0
        self._error_count = 0
        self._errors: list[ValidationError] = []
        self._groups = _GroupIdLedger()
        self._stopped = False

    def feed(self, chunk: bytes) -> None:
        if self._stopped or not chunk:
            return
        self._bytes += len(chunk)
        if self._bytes >= MAX_FILE_BYTES:
            self._too_large(self._bytes, counted=False)
            return
        if self._skipping_long_line:
            end = chunk.find(b"\n")
            if end < 0:
                return
            self._skipping_long_line = False
            self._line_no += 1
            self._records += 1
            self._line_too_long(self._line_no, None)
            chunk = chunk[end + 1 :]
        data = self._pending + chunk if self._pending else chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()
        if len(self._pending) >= _SURELY_TOO_LONG_BYTES:
            self._pending = b""
            self._skipping_long_line = True
        self._check_lines(lines)

    def finish(self) -> ValidationResult:
        if not self._stopped:
            if self._skipping_long_line:
                self._line_no += 1
                self._records += 1
                self._line_too_long(self._line_no, None)
            elif self._pending:
                self._check_lines([self._pending])
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

    def _check_lines(self, lines: list[bytes]) -> None:
        """Every line of the file passes here once, a chunk's worth of lines at a time."""
        if lines and not self._all_valid(lines):
            self._check_each_line(lines)

    def _all_valid(self, lines: list[bytes]) -> bool:
        """The fast path: when every line of the chunk is a valid record, prove it in C-level passes.

        Nothing is recorded unless every check passes; otherwise the chunk goes line by line.
        """
        if max(map(len, lines)) >= MAX_LINE_CHARS:
            return False
        try:
            objects = list(map(orjson.loads, lines))
            if set(map(type, objects)) != {dict}:
                return False
            group_ids = list(map(_GROUP_ID, objects))
            version_ids = list(map(_GROUP_VERSION_ID, objects))
        except (orjson.JSONDecodeError, KeyError):
            return False
        if (
            set(map(type, group_ids)) != {str}
            or not all(group_ids)
            or set(map(type, version_ids)) != {str}
            or not all(version_ids)
            or set(map(_DEPLOYMENT_TYPE, objects)) != {DEPLOYMENT_TYPE}
            or (self._allowed is not None and not self._allowed.issuperset(group_ids))
        ):
            return False
        self._groups.add_run(group_ids, self._line_no + 1)
        self._line_no += len(lines)
        self._records += len(lines)
        return True

    def _check_each_line(self, lines: list[bytes]) -> None:
        """The slow path, for chunks with at least one problem: name every problem with its line."""
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        line_no = self._line_no
        records = self._records
        for raw in lines:
            line_no += 1
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
            if type(obj) is dict:
                self._check_fields(line_no, obj)
            else:
                self._error(line_no, "invalid_json", "the line is not a JSON object")
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
        if len(text) >= MAX_LINE_CHARS:
            self._line_too_long(line_no, len(text))
            return True
        return False

    def _unparsable(self, line_no: int, raw: bytes, exc: Exception) -> bool:
        """Classify a line orjson refused; return whether it counts as a record."""
        if not raw.strip():
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

    def _line_too_long(self, line_no: int, chars: int | None) -> None:
        length = f"{chars} characters" if chars is not None else f"at least {MAX_LINE_CHARS} characters"
        self._error(
            line_no,
            "line_too_long",
            f"the line is {length} long; Greengrass accepts lines shorter than {MAX_LINE_CHARS}",
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
