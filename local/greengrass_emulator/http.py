"""HTTP layer: botocore's rest-json `greengrass` wire format, fault injection, proxy, control.

Why a proxy: the product's greengrass client has one endpoint (AWS_ENDPOINT_URL_GREENGRASS).
Bulk operations, and the status of group deployments this emulator made, are answered here;
every other Greengrass call (CreateGroup, ListDeployments, ...) is forwarded to the AWS stand-in.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import time
from typing import Any, cast
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from ..emulator_kit import http as kit
from .control import CONTROL
from .model import BadRequest, Call
from .service import BulkDeploymentService

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/greengrass/bulk/deployments/?$"), "StartBulkDeployment"),
    ("GET", re.compile(r"^/greengrass/bulk/deployments/?$"), "ListBulkDeployments"),
    ("GET", re.compile(r"^/greengrass/bulk/deployments/(?P<id>[^/]+)/status$"), "GetBulkDeploymentStatus"),
    (
        "GET",
        re.compile(r"^/greengrass/bulk/deployments/(?P<id>[^/]+)/detailed-reports$"),
        "ListBulkDeploymentDetailedReports",
    ),
    ("PUT", re.compile(r"^/greengrass/bulk/deployments/(?P<id>[^/]+)/(?:\$|%24)stop$"), "StopBulkDeployment"),
    (
        "GET",
        re.compile(r"^/greengrass/groups/(?P<group>[^/]+)/deployments/(?P<deployment>[^/]+)/status$"),
        "GetDeploymentStatus",
    ),
    ("GET", re.compile(r"^/tags/(?P<arn>.+)$"), "ListTagsForResource"),
]
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
}


class NotOurs(Exception):
    """The request is valid Greengrass but not emulated here: forward it to the AWS stand-in."""


class EmulatorHTTPServer(kit.EmulatorHTTPServer[BulkDeploymentService]):
    def __init__(
        self, address: tuple[str, int], service: BulkDeploymentService, proxy_url: str | None
    ) -> None:
        super().__init__(address, Handler, service, CONTROL)
        self.proxy_url = proxy_url


class Handler(kit.EmulatorHandler[BulkDeploymentService]):
    server_version = "GreengrassBulkEmulator/1"

    # ------------------------------------------------------------------ dispatch
    def _serve(self, parts: SplitResult, body: bytes) -> None:
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        for method, pattern, operation in _ROUTES:
            match = pattern.match(parts.path)
            if match and method == self.command:
                self._operation(operation, {k: unquote(v) for k, v in match.groupdict().items()}, query, body)
                return
        self._proxy(body)

    def _operation(self, operation: str, path: dict[str, str], query: dict[str, str], body: bytes) -> None:
        service = self.service
        call = Call(operation=operation, at=service.clock.now(), outcome="ok")
        lose: tuple[int, str] | None = None
        for fault in service.take_faults(operation):
            if fault.kind == "delay":
                time.sleep(fault.seconds)
            elif fault.kind == "lose_response":
                lose = (fault.status, fault.code)
            else:
                call.outcome = "throttled" if fault.kind == "throttle" else "error"
                if operation == "StartBulkDeployment":
                    with contextlib.suppress(BadRequest):
                        self._record_start_params(call, body)
                service.record(call)
                self._send_error(fault.status, fault.code, f"Emulated {fault.kind} on {operation}")
                return
        try:
            status, answer = self._perform(operation, path, query, body, call)
        except NotOurs:
            self._proxy(body)
            return
        except BadRequest as exc:
            call.outcome, call.message = "BadRequest", exc.message
            service.record(call)
            self._send_error(400, "BadRequestException", exc.message)
            return
        if lose is not None:
            call.outcome = "lost_response"
            service.record(call)
            self._send_error(lose[0], lose[1], f"Emulated lost response on {operation} (the work was done)")
            return
        service.record(call)
        self._send(status, answer)

    def _perform(
        self, operation: str, path: dict[str, str], query: dict[str, str], body: bytes, call: Call
    ) -> tuple[int, dict[str, Any]]:
        service = self.service
        if operation == "StartBulkDeployment":
            payload = self._record_start_params(call, body)
            answer, bulk, created = service.start(
                call.client_token,
                payload.get("ExecutionRoleArn"),
                payload.get("InputFileUri"),
                payload.get("tags"),
            )
            call.bulk_id, call.created = bulk.bulk_id, created
            return 200, answer
        if operation == "ListBulkDeployments":
            return 200, service.list_bulk(query.get("MaxResults"), query.get("NextToken"))
        call.bulk_id = path.get("id")
        if operation == "GetBulkDeploymentStatus":
            return 200, service.status(path["id"])
        if operation == "ListBulkDeploymentDetailedReports":
            return 200, service.detailed_reports(path["id"], query.get("MaxResults"), query.get("NextToken"))
        if operation == "StopBulkDeployment":
            service.stop(path["id"])
            return 200, {}
        if operation == "GetDeploymentStatus":
            found = service.group_deployment_status(path["group"], path["deployment"])
        else:
            found = service.tags_for(path["arn"])
        if found is None:
            raise NotOurs
        return 200, found

    def _record_start_params(self, call: Call, body: bytes) -> dict[str, Any]:
        call.client_token = self.headers.get("X-Amzn-Client-Token")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise BadRequest("The request body must be a JSON object.")
        if isinstance(payload.get("InputFileUri"), str):
            call.input_uri = payload["InputFileUri"]
        if isinstance(payload.get("ExecutionRoleArn"), str):
            call.role_arn = payload["ExecutionRoleArn"]
        return payload

    # ------------------------------------------------------------------ proxy
    def _proxy(self, body: bytes) -> None:
        target = cast(EmulatorHTTPServer, self.server).proxy_url
        if not target:
            self._send_error(
                404, "NotFoundException", f"Not emulated and no AWS stand-in: {self.command} {self.path}"
            )
            return
        url = urlsplit(target)
        connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = url.netloc
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            self._send_error(502, "BadGatewayException", f"AWS stand-in unreachable: {exc}")
            return
        finally:
            connection.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # ------------------------------------------------------------------ responses
    def _send_error(self, status: int, code: str, message: str) -> None:
        self._send(status, {"Message": message}, code)
