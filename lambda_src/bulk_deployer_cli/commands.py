"""How a subcommand is declared: a row of its module's ``COMMANDS`` table, registered by ``main``.

Why: every subcommand takes the global options and ends its help with the exit codes, and
several take the same options (``--wait`` with its timeout, a file named by KEY or TOKEN, a
file to save). Declaring those once keeps each command's row to what is its own: its name, the
function that runs it, its own options. The rows stay in ``argparse``'s vocabulary (``type=``,
``default=``, ``action="store_true"``, ``nargs=``, ``choices=``, ``metavar=``, ``dest=``,
``required=``) so that a row reads the same wherever it was written; ``clickify`` is the one
place that turns them into Click parameters. Its help is that function's docstring, as Click
takes it. A ``type=`` is any callable from the string given; one that raises ``ValueError`` (or
``argparse.ArgumentTypeError``) refuses the value, with its message, before the command runs.
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulk_deployer_cli.output import CliError

Run = Callable[[argparse.Namespace], int]

# A row's ``help=`` that hides an option from the help (argparse's spelling, kept).
HIDDEN = argparse.SUPPRESS


@dataclass(frozen=True)
class Option:
    """One ``add_argument``: an option's names (or a positional's), and how it is parsed."""

    names: tuple[str, ...]
    parsing: Mapping[str, Any]


def option(*names: str, **parsing: Any) -> Option:
    return Option(names, parsing)


@dataclass(frozen=True)
class Command:
    name: str
    run: Run
    options: tuple[Option, ...] = ()
    needs_target: bool = True  # False: it needs no AWS (no stack is looked up)
    # True: only a Greengrass V1 stack can do it (bulk deployments, groups, the execution role);
    # on a V2 stack the command is refused in one line before it does anything.
    v1_only: bool = False

    def help(self) -> tuple[str, str]:
        """The docstring of ``run``: its first paragraph is the line in the command list, the rest
        the description."""
        summary, _, description = inspect.cleandoc(self.run.__doc__ or "").partition("\n\n")
        return " ".join(summary.split()), description


# -- checks of values, argparse-style (a ValueError refuses the value with its message) ----------


def positive_seconds(text: str) -> float:
    """Seconds greater than 0 (``--timeout 600``)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text!r}: must be a number of seconds greater than 0")
    return value


def at_least(minimum: int) -> Callable[[str], int]:
    """A whole number of at least ``minimum``."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise ValueError(f"{text!r}: must be at least {minimum}")
        return value

    whole.__name__ = f"integer >= {minimum}"
    return whole


def object_name(text: str) -> str:
    """An S3 object name the pipeline can take as given: not empty, and no empty, ``.`` or ``..``
    segment (``a//b``, ``a/./b``, ``a/../b`` name another key, or none, in most tools)."""
    if not text.strip():
        raise ValueError("must not be empty (leave --key out for the default name)")
    segments = text.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            shown = segment or "an empty segment"
            raise ValueError(f"{text!r}: {shown!r} is not allowed between slashes")
    return text


def regex(text: str) -> re.Pattern[str]:
    """A Python regular expression (``re.search``)."""
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"{text!r} is not a regular expression: {exc}") from None


def assignments(flag: str, values: Sequence[str], shape: str) -> dict[str, str]:
    """Repeated ``NAME=VALUE`` options (``--version``, ``--set``, ``--add``) as a mapping; a
    malformed one, or a name given twice (which value was meant?), is refused."""
    found: dict[str, str] = {}
    for value in values:
        name, sep, assigned = value.partition("=")
        if not sep or not name or not assigned:
            raise CliError(f"{flag} {value!r}: expected {shape}")
        if name in found and found[name] != assigned:
            raise CliError(f"{flag} {name}: given twice ({found[name]} and {assigned})")
        found[name] = assigned
    return found


# -- options several commands take --------------------------------------------------------------

INPUT_FILE = option("file", type=Path, help="the input file (JSON Lines), e.g. fleet.jsonl")
REF = option(
    "ref",
    metavar="KEY|TOKEN",
    help="object key (or name under the incoming prefix), or client token, e.g. fleet.jsonl",
)
SAVE_FILE = option(
    "--save", type=Path, metavar="PATH", help="write the file here, e.g. --save fleet.jsonl (default: stdout)"
)
WAIT = (
    option("--wait", action="store_true", help="follow the file until its outcome, e.g. --wait"),
    option(
        "--timeout",
        type=positive_seconds,
        default=3600.0,
        help="seconds --wait waits, more than 0 (default 3600), e.g. --timeout 600",
    ),
    option("--poll-seconds", type=positive_seconds, default=2.0, help=HIDDEN),
    # How often a pipe gets a progress line (tests shorten it).
    option("--progress-seconds", type=positive_seconds, default=10.0, help=HIDDEN),
)


def limit(default: int) -> Option:
    """``--limit``: how many rows a listing shows at most."""
    return option(
        "--limit",
        type=at_least(1),
        default=default,
        help=f"at most this many, 1 or more (default {default}), e.g. --limit 5",
    )
