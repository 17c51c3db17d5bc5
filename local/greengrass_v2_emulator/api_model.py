"""The two services' botocore models: routes, request parsing, response codes, error statuses.

Why from the model: the emulator answers exactly the methods, paths, parameter locations and HTTP
statuses that botocore uses for `greengrassv2` and `iot`, with no hand-written table that could
drift from the SDK the product calls it with.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

SERVICES = ("greengrassv2", "iot")


class CannotParse(Exception):
    """The request is not what the model describes (a body that is not JSON, `maxResults=abc`)."""


@dataclass(frozen=True)
class Route:
    service: str
    operation: str
    method: str
    pattern: re.Pattern[str]
    literals: int  # literal path segments: /thing-groups/addThingToThingGroup beats /thing-groups/{name}


@functools.cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def build_routes(operations: Mapping[str, Iterable[str]]) -> list[Route]:
    """Routes for the given operations of each service, most specific first."""
    routes = []
    for service, names in operations.items():
        for name in names:
            http = operation_model(service, name).http
            path = http["requestUri"].split("?", 1)[0]
            routes.append(
                Route(service, name, http["method"], _pattern(path), path.count("/") - path.count("{"))
            )
    return sorted(routes, key=lambda r: -r.literals)


def _pattern(path: str) -> re.Pattern[str]:
    """`/jobs/{jobId}/things` -> a regex over the raw (still percent-encoded) path."""
    regex = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            regex += f"(?P<{name.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
        else:
            regex += re.escape(piece)
    return re.compile(f"^{regex}/?$")


def match(routes: list[Route], method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        found = route.pattern.match(raw_path)
        if found and route.method == method:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def parse_request(
    op: OperationModel,
    path_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input as botocore's parameters (member names), read from where the model says."""
    shape = op.input_shape
    if shape is None:
        return {}
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        raise CannotParse("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise CannotParse("The request body must be a JSON object.")
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in path_params:
                params[name] = path_params[wire]
        elif location == "querystring":
            if wire in query:
                values = query[wire]
                params[name] = (
                    [_scalar(member.member, v, wire) for v in values]
                    if member.type_name == "list"
                    else _scalar(member, values[0], wire)
                )
        elif location == "header":
            header = headers.get(wire)
            if header is not None:
                params[name] = _scalar(member, header, wire)
        elif wire in payload:
            params[name] = payload[wire]
    return params


def _scalar(shape: Shape, raw: str, wire: str) -> Any:
    try:
        if shape.type_name in ("integer", "long"):
            return int(raw)
        if shape.type_name in ("double", "float"):
            return float(raw)
    except ValueError:
        raise CannotParse(f"'{raw}' is not a valid {shape.type_name} for {wire}.") from None
    if shape.type_name == "boolean":
        if raw not in ("true", "false"):
            raise CannotParse(f"'{raw}' is not a valid boolean for {wire}.")
        return raw == "true"
    return raw


def response_code(op: OperationModel) -> int:
    return int(op.http.get("responseCode", 200))


def error_status(service: str, code: str) -> int:
    """The HTTP status the model gives an error code (400 for codes it does not know)."""
    try:
        shape = service_model(service).shape_for(code)
    except Exception:
        return 400
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


def error_codes(service: str, operation: str) -> list[str]:
    return [shape.name for shape in operation_model(service, operation).error_shapes]
