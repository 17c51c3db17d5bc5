"""A client for the HTTP control surface, for processes that only know the emulator's URL.

Why: the demo and `make local-up` run the emulator in another process; this gives them the
switches and counters of GreengrassV2Emulator's Python API, over /_emulator/....
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit


class EmulatorV2ControlClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._timeout = timeout

    def _request(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        target = "/_emulator/" + path + ("?" + urlencode(query) if query else "")
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            connection.request(method, target, body=data, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read() or b"null")
        finally:
            connection.close()
        if response.status >= 400:
            raise RuntimeError(f"{method} {target}: HTTP {response.status}: {answer}")
        return answer

    def health(self) -> bool:
        return bool(self._request("GET", "health").get("ok"))

    def configure(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "config", changes)
        return result

    def add_fault(self, operation: str, error: str, times: int | None = 1, **extra: Any) -> None:
        self._request("POST", "faults", {"operation": operation, "error": error, "times": times, **extra})

    def clear_faults(self) -> None:
        self._request("DELETE", "faults")

    def set_device(self, thing: str, kind: str = "healthy", **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "devices/" + quote(thing), {"kind": kind, **options})
        return result

    def devices(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self._request("GET", "devices")
        return result

    def calls(self, **filters: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "calls", query=filters)
        return result

    def call_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._request("GET", "call-counts")
        return result

    def create_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._request("GET", "create-counts")
        return result

    def advance_clock(self, seconds: float) -> float:
        return float(self._request("POST", "clock/advance", {"seconds": seconds})["now"])

    def forget_tokens(self) -> None:
        self._request("POST", "forget-tokens")

    def reset(self) -> None:
        self._request("POST", "reset")
