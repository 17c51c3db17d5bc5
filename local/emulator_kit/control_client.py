"""A client for the HTTP control surface, for processes that only know an emulator's URL.

Why: the demo and `make local-up` run the emulators in other processes; this gives them the
switches and counters of the emulator's Python API, over /_emulator/.... Each emulator's client
adds its own counters and fault shape.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode, urlsplit


class ControlClient:
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

    def faults(self) -> list[dict[str, Any]]:
        """The injected faults still waiting for calls."""
        result: list[dict[str, Any]] = self._request("GET", "faults")
        return result

    def clear_faults(self) -> None:
        self._request("DELETE", "faults")

    def calls(self, **filters: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "calls", query=filters)
        return result

    def advance_clock(self, seconds: float) -> float:
        return float(self._request("POST", "clock/advance", {"seconds": seconds})["now"])

    def forget_tokens(self) -> None:
        self._request("POST", "forget-tokens")

    def reset(self) -> None:
        self._request("POST", "reset")
