"""The control surface over HTTP (/_emulator/...), for out-of-process users: the demo, local-up, curl.

Why: tests in the same process use GreengrassV2Emulator's Python API; anything else needs the
same switches and counters over HTTP. Every route maps onto one EmulatorService method.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from ..greengrass_emulator.clock import ManualClock
from .config import Fault
from .service import EmulatorService

_CALL_FILTERS = {"service", "operation", "outcome", "client_token", "target_arn", "deployment_id"}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle_control(
    service: EmulatorService, method: str, path: str, query: dict[str, str], body: bytes
) -> tuple[int, Any]:
    """Route one control request; returns (HTTP status, JSON body)."""
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        raise ControlError(400, "body is not JSON") from None
    try:
        return _dispatch(service, (method, path.rstrip("/")), query, payload)
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None


def _dispatch(
    service: EmulatorService, route: tuple[str, str], query: dict[str, str], payload: Any
) -> tuple[int, Any]:
    method, path = route
    if route == ("GET", "health"):
        return 200, {"ok": True}
    if path == "config" and method in ("GET", "POST", "PATCH"):
        if method != "GET":
            service.configure(payload)
        with service.lock:
            return 200, service.config.to_dict()
    if path == "faults":
        if method == "POST":
            service.add_fault(Fault(**payload))
        elif method == "DELETE":
            service.clear_faults()
        return 200, service.faults()
    if route == ("GET", "calls"):
        unknown = set(query) - _CALL_FILTERS
        if unknown:
            raise ControlError(400, f"unknown filter(s) {sorted(unknown)}; use {sorted(_CALL_FILTERS)}")
        return 200, [c.to_dict() for c in service.calls(**query)]
    if route == ("GET", "call-counts"):
        return 200, service.call_counts()
    if route == ("GET", "create-counts"):
        return 200, service.create_counts()
    if route == ("GET", "devices"):
        return 200, service.devices()
    if method == "POST" and path.startswith("devices/"):
        thing = unquote(path.removeprefix("devices/"))
        service.set_device(thing, **payload)
        return 200, service.devices()[thing]
    if route == ("POST", "clock/advance"):
        if not isinstance(service.clock, ManualClock):
            raise ControlError(409, "the emulator runs on the system clock (start it with --manual-clock)")
        now = service.clock.advance(float(payload.get("seconds", 0)))
        service.advance()
        return 200, {"now": now}
    if route == ("POST", "advance"):
        service.advance()
        return 200, {"ok": True}
    if route == ("POST", "forget-tokens"):
        service.forget_tokens()
        return 200, {"ok": True}
    if route == ("POST", "reset"):
        service.reset()
        return 200, {"ok": True}
    raise ControlError(404, f"no control route {method} /_emulator/{path}")
