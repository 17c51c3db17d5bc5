"""`python -m local`: the stand-ins' shell tool (local/__main__.py) describes every command."""

from __future__ import annotations

import re

import pytest

from local.__main__ import main

COMMANDS = ("up", "down", "status", "env", "sample", "serve")


def test_help_gives_every_command_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15, item 8: `python -m local --help` described only `sample`."""
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    described = dict(re.findall(r"^ {4}(\w+) +(\S.*)$", text, flags=re.MULTILINE))
    assert sorted(described) == sorted(COMMANDS)
    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert described[command] in " ".join(capsys.readouterr().out.split())
