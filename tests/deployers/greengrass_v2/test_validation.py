"""A Greengrass V2 input file: the whole-file rules and our own limits, on the shared framing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from bulk_deployer.deployers.greengrass_v2.validation import (
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    MAX_TARGETS,
    V2FileValidator,
    validate_bytes,
    validate_path,
    validate_stream,
)
from bulk_deployer.validation import MAX_REPORTED_ERRORS, ValidationResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.deployers.greengrass_v2.lines import STACK, baseline, encoded, group_arn, minimal, thing_arn


def codes(result: ValidationResult) -> list[tuple[int | None, str]]:
    return [(e.line, e.code) for e in result.errors]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_a_valid_file_counts_its_targets() -> None:
    data = encoded(baseline(), minimal(thing_arn("core-1")), minimal(group_arn("fleet-us")))
    result = validate_bytes(data, STACK)
    assert (result.valid, result.records, result.bytes_read) == (True, 3, len(data))
    assert validate_bytes(data.replace(b"\n", b"\r\n"), STACK).valid
    assert validate_bytes(data[:-1], STACK).valid  # no final newline


def test_a_valid_file_gives_its_targets_in_line_order_and_an_invalid_one_none() -> None:
    arns = [group_arn("fleet-us"), thing_arn("core-1"), group_arn("fleet-eu")]
    result = validate_bytes(encoded(*(minimal(arn) for arn in arns)), STACK)
    assert result.valid and result.targets == tuple(arns)
    broken = validate_bytes(encoded(minimal(arns[0]), {"targetArn": arns[1]}), STACK)
    assert not broken.valid and broken.targets == ()


def test_each_problem_is_reported_with_its_line() -> None:
    data = encoded(
        minimal(thing_arn("core-1")), {"targetArn": thing_arn("core-2")}, minimal(thing_arn("x y"))
    )
    result = validate_bytes(data, STACK)
    assert codes(result) == [(2, "missing_components"), (3, "invalid_target_arn")]
    assert result.records == 3


def test_a_target_listed_twice_names_both_lines() -> None:
    core = minimal(thing_arn("core-1"))
    data = encoded(core, minimal(thing_arn("core-2")), minimal(thing_arn("Core-1")), core, core)
    result = validate_bytes(data, STACK)
    assert [(e.line, e.code, e.message) for e in result.errors] == [
        (
            4,
            "duplicate_target",
            "the target is already listed on line 1: its second deployment would replace the first",
        ),
        (
            5,
            "duplicate_target",
            "the target is already listed on line 1: its second deployment would replace the first",
        ),
    ]
    # A line with other problems still counts as a listing of its target.
    bad = {**core, "tags": {}}
    assert codes(validate_bytes(encoded(bad, core), STACK)) == [(1, "invalid_tags"), (2, "duplicate_target")]


def test_at_most_max_targets_per_file() -> None:
    lines = [minimal(thing_arn(f"core-{i}")) for i in range(MAX_TARGETS + 1)]
    assert validate_bytes(encoded(*lines[:-1]), STACK).valid
    result = validate_bytes(encoded(*lines), STACK)
    assert codes(result) == [(None, "too_many_targets")]
    assert f"{MAX_TARGETS + 1:,} targets" in result.errors[0].message


def test_targets_beyond_the_limit_are_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded: a 100 MB file of tiny lines keeps at most MAX_TARGETS ARNs."""
    from bulk_deployer.deployers.greengrass_v2 import validation

    monkeypatch.setattr(validation, "MAX_TARGETS", 3)
    validator = V2FileValidator(STACK)
    validator.feed(encoded(*(minimal(thing_arn(f"core-{i}")) for i in range(10))))
    result = validator.finish()
    assert codes(result) == [(None, "too_many_targets")]
    assert len(validator._targets) == 3


