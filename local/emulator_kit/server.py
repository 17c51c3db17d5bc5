"""The embeddable emulator: HTTP server and ticker threads around a service, and the Python
switches every emulator has.

Why one object: a test or the demo starts it, points boto3 at `emulator.url`, flips switches and
reads counters through the same handle, then stops it; the HTTP control surface offers the same
to processes that only have the URL.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, Self

from ..serving import StartsAndStops, require_loopback, started
from .clock import Clock, ManualClock, SystemClock
from .http import EmulatorHTTPServer
from .service import EmulatedService

log = logging.getLogger(__name__)


class EmulatorServer[ServiceT: EmulatedService[Any, Any, Any]](StartsAndStops, ABC):
    """Subclasses build `service` and say how its HTTP server is made (`_http_server`)."""

    title = "emulator"  # for the log line once listening
    thread_prefix = "emulator"  # names the HTTP and ticker threads
    service: ServiceT

    def __init__(self, host: str, port: int, clock: Clock | None) -> None:
        require_loopback(host)
        self.clock: Clock = clock or SystemClock()
        self._address = (host, port)
        self._http: EmulatorHTTPServer[ServiceT] | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @abstractmethod
    def _http_server(self, address: tuple[str, int]) -> EmulatorHTTPServer[ServiceT]:
        """The HTTP server answering for `service` at `address` (not yet serving)."""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        self._http = self._http_server(self._address)
        self._stopping.clear()
        serve = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{self.thread_prefix}-http",
            daemon=True,
        )
        tick = threading.Thread(target=self._tick, name=f"{self.thread_prefix}-ticker", daemon=True)
        self._threads = [serve, tick]
        for thread in self._threads:
            thread.start()
        log.info("%s listening on %s", self.title, self.url)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._http = None

    @property
    def url(self) -> str:
        """The endpoint_url for boto3 (every client of the emulated service(s))."""
        host, port = started(self._http, "the emulator").server_address[:2]
        return f"http://{host!s}:{port}"

    def _tick(self) -> None:
        """Apply time in the background, so state moves without anybody polling."""
        while not self._stopping.is_set():
            period = self.service.config.tick_seconds
            if self._stopping.wait(period if period > 0 else 0.5):
                return
            if period > 0:
                try:
                    self.service.advance()
                except Exception:
                    log.exception("emulator tick failed")

    # ------------------------------------------------------------------ switches
    def configure(self, **changes: Any) -> None:
        """Change settings and switches (see the emulator's EmulatorConfig)."""
        self.service.configure(changes)

    def clear_faults(self) -> None:
        self.service.clear_faults()

    def forget_tokens(self) -> None:
        """Forget every client token now (as if their time to live had passed)."""
        self.service.forget_tokens()

    def advance_clock(self, seconds: float) -> None:
        """Move a ManualClock forward and perform what became due."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance_clock needs the emulator built with clock=ManualClock()")
        self.clock.advance(seconds)
        self.service.advance()

    def reset(self) -> None:
        """Forget all state, calls and faults (settings stay)."""
        self.service.reset()
