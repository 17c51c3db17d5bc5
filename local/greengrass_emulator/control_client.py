"""A client for the V1 emulator's HTTP control surface, for processes that only know its URL.

Why: the demo and `make local-up` users run the emulator in another process; this gives them
the same switches and counters as GreengrassEmulator's Python API, over /_emulator/....
"""

from __future__ import annotations

from typing import Any

from ..emulator_kit.control_client import ControlClient


class EmulatorControlClient(ControlClient):
    def add_fault(self, operation: str, kind: str, times: int | None = 1, **extra: Any) -> None:
        self._request("POST", "faults", {"operation": operation, "kind": kind, "times": times, **extra})

    def throttle(self, operation: str, times: int | None = 1, code: str = "TooManyRequestsException") -> None:
        self.add_fault(operation, "throttle", times, code=code)

    def start_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._request("GET", "start-counts")
        return result

    def deployments(self, **filters: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "bulk-deployments", query=filters)
        return result
