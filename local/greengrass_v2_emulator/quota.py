"""Token buckets on the emulator's clock: the shared Greengrass V2 quota and the IoT API rates.

Why buckets: the service allows short bursts and a steady rate; a caller that sends more than the
rate is throttled no matter how its calls are spread across functions, which is what the
product's rate budget must survive. One bucket serves every greengrassv2 operation together (the
documented shared quota); each IoT operation has its own. A storm (``throttle_fraction``) throttles
a share of all calls on top, as other callers of the account would.
"""

from __future__ import annotations

import random

from .config import EmulatorConfig

_EPSILON = 1e-3  # epoch seconds are coarse (0.1 s at 30/s gives 2.999997 tokens): count it as 3


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.updated = now

    def take(self, now: float) -> bool:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= 1.0 - _EPSILON:
            self.tokens -= 1.0
            return True
        return False


def _draws(seed: int) -> random.Random:
    """Reproducible draws for a simulated storm (nothing secret hangs on them)."""
    return random.Random(seed)  # noqa: S311


class Quotas:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._buckets: dict[str, TokenBucket] = {}
        self._storm_seed = config.throttle_seed
        self._storm = _draws(self._storm_seed)

    def allow(self, service: str, operation: str, now: float) -> bool:
        """True when the call may proceed (and takes a token), False when it is throttled."""
        if self._in_storm():
            return False
        if not self.config.enforce_quotas:
            return True
        if service == "greengrassv2":
            key, rate, burst = "greengrassv2", self.config.greengrass_rate, self.config.greengrass_burst
        else:
            key, rate, burst = f"iot:{operation}", self.config.iot_rates.get(operation), None
        if rate is None:
            return True
        size = burst if burst is not None else max(rate, 1.0)
        bucket = self._buckets.get(key)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, size):
            bucket = self._buckets[key] = TokenBucket(rate, size, now)
        return bucket.take(now)

    def _in_storm(self) -> bool:
        """One draw per call while a storm is on; a new seed starts its sequence again."""
        if self.config.throttle_fraction <= 0.0:
            return False
        if self._storm_seed != self.config.throttle_seed:
            self._storm_seed = self.config.throttle_seed
            self._storm = _draws(self._storm_seed)
        return self._storm.random() < self.config.throttle_fraction

    def reset(self) -> None:
        self._buckets.clear()
