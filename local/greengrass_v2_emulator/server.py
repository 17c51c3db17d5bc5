"""GreengrassV2Emulator: the embeddable service (HTTP server + ticker thread) and its Python API.

Why one object: a test or the demo starts it, points boto3 `greengrassv2` and `iot` clients at
`emulator.url`, sets device behaviours, injects faults and reads counters through the same
handle, then stops it; the HTTP control surface offers the same to other processes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Self

from ..greengrass_emulator.clock import Clock, ManualClock, SystemClock
from ..serving import StartsAndStops, require_loopback, started
from .calls import Call
from .config import EmulatorConfig, Fault
from .http import EmulatorHTTPServer
from .service import EmulatorService

log = logging.getLogger(__name__)


class GreengrassV2Emulator(StartsAndStops):
    """The Greengrass V2 (+ IoT registry and jobs) emulator, embedded in the current process."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        clock: Clock | None = None,
        **settings: Any,
    ) -> None:
        require_loopback(host)
        self.config = config or EmulatorConfig()
        self.config.update(settings)
        self.clock: Clock = clock or SystemClock()
        self.service = EmulatorService(self.config, self.clock)
        self._address = (host, port)
        self._http: EmulatorHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        self._http = EmulatorHTTPServer(self._address, self.service)
        self._stopping.clear()
        serve = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="gg2-emulator-http",
            daemon=True,
        )
        tick = threading.Thread(target=self._tick, name="gg2-emulator-ticker", daemon=True)
        self._threads = [serve, tick]
        for thread in self._threads:
            thread.start()
        log.info("Greengrass V2 emulator listening on %s", self.url)
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
        """The endpoint_url for both boto3 clients (greengrassv2 and iot)."""
        host, port = started(self._http, "the emulator").server_address[:2]
        return f"http://{host!s}:{port}"

    def _tick(self) -> None:
        """Apply time in the background, so executions move without anybody polling."""
        while not self._stopping.is_set():
            period = self.config.tick_seconds
            if self._stopping.wait(period if period > 0 else 0.5):
                return
            if period > 0:
                try:
                    self.service.advance()
                except Exception:
                    log.exception("emulator tick failed")

    # ------------------------------------------------------------------ switches
    def configure(self, **changes: Any) -> None:
        """Change settings and switches (see EmulatorConfig), e.g. greengrass_rate=None."""
        self.service.configure(changes)

    def fail(
        self,
        operation: str,
        error: str,
        times: int | None = 1,
        after_work: bool = False,
        service: str = "greengrassv2",
    ) -> None:
        """The next `times` calls of `operation` answer `error` (a code its model lists)."""
        self.service.add_fault(Fault(operation, error, times, after_work, service))

    def conflict(self, times: int = 1) -> None:
        """The next `times` CreateDeployment calls answer ConflictException (nothing created)."""
        self.fail("CreateDeployment", "ConflictException", times)

    def already_in_progress(self, times: int = 1, after_work: bool = False) -> None:
        """The next `times` CreateDeployment calls answer RequestAlreadyInProgressException."""
        self.fail("CreateDeployment", "RequestAlreadyInProgressException", times, after_work)

    def lose_response(self, times: int = 1, operation: str = "CreateDeployment") -> None:
        """Do the work, then answer HTTP 500 InternalServerException: the caller cannot know it worked."""
        self.fail(operation, "InternalServerException", times, after_work=True)

    def throttle(self, operation: str = "*", times: int | None = 1, service: str = "greengrassv2") -> None:
        """The next `times` calls answer ThrottlingException, whatever the quota says."""
        self.fail(operation, "ThrottlingException", times, service=service)

    def clear_faults(self) -> None:
        self.service.clear_faults()

    def set_device(self, thing: str, kind: str = "healthy", **options: Any) -> None:
        """healthy | offline | failing | slow | rejecting, from now on (see devices.Behaviour)."""
        self.service.set_device(thing, kind, **options)

    def forget_tokens(self) -> None:
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

    # ------------------------------------------------------------------ counters
    def calls(self, **filters: Any) -> list[Call]:
        """Calls received, filtered by Call fields: operation, outcome, client_token, target_arn..."""
        return self.service.calls(**filters)

    def call_counts(self) -> dict[str, dict[str, int]]:
        """{operation: {outcome: count}}."""
        return self.service.call_counts()

    def create_counts(self) -> dict[str, dict[str, int]]:
        """CreateDeployment calls by client token and by target, and those that created one."""
        return self.service.create_counts()

    def devices(self) -> dict[str, dict[str, Any]]:
        return self.service.devices()
