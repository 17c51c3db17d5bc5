"""Validation of input files, the part every deployer shares: JSON Lines framing, streamed, strict.

A deployment service checks a file, if at all, only after the start; we check every line first,
with rules at least as strict as the service's, and report every problem at once, so an
operator fixes a file in one round trip and nothing starts for a file the service would refuse.

The framing rules are the same whatever a line deploys. A line ends with LF or CRLF, and any
other carriage return is an error: a Java line reader (the Greengrass services are Java) ends a
line at a lone CR too, so the service could read other lines than the ones checked here. Each
line is one strict JSON object in UTF-8 (no byte order mark, no NaN, no vertical tab or form
feed as blank, no member named twice); a blank line is an error; an empty file is an error.
Errors carry their line and a short code; at most ``MAX_REPORTED_ERRORS`` are listed, all counted.

``JsonLinesValidator`` consumes bytes chunk by chunk and keeps only the current partial line
(a line too long to keep is measured, not kept), so a large file validates in bounded memory
inside a Lambda function. A deployer's validator subclasses it with its record rules, its size
limits and its whole-file rules (``deployers/<service>/validation.py``); intake asks only for a
``FileValidator`` and drives it with ``validate_chunks``. The rules about one line's bytes
(stray CR, UTF-16 length, a member named twice) are in ``line_checks``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol

import orjson

from bulk_deployer.line_checks import STRAY_CR, LongLine, repeated_key, stray_cr_byte

MAX_REPORTED_ERRORS = 100

_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = b" \t\n\r"  # RFC 8259's only whitespace: a vertical tab or form feed is not blank


class ValidationError(NamedTuple):
    line: int | None
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message}


class ValidationResult(NamedTuple):
    records: int
    error_count: int
    errors: tuple[ValidationError, ...] = ()
    bytes_read: int = 0
    # A valid file of per-target deployments (Greengrass V2): its targets, in line order. What
    # the file's deployment holds while it runs, frozen into its start request.
    targets: tuple[str, ...] = ()

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


class FileValidator(Protocol):
    """What intake needs of one input file's validator, whichever deployer's rules it holds."""

    @property
    def max_file_bytes(self) -> int:
        """A file of this many bytes or more is refused (unread when its size is known)."""
        ...

    @property
    def stopped(self) -> bool:
        """True once the file is known to be too large: further bytes are not read."""
        ...

    def feed(self, chunk: bytes) -> None:
        """The file's next bytes, in chunks of any size."""
        ...

    def refuse_too_large(self, size: int) -> None:
        """Record a size known before reading (from the event or HEAD) as too large."""
        ...

    def finish(self) -> ValidationResult:
        """The verdict, once every byte has been fed (or the file was refused as too large)."""
        ...


def validate_chunks(
    validator: FileValidator, chunks: Iterable[bytes], *, size: int | None = None
) -> ValidationResult:
    """Drive one validator over a file given as chunks; a known size over its limit is refused unread."""
    if size is not None and size >= validator.max_file_bytes:
        validator.refuse_too_large(size)
        return validator.finish()
    for chunk in chunks:
        validator.feed(chunk)
        if validator.stopped:
            break
    return validator.finish()


def validate_data(validator: FileValidator, data: bytes) -> ValidationResult:
    """Drive one validator over a file held in memory."""
    return validate_chunks(validator, [data], size=len(data))


def validate_file(validator: FileValidator, path: Path, *, chunk_size: int = 1 << 20) -> ValidationResult:
    """Drive one validator over a local file, read in chunks as the starter reads an S3 object."""
    return validate_chunks(validator, path_chunks(path, chunk_size), size=path.stat().st_size)


