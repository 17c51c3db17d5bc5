"""The V1 input file: its record rules, fast paths and limits on the shared JSON Lines framing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bulk_deployer.deployers.greengrass_v1.group_ids import GroupIdHashes
from bulk_deployer.deployers.greengrass_v1.validation import (
    MAX_FILE_BYTES,
    V1FileValidator,
    validate_bytes,
    validate_path,
    validate_stream,
)
from bulk_deployer.validation import MAX_REPORTED_ERRORS, ValidationResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reference_checker import line_errors


def record(group: str = "g-1", version: str = "v-1", **extra: object) -> bytes:
    return json.dumps(
        {"GroupId": group, "GroupVersionId": version, "DeploymentType": "NewDeployment", **extra}
    ).encode()


def codes(result: ValidationResult) -> list[tuple[int | None, str]]:
    return [(e.line, e.code) for e in result.errors]


def test_a_valid_file_counts_its_records() -> None:
    data = b"\n".join(record(f"g{i}", f"v{i}") for i in range(5)) + b"\n"
    result = validate_bytes(data)
    assert result.valid
    assert result.records == 5
    assert result.as_dict() == {"valid": True, "records": 5, "error_count": 0, "errors": []}


def test_crlf_line_ends_and_a_missing_final_newline_are_accepted() -> None:
    assert validate_bytes(record("a") + b"\r\n" + record("b") + b"\r\n").valid
    assert validate_bytes(record("a") + b"\n" + record("b")).valid


def test_unknown_extra_fields_are_allowed() -> None:
    assert validate_bytes(record(Comment="canary", Priority=3) + b"\n").valid


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", [(None, "empty_file")]),
        (b"\n", [(1, "blank_line"), (None, "empty_file")]),
        (record("a") + b"\n\n", [(2, "blank_line")]),
        (record("a") + b"\n   \t\n" + record("b"), [(2, "blank_line")]),
        (b"\xef\xbb\xbf" + record("a"), [(1, "invalid_encoding")]),
        (record("a") + b"\n" + b'{"GroupId":"\xff"}', [(2, "invalid_encoding")]),
        (
            b'{"GroupId":"g","GroupVersionId":"v","DeploymentType":"NewDeployment","x":NaN}',
            [(1, "invalid_json")],
        ),
        (
            b'{"GroupId":"g","GroupVersionId":"v","DeploymentType":"NewDeployment","x":Infinity}',
            [(1, "invalid_json")],
        ),
        (record("a") + b" trailing", [(1, "invalid_json")]),
        (b"[1, 2]", [(1, "invalid_json")]),
        (b'"just a string"', [(1, "invalid_json")]),
        (b'{"GroupVersionId":"v","DeploymentType":"NewDeployment"}', [(1, "missing_group_id")]),
        (
            b'{"GroupId":null,"GroupVersionId":"v","DeploymentType":"NewDeployment"}',
            [(1, "missing_group_id")],
        ),
        (b'{"GroupId":"","GroupVersionId":"v","DeploymentType":"NewDeployment"}', [(1, "missing_group_id")]),
        (b'{"GroupId":42,"GroupVersionId":"v","DeploymentType":"NewDeployment"}', [(1, "missing_group_id")]),
        (b'{"GroupId":"g","DeploymentType":"NewDeployment"}', [(1, "missing_group_version_id")]),
        (
            b'{"GroupId":"g","GroupVersionId":["v"],"DeploymentType":"NewDeployment"}',
            [(1, "missing_group_version_id")],
        ),
        (b'{"GroupId":"g","GroupVersionId":"v"}', [(1, "invalid_deployment_type")]),
        (
            b'{"GroupId":"g","GroupVersionId":"v","DeploymentType":"Redeployment"}',
            [(1, "invalid_deployment_type")],
        ),
        (
            b'{"GroupId":"g","GroupVersionId":"v","DeploymentType":"newdeployment"}',
            [(1, "invalid_deployment_type")],
        ),
        (record("a") + b"\n" + record("b") + b"\n" + record("a"), [(3, "duplicate_group")]),
        (record("a", "v" * 300), [(1, "line_too_long")]),
    ],
)
def test_each_error_code_names_its_line(data: bytes, expected: list[tuple[int | None, str]]) -> None:
    result = validate_bytes(data)
    assert not result.valid
    assert codes(result) == expected
    assert result.error_count == len(expected)


def test_a_line_with_several_problems_reports_each() -> None:
    result = validate_bytes(b'{"GroupId":"","DeploymentType":"Other"}')
    assert codes(result) == [
        (1, "missing_group_id"),
        (1, "missing_group_version_id"),
        (1, "invalid_deployment_type"),
    ]


def test_line_length_counts_characters_not_bytes_and_excludes_the_terminator() -> None:
    skeleton = json.dumps(
        {"GroupId": "", "GroupVersionId": "v", "DeploymentType": "NewDeployment"}, ensure_ascii=False
    )
    fill = 255 - len(skeleton)
    ok = json.dumps(
        {"GroupId": "ü" * fill, "GroupVersionId": "v", "DeploymentType": "NewDeployment"}, ensure_ascii=False
    )
    too_long = json.dumps(
        {"GroupId": "ü" * (fill + 1), "GroupVersionId": "v", "DeploymentType": "NewDeployment"},
        ensure_ascii=False,
    )
    assert len(ok) == 255 and len(too_long) == 256
    assert validate_bytes(ok.encode() + b"\r\n").valid
    result = validate_bytes(too_long.encode() + b"\n")
    assert codes(result) == [(1, "line_too_long")]
    assert "256 characters" in result.errors[0].message


def test_line_length_counts_utf16_code_units_as_java_does() -> None:
    # Fewer than 170 characters, but an emoji is outside the BMP: two UTF-16 code units in Java.
    longest, too_long = _emoji_record(255), _emoji_record(256)
    assert len(too_long.decode()) < 170
    for data in (longest + b"\n", longest + b"\r\n", longest):
        assert validate_bytes(data).valid
    result = validate_bytes(too_long + b"\r\n")
    assert codes(result) == [(1, "line_too_long")]
    assert f"256 UTF-16 code units long ({len(too_long.decode())} characters" in result.errors[0].message


@pytest.mark.parametrize(
    ("data", "line", "byte", "records"),
    [
        # A CR where JSON allows whitespace: strict JSON would accept the line, Java would split it.
        (b'{"GroupId":\r"g","GroupVersionId":"v","DeploymentType":"NewDeployment"}\n', 1, 12, 1),
        (record("a") + b"\r" + record("b") + b"\r", 1, 77, 1),  # CR-only line ends: one line to us
        (record("a") + b"\r\r\n" + record("b") + b"\r\n", 1, 77, 2),
        (record("a") + b"\n" + record("b") + b"\r", 2, 77, 2),  # the last line, with no LF after its CR
        (record("a") + b"\n \r \n" + record("b"), 2, 2, 3),  # a line with a stray CR is not blank
        (b"\r", 1, 1, 1),
    ],
)
def test_a_carriage_return_not_ending_a_crlf_is_its_own_error(
    data: bytes, line: int, byte: int, records: int
) -> None:
    for chunk in (1, 2, 76, 77, 78, len(data)):
        result = validate_stream([data[i : i + chunk] for i in range(0, len(data), chunk)])
        assert (codes(result), result.records) == ([(line, "stray_carriage_return")], records), chunk
        assert f"at byte {byte} of the line" in result.errors[0].message


@pytest.mark.parametrize(
    ("line", "ending", "expected"),
    [
        (b"x" * 1500 + b"\r" + b"y" * 1500, b"\n", (2, "stray_carriage_return", "at byte 1501 ")),
        (b"\r" + b"x" * 3000, b"\n", (2, "stray_carriage_return", "at byte 1 ")),
        (b"x" * 1023 + b"\r" + b"y", b"\n", (2, "stray_carriage_return", "at byte 1024 ")),
        (b"x" * 3000 + b"\r", b"", (2, "stray_carriage_return", "at byte 3001 ")),  # no LF after it
        (b"x" * 3000 + b"\r", b"\n", (2, "line_too_long", "at least 256 characters")),  # CRLF
    ],
)
def test_a_stray_carriage_return_is_found_in_a_line_too_long_to_keep(
    line: bytes, ending: bytes, expected: tuple[int, str, str]
) -> None:
    data = record("a") + b"\n" + line + ending
    for chunk in (1, 7, 1000, 1024, 1090, 1091, 1092, 4096, len(data)):
        result = validate_stream([data[i : i + chunk] for i in range(0, len(data), chunk)])
        assert [(e.line, e.code) for e in result.errors] == [expected[:2]], chunk
        assert expected[2] in result.errors[0].message
        assert result.records == 2


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"\x0b", "invalid_json"),
        (b"\x0c", "invalid_json"),
        (b" \x0b\t", "invalid_json"),
        (b"\t \x0c ", "invalid_json"),
        (b"\x1c", "invalid_json"),
        (b" \t ", "blank_line"),
        (b"\r", "blank_line"),  # the CR of a CRLF line end
    ],
)
def test_only_json_whitespace_makes_a_blank_line(line: bytes, code: str) -> None:
    result = validate_bytes(record("a") + b"\n" + line + b"\n" + record("b") + b"\n")
    assert codes(result) == [(2, code)]
    assert result.records == (3 if code == "invalid_json" else 2)


def test_valid_crlf_and_emoji_files_stay_on_the_whole_chunk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stray-CR and UTF-16 checks cost the whole-chunk path a byte scan, never a line-by-line pass."""
    line_by_line: list[int] = []
    original = V1FileValidator._check_each_line

    def spy(self: V1FileValidator, lines: list[bytes], *, last: bool = False) -> None:
        line_by_line.append(len(lines))
        original(self, lines, last=last)

    monkeypatch.setattr(V1FileValidator, "_check_each_line", spy)
    lines = [
        f'{{"GroupId":"g-{i}","GroupVersionId":"v-\U0001f600-é","DeploymentType":"NewDeployment"}}'.encode()
        for i in range(2000)
    ]
    for ending in (b"\r\n", b"\n"):
        data = ending.join(lines) + ending
        result = validate_stream([data[i : i + 65536] for i in range(0, len(data), 65536)])
        assert (result.valid, result.records, line_by_line) == (True, 2000, [])


