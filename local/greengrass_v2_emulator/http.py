"""HTTP layer: botocore's rest-json wire format for `greengrassv2` and `iot` on one port, plus control.

Why one server for both services: the product builds both clients with the emulator's URL as
endpoint_url; requests are told apart by method and path exactly as botocore's models define
them (greengrassv2 under /greengrass/v2/ and /tags/{arn}, iot under /things, /thing-groups, /jobs).
"""

from __future__ import annotations

import functools
from urllib.parse import SplitResult, parse_qs

from ..emulator_kit import http as kit
from .api_model import CannotParse, Route, build_routes, match, operation_model, parse_request
from .errors import ServiceError, invalid_request, validation
from .service import OPERATIONS, EmulatorService


@functools.cache
def _routes() -> list[Route]:
    """Every emulated operation's route, from botocore's models (read once, when first served)."""
    return build_routes(OPERATIONS)


class Handler(kit.EmulatorHandler[EmulatorService]):
    server_version = "GreengrassV2Emulator/1"

    def _serve(self, parts: SplitResult, body: bytes) -> None:
        query = parse_qs(parts.query, keep_blank_values=True)
        found = match(_routes(), self.command, parts.path)
        if found is None:
            self._send(
                404, {"message": f"Not emulated: {self.command} {parts.path}"}, "UnknownOperationException"
            )
            return
        route, path_params = found
        service = self.service
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
