"""The control surface over HTTP (/_emulator/...), for out-of-process users: the demo, local-up, curl.

Why: tests in the same process use an emulator's Python API; anything else needs the same
switches and counters over HTTP. The routes every emulator has are here (health, config, faults,
calls, clock, tokens, reset); each emulator adds its own counters and routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .clock import ManualClock
from .service import EmulatedService

Answer = tuple[int, Any]  # (HTTP status, JSON body)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ControlSurface[ServiceT: EmulatedService[Any, Any, Any]]:
    """One emulator's control routes: the shared ones, its `counters`, then its `routes`."""

    fault: Callable[..., Any]  # the emulator's Fault, built from a POST /_emulator/faults body
    call_filters: Collection[str]  # the Call fields GET /_emulator/calls may filter on
    counters: Mapping[str, Callable[[ServiceT], Any]]  # GET /_emulator/<name>: what the method returns
    # Any other route: (service, method, path, query, payload) -> answer, or None (no such route).
    routes: Callable[[ServiceT, str, str, dict[str, str], Any], Answer | None]

    def handle(self, service: ServiceT, method: str, path: str, query: dict[str, str], body: bytes) -> Answer:
        """Route one control request; ControlError carries the HTTP status of a refusal."""
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            raise ControlError(400, "body is not JSON") from None
        path = path.rstrip("/")
        try:
            found = self._shared(service, method, path, query, payload)
            if found is None and method == "GET" and path in self.counters:
                found = 200, self.counters[path](service)
            if found is None:
                found = self.routes(service, method, path, query, payload)
        except (ValueError, TypeError) as exc:
            raise ControlError(400, str(exc)) from None
        if found is None:
            raise ControlError(404, f"no control route {method} /_emulator/{path}")
        return found

    def _shared(
        self, service: ServiceT, method: str, path: str, query: dict[str, str], payload: Any
    ) -> Answer | None:
        route = (method, path)
        if route == ("GET", "health"):
            return 200, {"ok": True}
        if path == "config" and method in ("GET", "POST", "PATCH"):
            if method != "GET":
                service.configure(payload)
            with service.lock:
                return 200, service.config.to_dict()
        if path == "faults" and method in ("GET", "POST", "DELETE"):
            if method == "POST":
                service.add_fault(self.fault(**payload))
            elif method == "DELETE":
                service.clear_faults()
            return 200, service.faults()
        if route == ("GET", "calls"):
            allowed = sorted(self.call_filters)
            unknown = sorted(set(query) - set(allowed))
            if unknown:
                raise ControlError(400, f"unknown filter(s) {unknown}; use {allowed}")
            return 200, [c.to_dict() for c in service.calls(**query)]
        if route == ("POST", "clock/advance"):
            if not isinstance(service.clock, ManualClock):
                raise ControlError(
                    409, "the emulator runs on the system clock (start it with --manual-clock)"
                )
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
        return None
