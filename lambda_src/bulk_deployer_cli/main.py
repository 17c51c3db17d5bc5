"""``bulk-deployer``: the operator's command line (shares validator, token, ledger and wiring code).

Each command group lives in its own module and declares its subcommands in a ``COMMANDS`` table
(``commands.py``); this module only registers them, parses the command line, connects to the
deployment, and turns every error into one line on stderr. This package imports the functions'
package ``bulk_deployer``, never the other way round, and is not in the Lambda asset (docs/cli.md,
Layout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from bulk_deployer import __version__

from bulk_deployer_cli import authoring, doctor, files, offline, queue, recovery
from bulk_deployer_cli.commands import add_commands
from bulk_deployer_cli.errors import describe
from bulk_deployer_cli.output import EXIT_CODES_HELP, EXIT_ERROR, CliError, Output
from bulk_deployer_cli.stack import (
    DEFAULT_LOCAL_ENV,
    LOCAL_ENV_VARIABLE,
    Target,
    local_requested,
)

EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.output_writer = Output(bool(args.json))
    try:
        if args.needs_target:
            args.target = Target(
                stack_name=args.stack,
                region=args.region,
                profile=args.profile,
                local=local_requested(bool(args.local)),
            )
            if args.v1_only:
                args.target.require_v1(args.command)
        return int(args.run(args))
    except CliError as exc:
        return _fail(str(exc))
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        return _fail(describe(exc))
    except KeyboardInterrupt:
        print("bulk-deployer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> None:
    """The console script: the CLI's own process, configured once for a command line.

    The functions' logger (``bulk_deployer.observability``) is set to CRITICAL, a level they never
    log at: the CLI reports what ``resume``'s dispatch did itself, and stdout carries the CLI's
    result (one JSON document with ``--json``). ``main`` changes no logging: in-process callers (tests, the
    local tools) keep theirs.
    """
    from bulk_deployer.observability import logger  # noqa: PLC0415 - only this process's setup

    logger.setLevel("CRITICAL")
    sys.exit(main())


def _fail(message: str) -> int:
    print(f"bulk-deployer: {message}", file=sys.stderr)
    return EXIT_ERROR


def _options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """The connection options, accepted before or after the command name."""
    parser.add_argument("--json", action="store_true", default=default, help="print the result as JSON")
    parser.add_argument(
        "--stack",
        default=default,
        help="CloudFormation stack name (default: $BULK_DEPLOYER_STACK, "
        "cdk.json's stackName, or BulkDeployer)",
    )
    parser.add_argument(
        "--region",
        default=default,
        help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, or the profile's)",
    )
    parser.add_argument("--profile", default=default, help="AWS profile")
    parser.add_argument(
        "--local",
        action="store_true",
        default=default,
        help=f"use the stand-ins of `make local-up` (${LOCAL_ENV_VARIABLE}, default the repository's "
        f"{DEFAULT_LOCAL_ENV}); "
        "BULK_DEPLOYER_LOCAL=1 does the same",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulk-deployer",
        description="Exactly-once AWS IoT Greengrass bulk deployments from files dropped into S3: build, "
        "check, submit and follow input files, steer the queue, read outcomes.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _options(parser, default=None)
    common = argparse.ArgumentParser(add_help=False, epilog=EXIT_CODES_HELP)
    _options(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (offline, authoring, files, queue, recovery, doctor):
        add_commands(commands, common, module.COMMANDS)
    for sub in commands.choices.values():
        sub.epilog = EXIT_CODES_HELP
    return parser


if __name__ == "__main__":  # pragma: no cover
    run()
