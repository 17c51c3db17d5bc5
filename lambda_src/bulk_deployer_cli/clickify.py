"""The one adapter from the ``COMMANDS`` rows (``commands.option``, argparse's vocabulary) to Click.

Why one place: command modules declare their options as argparse would (``type=``, ``default=``,
``action="store_true"``, ``nargs="?"``, ...), wherever they were written; this turns each row
into a ``click.Option`` or ``click.Argument`` and each parsed value back into the attribute the
run function reads (``args.file``, ``args.group_id``), so the modules need not know Click.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from bulk_deployer_cli.commands import HIDDEN, Option

_KNOWN = frozenset({"type", "default", "help", "action", "metavar", "choices", "nargs", "dest", "required"})


class FromString(click.ParamType[Any]):
    """A row's ``type=`` callable as a Click type: its ``ValueError`` (or argparse's
    ``ArgumentTypeError``) refuses the value with the callable's own message (exit 2)."""

    def __init__(self, convert: Callable[[str], Any]) -> None:
        self._convert = convert
        self.name = getattr(convert, "__name__", "value").replace("_", " ")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default, already converted
        try:
            return self._convert(value)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            self.fail(str(exc) or f"{value!r} is not a valid {self.name}", param, ctx)


def dest_of(declared: Option) -> str:
    """The attribute a value lands on, as argparse names it."""
    if "dest" in declared.parsing:
        return str(declared.parsing["dest"])
    longs = [n for n in declared.names if n.startswith("--")]
    name = (longs or list(declared.names))[0]
    return name.lstrip("-").replace("-", "_")


def metavar_of(declared: Option) -> str:
    """How the help names a positional: its ``metavar=``, else its name in capitals."""
    return str(declared.parsing.get("metavar") or dest_of(declared).upper())


def is_positional(declared: Option) -> bool:
    return not any(name.startswith("-") for name in declared.names)


def _click_type(parsing: dict[str, Any]) -> click.ParamType[Any] | None:
    if "choices" in parsing:
        return click.Choice([str(c) for c in parsing["choices"]])
    kind = parsing.get("type")
    if kind is None:
        return None
    if kind is Path:
        return click.Path(path_type=Path, dir_okay=False, allow_dash=True)
    if kind is int:
        return click.INT
    if kind is float:
        return click.FLOAT
    return FromString(kind)


def _help(parsing: dict[str, Any]) -> str | None:
    text = parsing.get("help")
    if text is None or text == HIDDEN:
        return None
    return str(text).replace("%(default)s", str(parsing.get("default")))


def to_click(declared: Option, *, hidden: bool = False) -> click.Parameter:
    """One row as a Click parameter (``hidden``: accepted, not shown in the help)."""
    parsing = dict(declared.parsing)
    unknown = set(parsing) - _KNOWN
    if unknown:
        raise TypeError(f"option {declared.names}: no Click translation for {sorted(unknown)}")
    action = parsing.get("action")
    dest = dest_of(declared)
    kind = _click_type(parsing)
    nargs = parsing.get("nargs")
    if nargs not in (None, "?", "*", "+"):
        raise TypeError(f"option {declared.names}: nargs {nargs!r} has no Click translation")
    if is_positional(declared):
        if nargs in ("*", "+"):  # any number (at least one): Click's nargs=-1
            return click.Argument(
                [dest], type=kind, nargs=-1, required=nargs == "+", metavar=metavar_of(declared)
            )
        return click.Argument(
            [dest],
            type=kind,
            required=nargs != "?",
            default=parsing.get("default"),
            metavar=metavar_of(declared),
        )
    names = [*declared.names, dest]
    common: dict[str, Any] = {
        "help": _help(parsing),
        "hidden": hidden or parsing.get("help") == HIDDEN,
        "required": bool(parsing.get("required", False)),
    }
    if action in ("store_true", "store_false"):
        stored = action == "store_true"
        unset = bool(parsing.get("default", not stored))
        return click.Option(names, is_flag=True, flag_value=stored, default=unset, **common)
    if action == "append":
        return click.Option(
            names,
            multiple=True,
            type=kind,
            default=tuple(parsing.get("default") or ()),
            metavar=parsing.get("metavar"),
            **common,
        )
    if action is not None or nargs is not None:
        raise TypeError(f"option {declared.names}: action {action!r} has no Click translation")
    return click.Option(
        names,
        type=kind,
        default=parsing.get("default"),
        show_default=False,
        metavar=parsing.get("metavar"),
        **common,
    )


def values(declared: Iterable[Option], params: dict[str, Any]) -> dict[str, Any]:
    """Click's values as the run functions read them (lists where argparse gives lists)."""
    out: dict[str, Any] = {}
    for row in declared:
        dest = dest_of(row)
        value = params.get(dest)
        many = row.parsing.get("action") == "append" or row.parsing.get("nargs") in ("*", "+")
        out[dest] = list(value or ()) if many else value
    return out
