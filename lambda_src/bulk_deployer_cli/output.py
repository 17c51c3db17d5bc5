"""Output for people and for scripts: one place decides between a table and JSON.

Why: every command prints either a human summary or one JSON document (``--json``), and
reports errors as one line on stderr; keeping that here keeps the commands short.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILED = 1  # the answer is "no": invalid file, failed deployment, failed check, refused
EXIT_ERROR = 2  # usage, I/O, AWS or lookup error (one line on stderr)
EXIT_TIMEOUT = 3  # --wait ran out of time

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 a negative answer (invalid input file, plan or doctor found "
    "problems, the deployment did not fully succeed, a refused redrive); 2 usage, I/O or AWS "
    "error (wrong stack, missing credentials, access denied, unreachable endpoint, unknown key); "
    "3 --wait timed out."
)


class CliError(Exception):
    """A one-line message for stderr, no traceback (exit 2)."""


class Output:
    """Writes a command's result: ``human(data)`` text, or ``data`` as JSON."""

    def __init__(self, json_mode: bool, stream: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def result(self, data: Any, human: Callable[[Any], str] | str) -> None:
        if self.json_mode:
            print(json.dumps(data, indent=2, ensure_ascii=False, default=str), file=self.stream)
            return
        text = human if isinstance(human, str) else human(data)
        if text:
            print(text, file=self.stream)

    def note(self, text: str) -> None:
        """Progress and hints: stderr, so stdout stays the result."""
        if not self.json_mode:
            print(text, file=sys.stderr)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str = "(none)") -> str:
    if not rows:
        return empty
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, Mapping):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def check_mark(ok: bool | None) -> str:
    """✓ passed, ✗ failed, ! could not be checked."""
    return {True: "✓", False: "✗", None: "!"}[ok]
