"""GreengrassEmulator: the embeddable service (HTTP server + ticker thread) and its Python API.

Why one object: a test or the demo starts it, points boto3 at `emulator.url`, flips switches and
reads counters through the same handle, then stops it; the HTTP control surface offers the same
to processes that only have the URL.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Self

from ..serving import StartsAndStops, require_loopback, started
from .aws import AwsStandIn
from .clock import Clock, ManualClock, SystemClock
from .config import EmulatorConfig, Fault
from .http import EmulatorHTTPServer
from .model import Call
from .service import BulkDeploymentService

log = logging.getLogger(__name__)


class GreengrassEmulator(StartsAndStops):
    """The Greengrass V1 bulk-deployment emulator, embedded in the current process."""

    def __init__(
        self,
        aws_endpoint: str | None,
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
        aws = AwsStandIn(aws_endpoint, self.config.region) if aws_endpoint else None
        self.service = BulkDeploymentService(self.config, self.clock, aws)
        self._address = (host, port)
        self._http: EmulatorHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.aws_endpoint = aws_endpoint

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        self._http = EmulatorHTTPServer(self._address, self.service, self.aws_endpoint)
        self._stopping.clear()
        serve = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="gg-emulator-http",
            daemon=True,
        )
        tick = threading.Thread(target=self._tick, name="gg-emulator-ticker", daemon=True)
        self._threads = [serve, tick]
        for thread in self._threads:
            thread.start()
        log.info("Greengrass bulk emulator listening on %s", self.url)
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
        """The endpoint_url for boto3 (or AWS_ENDPOINT_URL_GREENGRASS)."""
        host, port = started(self._http, "the emulator").server_address[:2]
        return f"http://{host!s}:{port}"

    def _tick(self) -> None:
        """Advance state in the background, so group deployments appear without polling."""
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
        """Change settings and switches (see EmulatorConfig), e.g. token_ttl_seconds=1."""
        with self.service.lock:
            self.config.update(changes)

    def throttle(self, operation: str, times: int | None = 1, code: str = "TooManyRequestsException") -> None:
        """Answer HTTP 429 `code` to the next `times` calls of `operation` (botocore retries them)."""
        self.service.add_fault(Fault(operation, "throttle", times, 429, code))

    def fail(self, operation: str, times: int | None = 1, status: int = 500) -> None:
        """Answer HTTP `status` (5xx) to the next `times` calls, without doing the work."""
        self.service.add_fault(Fault(operation, "error", times, status))

    def lose_response(self, operation: str, times: int | None = 1, status: int = 500) -> None:
        """Do the work, then answer HTTP `status`: the caller cannot know it succeeded."""
        self.service.add_fault(Fault(operation, "lose_response", times, status))

    def delay(self, operation: str, seconds: float, times: int | None = None) -> None:
        """Slow responses: sleep `seconds` before answering the next `times` calls (None: all)."""
        self.service.add_fault(Fault(operation, "delay", times, seconds=seconds))

    def clear_faults(self) -> None:
        self.service.clear_faults()

    def forget_tokens(self) -> None:
        """Forget every client token now (as if token_ttl_seconds had passed)."""
        self.service.forget_tokens()

    def advance_clock(self, seconds: float) -> None:
        """Move a ManualClock forward and perform what became due."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance_clock needs the emulator built with clock=ManualClock()")
        self.clock.advance(seconds)
        self.service.advance()

    def reset(self) -> None:
        """Forget all bulk deployments, tokens, calls and faults (settings stay)."""
        self.service.reset()

    # ------------------------------------------------------------------ counters
    def calls(self, **filters: Any) -> list[Call]:
        """Calls received, filtered by Call fields: operation, client_token, input_uri, outcome..."""
        return self.service.calls(**filters)

    def start_calls(self, client_token: str | None = None, input_uri: str | None = None) -> int:
        """How many StartBulkDeployment calls arrived (any outcome) for this token and/or URI."""
        return len(
            self.service.calls(
                operation="StartBulkDeployment", client_token=client_token, input_uri=input_uri
            )
        )

    def start_counts(self) -> dict[str, dict[str, int]]:
        return self.service.start_counts()

    def deployments(
        self, input_uri: str | None = None, client_token: str | None = None
    ) -> list[dict[str, Any]]:
        """Bulk deployments created (oldest first), with their group deployments."""
        return self.service.snapshots(input_uri=input_uri, client_token=client_token)
