"""The bookkeeping every emulated service keeps beside its state: settings, faults, calls.

Why here: both emulators take settings by name from Python or the control surface, keep
injected faults until their `times` are used up, log every call and filter that log the same way.
"""

from __future__ import annotations

import dataclasses
import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

from .clock import Clock


class Switches:
    """A dataclass of settings that `update` changes by name, then checks as a whole."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    tick_seconds: float  # the background ticker's period; 0: time is applied on requests only

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (from Python or the HTTP control surface), checking names."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown setting(s): {sorted(unknown)}")
        for name, value in changes.items():
            setattr(self, name, self._coerce(name, value))
        self._check()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def _coerce(self, name: str, value: Any) -> Any:
        """A value as it came (JSON over HTTP), turned into the type the setting has."""
        return value

    def _check(self) -> None:
        """Raise ValueError when the settings together make no sense."""


class CountedFault:
    """A dataclass of one injected fault with `times`: the calls it still applies to (None: all)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    times: int | None

    @property
    def spent(self) -> bool:
        return self.times is not None and self.times <= 0

    def consume(self) -> None:
        if self.times is not None:
            self.times -= 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class LoggedCall(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def select[CallT: LoggedCall](calls: list[CallT], **filters: Any) -> list[CallT]:
    """Calls whose fields equal every filter given (None filters are ignored)."""
    return [c for c in calls if all(getattr(c, k) == v for k, v in filters.items() if v is not None)]


class EmulatedService[SettingsT: Switches, FaultT: CountedFault, CallT: LoggedCall](ABC):
    """All state behind one re-entrant lock; subclasses keep what their service emulates."""

    _faults: list[FaultT]
    _calls: list[CallT]

    def __init__(self, config: SettingsT, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()

    def configure(self, changes: dict[str, Any]) -> None:
        """Change settings (see the emulator's EmulatorConfig)."""
        with self.lock:
            self.config.update(changes)

    @abstractmethod
    def advance(self) -> None:
        """Perform what became due on the clock."""

    @abstractmethod
    def forget_tokens(self) -> None:
        """Forget every client token now, as if their time to live had passed."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all state, calls and faults (settings stay)."""

    # ------------------------------------------------------------------ faults
    def add_fault(self, fault: FaultT) -> None:
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.to_dict() for f in self._faults]

    def _drop_spent_faults(self) -> None:
        self._faults = [f for f in self._faults if not f.spent]

    # ------------------------------------------------------------------ calls
    def calls(self, **filters: Any) -> list[CallT]:
        """Filter by any Call attribute, e.g. operation=..., client_token="t"."""
        with self.lock:
            return select(self._calls, **filters)