def test_a_huge_line_is_too_long_without_being_kept_in_memory() -> None:
    validator = V1FileValidator()
    validator.feed(record("a") + b"\n" + b"x" * 10_000)
    for _ in range(100):
        validator.feed(b"y" * 10_000)
    validator.feed(b"\n" + record("b") + b"\n")
    result = validator.finish()
    assert codes(result) == [(2, "line_too_long")]
    assert result.records == 3


def test_a_file_of_100_mb_or_more_is_refused_before_reading() -> None:
    read: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        read.append(b"touched")
        yield record()

    result = validate_stream(chunks(), size=MAX_FILE_BYTES)
    assert codes(result) == [(None, "file_too_large")]
    assert read == []


def test_a_stream_that_grows_past_the_limit_stops_being_read() -> None:
    line = record("g", "v") + b"\n"
    chunk = line * (1 << 20 // len(line) + 1)
    needed = MAX_FILE_BYTES // len(chunk) + 1
    consumed = 0

    def chunks() -> Iterator[bytes]:
        nonlocal consumed
        for _ in range(needed + 50):
            consumed += 1
            yield chunk

    result = validate_stream(chunks())
    assert (None, "file_too_large") in codes(result)
    assert consumed == needed


def test_errors_beyond_one_hundred_are_counted_not_listed() -> None:
    data = b"\n".join(b"not json" for _ in range(250))
    result = validate_bytes(data)
    assert result.error_count == 250
    assert len(result.errors) == MAX_REPORTED_ERRORS
    assert [e.line for e in result.errors] == list(range(1, 101))


def test_duplicate_errors_are_merged_in_line_order_under_the_cap() -> None:
    lines = [record("dup")] + [b"bad"] * 150 + [record("dup")]
    result = validate_bytes(b"\n".join(lines))
    assert result.error_count == 151
    assert [e.line for e in result.errors] == list(range(2, 102))

    lines = [record("dup"), record("dup")] + [b"bad"] * 150
    result = validate_bytes(b"\n".join(lines))
    assert codes(result)[0] == (2, "duplicate_group")
    assert "line 1" in result.errors[0].message


def test_the_verdict_does_not_depend_on_chunk_boundaries() -> None:
    data = b"\n".join(
        [record("a"), b"", b"\xef\xbb\xbf{}", record("a"), b"x" * 2000, record("b") + b"\r", b"[]"]
    )
    whole = validate_bytes(data)
    for size in (1, 2, 3, 7, 64, 255, 1000, 1025):
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        assert validate_stream(pieces) == validate_stream([data]), size
    assert codes(whole) == codes(validate_stream([data]))


def test_validate_path_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_bytes(record("a") + b"\n" + record("b") + b"\n")
    assert validate_path(path, chunk_size=7).records == 2


def test_many_groups_are_checked_for_duplicates() -> None:
    lines = [record(f"group-{i:06d}", "v") for i in range(20_000)]
    assert validate_bytes(b"\n".join(lines)).valid
    lines.append(record("group-000123", "v"))
    result = validate_bytes(b"\n".join(lines))
    assert codes(result) == [(20_001, "duplicate_group")]
    assert "line 124" in result.errors[0].message


# -- agreement with an independent strict reference -------------------------------------------

_FIELD_VALUES = st.one_of(
    st.sampled_from(["g1", "g2", "g3", "", "NewDeployment", "Redeployment", "ü" * 3]),
    st.none(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.text(max_size=3), max_size=2),
)
_RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "GroupId": _FIELD_VALUES,
        "GroupVersionId": _FIELD_VALUES,
        "DeploymentType": _FIELD_VALUES,
        "Extra": st.text(max_size=20),
    },
).map(lambda d: json.dumps(d, ensure_ascii=False).encode())