def path_chunks(path: Path, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """A local file's bytes in chunks."""
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk


class JsonLinesValidator(ABC):
    """The framing of an input file; a subclass adds its deployer's record and whole-file rules.

    Feed the file's bytes in chunks of any size, then call finish() for the verdict. The
    subclass says how long a line may be (``measure_from_bytes``, ``surely_too_long_bytes``,
    ``_long_line``), checks each parsed record (``_check_record``), may prove whole chunks
    valid at once (``_whole_chunk_valid``, ``_all_valid``), and adds whole-file errors at the
    end (``_finish_records``).
    """

    max_file_bytes: ClassVar[int]
    # A line of this many bytes or more (its line end excluded) is given to ``_long_line``.
    measure_from_bytes: ClassVar[int]
    # A partial line this long is too long whatever its characters: its bytes are not kept.
    surely_too_long_bytes: ClassVar[int]

    def __init__(self) -> None:
        self._pending = b""
        self._long: LongLine | None = None  # inside a line already known to be too long
        self._line_no = 0
        self._records = 0
        self._bytes = 0
        self._error_count = 0
        self._errors: list[ValidationError] = []
        self._stopped = False

    # -- the deployer's rules -----------------------------------------------------------------

    @abstractmethod
    def _check_record(self, line_no: int, obj: dict[str, Any]) -> None:
        """Report every problem of one parsed record (a JSON object with no member named twice)."""

    @abstractmethod
    def _long_line(self, line_no: int, raw: bytes) -> bool:
        """A line of at least ``measure_from_bytes`` bytes: True when it got an error here."""

    @abstractmethod
    def _line_too_long_unread(self, line_no: int) -> None:
        """Report a line of at least ``surely_too_long_bytes`` bytes, whose bytes were not kept."""

    @abstractmethod
    def _too_large_message(self, shown: str) -> str:
        """Why a file of ``shown`` bytes is refused."""

    def _whole_chunk_valid(self, data: bytes, end: int) -> bool:
        """A fast path: prove every line of ``data[:end]`` valid at once (and record them), or False."""
        return False

    def _all_valid(self, lines: list[bytes], data: bytes, end: int) -> bool:
        """A fast path for ``lines`` (``data[:end]``): prove them all valid and record them, or False."""
        return False

    @abstractmethod
    def _finish_records(self) -> None:
        """Whole-file rules, once every line has been read (``_add_file_errors`` reports them)."""

    # -- the framing ---------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        if self._stopped or not chunk:
            return
        self._bytes += len(chunk)
        if self._bytes >= self.max_file_bytes:
            self._too_large(self._bytes, counted=False)
            return
        if self._long is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self._long.see(chunk)
                return
            self._long.see(chunk[:end])
            self._end_long_line(ended_by_line_feed=True)
            chunk = chunk[end + 1 :]
        data = self._pending + chunk if self._pending else chunk
        end = data.rfind(b"\n") + 1  # data[:end] holds the complete lines
        self._pending = data[end:]
        if len(self._pending) >= self.surely_too_long_bytes:
            self._long = LongLine()
            self._long.see(self._pending)
            self._pending = b""
        if end and not self._whole_chunk_valid(data, end):
            lines = data.split(b"\n")
            del lines[-1]  # the partial line, kept as pending
            self._check_lines(lines, data, end)

    def finish(self) -> ValidationResult:
        if not self._stopped:
            if self._long is not None:
                self._end_long_line(ended_by_line_feed=False)
            elif self._pending:
                # The last line, without a line end: a CR at its end is not part of a CRLF.
                self._check_lines([self._pending], self._pending, len(self._pending), last=True)
            self._pending = b""
            self._finish_records()
            if self._records == 0:
                self._error(None, "empty_file", "the file holds no records")
        return ValidationResult(
            records=self._records,
            error_count=self._error_count,
            errors=tuple(self._errors),
            bytes_read=self._bytes,
            targets=self._targets_of_valid_file() if not self._error_count else (),
        )

    def _targets_of_valid_file(self) -> tuple[str, ...]:
        """The targets of a valid file, for a deployer of per-target deployments (none here)."""
        return ()

    def _end_long_line(self, *, ended_by_line_feed: bool) -> None:
        assert self._long is not None
        stray_cr = self._long.first_stray_cr(ended_by_line_feed=ended_by_line_feed)
        self._long = None
        self._line_no += 1
        self._records += 1
        if stray_cr is not None:
            self._stray_carriage_return(self._line_no, stray_cr)
        else:
            self._line_too_long_unread(self._line_no)

    def _check_lines(self, lines: list[bytes], data: bytes, end: int, *, last: bool = False) -> None:
        """The JSON paths: every line not proved valid by ``_whole_chunk_valid``, a chunk at a time.

        ``data[:end]`` holds exactly ``lines`` (with their newlines, unless ``last``: the file's
        last line, not ended by a line feed), for whole-chunk checks.
        """
        if lines and not self._all_valid(lines, data, end):
            self._check_each_line(lines, last=last)

    def _framed_objects(self, lines: list[bytes], data: bytes, end: int) -> list[dict[str, Any]] | None:
        """Every line of ``data[:end]`` as a JSON object, proved well framed in C-level passes, or None.

        For a subclass's ``_all_valid``, after it has bounded the lines' lengths. None means a
        line may have a problem: the chunk then goes line by line. No line may name a member
        twice (orjson keeps the last, another parser the first: what deploys would be
        ambiguous). Proof at C speed: every member has a colon outside strings, so as many
        colons in the text as distinct keys parsed means no repeats (colons inside strings or
        nested objects only make the count larger: then line by line).
        """
        # orjson takes a CR for whitespace: a stray one must send the chunk line by line.
        if data.find(b"\r", 0, end) >= 0 and STRAY_CR.search(data, 0, end):
            return None
        try:
            objects = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            return None
        if set(map(type, objects)) != {dict} or data.count(b":", 0, end) != sum(map(len, objects)):
            return None
        return objects

    def _check_each_line(self, lines: list[bytes], *, last: bool = False) -> None:
        """The slow path, for chunks with at least one problem: name every problem with its line.

        A stray CR comes first: where it is, a Java reader would see other lines than these.
        """
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        measure_from = self.measure_from_bytes
        line_no = self._line_no
        records = self._records
        for raw in lines:
            line_no += 1
            if stray_cr := stray_cr_byte(raw, ended_by_line_feed=not last):
                self._stray_carriage_return(line_no, stray_cr)
                records += 1
                continue
            if len(raw) >= measure_from and self._long_line(line_no, raw):
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
                self._check_record(line_no, obj)
        self._line_no = line_no
        self._records = records

    def _accept_lines(self, lines: int) -> None:
        """Count a run of lines a fast path proved valid (and recorded)."""
        self._line_no += lines
        self._records += lines

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
            self._invalid_encoding(line_no, decode_exc)
            return True
        self._error(line_no, "invalid_json", f"the line is not strict JSON: {exc}")
        return True

    def _invalid_encoding(self, line_no: int, exc: UnicodeDecodeError) -> None:
        self._error(line_no, "invalid_encoding", f"the line is not valid UTF-8 (byte {exc.start + 1})")

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
        self._error(None, "file_too_large", self._too_large_message(shown))

    def _error(self, line: int | None, code: str, message: str) -> None:
        self._error_count += 1
        if len(self._errors) < MAX_REPORTED_ERRORS:
            self._errors.append(ValidationError(line, code, message))

    def _add_file_errors(self, errors: list[ValidationError]) -> None:
        """Errors found at the end (a repeat of an earlier line), merged into line order under the cap."""
        if not errors:
            return
        self._error_count += len(errors)
        stored = self._errors + errors
        stored.sort(key=lambda e: e.line or 0)
        self._errors = stored[:MAX_REPORTED_ERRORS]
