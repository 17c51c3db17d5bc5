"""A request checked against its botocore input shape: required members, types, lengths, patterns,
enums, ranges, list and map sizes.

Why: botocore checks only some of these on the client (required, types, minimums) and a caller
may switch that off; the services check all of them and answer with the AWS wording
("1 validation error detected: Value 'x' at 'deploymentName' failed to satisfy constraint: ...").
greengrassv2 answers ValidationException (with `reason` and `fields`), iot InvalidRequestException.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from botocore.model import Shape

from .errors import ServiceError, invalid_request, validation

# Java regex classes the models use that Python's `re` lacks (ASCII approximations, documented).
_JAVA_CLASSES = {
    r"\p{Graph}": r"\x21-\x7e",
    r"\p{Upper}": "A-Z",
    r"\p{Digit}": "0-9",
    r"\p{L}": "a-zA-Z\u00aa-\uffff",
    r"\p{Z}": r"\s",
    r"\p{N}": "0-9",
    r"\p{C}": r"\x00-\x1f\x7f",
}
_NUMBERS = ("integer", "long", "double", "float")


class Problem:
    def __init__(self, path: str, value: Any, constraint: str) -> None:
        self.path, self.value, self.constraint = path, value, constraint

    def text(self) -> str:
        shown = "null" if self.value is None else f"'{_short(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def problems(shape: Shape, value: Any, path: str) -> list[Problem]:
    """Every way `value` breaks `shape` (empty when it conforms)."""
    kind = shape.type_name
    found: list[Problem] = []
    if not _has_type(kind, value):
        return [Problem(path, value, f"Member must be of type {kind}")]
    meta = shape.metadata
    if kind == "structure":
        for name in getattr(shape, "required_members", []):
            if value.get(name) is None:
                found.append(Problem(_join(path, name), None, "Member must not be null"))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                found += problems(member, value[name], _join(path, name))
        return found
    if kind in ("string", "list", "map", *_NUMBERS):
        found += _out_of_range(kind, meta, value, path)
    if kind == "string":
        if "pattern" in meta and not _fullmatch(meta["pattern"], value):
            found.append(
                Problem(path, value, f"Member must satisfy regular expression pattern: {meta['pattern']}")
            )
        if shape.enum and value not in shape.enum:
            found.append(
                Problem(path, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            )
    elif kind == "list":
        for index, item in enumerate(value):
            found += problems(shape.member, item, f"{path}.{index + 1}.member")
    elif kind == "map":
        for key, item in value.items():
            found += problems(shape.key, key, f"{path}.{key}.key")
            found += problems(shape.value, item, f"{path}.{key}.value")
    return found


def _out_of_range(kind: str, meta: dict[str, Any], value: Any, path: str) -> list[Problem]:
    """The model's min and max: on a string's length, a list's or map's size, a number's value."""
    if kind in _NUMBERS:
        measure, unit = value, "value"
    else:
        measure, unit = len(value), ("length" if kind == "string" else "size")
    found: list[Problem] = []
    if "min" in meta and measure < meta["min"]:
        found.append(Problem(path, value, f"Member must have {unit} greater than or equal to {meta['min']}"))
    if "max" in meta and measure > meta["max"]:
        found.append(Problem(path, value, f"Member must have {unit} less than or equal to {meta['max']}"))
    return found


def check(
    service: str, shape: Shape | None, params: dict[str, Any], extra: list[Problem] | None = None
) -> None:
    """Raise the service's validation error when the request breaks its model (or `extra` rules)."""
    found = (problems(shape, params, "") if shape is not None else []) + (extra or [])
    if found:
        raise to_error(service, found)


def to_error(service: str, found: list[Problem]) -> ServiceError:
    count = len(found)
    message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
        p.text() for p in found
    )
    if service == "iot":
        return invalid_request(message)
    return validation(message, [{"name": p.path, "message": p.text()} for p in found])


def _has_type(kind: str, value: Any) -> bool:
    if kind == "structure" or kind == "map":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True  # timestamps and blobs: not used by the emulated requests


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 100 else text[:97] + "..."


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a pattern Python cannot read is not checked


def _fullmatch(pattern: str, value: str) -> bool:
    """The services match the whole value (a thing name with a space is refused, not 'contained')."""
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None
