"""Run the emulator as a process: `python -m local.greengrass_v2_emulator --port N`.

Why a process too: `make local-up` and the demo keep it running beside the other stand-ins; they
learn its URL from the first stdout line ("READY <url>") or from --url-file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from ..greengrass_emulator.clock import ManualClock
from ..serving import serve_until_signalled
from .server import GreengrassV2Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.greengrass_v2_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument(
        "--settings",
        default="{}",
        help="JSON object of EmulatorConfig switches, e.g. '{\"apply_seconds\": 0.5}'",
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
    clock = ManualClock() if args.manual_clock else None
    emulator = GreengrassV2Emulator(host=args.host, port=args.port, clock=clock, **settings)
    emulator.start()
    if args.url_file:
        args.url_file.write_text(emulator.url + "\n")
    print(f"READY {emulator.url}", flush=True)

    serve_until_signalled(emulator.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
