"""Output for people and for scripts: one place decides the format, the query, colours and symbols.

Why: every command prints one result, as the AWS CLI does: ``--output table`` (the default: a
summary for people, tables drawn by Rich on a terminal and plain, never cut, when piped),
``json`` (one document) or ``text`` (tab-separated values, no decoration), each after
``--query`` (JMESPath, as the AWS CLI's). Errors are one line on stderr. A terminal that
cannot print ✓ or ✗ (``PYTHONIOENCODING=ascii``) gets ASCII words instead.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILED = 1  # the answer is "no": invalid file, failed deployment, failed check, refused
EXIT_ERROR = 2  # usage, I/O, AWS or lookup error (one line on stderr)
EXIT_TIMEOUT = 3  # --wait ran out of time
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)

OUTPUT_FORMATS = ("table", "json", "text")

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 a negative answer (invalid input file, plan or doctor found "
    "problems, a deployment with failed, invalid or never-deployed records, a refused redrive); "
    "2 usage, I/O or AWS error (wrong stack, missing credentials, access denied, unreachable "
    "endpoint, unknown key); 3 --wait timed out; 130 interrupted (Ctrl-C)."
)

# What a terminal that cannot encode a symbol shows instead.
ASCII_FALLBACK = {
    "✓": "OK",
    "✗": "FAIL",
    "→": "->",
    "—": "-",
    "\u2013": "-",  # en dash
    "…": "...",
    "·": "-",
    "█": "#",
    "━": "#",
}


class CliError(Exception):
    """A one-line message for stderr, no traceback (exit 2)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while following a file: ``follow`` is the command that follows it again."""

    def __init__(self, follow: str) -> None:
        super().__init__(follow)
        self.follow = follow


def can_encode(text: str, stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def printable(text: str, stream: TextIO) -> str:
    """``text`` as ``stream`` can encode it: the ASCII fallbacks, then ``?`` for anything else."""
    if can_encode(text, stream):
        return text
    for symbol, fallback in ASCII_FALLBACK.items():
        text = text.replace(symbol, fallback)
    encoding = getattr(stream, "encoding", None) or "ascii"
    return text.encode(encoding, errors="replace").decode(encoding)


def is_terminal(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


# --no-color, for this process (set once per command line by the invocation).
_no_color = False


def set_no_color(no_color: bool) -> None:
    global _no_color  # noqa: PLW0603 - one command line per process; tests set it per call
    _no_color = no_color


def colour_wanted(stream: TextIO) -> bool:
    """Colours on a terminal (or with ``FORCE_COLOR``), never with ``--no-color`` or ``NO_COLOR``."""
    if _no_color or os.environ.get("NO_COLOR"):
        return False
    return is_terminal(stream) or bool(os.environ.get("FORCE_COLOR"))


class Output:
    """Writes a command's result in the chosen format, after ``--query``."""

    def __init__(
        self,
        fmt: str = "table",
        stream: TextIO | None = None,
        *,
        query: Any = None,
    ) -> None:
        self.format = fmt
        self.query = query  # a compiled JMESPath expression, or None
        self._stream = stream

    @property
    def json_mode(self) -> bool:
        return self.format == "json"

    @property
    def plain(self) -> bool:
        """JSON or text: stdout is for a program; progress and notes stay off the terminal's way."""
        return self.format != "table"

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def result(self, data: Any, human: Callable[[Any], str] | str) -> None:
        stream = self.stream
        if self.query is not None:
            data = self.query.search(data)
        if self.format == "json":
            ascii_only = not can_encode("✓", stream)
            print(json.dumps(data, indent=2, ensure_ascii=ascii_only, default=str), file=stream)
            return
        if self.format == "text":
            text = as_text(data)
        elif self.query is not None:
            text = as_table(data)
        else:
            text = human if isinstance(human, str) else human(data)
        if text:
            text = printable(text, stream)
            if self.format == "table" and colour_wanted(stream):
                text = colour_marks(text)
            print(text, file=stream)

    def note(self, text: str) -> None:
        """Progress and hints: stderr, so stdout stays the result."""
        if not self.json_mode:
            print(printable(text, sys.stderr), file=sys.stderr)


# -- text: the AWS CLI's tab-separated values ---------------------------------------------------


def _scalar(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def as_text(data: Any) -> str:
    """Tab-separated values, as the AWS CLI's ``--output text``: a dict's scalar values on one
    line (in its order), then its lists and dicts; a list of scalars on one line; a list of
    dicts one line each."""
    lines: list[str] = []
    _text_lines(data, lines)
    return "\n".join(lines)


def _text_lines(data: Any, lines: list[str]) -> None:
    if isinstance(data, Mapping):
        scalars = [_scalar(v) for v in data.values() if not isinstance(v, Mapping | list | tuple)]
        if scalars:
            lines.append("\t".join(scalars))
        for value in data.values():
            if isinstance(value, Mapping | list | tuple):
                _text_lines(value, lines)
    elif isinstance(data, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in data):
            if data:
                lines.append("\t".join(_scalar(v) for v in data))
        else:
            for item in data:
                _text_lines(item, lines)
    elif data is not None:
        lines.append(_scalar(data))


def as_table(data: Any) -> str:
    """A query's result for people: rows of dicts as a table, a dict as NAME/VALUE rows."""
    if isinstance(data, list) and data and all(isinstance(row, Mapping) for row in data):
        columns = list(dict.fromkeys(key for row in data for key in row))
        return table(data, columns)
    if isinstance(data, Mapping):
        return table([{"name": k, "value": v} for k, v in data.items()], ("name", "value"))
    if isinstance(data, list):
        return "\n".join(_cell(v) for v in data)
    return "" if data is None else _cell(data)


# -- tables -------------------------------------------------------------------------------------


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str = "(none)") -> str:
    """Columns as wide as their widest cell; nothing is cut. On a terminal Rich draws it (with
    ASCII lines where the terminal cannot print box drawing); elsewhere it is plain text."""
    if not rows:
        return empty
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if is_terminal(sys.stdout):
        return _rich_table(cells, columns)
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _rich_table(cells: list[list[str]], columns: Sequence[str]) -> str:
    from rich import box  # noqa: PLC0415 - Rich only where a terminal shows a table
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    ascii_only = not can_encode("─│", sys.stdout)
    drawn = Table(box=box.ASCII if ascii_only else box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        drawn.add_column(column.upper(), overflow="fold")
    for row in cells:
        drawn.add_row(*row)
    buffer = io.StringIO()
    colour = colour_wanted(sys.stdout)
    console = Console(
        file=buffer, width=_terminal_width(), force_terminal=colour, no_color=not colour, highlight=False
    )
    console.print(drawn)
    return buffer.getvalue().rstrip("\n")


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 120


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, Mapping):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


# -- symbols ------------------------------------------------------------------------------------

_MARK_COLOURS = {"✓": "green", "✗": "red", "!": "yellow", "OK": "green", "FAIL": "red"}


def check_mark(ok: bool | None) -> str:
    """✓ passed, ✗ failed, ! could not be checked (OK/FAIL where the terminal cannot print them)."""
    return {True: "✓", False: "✗", None: "!"}[ok]


def colour_marks(text: str) -> str:
    """The check marks at the start of a line, coloured (only on a terminal that wants colours)."""
    import click  # noqa: PLC0415

    out = []
    for line in text.split("\n"):
        styled = line
        for mark, colour in _MARK_COLOURS.items():
            if line.startswith(mark + " "):
                styled = click.style(mark, fg=colour, bold=True) + line[len(mark) :]
                break
        out.append(styled)
    return "\n".join(out)
