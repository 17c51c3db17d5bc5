"""Checks of one parsed JSON value against a shape of the API model, each problem named by its path.

The V2 line is a request of the Greengrass V2 API, nested three or four objects deep; an
operator fixes it faster when every problem says where it is (``components["com.example.Hello"]
.configurationUpdate.merge``) and what was expected. Types are JSON's, as strict as botocore's
parameter validation or stricter: a boolean is not a number, a float is not an integer, null is
not a value. Lengths are counted in UTF-16 code units, as the Java services count them, which is
never fewer than botocore's count of code points.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from bulk_deployer.line_checks import utf16_units

UNKNOWN_MEMBER = "unknown_member"
INT32_MAX = 2**31 - 1  # the API model's "integer"


class Problem(NamedTuple):
    """One problem of a line: the code it is reported under, and a message naming where it is."""

    code: str
    message: str


@dataclass(frozen=True)
class At:
    """Where a value sits in the line (its path) and the code its problems are reported under."""

    problems: list[Problem]
    code: str
    path: str

    def member(self, name: str, code: str | None = None) -> At:
        return At(self.problems, code or self.code, f"{self.path}.{name}" if self.path else name)

    def key(self, name: str, code: str | None = None) -> At:
        return At(self.problems, code or self.code, f"{self.path}[{shown(name)}]")

    def with_code(self, code: str) -> At:
        return At(self.problems, code, self.path)

    def item(self, index: int) -> At:
        return At(self.problems, self.code, f"{self.path}[{index}]")

    def problem(self, message: str, code: str | None = None) -> None:
        self.problems.append(Problem(code or self.code, f"{self.path} {message}" if self.path else message))


Check = Callable[[At, Any], object]


def shown(value: str, limit: int = 60) -> str:
    """A string as JSON, cut short: messages name values without repeating a huge one."""
    return json.dumps(value if len(value) <= limit else value[:limit] + "…", ensure_ascii=False)


def kind(value: Any) -> str:
    """A JSON value's type in the words of the JSON spec, for "got ..." in messages."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if type(value) in (int, float):
        return "a number"
    if type(value) is str:
        return "a string"
    return "an array" if type(value) is list else "an object"


def structure(
    at: At,
    value: Any,
    members: Mapping[str, Check],
    *,
    required: Collection[str] = (),
    codes: Mapping[str, str] | None = None,
    unknown: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """An object of these members only (each checked), the required ones present; else None.

    ``codes`` gives a member (and what it holds) a code of its own instead of the object's.
    ``unknown`` gives a reason for a member that is refused on purpose (a member of the API we
    set ourselves or do not support); any other unknown member is named with the ones allowed.
    """
    codes = codes or {}
    if type(value) is not dict:
        at.problem(f"must be an object, got {kind(value)}")
        return None
    for name in value:
        if name not in members:
            reason = (unknown or {}).get(name) or f"is not allowed here (allowed: {', '.join(members)})"
            at.member(name).problem(reason, UNKNOWN_MEMBER)
    for name in required:
        if name not in value:
            at.member(name, codes.get(name)).problem("is required")
    for name, check in members.items():
        if name in value:
            check(at.member(name, codes.get(name)), value[name])
    return value


def text(at: At, value: Any, *, min_chars: int = 1, max_chars: int | None = None) -> str | None:
    """A string of ``min_chars`` to ``max_chars`` characters (UTF-16 code units)."""
    if type(value) is not str:
        at.problem(f"must be a string, got {kind(value)}")
        return None
    length = utf16_units(value)
    if length < min_chars or (max_chars is not None and length > max_chars):
        bounds = f"at least {min_chars}" if max_chars is None else f"{min_chars} to {max_chars:,}"
        at.problem(f"must be {bounds} characters long, got {length:,}")
        return None
    return value


def integer(at: At, value: Any, low: int, high: int = INT32_MAX) -> int | None:
    """A whole number from ``low`` to ``high``, written without a fraction or exponent."""
    if type(value) is not int:
        at.problem(f"must be a whole number from {low:,} to {high:,}, got {kind(value)}")
        return None
    if not low <= value <= high:
        at.problem(f"must be from {low:,} to {high:,}, got {value:,}")
        return None
    return value


def number(
    at: At, value: Any, low: float, high: float | None = None, *, decimals: int | None = None
) -> float | None:
    """A number from ``low`` to ``high``, with at most ``decimals`` digits after the point."""
    if type(value) not in (int, float):
        at.problem(f"must be a number, got {kind(value)}")
        return None
    if value < low or (high is not None and value > high):
        bounds = f"at least {low:g}" if high is None else f"from {low:g} to {high:g}"
        at.problem(f"must be {bounds}, got {value:g}")
        return None
    if decimals is not None and round(value, decimals) != value:
        at.problem(f"takes at most {decimals} digit(s) after the decimal point, got {value!r}")
        return None
    return float(value)


def choice(at: At, value: Any, options: Collection[str]) -> str | None:
    """Exactly one of ``options`` (case matters, as in the API)."""
    if type(value) is not str or value not in options:
        got = shown(value) if type(value) is str else kind(value)
        at.problem(f"must be one of {', '.join(options)}, got {got}")
        return None
    return value


def array(at: At, value: Any, item: Check, *, min_items: int = 0) -> list[Any] | None:
    """An array of at least ``min_items`` items, each checked."""
    if type(value) is not list:
        at.problem(f"must be an array, got {kind(value)}")
        return None
    if len(value) < min_items:
        at.problem(f"must hold at least {min_items} item(s), got {len(value)}")
    for index, element in enumerate(value):
        item(at.item(index), element)
    return value
