"""Where an input file a command built goes: a file (``--save``), or stdout with the summary on stderr.

Why one place: make-input and rollback-input build files on both kinds of stack; each validates
its lines with its stack's rules, then writes them the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulk_deployer_cli.output import CliError, Output

if TYPE_CHECKING:
    from bulk_deployer.validation import ValidationResult


def write_checked(
    out: Output,
    body: bytes,
    validation: ValidationResult,
    path: Path | None,
    summary: dict[str, Any],
    human: str,
) -> None:
    """``write_input``, for a file its stack's rules passed: one the starter would reject is not written."""
    if not validation.valid:
        error = validation.errors[0]
        raise CliError(
            f"the file built is not valid for this stack (line {error.line}: {error.code}: {error.message}); "
            "nothing written"
        )
    write_input(out, body, path, summary, human)


def write_input(out: Output, body: bytes, path: Path | None, summary: dict[str, Any], human: str) -> None:
    if path is None:
        if out.plain:
            raise CliError(f"--output {out.format} needs --save PATH (stdout carries the input file)")
        sys.stdout.write(body.decode("utf-8"))
        print(human, file=sys.stderr)
        return
    try:
        path.write_bytes(body)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    out.result({**summary, "output": str(path)}, f"{human}\nwrote {path}")
