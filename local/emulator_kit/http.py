"""The HTTP side every emulator shares: a threaded server holding the service, and a handler that
answers JSON the way botocore's rest-json services do and routes /_emulator/... to the control surface.

Why one handler base: both emulators speak the same wire basics (request id, error type header,
HEAD without a body, Nagle off); each subclass says only how it answers the service's own paths.
"""

from __future__ import annotations

import json
import logging
import uuid
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import SplitResult, parse_qs, urlsplit

from .control import ControlError, ControlSurface
from .service import EmulatedService

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator/"


class EmulatorHTTPServer[ServiceT: EmulatedService[Any, Any, Any]](ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[EmulatorHandler[ServiceT]],
        service: ServiceT,
        control: ControlSurface[ServiceT],
    ) -> None:
        super().__init__(address, handler)
        self.service = service
        self.control = control


class EmulatorHandler[ServiceT: EmulatedService[Any, Any, Any]](BaseHTTPRequestHandler, ABC):
    """Reads the request, answers /_emulator/... itself and anything else through `_serve`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls
    wbufsize = 64 * 1024  # flushed by BaseHTTPRequestHandler after each request

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    @property
    def _emulator(self) -> EmulatorHTTPServer[ServiceT]:
        return cast(EmulatorHTTPServer[ServiceT], self.server)

    @property
    def service(self) -> ServiceT:
        return self._emulator.service

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        if parts.path.startswith(CONTROL_PREFIX):
            self._control(parts, body)
        else:
            self._serve(parts, body)

    # Every method goes through the same routing (BaseHTTPRequestHandler calls do_<METHOD>).
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    @abstractmethod
    def _serve(self, parts: SplitResult, body: bytes) -> None:
        """Answer a request to the emulated service."""

    def _control(self, parts: SplitResult, body: bytes) -> None:
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.removeprefix(CONTROL_PREFIX)
        try:
            status, answer = self._emulator.control.handle(self.service, self.command, path, query, body)
        except ControlError as exc:
            status, answer = exc.status, {"error": str(exc)}
        self._send(status, answer)

    def _send(
        self, status: int, body: Any, error_code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """A JSON answer; with `error_code`, botocore reads the error from x-amzn-ErrorType."""
        data = b"" if status == 204 else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_code is not None:
            self.send_header("x-amzn-ErrorType", error_code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
