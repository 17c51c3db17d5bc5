"""How a subcommand is declared: a row of its module's ``COMMANDS`` table, registered by ``main``.

Why: every subcommand takes the connection options and ends its help with the exit codes, and
several take the same options (``--wait`` with its timeout, a file named by KEY or TOKEN, an
output file). Declaring those once keeps each command's row to what is its own: its name, the
function that runs it, its own options. Its help is that function's docstring, as Click and
Typer take it (the CLI issue moves the CLI to one of them; this stays plain argparse until then).
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Run = Callable[[argparse.Namespace], int]


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
        the description (argparse reflows both)."""
        summary, _, description = inspect.cleandoc(self.run.__doc__ or "").partition("\n\n")
        return " ".join(summary.split()), description


def add_commands(commands: Any, common: argparse.ArgumentParser, table: Iterable[Command]) -> None:
    """Each command as a subparser that also takes ``common`` (the connection options)."""
    for command in table:
        summary, description = command.help()
        parser = commands.add_parser(command.name, parents=[common], help=summary, description=description)
        for declared in command.options:
            parser.add_argument(*declared.names, **declared.parsing)
        parser.set_defaults(run=command.run, needs_target=command.needs_target, v1_only=command.v1_only)


# -- options several commands take --------------------------------------------------------------

INPUT_FILE = option("file", type=Path, help="the input file")
REF = option(
    "ref", metavar="KEY|TOKEN", help="object key (or name under the incoming prefix), or client token"
)
OUTPUT_FILE = option("-o", "--output", type=Path, help="write here (default: stdout)")
WAIT = (
    option("--wait", action="store_true", help="follow the file until its outcome"),
    option("--timeout", type=float, default=3600.0, help="seconds --wait waits (default 3600)"),
    option("--poll-seconds", type=float, default=2.0, help=argparse.SUPPRESS),
)


def limit(default: int) -> Option:
    """``--limit``: how many rows a listing shows at most."""
    return option("--limit", type=int, default=default, help=f"at most this many (default {default})")
