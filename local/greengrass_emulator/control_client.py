"""A client for the HTTP control surface, for processes that only know the emulator's URL.

Why: the demo and `make local-up` users run the emulator in another process; this gives them
the same switches and counters as GreengrassEmulator's Python API, over /_emulator/....
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode, urlsplit


class EmulatorControlClient:
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

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "config")
        return result

    def configure(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "config", changes)
        return result

    def add_fault(self, operation: str, kind: str, times: int | None = 1, **extra: Any) -> None:
        self._request("POST", "faults", {"operation": operation, "kind": kind, "times": times, **extra})

    def throttle(self, operation: str, times: int | None = 1, code: str = "TooManyRequestsException") -> None:
        self.add_fault(operation, "throttle", times, code=code)

    def clear_faults(self) -> None:
        self._request("DELETE", "faults")

    def calls(self, **filters: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "calls", query=filters)
        return result

    def start_counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._request("GET", "start-counts")
        return result

    def deployments(self, **filters: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "bulk-deployments", query=filters)
        return result

    def forget_tokens(self) -> None:
        self._request("POST", "forget-tokens")

    def advance_clock(self, seconds: float) -> float:
        return float(self._request("POST", "clock/advance", {"seconds": seconds})["now"])

    def reset(self) -> None:
        self._request("POST", "reset")
