"""clickify: a COMMANDS row in argparse's vocabulary parses under Click as argparse would parse it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import pytest
from bulk_deployer_cli import clickify
from bulk_deployer_cli.commands import HIDDEN, at_least, option, positive_seconds

ROWS = (
    option("file", type=Path, help="a file"),
    option("extra", nargs="*", help="more"),
    option("--count", type=at_least(1), default=3, help="how many"),
    option("--ratio", type=float, default=0.5, help="ratio"),
    option("--pick", choices=["a", "b"], default="a", help="one of"),
    option("--tag", action="append", default=[], help="repeatable"),
    option("--yes", action="store_true", help="flag"),
    option("--no-dispatch", action="store_false", dest="dispatch", help="off"),
    option("--from", dest="source", default="intake", help="renamed"),
    option("--secret", type=positive_seconds, default=2.0, help=HIDDEN),
)


def _argparse(argv: Sequence[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    for row in ROWS:
        parser.add_argument(*row.names, **row.parsing)
    return vars(parser.parse_args(argv))


def _click(argv: Sequence[str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    command = click.Command(
        "x", params=[clickify.to_click(row) for row in ROWS], callback=lambda **v: seen.update(v)
    )
    command.main(list(argv), standalone_mode=False)
    return clickify.values(ROWS, seen)


@pytest.mark.parametrize(
    "argv",
    [
        ["f.jsonl"],
        ["f.jsonl", "g", "h", "--count", "7", "--ratio", "2", "--pick", "b", "--tag", "x", "--tag", "y"],
        ["f.jsonl", "--yes", "--no-dispatch", "--from", "events", "--secret", "0.5"],
    ],
)
def test_rows_parse_under_click_as_under_argparse(argv: list[str]) -> None:
    assert _click(argv) == _argparse(argv)


def test_a_type_that_refuses_is_a_usage_error_with_its_message() -> None:
    with pytest.raises(click.BadParameter, match="must be at least 1"):
        _click(["f.jsonl", "--count", "0"])
    hidden = [p for p in (clickify.to_click(row) for row in ROWS) if isinstance(p, click.Option) and p.hidden]
    assert [p.name for p in hidden] == ["secret"]
