"""The ``bulk-deployer`` command group: global options, every module's ``COMMANDS``, and one way
each command runs (its namespace, its connection, its errors as one line and its exit code).

Why Click (with Rich for what is drawn on a terminal): parsing, help, "did you mean", usage
errors and the test runner come from a well-kept library; the command modules still declare
argparse-style rows (``commands.py``) that ``clickify`` translates, and their run functions
still receive one namespace (``args.file``, ``args.target``, ``args.output_writer``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

import click
import jmespath
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from bulk_deployer import __version__
from click.core import ParameterSource

from bulk_deployer_cli import authoring, clickify, doctor, files, offline, queue, recovery
from bulk_deployer_cli.commands import Command, Option, option
from bulk_deployer_cli.errors import describe
from bulk_deployer_cli.output import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    OUTPUT_FORMATS,
    CliError,
    Interrupted,
    Output,
    printable,
    set_no_color,
)
from bulk_deployer_cli.stack import (
    DEFAULT_LOCAL_ENV,
    LOCAL_ENV_VARIABLE,
    Target,
    local_requested,
)

PROG = "bulk-deployer"
MODULES = (offline, authoring, files, queue, recovery, doctor)


def _query(text: str) -> Any:
    """A JMESPath expression, compiled (a syntax error is a usage error, exit 2)."""
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"{text!r} is not a JMESPath expression: {exc}") from None


_query.__name__ = "JMESPath expression"

# Every command takes these, before or after its name; the top-level help shows them once.
OUTPUT_OPTIONS = (
    option(
        "--output",
        choices=OUTPUT_FORMATS,
        help="table: for people (the default); json: one JSON document; text: tab-separated values, "
        "no decoration, e.g. --output json",
    ),
    option("--json", action="store_true", help="the same as --output json, e.g. --json"),
    option(
        "--query",
        type=_query,
        metavar="JMESPATH",
        help="print only this part of the result (JMESPath, as the AWS CLI's), "
        "e.g. --query 'checks[?ok==`false`].name'",
    ),
    option(
        "--debug", action="store_true", help="tracebacks and botocore's debug log on stderr, e.g. --debug"
    ),
    option("--no-color", action="store_true", help="no colours (as does NO_COLOR=1), e.g. --no-color"),
)
CONNECTION_OPTIONS = (
    option(
        "--stack",
        metavar="NAME",
        help="CloudFormation stack name (default: $BULK_DEPLOYER_STACK, cdk.json's stackName, or "
        "BulkDeployer), e.g. --stack BulkDeployer",
    ),
    option(
        "--region",
        metavar="REGION",
        help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, or the profile's), "
        "e.g. --region eu-west-1",
    ),
    option(
        "--profile",
        metavar="NAME",
        help="AWS profile (default: $AWS_PROFILE, $AWS_DEFAULT_PROFILE), e.g. --profile ops",
    ),
    option(
        "--local",
        action="store_true",
        help=f"use the stand-ins of `make local-up` (${LOCAL_ENV_VARIABLE}, "
        f"default the repository's {DEFAULT_LOCAL_ENV}; "
        "BULK_DEPLOYER_LOCAL=1 does the same), e.g. --local",
    ),
    option(
        "--endpoint-url",
        metavar="URL",
        help="send every AWS call to this endpoint, e.g. --endpoint-url http://127.0.0.1:5000",
    ),
)
GLOBAL_OPTIONS = (*OUTPUT_OPTIONS, *CONNECTION_OPTIONS)


def _names(rows: Iterable[Option]) -> str:
    return ", ".join(row.names[0] for row in rows)


def _epilog(command: Command) -> str:
    shown = GLOBAL_OPTIONS if command.needs_target else OUTPUT_OPTIONS
    return (
        f"Global options ({_names(shown)}) go before or after the command: see `{PROG} --help`.\n\n"
        + EXIT_CODES_HELP
    )


def build() -> click.Group:
    group = _Group(
        name=PROG,
        help="Exactly-once AWS IoT Greengrass bulk deployments from files dropped into S3: build, check, "
        "submit and follow input files, steer the queue, read outcomes.\n\n"
        f"Example: {PROG} --local submit fleet.jsonl --wait",
        epilog=EXIT_CODES_HELP,
        params=[clickify.to_click(row) for row in GLOBAL_OPTIONS],
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    )
    click.version_option(__version__, prog_name=PROG)(group)
    for module in MODULES:
        for command in module.COMMANDS:
            group.add_command(_command(command))
    return group


class _Group(click.Group):
    """Commands in the order the modules declare them (not sorted); the global options in two
    sections of their own, shown here once rather than in every command's help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections = (
            ("Global options: output", OUTPUT_OPTIONS),
            ("Global options: connection (commands that reach AWS)", CONNECTION_OPTIONS),
        )
        placed: set[str] = set()
        for title, rows in sections:
            names = {clickify.dest_of(row) for row in rows}
            records = [r for p in self.get_params(ctx) if p.name in names and (r := p.get_help_record(ctx))]
            placed |= names
            with formatter.section(title):
                formatter.write_dl(records)
        rest = [r for p in self.get_params(ctx) if p.name not in placed and (r := p.get_help_record(ctx))]
        with formatter.section("Options"):
            formatter.write_dl(rest)
        self.format_commands(ctx, formatter)