def _emoji_record(units: int) -> bytes:
    """A valid record of ``units`` UTF-16 code units, most of them emoji (two units each)."""
    fields = {"GroupId": "e", "GroupVersionId": "v-1", "DeploymentType": "NewDeployment"}
    emoji, pad = divmod(units - len(json.dumps(fields)), 2)
    fields["GroupId"] += "\U0001f600" * emoji + "x" * pad
    return json.dumps(fields, ensure_ascii=False).encode()


_NOISE = st.sampled_from(
    [
        b"",
        b" ",
        b"\t",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b'{"GroupId":1e400}',
        b"[]",
        b"{}",
        b"null",
        b'"\\ud800"',
        b"\xef\xbb\xbf{}",
        b"\xff\xfe",
        b"\xed\xa0\x80",
        b'{"a":1} x',
        b"{'GroupId':'g'}",
        b"x" * 300,
        b"\xc3\xa9" * 200,
        b"\x0b",
        b"\x0c",
        b" \x0b\t\x0c ",
        b"\r",
        b"\r\r",
        b'{"GroupId":\r"g"}',
        b"x" * 1500 + b"\r" + b"y" * 600,
        b'{"a":"\x01"}',
        *(_emoji_record(units) for units in (254, 255, 256, 257)),
    ]
)
_LINES = st.lists(st.one_of(_RECORDS, _NOISE, st.binary(max_size=40)), max_size=12)


