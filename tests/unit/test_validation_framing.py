"""The JSON Lines framing every deployer's input file obeys (bulk_deployer.validation), on its own.

A toy deployer's validator (one required string member, ``target``) shows that the framing
rules, the error cap, the size refusal and the chunk driver need no deployer's record rules;
the framing cases run through the real V1 and V2 validators in tests/deployers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bulk_deployer.validation import (
    MAX_REPORTED_ERRORS,
    FileValidator,
    JsonLinesValidator,
    ValidationError,
    ValidationResult,
    path_chunks,
    validate_chunks,
    validate_data,
    validate_file,
)


class ToyValidator(JsonLinesValidator):
    """Lines of ``{"target": "<non-empty string>"}``; lines shorter than 64 bytes; files under 1 KB."""

    max_file_bytes = 1024
    measure_from_bytes = 64
    surely_too_long_bytes = 65

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, int] = {}

    def _check_record(self, line_no: int, obj: dict[str, Any]) -> None:
        target = obj.get("target")
        if type(target) is not str or not target:
            self._error(line_no, "missing_target", "target is missing")
        else:
            self.seen.setdefault(target, line_no)

    def _long_line(self, line_no: int, raw: bytes) -> bool:
        if len(raw.removesuffix(b"\r")) >= 64:
            self._error(line_no, "line_too_long", "too long")
            return True
        return False

    def _line_too_long_unread(self, line_no: int) -> None:
        self._error(line_no, "line_too_long", "too long (unread)")

    def _too_large_message(self, shown: str) -> str:
        return f"the file is {shown}"

    def _finish_records(self) -> None:
        self._add_file_errors([ValidationError(None, "toy_summary", f"{len(self.seen)} targets")])


def toy(data: bytes, chunk: int | None = None) -> ValidationResult:
    step = chunk or max(len(data), 1)
    return validate_chunks(ToyValidator(), [data[i : i + step] for i in range(0, len(data), step)])


def codes(result: ValidationResult) -> list[tuple[int | None, str]]:
    return [(e.line, e.code) for e in result.errors]


def test_a_toy_deployer_gets_every_framing_rule_from_the_core() -> None:
    data = b"\n".join(
        [
            b'{"target":"a"}',
            b"",  # blank
            b"\xef\xbb\xbf{}",  # BOM
            b'{"target":"\xff"}',  # not UTF-8
            b'{"target":NaN}',
            b"[1]",
            b'{"target":"a","target":"b"}',
            b'{"target":\r"c"}',  # a stray CR
            b"\x0b",  # a vertical tab is not blank
            b'{"target":"' + b"x" * 80 + b'"}',  # too long for the toy
            b'{"other":1}',  # the toy's own rule
        ]
    )
    expected = [
        (None, "toy_summary"),
        (2, "blank_line"),
        (3, "invalid_encoding"),
        (4, "invalid_encoding"),
        (5, "invalid_json"),
        (6, "invalid_json"),
        (7, "invalid_json"),
        (8, "stray_carriage_return"),
        (9, "invalid_json"),
        (10, "line_too_long"),
        (11, "missing_target"),
    ]
    for chunk in (None, 1, 5, 64, 65, 66):
        result = toy(data, chunk)
        assert codes(result) == expected, chunk
        assert result.records == 10  # a blank line is not a record
        assert result.bytes_read == len(data)


def test_the_framing_counts_every_error_and_lists_at_most_the_cap() -> None:
    result = toy(b"\n".join(b"x" for _ in range(150)))
    assert result.error_count == 151  # and the toy's summary
    assert len(result.errors) == MAX_REPORTED_ERRORS
    assert result.errors[0].code == "toy_summary"


def test_an_empty_file_and_a_file_too_large_are_the_cores_verdicts() -> None:
    assert codes(toy(b"")) == [(None, "toy_summary"), (None, "empty_file")]
    read: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        read.append(b"touched")
        yield b"{}"

    result = validate_chunks(ToyValidator(), chunks(), size=1024)
    assert (codes(result), read) == ([(None, "file_too_large")], [])
    assert result.errors[0].message == "the file is 1,024 bytes"
    grown = toy(b'{"target":"a"}\n' * 100, chunk=100)
    assert codes(grown) == [(None, "file_too_large")]
    assert grown.errors[0].message == "the file is at least 1,100 bytes"


def test_a_validator_is_a_file_validator_and_path_chunks_read_a_file(tmp_path: Path) -> None:
    validator: FileValidator = ToyValidator()
    path = tmp_path / "input.jsonl"
    path.write_bytes(b'{"target":"a"}\n{"target":"b"}\n')
    assert [len(c) for c in path_chunks(path, 10)] == [10, 10, 10]
    result = validate_chunks(validator, path_chunks(path, 7), size=path.stat().st_size)
    assert (result.records, codes(result)) == (2, [(None, "toy_summary")])
    assert validate_file(ToyValidator(), path, chunk_size=7) == result
    assert validate_data(ToyValidator(), path.read_bytes()) == result
    assert codes(validate_data(ToyValidator(), b"x" * 1024)) == [(None, "file_too_large")]
