"""What every local server shares: `with server:` starts and stops it, and a command-line entry
point serves until Ctrl-C or SIGTERM.

Why one place: the emulator, the moto server and the whole pipeline start and stop the same way.
"""

from __future__ import annotations

import ipaddress
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self


class StartsAndStops:
    """`with x:` is `x.start()` ... `x.stop()`; subclasses define both (start returns self)."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def started[Value](value: Value | None, what: str) -> Value:
    """`value`, or a RuntimeError saying that `what` is not started (it is None until then)."""
    if value is None:
        raise RuntimeError(f"{what} is not started")
    return value


def require_loopback(host: str) -> None:
    """The emulators listen on loopback addresses only: they have no authentication."""
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the emulator listens on loopback only, not {host}")


def serve_until_signalled(stop: Callable[[], None]) -> None:
    """Block until SIGINT or SIGTERM, then `stop()` the server (a command-line entry point)."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop()