def _reported_lines(result: ValidationResult) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for error in result.errors:
        out.setdefault(error.line or 0, set()).add(error.code)
    return out


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    lines=_LINES,
    terminator=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    final_newline=st.booleans(),
    chunk=st.integers(min_value=1, max_value=2000),
)
def test_agrees_with_the_strict_reference_on_every_line(
    lines: list[bytes], terminator: bytes, final_newline: bool, chunk: int
) -> None:
    # Embedded newlines would change the line structure the generator intended; keep them out.
    lines = [line.replace(b"\n", b" ") for line in lines]
    data = terminator.join(lines) + (terminator if final_newline and lines else b"")
    result = validate_bytes(data)
    assert validate_stream([data[i : i + chunk] for i in range(0, len(data), chunk)]) == result
    expected = line_errors(data)
    assert set(_reported_lines(result)) == set(expected)
    assert result.valid == (not expected)
    for line, reference_codes in expected.items():
        ours = _reported_lines(result)[line]
        if reference_codes & {"line_too_long", "invalid_encoding"}:
            # Which of the two is named first for a long, badly encoded line is a matter of order.
            assert ours & {"line_too_long", "invalid_encoding"}
        else:
            assert ours == reference_codes, (line, data)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), chunk=st.integers(min_value=1, max_value=64))
def test_never_raises_on_any_bytes_and_is_chunking_independent(data: bytes, chunk: int) -> None:
    whole = validate_bytes(data)
    pieces = validate_stream([data[i : i + chunk] for i in range(0, len(data), chunk)])
    assert whole.error_count == pieces.error_count
    assert codes(whole) == codes(pieces)


