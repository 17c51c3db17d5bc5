"""HTTP layer: botocore's rest-json wire format for `greengrassv2` and `iot` on one port, plus control.

Why one server for both services: the product builds both clients with the emulator's URL as
endpoint_url; requests are told apart by method and path exactly as botocore's models define
them (greengrassv2 under /greengrass/v2/ and /tags/{arn}, iot under /things, /thing-groups, /jobs).
"""

from __future__ import annotations

import json
import logging
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from .api_model import CannotParse, build_routes, match, operation_model, parse_request
from .control import ControlError, handle_control
from .errors import ServiceError, invalid_request, validation
from .service import OPERATIONS, EmulatorService

log = logging.getLogger(__name__)


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: EmulatorService) -> None:
        super().__init__(address, Handler)
        self.service = service
        self.routes = build_routes(OPERATIONS)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GreengrassV2Emulator/1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    @property
    def _server(self) -> EmulatorHTTPServer:
        return cast(EmulatorHTTPServer, self.server)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.path.startswith("/_emulator/"):
            self._control(parts.path.removeprefix("/_emulator/"), {k: v[0] for k, v in query.items()}, body)
            return
        found = match(self._server.routes, self.command, parts.path)
        if found is None:
            self._send(
                404, {"message": f"Not emulated: {self.command} {parts.path}"}, "UnknownOperationException"
            )
            return
        route, path_params = found
        service = self._server.service
        try:
            try:
                params = parse_request(
                    operation_model(route.service, route.operation),
                    path_params,
                    query,
                    dict(self.headers),
                    body,
                )
            except CannotParse as exc:
                error = (
                    invalid_request(str(exc))
                    if route.service == "iot"
                    else validation(str(exc), reason="CANNOT_PARSE")
                )
                service.record_rejected(route.service, route.operation, error)
                raise error from None
            status, answer = service.invoke(route.service, route.operation, params)
        except ServiceError as exc:
            self._send(exc.status, exc.body(), exc.code, exc.headers)
            return
        self._send(status, answer)

    # Every method goes through the same routing (BaseHTTPRequestHandler calls do_<METHOD>).
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _control(self, path: str, query: dict[str, str], body: bytes) -> None:
        try:
            status, answer = handle_control(self._server.service, self.command, path, query, body)
        except ControlError as exc:
            self._send(exc.status, {"error": str(exc)})
            return
        self._send(status, answer)

    def _send(
        self, status: int, body: Any, error_code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
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
