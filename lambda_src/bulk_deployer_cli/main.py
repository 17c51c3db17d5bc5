"""``bulk-deployer``: the operator's command line (shares validator, token, ledger and wiring code).

This module stays light: the console script's ``run`` takes Ctrl-C in hand before anything
heavy (botocore, Click, the functions' package) is imported, so an interrupt in the first
fraction of a second is one line and exit 130, never a traceback. The commands, their options
and their errors live in ``cli`` (Click), the commands themselves in one module per group,
each declaring a ``COMMANDS`` table (``commands.py``). This package imports the functions'
package ``bulk_deployer``, never the other way round, and is not in the Lambda asset
(docs/cli.md, Layout).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from bulk_deployer_cli.output import EXIT_INTERRUPTED  # the standard library only: still light


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line in this process; its exit code. Changes no logging (tests and the
    local tools call it in-process)."""
    from bulk_deployer_cli.cli import main as cli_main  # noqa: PLC0415 - see the module's docstring

    return cli_main(argv)


def run() -> None:
    """The console script: the CLI's own process, configured once for a command line.

    Ctrl-C is handled first (a KeyboardInterrupt anywhere, imports included, ends in one line).
    A terminal that cannot encode a character gets ``?`` rather than a crash. The functions'
    logger (``bulk_deployer.observability``) is set to CRITICAL, a level they never log at: the
    CLI reports what ``resume``'s dispatch did itself, and stdout carries the CLI's result.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(errors="replace")
        from bulk_deployer.observability import logger  # noqa: PLC0415 - only this process's setup

        logger.setLevel("CRITICAL")
        code = main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while this line is printed
        print("\nbulk-deployer: interrupted", file=sys.stderr, flush=True)
        code = EXIT_INTERRUPTED
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