def test_groups_outside_the_allow_list_are_refused_with_their_lines() -> None:
    data = b"\n".join([record("g-ok"), record("g-other"), record("g-ok2"), b'{"GroupId":"g-x"}'])
    result = validate_bytes(data, allowed_groups=frozenset({"g-ok", "g-ok2"}))
    assert codes(result) == [
        (2, "group_not_allowed"),
        (4, "group_not_allowed"),
        (4, "missing_group_version_id"),
        (4, "invalid_deployment_type"),
    ]
    assert "g-other" in result.errors[0].message
    assert validate_bytes(data[: data.index(b"\n")]).valid


@pytest.mark.parametrize(
    "line",
    [
        b'{"GroupId":"g1","GroupVersionId":"v1","DeploymentType":"NewDeployment","GroupId":"g2"}',
        b'{"GroupId":"g1","GroupVersionId":"v1","DeploymentType":"NewDeployment","Group\\u0049d":"g2"}',
        b'{"GroupId":"g1","GroupVersionId":"v1","GroupVersionId":"v2","DeploymentType":"NewDeployment"}',
        b'{"GroupId" : "g1", "GroupVersionId" : "v1", "DeploymentType" : "NewDeployment", "x":1, "x":2}',
        b'{"GroupId":"g1","GroupVersionId":"v1","DeploymentType":"NewDeployment","x":{"a":1,"a":2}}',
    ],
)
def test_a_member_named_twice_is_refused_whatever_the_chunking(line: bytes) -> None:
    # orjson keeps the last GroupId, another parser the first: which group would deploy is ambiguous.
    data = b"\n".join([record("a"), line, record("b")]) + b"\n"
    for pieces in ([data], [data[i : i + 7] for i in range(0, len(data), 7)]):
        result = validate_stream(pieces)
        assert codes(result) == [(2, "invalid_json")]
        assert "more than once" in result.errors[0].message


def test_colons_and_names_inside_values_or_nested_objects_do_not_refuse_a_line() -> None:
    lines = [
        b'{"GroupId":"g1","GroupVersionId":"v1","DeploymentType":"NewDeployment","Note":"a:b \\"GroupId\\":"}',
        b'{"GroupId":"g2","GroupVersionId":"v1","DeploymentType":"NewDeployment","Meta":{"GroupId":"x"}}',
    ]
    assert validate_bytes(b"\n".join([record("a"), *lines])).valid


@pytest.fixture(params=["set", "partitioned"])
def duplicate_check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of finding repeated GroupIds: one set (small files), a set per part of the hashes (large ones)."""
    if request.param == "partitioned":
        monkeypatch.setattr(GroupIdHashes, "_SET_LIMIT", 0)
    return str(request.param)


def test_duplicates_are_named_with_both_lines_by_either_check(duplicate_check: str) -> None:
    lines = [record(f"group-{i:06d}", "v") for i in range(16_000)]
    lines.insert(10, record("group-000005", "v"))  # close to its first listing
    lines.append(record("group-015000", "v"))  # far from it
    lines.append(b'{"GroupId":"group-000007"}')  # a bad line (the JSON path) that is also a repeat
    result = validate_bytes(b"\n".join(lines))
    assert codes(result) == [
        (11, "duplicate_group"),
        (16_002, "duplicate_group"),
        (16_003, "missing_group_version_id"),
        (16_003, "invalid_deployment_type"),
        (16_003, "duplicate_group"),
    ]
    assert "line 6" in result.errors[0].message
    assert "line 15002" in result.errors[1].message
    assert validate_bytes(b"\n".join(lines[:10] + lines[11:-2])).valid


def test_a_group_listed_three_times_names_the_first_listing_twice(duplicate_check: str) -> None:
    lines = [record(g, "v") for g in ["a", "b", "a", "c", "a"]]
    result = validate_bytes(b"\n".join(lines))
    assert [(e.line, e.message) for e in result.errors] == [
        (3, "the GroupId is already listed on line 1"),
        (5, "the GroupId is already listed on line 1"),
    ]


# -- the record forms: whole chunks of common-writer records proved by one regex pass ----------


def compact(group: str, version: str, deployment_type: str = "NewDeployment") -> bytes:
    """A record as compact writers give it, the values written raw (unescaped)."""
    return (
        f'{{"GroupId":"{group}","GroupVersionId":"{version}","DeploymentType":"{deployment_type}"}}'.encode()
    )


def spaced(group: str, version: str, deployment_type: str = "NewDeployment") -> bytes:
    """As json.dumps' default separators give it, the values written raw (unescaped)."""
    return compact(group, version, deployment_type).replace(b'":"', b'": "').replace(b'","', b'", "')


