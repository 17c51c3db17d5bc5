"""The framing is shared: the same framing cases get the same errors from the V1 and the V2 validator.

Each case puts a badly framed line (or file ending) between two valid records of the deployer;
what is reported about the framing — line, code and message — must not depend on whose records
surround it. The file-size refusal is the framing's too, with each deployer's limit in its message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from bulk_deployer.deployers.greengrass_v1.validation import V1FileValidator
from bulk_deployer.deployers.greengrass_v2.validation import V2FileValidator
from bulk_deployer.validation import JsonLinesValidator, ValidationResult, validate_chunks

from tests.deployers.greengrass_v2.lines import STACK, minimal, thing_arn


def v1_record(n: int) -> bytes:
    return json.dumps(
        {"GroupId": f"g-{n}", "GroupVersionId": "v-1", "DeploymentType": "NewDeployment"}
    ).encode()


def v2_record(n: int) -> bytes:
    return json.dumps(minimal(thing_arn(f"core-{n}"))).encode()


DEPLOYERS: dict[str, tuple[Callable[[], JsonLinesValidator], Callable[[int], bytes]]] = {
    "v1": (V1FileValidator, v1_record),
    "v2": (lambda: V2FileValidator(STACK), v2_record),
}

# A line between two valid records, and the code the framing gives it.
FRAMING_LINES = [
    (b"", "blank_line"),
    (b" \t ", "blank_line"),
    (b"\x0b", "invalid_json"),  # a vertical tab is not JSON whitespace
    (b"\x0c", "invalid_json"),
    (b"\xef\xbb\xbf{}", "invalid_encoding"),
    (b'{"a":"\xff"}', "invalid_encoding"),
    (b'{"a":"\xed\xa0\x80"}', "invalid_encoding"),  # a surrogate encoded in UTF-8
    (b'{"a":"\\ud800"}', "invalid_json"),  # a lone surrogate escaped
    (b'{"a":NaN}', "invalid_json"),
    (b'{"a":Infinity}', "invalid_json"),
    (b'{"a":1e400}', "invalid_json"),
    (b'{"a":"\x01"}', "invalid_json"),
    (b"{'a':1}", "invalid_json"),
    (b'{"a":1} x', "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    (b'"a string"', "invalid_json"),
    (b"null", "invalid_json"),
    (b'{"a":1,"a":2}', "invalid_json"),
    (b'{"a":{"b":1,"b":2}}', "invalid_json"),
    (b'{"a":1,"\\u0061":2}', "invalid_json"),
    (b'{"a":\r1}', "stray_carriage_return"),
    (b"\r\r", "stray_carriage_return"),
]


def _validate(deployer: str, data: bytes, chunk: int | None = None) -> ValidationResult:
    new_validator, _ = DEPLOYERS[deployer]
    step = chunk or max(len(data), 1)
    return validate_chunks(new_validator(), [data[i : i + step] for i in range(0, len(data), step)])


def _framing_errors(
    deployer: str, data: bytes, chunk: int | None = None
) -> list[tuple[int | None, str, str]]:
    return [(e.line, e.code, e.message) for e in _validate(deployer, data, chunk).errors]


@pytest.mark.parametrize(("line", "code"), FRAMING_LINES, ids=[repr(line) for line, _ in FRAMING_LINES])
@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_a_framing_error_is_the_same_for_v1_and_v2(line: bytes, code: str, ending: bytes) -> None:
    reports = {}
    for deployer, (_, record) in DEPLOYERS.items():
        data = ending.join([record(1), line, record(2)]) + ending
        reports[deployer] = [_framing_errors(deployer, data, chunk) for chunk in (None, 1, 7)]
        for errors in reports[deployer]:
            assert [(n, c) for n, c, _ in errors] == [(2, code)], deployer
    assert reports["v1"] == reports["v2"]


@pytest.mark.parametrize(
    ("ending", "expected"),
    [
        (b"", []),  # the last line needs no line end
        (b"\n\n", [(3, "blank_line")]),  # only one newline may end the file
        (b"\r", [(2, "stray_carriage_return")]),  # a CR that no LF follows
        (b"\r\n\r\n", [(3, "blank_line")]),
    ],
)
def test_the_end_of_a_file_is_framed_the_same_for_v1_and_v2(
    ending: bytes, expected: list[tuple[int, str]]
) -> None:
    reports = {}
    for deployer, (_, record) in DEPLOYERS.items():
        data = record(1) + b"\n" + record(2) + ending
        errors = _framing_errors(deployer, data)
        assert [(n, c) for n, c, _ in errors] == expected, deployer
        if ending == b"\r":  # where the CR is depends on the record before it
            assert f"at byte {len(record(2)) + 1} of the line" in errors[0][2]
        reports[deployer] = [(n, c, re.sub(r"at byte \d+", "at byte N", m)) for n, c, m in errors]
    assert reports["v1"] == reports["v2"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", [(None, "empty_file")]),
        (b"\n", [(1, "blank_line"), (None, "empty_file")]),
        (b"\n\n", [(1, "blank_line"), (2, "blank_line"), (None, "empty_file")]),
        (b" ", [(1, "blank_line"), (None, "empty_file")]),
    ],
)
def test_a_file_without_records_is_refused_the_same_by_v1_and_v2(
    data: bytes, expected: list[tuple[int | None, str]]
) -> None:
    assert _framing_errors("v1", data) == _framing_errors("v2", data)
    assert [(n, c) for n, c, _ in _framing_errors("v1", data)] == expected


@pytest.mark.parametrize("deployer", sorted(DEPLOYERS))
def test_a_file_too_large_is_refused_unread_by_either(deployer: str) -> None:
    new_validator, record = DEPLOYERS[deployer]
    limit = new_validator().max_file_bytes
    result = validate_chunks(new_validator(), iter([record(1)]), size=limit)
    assert [(e.line, e.code) for e in result.errors] == [(None, "file_too_large")]
    assert f"{limit:,} bytes" in result.errors[0].message
    assert validate_chunks(new_validator(), iter([record(1)]), size=limit - 1).valid
