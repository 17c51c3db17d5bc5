"""What one line is, beyond what a JSON parser checks: where a Java line reader ends it, how long
Java counts it, and whether it names a member twice.

The service's line reader ends a line at a lone CR too, and counts a line's length in UTF-16 code
units (``String.length()``); orjson takes a CR for whitespace and keeps the last of two members of
one name. These rules close those gaps for the validator (``bulk_deployer.validation``).
"""

from __future__ import annotations

import json
import re
from typing import Any

STRAY_CR = re.compile(rb"\r(?!\n)")  # a CR that is not the first half of a CRLF line end


class LongLine:
    """What is kept of a line too long to keep: its length so far and where its first stray CR is."""

    __slots__ = ("ends_with_cr", "length", "stray_cr")

    def __init__(self) -> None:
        self.length = 0
        self.stray_cr: int | None = None  # 1-based byte of the first CR that is followed by another byte
        self.ends_with_cr = False  # the last byte seen so far is a CR

    def see(self, part: bytes) -> None:
        """The next bytes of the line (no LF among them)."""
        if not part:
            return
        if self.stray_cr is None:
            if self.ends_with_cr:
                self.stray_cr = self.length
            elif (at := part.find(b"\r", 0, len(part) - 1)) >= 0:
                self.stray_cr = self.length + at + 1
        self.ends_with_cr = part.endswith(b"\r")
        self.length += len(part)

    def first_stray_cr(self, *, ended_by_line_feed: bool) -> int | None:
        """The 1-based byte of the first CR not part of a CRLF line end, or None."""
        if self.stray_cr is None and self.ends_with_cr and not ended_by_line_feed:
            return self.length
        return self.stray_cr


def stray_cr_byte(raw: bytes, *, ended_by_line_feed: bool) -> int:
    """The 1-based byte of the line's first CR that is not part of a CRLF line end, or 0."""
    at = raw.find(b"\r")
    if at < 0 or (ended_by_line_feed and at == len(raw) - 1):
        return 0
    return at + 1


def utf16_units(text: str) -> int:
    """The length Java gives a string: a character outside the BMP is two code units."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


class _RepeatedKey(ValueError):
    pass


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise _RepeatedKey(next(n for n in names if names.count(n) > 1))
    return dict(pairs)


def repeated_key(raw: bytes, obj: dict[str, Any]) -> str | None:
    """A member name the line gives twice (in any object), or None.

    Parsed again only when there are more colons than keys, which valid lines seldom have.
    """
    if raw.count(b":") == len(obj):
        return None
    try:
        json.loads(raw, object_pairs_hook=_no_repeated_keys)
    except _RepeatedKey as exc:
        return repr(str(exc))
    except (ValueError, RecursionError):  # orjson accepted the line: its verdict stands
        return None
    return None
