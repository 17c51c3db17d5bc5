"""The Greengrass V1 bulk-deployment input file: its record rules on top of the shared framing.

Greengrass checks a file only after StartBulkDeployment has returned and then fails the whole
bulk deployment at the first bad line; the framing (``bulk_deployer.validation``) and these
rules refuse such a file before anything starts. Each line names a group version to deploy:
``GroupId`` and ``GroupVersionId`` (non-empty strings) and ``DeploymentType`` exactly
``NewDeployment``; other members are ignored by the service and allowed here. A GroupId listed
twice, or outside the stack's allow-list, is refused with its lines.

The service's line reader is not documented; the rules are a Java one's or stricter: a line's
length is counted in UTF-16 code units, as Java's ``String.length()`` counts (a character
outside the Basic Multilingual Plane, an emoji, counts twice), and must be under 256; a file
must be under 100 MB. A 100 MB file (about 700,000 lines) validates in bounded memory: only
the current partial line and a compact table of GroupId hashes (``group_ids``) are kept.

Most files come from a few writers, so two fast paths prove whole chunks valid without
looking at lines one by one: a regular expression for the common record forms, then orjson
over every line at once; a chunk with any problem goes line by line (the framing's slow path).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from bulk_deployer.deployers.greengrass_v1.group_ids import GroupIdHashes
from bulk_deployer.line_checks import utf16_units
from bulk_deployer.validation import (
    JsonLinesValidator,
    ValidationError,
    ValidationResult,
    validate_chunks,
    validate_data,
    validate_file,
)

MAX_FILE_BYTES = 100_000_000  # the service accepts files *smaller* than 100 MB
MAX_LINE_CHARS = 256  # the service accepts lines *shorter* than 256 characters (UTF-16 code units)
DEPLOYMENT_TYPE = "NewDeployment"

_GROUP_ID = operator.itemgetter("GroupId")
_GROUP_VERSION_ID = operator.itemgetter("GroupVersionId")
_DEPLOYMENT_TYPE = operator.itemgetter("DeploymentType")
# The records common writers produce, compact or with Python's default ", " and ": ", members in
# the order of the service's documentation, ids of printable ASCII without quotes or escapes: a
# chunk of these is proved valid by one regular-expression pass, with no JSON objects built. An
# id is at most 91 characters, so a matching line is at most 72 + 2 * 91 = 254 characters long:
# shorter than MAX_LINE_CHARS without being measured. Anything else takes the JSON paths.
_ID = r"[ !#-\[\]-~]{1,91}"


class _RecordForm(NamedTuple):
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


class V1FileValidator(JsonLinesValidator):
    """A V1 input file's validator: the framing, then the V1 record and whole-file rules.

    ``allowed_groups``, when given, is the stack's allow-list of deployable GroupIds: a record
    naming another group is refused here, with its line, instead of becoming an invalid
    record after the bulk deployment has started.
    """

    max_file_bytes = MAX_FILE_BYTES
    measure_from_bytes = MAX_LINE_CHARS  # a line has no more UTF-16 code units than UTF-8 bytes
    # A UTF-16 code unit takes at most 3 UTF-8 bytes (a 4-byte character is 2 units): a line this
    # long in bytes is too long without decoding it, and its bytes need not be kept.
    surely_too_long_bytes = 4 * MAX_LINE_CHARS

    def __init__(self, allowed_groups: frozenset[str] | None = None) -> None:
        super().__init__()
        self._allowed = allowed_groups
        self._groups = GroupIdHashes()

    def _whole_chunk_valid(self, data: bytes, end: int) -> bool:
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
        return self._accept_run(group_ids)

    def _all_valid(self, lines: list[bytes], data: bytes, end: int) -> bool:
        """The fast path: when every line of the chunk is a valid record, prove it in C-level passes.

        Nothing is recorded unless every check passes; otherwise the chunk goes line by line.
        """
        # A line has no more UTF-16 code units than UTF-8 bytes: fewer bytes than this is short enough.
        if max(map(len, lines)) >= MAX_LINE_CHARS:
            return False
        objects = self._framed_objects(lines, data, end)
        if objects is None:
            return False
        try:
            group_ids = list(map(_GROUP_ID, objects))
            version_ids = list(map(_GROUP_VERSION_ID, objects))
            types = set(map(_DEPLOYMENT_TYPE, objects))
            "".join(group_ids)  # TypeError unless every one is a string
            "".join(version_ids)
        except (KeyError, TypeError):
            return False
        if not all(group_ids) or not all(version_ids) or types != {DEPLOYMENT_TYPE}:
            return False
        return self._accept_run(group_ids)

    def _accept_run(self, group_ids: list[str]) -> bool:
        """Record a chunk of valid records, unless one names a group outside the allow-list."""
        if self._allowed is not None and not self._allowed.issuperset(group_ids):
            return False
        self._groups.add_run(group_ids, self._line_no + 1)
        self._accept_lines(len(group_ids))
        return True

    def _check_record(self, line_no: int, obj: dict[str, Any]) -> None:
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

    def _finish_records(self) -> None:
        self._add_file_errors(
            [
                ValidationError(line, "duplicate_group", f"the GroupId is already listed on line {first}")
                for line, first in self._groups.duplicates()
            ]
        )

    def _long_line(self, line_no: int, raw: bytes) -> bool:
        """True when the (possibly long) line got an error here and needs no further check."""
        body = raw[:-1] if raw.endswith(b"\r") else raw
        if len(body) >= self.surely_too_long_bytes:
            self._line_too_long(line_no, None)
            return True
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._invalid_encoding(line_no, exc)
            return True
        units = utf16_units(text)
        if units >= MAX_LINE_CHARS:
            self._line_too_long(line_no, units, len(text))
            return True
        return False

    def _line_too_long_unread(self, line_no: int) -> None:
        self._line_too_long(line_no, None)

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

    def _too_large_message(self, shown: str) -> str:
        return f"the file is {shown}; Greengrass accepts files smaller than {self.max_file_bytes:,} bytes"


def validate_stream(
    chunks: Iterable[bytes], *, size: int | None = None, allowed_groups: frozenset[str] | None = None
) -> ValidationResult:
    """Validate a V1 file given as chunks; a known size of 100 MB or more is refused unread."""
    return validate_chunks(V1FileValidator(allowed_groups), chunks, size=size)


def validate_bytes(data: bytes, *, allowed_groups: frozenset[str] | None = None) -> ValidationResult:
    return validate_data(V1FileValidator(allowed_groups), data)


def validate_path(
    path: Path, *, chunk_size: int = 1 << 20, allowed_groups: frozenset[str] | None = None
) -> ValidationResult:
    return validate_file(V1FileValidator(allowed_groups), path, chunk_size=chunk_size)
