"""Text as AWS APIs accept it, for values that quote what users named (S3 keys, error messages).

S3 keys may hold any Unicode, control characters included; SQS message attributes and SNS
subjects do not. A value they refuse would fail the call that carries it: the park of a poison
message, an outcome notification. The exact text stays where it is allowed (message bodies).
"""

from __future__ import annotations

import re
from typing import Final

# What SQS (and SNS) refuse in a message attribute string: everything outside #x9 | #xA | #xD |
# #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. Written as the (small) set refused rather than
# the negation of the set accepted, which compiles in a tenth of the time: it is on the cold start.
_NOT_ATTRIBUTE_TEXT: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# An SNS subject: printable ASCII, no line breaks or control characters, under 100 characters.
_NOT_SUBJECT_TEXT: Final = re.compile("[^\u0020-\u007e]")
SNS_SUBJECT_MAX_CHARS: Final = 99


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def attribute_text(text: str) -> str:
    """``text`` as a message attribute value: disallowed characters as ``\\x``/``\\u`` escapes."""
    return _NOT_ATTRIBUTE_TEXT.sub(_escape, text)


def subject_text(text: str) -> str:
    """``text`` as an SNS subject: escapes for what is not printable ASCII, cut with "..." to fit."""
    subject = _NOT_SUBJECT_TEXT.sub(_escape, text).strip() or "-"
    if len(subject) > SNS_SUBJECT_MAX_CHARS:
        subject = subject[: SNS_SUBJECT_MAX_CHARS - 3] + "..."
    return subject
