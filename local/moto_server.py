"""moto in server mode on a loopback port: the AWS stand-in for tests, the emulator and the demo.

Why a wrapper: ThreadedMotoServer defaults to 0.0.0.0:5000 and prints; here it binds 127.0.0.1
on a free port, stays quiet, and can be reset between tests (POST /moto-api/reset).
Run it alone with `python -m local.moto_server [--port N]` (prints "READY <url>").
"""

from __future__ import annotations

import argparse
import http.client
import logging
import sys
from typing import Self
from urllib.parse import urlsplit

from moto.server import ThreadedMotoServer

from local.serving import StartsAndStops, serve_until_signalled, started


class MotoServer(StartsAndStops):
    """A started moto server; `url` is the endpoint_url for every boto3 client."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._url: str | None = None
        if quiet:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def start(self) -> Self:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._url is not None:
            self._server.stop()
            self._url = None

    @property
    def url(self) -> str:
        return started(self._url, "moto server")

    def reset(self) -> None:
        """Drop every resource in every backend."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            connection.request("POST", "/moto-api/reset")
            connection.getresponse().read()
        finally:
            connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = MotoServer(port=args.port).start()
    print(f"READY {server.url}", flush=True)
    serve_until_signalled(server.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
