"""A request budget for a service quota that every caller in the region shares.

Greengrass V2 allows 30 management requests per second per region for all its callers
together (people, scripts, other tools) and the quota cannot be raised. A deployer that starts
a thousand deployments as fast as it can would throttle everyone else in the account. So each
function holds a token bucket for its share of the quota, and every HTTP attempt of a client
attached to it (retries included: a retry is a request too) waits for a token before it is
sent. Throttling answers that still come back (another caller took the quota) are retried by
botocore's standard retry mode with backoff, and counted, so a throttle is a metric, not a
failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.config import Config

# Error codes with which AWS services say "too many requests": the request was not carried out.
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "429"}
)

# Clients behind a budget retry throttles and 5xx many times with backoff (the budget already
# paces them): a throttling storm delays a start, it does not fail it.
BUDGETED_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},
    connect_timeout=5,
    read_timeout=30,
    user_agent_appid="bulk-deployer",
)


class RequestBudget:
    """At most ``rate`` requests per second on average, in bursts of at most ``burst``.

    One instance is shared by every client of one function that counts against the same quota.
    ``clock`` and ``sleep`` are injected so that tests and benchmarks can run it on a simulated
    clock.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a request budget needs a positive rate, not {rate}")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._stamp = clock()
        self.requests = 0
        self.waited_seconds = 0.0

    def acquire(self) -> float:
        """Take one request's token, waiting for it if need be; returns the seconds waited."""
        with self._lock:  # callers queue here, each sleeping for its own token in turn
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if wait > 0:
                self._sleep(wait)
                self._tokens = 1.0
                self._stamp = self._clock()
            self._tokens -= 1
            self.requests += 1
            self.waited_seconds += wait
            return wait

    def attach(self, client: Any, *, on_throttle: Callable[[str], None] | None = None) -> Any:
        """Make every HTTP attempt of ``client`` wait for a token; report throttled answers.

        ``on_throttle`` receives the operation name of each throttled attempt (botocore's
        retry handler decides whether to retry it). Returns the client, for chaining.
        """
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{service}", self._before_send)
        if on_throttle is not None:
            report = on_throttle

            def after_attempt(response: Any = None, operation: Any = None, **_: Any) -> None:
                if response is None:  # a connection error: not a throttle
                    return
                code = str(response[1].get("Error", {}).get("Code", ""))
                status = int(response[1].get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                if code in THROTTLING_CODES or status == 429:
                    report(getattr(operation, "name", str(operation)))

            client.meta.events.register(f"needs-retry.{service}", after_attempt)
        return client

    def _before_send(self, **_: Any) -> None:
        self.acquire()
