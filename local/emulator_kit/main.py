"""Run an emulator as a process: the options every emulator takes, then READY <url> on stdout.

Why a process too: `make local-up` and the demo keep the emulators running beside the other
stand-ins; they learn each one's URL from the first stdout line ("READY <url>") or from --url-file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..serving import serve_until_signalled
from .clock import ManualClock
from .server import EmulatorServer

# Builds the emulator from the parsed options, its settings (a JSON object) and the clock.
Build = Callable[[argparse.Namespace, dict[str, Any], ManualClock | None], EmulatorServer[Any]]


def serve_emulator(
    argv: list[str] | None,
    parser: argparse.ArgumentParser,
    build: Build,
    settings_example: str,
) -> int:
    """Parse `argv` with `parser` (its own options) and the shared ones; serve until signalled."""
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument(
        "--settings", default="{}", help=f"JSON object of EmulatorConfig switches, e.g. '{settings_example}'"
    )
    parser.add_argument(
        "--manual-clock", action="store_true", help="time moves only via POST /_emulator/clock/advance"
    )
    parser.add_argument("--url-file", type=Path, help="write the endpoint URL to this file once listening")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")

    settings = json.loads(args.settings)
    settings.setdefault("region", args.region)
    emulator = build(args, settings, ManualClock() if args.manual_clock else None)
    emulator.start()
    if args.url_file:
        args.url_file.write_text(emulator.url + "\n")
    print(f"READY {emulator.url}", flush=True)

    serve_until_signalled(emulator.stop)
    return 0