def _command(command: Command) -> click.Command:
    summary, description = command.help()
    positionals = [row for row in command.options if clickify.is_positional(row)]
    if positionals:  # Click lists options only: the arguments get a section of their own
        listed = "\n".join(
            f"  {clickify.metavar_of(row):<20} {row.parsing.get('help', '')}" for row in positionals
        )
        description = f"{description}\n\n\b\nArguments:\n{listed}".strip()
    params = [clickify.to_click(row) for row in command.options]
    params += [clickify.to_click(row, hidden=True) for row in GLOBAL_OPTIONS]

    def callback(**_values: Any) -> None:
        ctx = click.get_current_context()
        ctx.exit(invoke(command, ctx))

    return click.Command(
        command.name,
        callback=callback,
        params=params,
        help=f"{summary}\n\n{description}" if description else summary,
        short_help=summary,
        epilog=_epilog(command),
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    )


def _globals(ctx: click.Context) -> dict[str, Any]:
    """The global options: given after the command name, else before it."""
    before = ctx.parent.params if ctx.parent else {}
    chosen: dict[str, Any] = {}
    for row in GLOBAL_OPTIONS:
        dest = clickify.dest_of(row)
        given_after = ctx.get_parameter_source(dest) in (
            ParameterSource.COMMANDLINE,
            ParameterSource.ENVIRONMENT,
        )
        chosen[dest] = ctx.params.get(dest) if given_after else before.get(dest)
    return chosen


def _output_format(chosen: dict[str, Any]) -> str:
    fmt = chosen.get("output")
    if chosen.get("json"):
        if fmt not in (None, "json"):
            raise click.UsageError(f"--json means --output json, not --output {fmt}")
        return "json"
    return str(fmt or "table")


def namespace(command: Command, ctx: click.Context) -> argparse.Namespace:
    """What a run function receives: its own options and the global ones, as attributes."""
    chosen = _globals(ctx)
    fmt = _output_format(chosen)
    args = argparse.Namespace(
        **clickify.values(command.options, ctx.params),
        **chosen,
        command=command.name,
    )
    args.output = fmt
    args.json = fmt == "json"
    args.output_writer = Output(fmt, query=chosen.get("query"))
    return args


def invoke(command: Command, ctx: click.Context) -> int:
    """Run one command: its errors become one line on stderr (with --debug, the traceback too)."""
    args = namespace(command, ctx)
    set_no_color(bool(args.no_color))
    botocore_logger = logging.getLogger("botocore")
    level = botocore_logger.level
    debug_handler = _debug_logging() if args.debug else None
    try:
        if command.needs_target:
            args.target = Target(
                stack_name=args.stack,
                region=args.region,
                profile=args.profile,
                local=local_requested(bool(args.local)),
                endpoint_url=args.endpoint_url,
            )
            if command.v1_only:
                args.target.require_v1(command.name)
        return int(command.run(args))
    except CliError as exc:
        return _fail(str(exc), debug=args.debug)
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        return _fail(describe(exc), debug=args.debug)
    except OSError as exc:
        return _fail(
            f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), debug=args.debug
        )
    except Interrupted as exc:
        return interrupted(f"the file carries on; follow it again with `{exc.follow}`")
    except (KeyboardInterrupt, click.exceptions.Abort):
        return interrupted()
    finally:
        if debug_handler is not None:
            botocore_logger.removeHandler(debug_handler)
            botocore_logger.setLevel(level)
        set_no_color(False)


def interrupted(detail: str = "what was already sent to AWS carries on") -> int:
    """Ctrl-C: one line, no traceback."""
    print(printable(f"\n{PROG}: interrupted; {detail}", sys.stderr), file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def _fail(message: str, *, debug: bool = False) -> int:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(printable(f"{PROG}: {message}", sys.stderr), file=sys.stderr)
    return EXIT_ERROR


def _debug_logging() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s [%(levelname)s] %(message)s"))
    botocore_logger = logging.getLogger("botocore")
    botocore_logger.setLevel(logging.DEBUG)
    botocore_logger.addHandler(handler)
    return handler


_GROUP: click.Group | None = None


def group() -> click.Group:
    """The top-level command (built once per process)."""
    global _GROUP  # noqa: PLW0603 - built on first use: importing this module stays cheap
    if _GROUP is None:
        _GROUP = build()
    return _GROUP


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; the exit code (Click's usage errors: 2)."""
    try:
        code = group().main(
            args=list(sys.argv[1:] if argv is None else argv), prog_name=PROG, standalone_mode=False
        )
    except click.exceptions.Abort:
        return interrupted()
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return int(code or 0)
