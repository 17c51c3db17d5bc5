"""An independent, deliberately plain checker of input files, used as an oracle in tests.

It shares no code with bulk_deployer.validation: standard-library json with the strict
rules spelled out (no NaN/Infinity, no overflowing numbers, no lone surrogates), and the
file split into lines in the most obvious way. The line rules are a Java reader's or
stricter: a line ends with LF or CRLF and any other CR is an error (Java would end a line
there); a line's length is its number of UTF-16 code units; blank means empty or only spaces
and tabs (JSON's whitespace; a vertical tab or form feed is not).
"""

from __future__ import annotations

import json
import math
from typing import Any


class _Refused(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _Refused(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(text)
    return value


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise _Refused("a member named twice")
    return dict(pairs)


def _strings_encodable(value: Any) -> None:
    if isinstance(value, str):
        value.encode("utf-8")  # raises on lone surrogates
    elif isinstance(value, dict):
        for k, v in value.items():
            _strings_encodable(k)
            _strings_encodable(v)
    elif isinstance(value, list):
        for item in value:
            _strings_encodable(item)


def _lines(data: bytes) -> list[tuple[bytes, bool]]:
    """Each line's bytes before its LF, and whether an LF ends it (only the last may lack one)."""
    lines: list[tuple[bytes, bool]] = []
    start = 0
    while start < len(data):
        line_feed = data.find(b"\n", start)
        if line_feed == -1:
            lines.append((data[start:], False))
            break
        lines.append((data[start:line_feed], True))
        start = line_feed + 1
    return lines


def _java_length(text: str) -> int:
    return sum(2 if ord(character) > 0xFFFF else 1 for character in text)


def line_errors(data: bytes) -> dict[int, set[str]]:
    """Line number → error codes, for every line with an error (file-level errors at line 0)."""
    errors: dict[int, set[str]] = {}
    seen: set[str] = set()
    records = 0
    for number, (raw, ended_by_line_feed) in enumerate(_lines(data), start=1):
        body = raw[:-1] if ended_by_line_feed and raw.endswith(b"\r") else raw
        codes = errors.setdefault(number, set())
        if b"\r" in body:
            codes.add("stray_carriage_return")
            records += 1
            continue
        if body.startswith(b"\xef\xbb\xbf"):
            codes.add("invalid_encoding")
            records += 1
            continue
        if len(body) >= 1024:
            codes.add("line_too_long")
            records += 1
            continue
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            codes.add("invalid_encoding")
            records += 1
            continue
        if _java_length(text) >= 256:
            codes.add("line_too_long")
            records += 1
            continue
        if all(byte in b" \t" for byte in body):
            codes.add("blank_line")
            continue
        records += 1
        try:
            obj = json.loads(
                text,
                parse_constant=_no_constants,
                parse_float=_finite_float,
                object_pairs_hook=_unique_fields,
            )
            _strings_encodable(obj)
        except (ValueError, RecursionError, UnicodeEncodeError):
            codes.add("invalid_json")
            continue
        if not isinstance(obj, dict):
            codes.add("invalid_json")
            continue
        group = obj.get("GroupId")
        if not isinstance(group, str) or group == "":
            codes.add("missing_group_id")
        elif group in seen:
            codes.add("duplicate_group")
        else:
            seen.add(group)
        version = obj.get("GroupVersionId")
        if not isinstance(version, str) or version == "":
            codes.add("missing_group_version_id")
        if obj.get("DeploymentType") != "NewDeployment":
            codes.add("invalid_deployment_type")
    if records == 0:
        errors.setdefault(0, set()).add("empty_file")
    return {n: c for n, c in errors.items() if c}
