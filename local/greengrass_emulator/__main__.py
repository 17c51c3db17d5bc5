"""Run the emulator as a process: `python -m local.greengrass_emulator --port N --aws-endpoint URL`.

Why a process too: `make local-up` and the demo keep it running beside moto; they learn its URL
from the first stdout line ("READY <url>") or from --url-file.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..emulator_kit.clock import ManualClock
from ..emulator_kit.main import serve_emulator
from .server import GreengrassEmulator


def _build(
    args: argparse.Namespace, settings: dict[str, Any], clock: ManualClock | None
) -> GreengrassEmulator:
    if args.pace is not None:
        settings.setdefault("init_seconds", args.pace)
        settings.setdefault("stop_seconds", args.pace)
        settings.setdefault("settle_seconds", 2 * args.pace)
    return GreengrassEmulator(args.aws_endpoint, host=args.host, port=args.port, clock=clock, **settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.greengrass_emulator", description=__doc__)
    parser.add_argument(
        "--aws-endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="the AWS stand-in (moto server) URL; default $AWS_ENDPOINT_URL",
    )
    parser.add_argument("--pace", type=float, help="shorthand: init and stop seconds = pace, settle = 2*pace")
    return serve_emulator(argv, parser, _build, '{"token_ttl_seconds": 5}')


if __name__ == "__main__":
    sys.exit(main())