def _line_of_bytes(size: int) -> bytes:
    """A V2 line (valid JSON, a thing-group request) of exactly ``size`` bytes."""
    line = minimal()
    line["deploymentName"] = ""
    pad = size - len(json.dumps(line).encode())
    line["deploymentName"] = "n" * pad
    data = json.dumps(line).encode()
    assert len(data) == size
    return data


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_a_line_is_shorter_than_max_line_bytes(ending: bytes) -> None:
    first = encoded(minimal(thing_arn("core-1")))
    for size, expected in [
        (MAX_LINE_BYTES - 1, "invalid_deployment_name"),
        (MAX_LINE_BYTES, "line_too_long"),
    ]:
        data = first + _line_of_bytes(size) + ending
        for chunk in (1 << 20, 65_536, len(first) + MAX_LINE_BYTES, len(data)):
            result = validate_stream(chunked(data, chunk), STACK)
            assert codes(result) == [(2, expected)], (size, chunk)
            assert result.records == 2


def test_a_line_too_long_to_keep_is_measured_not_kept() -> None:
    validator = V2FileValidator(STACK)
    validator.feed(encoded(minimal()) + b'{"targetArn":"')
    for _ in range(12):
        validator.feed(b"x" * (1 << 20))
        assert len(validator._pending) <= MAX_LINE_BYTES + 1
    validator.feed(b'"}\n' + encoded(minimal(thing_arn("core-1"))))
    result = validator.finish()
    assert codes(result) == [(2, "line_too_long")]
    assert f"at least {MAX_LINE_BYTES:,} bytes" in result.errors[0].message
    assert result.records == 3


def test_a_file_of_max_file_bytes_is_refused_unread() -> None:
    read: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        read.append(b"touched")
        yield encoded(minimal())

    result = validate_stream(chunks(), STACK, size=MAX_FILE_BYTES)
    assert (codes(result), read) == ([(None, "file_too_large")], [])
    assert "a Greengrass V2 input file is smaller than 100,000,000 bytes" in result.errors[0].message
    assert validate_stream(chunks(), STACK, size=MAX_FILE_BYTES - 1).valid


def test_errors_beyond_the_cap_are_counted_not_listed() -> None:
    result = validate_bytes(encoded(*({"targetArn": thing_arn(f"c{i}")} for i in range(150))), STACK)
    assert result.error_count == 150
    assert len(result.errors) == MAX_REPORTED_ERRORS


def test_validate_path_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "v2.jsonl"
    path.write_bytes(encoded(baseline(), minimal(thing_arn("core-1"))))
    assert validate_path(path, STACK, chunk_size=7) == validate_bytes(path.read_bytes(), STACK)
    assert validate_path(path, STACK).records == 2


_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                encoded(baseline())[:-1],
                encoded(minimal(thing_arn("core-1")))[:-1],
                encoded(minimal(thing_arn("core-1")))[:-1],  # a duplicate when both are drawn
                json.dumps(
                    {"targetArn": thing_arn("core-2"), "components": {"c": {"componentVersion": ""}}}
                ).encode(),
                b'{"targetArn":"arn:aws:iot:eu-west-1:123456789012:thing/core-3","components":{},"x":1,"x":2}',
                b"",
                b" \t",
                b"\x0b",
                b"\xef\xbb\xbf{}",
                b'{"a":"\xff"}',
                b"NaN",
                b"[]",
                b'{"targetArn":\r"x"}',
            ]
        ),
        st.binary(max_size=40),
    ),
    max_size=10,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=_LINES,
    ending=st.sampled_from([b"\n", b"\r\n"]),
    final=st.booleans(),
    chunk=st.integers(min_value=1, max_value=600),
)
def test_the_verdict_never_depends_on_chunk_boundaries(
    lines: list[bytes], ending: bytes, final: bool, chunk: int
) -> None:
    lines = [line.replace(b"\n", b" ") for line in lines]
    data = ending.join(lines) + (ending if final and lines else b"")
    whole = validate_bytes(data, STACK)
    assert validate_stream(chunked(data, chunk), STACK) == whole