@pytest.mark.parametrize("form", [compact, spaced])
def test_files_in_a_common_form_never_reach_the_json_paths(
    form: Callable[[str, str], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    json_paths: list[int] = []
    original = V1FileValidator._check_lines

    def spy(self: V1FileValidator, lines: list[bytes], data: bytes, end: int, *, last: bool = False) -> None:
        json_paths.append(len(lines))
        original(self, lines, data, end, last=last)

    monkeypatch.setattr(V1FileValidator, "_check_lines", spy)
    data = b"".join(form(f"00000000-0000-4000-8000-{i:012d}", "v" * 91) + b"\n" for i in range(3000))
    result = validate_stream([data[i : i + 4096] for i in range(0, len(data), 4096)])
    assert (result.records, result.valid, json_paths) == (3000, True, [])
    # The same records without their final newline: only the last line takes a JSON path.
    assert validate_stream([data[:-1]]).valid and json_paths == [1]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (compact("g", "v" * 92), []),  # a longer id is still valid: it takes the JSON path
        (compact("g" * 92, "v" * 92), []),
        (compact("g" * 100, "v" * 100), [(2, "line_too_long")]),
        (compact("", "v"), [(2, "missing_group_id")]),
        (compact("g", ""), [(2, "missing_group_version_id")]),
        (compact("g", "v", "Redeployment"), [(2, "invalid_deployment_type")]),
        (compact('g\\"', "v"), []),  # an escaped quote: valid JSON, not the form
        (compact("g\\u0041", "v"), []),
        (compact('g"', "v"), [(2, "invalid_json")]),
        (compact("g\x01", "v"), [(2, "invalid_json")]),
        (compact("g\x7f", "v"), []),  # DEL need not be escaped in JSON
        (compact("gé", "v"), []),
        (compact("g", "v") + b"\r", []),
        (compact("g", "v") + b" ", []),
        (b" " + compact("g", "v"), []),
        (compact("a", "v"), [(2, "duplicate_group")]),
        (spaced("g", "v").replace(b": ", b":", 1), []),  # forms mixed within a line
    ],
)
def test_lines_near_a_record_form_get_the_verdict_of_the_reference(
    line: bytes, expected: list[tuple[int, str]]
) -> None:
    data = b"\n".join([compact("a", "v"), line, compact("b", "v")]) + b"\n"
    reference = sorted((n, code) for n, found in line_errors(data).items() for code in found)
    assert sorted(codes(validate_bytes(data))) == reference == sorted(expected)


_ID_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('abc-09 "\\/\x00\x1f\x7féü€'), st.characters(exclude_categories=("Cs",))
    ),
    min_size=0,
    max_size=100,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from([compact, spaced]),
            _ID_TEXT,
            _ID_TEXT,
            st.sampled_from(["NewDeployment", "NewDeployment", "Redeployment", "newdeployment"]),
        ),
        min_size=1,
        max_size=30,
    ),
    chunk=st.integers(min_value=1, max_value=2000),
    tail=st.sampled_from([b"\n", b"", b"\r\n"]),
)
def test_records_in_and_near_the_common_forms_agree_with_the_strict_reference(
    records: list[tuple[Callable[..., bytes], str, str, str]], chunk: int, tail: bytes
) -> None:
    # Ids are written raw (unescaped), so quotes, backslashes and control characters make lines
    # that are invalid JSON, escapes, or valid JSON that is not one of the forms.
    lines = [form(g.replace("\n", " "), v.replace("\n", " "), t) for form, g, v, t in records]
    data = b"\n".join(lines) + tail
    result = validate_stream([data[i : i + chunk] for i in range(0, len(data), chunk)])
    expected = line_errors(data)
    assert result.valid == (not expected)
    reported = _reported_lines(result)
    assert set(reported) == set(expected)
    for line, reference_codes in expected.items():
        if reference_codes & {"line_too_long", "invalid_encoding"}:
            assert reported[line] & {"line_too_long", "invalid_encoding"}
        else:
            assert reported[line] == reference_codes, (line, data)
