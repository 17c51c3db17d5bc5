"""Tags for a bulk deployment, made valid under the AWS tag rules.

Tags come from three places an operator controls loosely (the stack's defaults, the input
object's S3 tags) and one we control (the token tag that lets a crashed starter find its
bulk deployment). Invalid characters are replaced rather than the start failing later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
_INVALID = re.compile(r"[^\w .:/=+\-@]", re.UNICODE)


def invalid_tag_character(text: str) -> str | None:
    """The first character AWS's tag rules do not allow in a key or value, or None."""
    found = _INVALID.search(text)
    return found.group() if found else None


def clean_tag_key(key: str) -> str | None:
    """A valid tag key, or None when nothing usable is left (or it is AWS-reserved)."""
    cleaned = _INVALID.sub("_", key.strip())[:MAX_KEY_CHARS]
    if not cleaned or cleaned.lower().startswith("aws:"):
        return None
    return cleaned


def clean_tag_value(value: str) -> str:
    return _INVALID.sub("_", value.strip())[:MAX_VALUE_CHARS]


def merge_tags(*sources: Mapping[str, str], required: Mapping[str, str]) -> dict[str, str]:
    """Later sources override earlier ones; required tags always win and always fit."""
    merged: dict[str, str] = {}
    for source in sources:
        for key, value in source.items():
            clean_key = clean_tag_key(key)
            if clean_key is not None and clean_key not in required:
                merged[clean_key] = clean_tag_value(value)
    room = MAX_TAGS - len(required)
    kept = dict(list(merged.items())[:room])
    kept.update(required)
    return kept
