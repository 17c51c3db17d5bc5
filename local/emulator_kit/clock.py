"""Clocks for the emulators.

Why: every status change is a pure function of time, so a test can either let real time pass
(`SystemClock`, with small pace values) or move a `ManualClock` forward and get the same answer
every run.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time in epoch seconds."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """Time that only moves when told to: deterministic tests and demos."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += seconds
            return self._now


class LaggingClock:
    """Wall-clock time less ``behind_seconds``: a service whose clock is behind its callers'.

    Why: the local V2 stack's thing-group deadline. IoT's and the stack's shortest job timeout is
    one minute; with the V2 emulator's clock behind the functions' by most of it, a deployment's
    deadline (its creation time on the service's clock plus the timeout) comes in seconds, while
    every duration the emulator measures (device pace, token memory) stays its own.
    """

    def __init__(self, behind_seconds: float = 0.0) -> None:
        self.behind_seconds = behind_seconds

    def now(self) -> float:
        return time.time() - self.behind_seconds
