"""The control surface over HTTP (/_emulator/...), for out-of-process users: a CLI, the demo.

Why: tests in the same process use the Python API on GreengrassEmulator; anything else
(`make local-up`, the demo, a person with curl) needs the same switches and counters over HTTP.
Every route maps onto one BulkDeploymentService method.
"""

from __future__ import annotations

import json
from typing import Any

from .clock import ManualClock
from .config import Fault
from .service import BulkDeploymentService


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle_control(
    service: BulkDeploymentService, method: str, path: str, query: dict[str, str], body: bytes
) -> tuple[int, Any]:
    """Route one control request; returns (HTTP status, JSON body)."""
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        raise ControlError(400, "body is not JSON") from None
    route = (method, path.rstrip("/"))
    try:
        return _dispatch(service, route, query, payload)
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None


def _dispatch(
    service: BulkDeploymentService, route: tuple[str, str], query: dict[str, str], payload: Any
) -> tuple[int, Any]:
    if route == ("GET", "health"):
        return 200, {"ok": True}
    if route == ("GET", "config"):
        with service.lock:
            return 200, service.config.to_dict()
    if route in (("POST", "config"), ("PATCH", "config")):
        with service.lock:
            service.config.update(payload)
            return 200, service.config.to_dict()
    if route == ("GET", "faults"):
        return 200, service.faults()
    if route == ("POST", "faults"):
        service.add_fault(Fault(**payload))
        return 200, service.faults()
    if route == ("DELETE", "faults"):
        service.clear_faults()
        return 200, []
    if route == ("GET", "calls"):
        return 200, [c.to_dict() for c in service.calls(**_call_filters(query))]
    if route == ("GET", "start-counts"):
        return 200, service.start_counts()
    if route == ("GET", "bulk-deployments"):
        return 200, service.snapshots(
            input_uri=query.get("input_uri"), client_token=query.get("client_token")
        )
    if route == ("POST", "forget-tokens"):
        service.forget_tokens()
        return 200, {"ok": True}
    if route == ("POST", "advance"):
        service.advance()
        return 200, {"ok": True}
    if route == ("POST", "clock/advance"):
        if not isinstance(service.clock, ManualClock):
            raise ControlError(409, "the emulator runs on the system clock (start it with --manual-clock)")
        now = service.clock.advance(float(payload.get("seconds", 0)))
        service.advance()
        return 200, {"now": now}
    if route == ("POST", "reset"):
        service.reset()
        return 200, {"ok": True}
    raise ControlError(404, f"no control route {route[0]} /_emulator/{route[1]}")


def _call_filters(query: dict[str, str]) -> dict[str, Any]:
    allowed = {"operation", "client_token", "input_uri", "outcome", "bulk_id"}
    unknown = set(query) - allowed
    if unknown:
        raise ControlError(400, f"unknown filter(s) {sorted(unknown)}; use {sorted(allowed)}")
    return dict(query)
