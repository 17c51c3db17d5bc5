"""A client for the V2 emulator's HTTP control surface, for processes that only know its URL.

Why: the demo and `make local-up` run the emulator in another process; this gives them the
switches and counters of GreengrassV2Emulator's Python API, over /_emulator/....
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..emulator_kit.control_client import ControlClient


class EmulatorV2ControlClient(ControlClient):
    def add_fault(self, operation: str, error: str, times: int | None = 1, **extra: Any) -> None:
        self._request("POST", "faults", {"operation": operation, "error": error, "times": times, **extra})

    def refuse(self, target_arn: str, error: str = "ValidationException", times: int | None = None) -> None:
        """CreateDeployment for this target answers `error`; other targets' go through."""
        self.add_fault("CreateDeployment", error, times, target_arn=target_arn)

    def set_device(self, thing: str, kind: str = "healthy", **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "devices/" + quote(thing), {"kind": kind, **options})
        return result

    def devices(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self._request("GET", "devices")
        return result

    def call_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._request("GET", "call-counts")
        return result

    def create_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._request("GET", "create-counts")
        return result
