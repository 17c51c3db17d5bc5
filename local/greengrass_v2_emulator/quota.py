"""Token buckets on the emulator's clock: the shared Greengrass V2 quota and the IoT API rates.

Why buckets: the service allows short bursts and a steady rate; a caller that sends more than the
rate is throttled no matter how its calls are spread across functions, which is what the
product's rate budget must survive. One bucket serves every greengrassv2 operation together (the
documented shared quota); each IoT operation has its own.
"""

from __future__ import annotations

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


class Quotas:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, service: str, operation: str, now: float) -> bool:
        """True when the call may proceed (and takes a token), False when it is throttled."""
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

    def reset(self) -> None:
        self._buckets.clear()
