"""The current invocation's time limit, for work that must stop in time and resume later.

A Greengrass V2 file may need a thousand CreateDeployment calls at a few per second: more than
one invocation can hold. The deployer stops starting targets while some time is left and the
next dispatch resumes. The object graph is built once per execution environment, the time limit
is the invocation's: each handler sets it here as it is invoked.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Outside an invocation (the CLI's resume, a test): as much as a Lambda function ever has.
UNBOUNDED_SECONDS = 900.0


class InvocationTime:
    # A plain class: on every cold start's import path, where a dataclass costs a millisecond.
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._deadline: float | None = None

    def begin(self, remaining_seconds: float) -> None:
        """An invocation started with this much time (Lambda's ``get_remaining_time_in_millis``)."""
        self._deadline = self.clock() + remaining_seconds

    def time_left(self) -> float:
        if self._deadline is None:
            return UNBOUNDED_SECONDS
        return max(0.0, self._deadline - self.clock())


# The functions' one instance: handlers begin it, wiring hands its time_left to the deployer.
INVOCATION = InvocationTime()
