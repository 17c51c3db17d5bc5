"""Run the emulator as a process: `python -m local.greengrass_v2_emulator --port N`.

Why a process too: `make local-up` and the demo keep it running beside the other stand-ins; they
learn its URL from the first stdout line ("READY <url>") or from --url-file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..emulator_kit.clock import ManualClock
from ..emulator_kit.main import serve_emulator
from .server import GreengrassV2Emulator


def _build(
    args: argparse.Namespace, settings: dict[str, Any], clock: ManualClock | None
) -> GreengrassV2Emulator:
    return GreengrassV2Emulator(host=args.host, port=args.port, clock=clock, **settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.greengrass_v2_emulator", description=__doc__)
    return serve_emulator(argv, parser, _build, '{"apply_seconds": 0.5}')


if __name__ == "__main__":
    sys.exit(main())
