"""The Greengrass V2 input file: one deployment per line (``records``) on the shared framing.

The framing is V1's (``bulk_deployer.validation``): UTF-8 JSON Lines, LF or CRLF, no blank
line, strict JSON, no member named twice. On top of it, each line is checked by
``records.check_line`` against the stack's rules, and the whole file by two more: a target
listed twice (both lines named: the second deployment would replace the first) and at most
``MAX_TARGETS`` targets. The service documents no file, so its limits are our own:

- ``MAX_TARGETS`` (1,000): every target costs at least one CreateDeployment and its follow-up
  calls out of the region's 30 requests per second that every Greengrass V2 caller of the
  account shares; 1,000 starts take about a minute at half of that quota, and a larger
  rollout is better several files (thing groups hold any number of devices).
- ``MAX_LINE_BYTES`` (10.5 MiB): a line holds one request, whose deployment document is at most
  10,000,000 bytes (a large document) plus a name, tags and a target of a few kilobytes; a longer
  line cannot be a valid request, and is refused without being kept in memory.
- ``MAX_FILE_BYTES`` (100 MB, as V1): what the starter validates in one invocation, streamed,
  in bounded memory (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bulk_deployer.deployers.greengrass_v2.records import StackRules, check_line
from bulk_deployer.validation import (
    JsonLinesValidator,
    ValidationResult,
    validate_chunks,
    validate_data,
    validate_file,
)

MAX_TARGETS = 1_000
MAX_LINE_BYTES = 11_010_048  # 10.5 MiB
MAX_FILE_BYTES = 100_000_000


class V2FileValidator(JsonLinesValidator):
    """A V2 input file's validator: the framing, each line's request, and the whole-file rules."""

    max_file_bytes = MAX_FILE_BYTES
    measure_from_bytes = MAX_LINE_BYTES
    surely_too_long_bytes = MAX_LINE_BYTES + 1  # a CR of a CRLF may follow the longest line kept

    def __init__(self, stack: StackRules) -> None:
        super().__init__()
        self._stack = stack
        self._targets: dict[str, int] = {}  # target ARN → first line; at most MAX_TARGETS entries

    def _check_record(self, line_no: int, obj: dict[str, Any]) -> None:
        check = check_line(obj, self._stack)
        for problem in check.problems:
            self._error(line_no, problem.code, problem.message)
        if check.target_arn is None or line_no > MAX_TARGETS:
            return  # beyond MAX_TARGETS the file is refused anyway: memory stays bounded
        first = self._targets.setdefault(check.target_arn, line_no)
        if first != line_no:
            self._error(
                line_no,
                "duplicate_target",
                f"the target is already listed on line {first}: "
                "its second deployment would replace the first",
            )

    def _targets_of_valid_file(self) -> tuple[str, ...]:
        return tuple(self._targets)  # insertion order: line order

    def _finish_records(self) -> None:
        if self._records > MAX_TARGETS:
            self._error(
                None,
                "too_many_targets",
                f"the file lists {self._records:,} targets; a file lists at most {MAX_TARGETS:,} "
                "(split it into several files, or deploy to thing groups)",
            )

    def _long_line(self, line_no: int, raw: bytes) -> bool:
        length = len(raw) - raw.endswith(b"\r")
        if length >= MAX_LINE_BYTES:
            self._line_too_long(line_no, f"{length:,} bytes")
            return True
        return False

    def _line_too_long_unread(self, line_no: int) -> None:
        self._line_too_long(line_no, f"at least {MAX_LINE_BYTES:,} bytes")

    def _line_too_long(self, line_no: int, length: str) -> None:
        self._error(
            line_no,
            "line_too_long",
            f"the line is {length} long; a line is shorter than {MAX_LINE_BYTES:,} bytes (10.5 MiB: "
            "one deployment, whose document is at most 10,000,000 bytes)",
        )

    def _too_large_message(self, shown: str) -> str:
        return (
            f"the file is {shown}; a Greengrass V2 input file is smaller than {self.max_file_bytes:,} bytes "
            f"(at most {MAX_TARGETS:,} targets)"
        )


def validate_stream(
    chunks: Iterable[bytes], stack: StackRules, *, size: int | None = None
) -> ValidationResult:
    """Validate a V2 file given as chunks; a known size of 100 MB or more is refused unread."""
    return validate_chunks(V2FileValidator(stack), chunks, size=size)


def validate_bytes(data: bytes, stack: StackRules) -> ValidationResult:
    return validate_data(V2FileValidator(stack), data)


def validate_path(path: Path, stack: StackRules, *, chunk_size: int = 1 << 20) -> ValidationResult:
    return validate_file(V2FileValidator(stack), path, chunk_size=chunk_size)
