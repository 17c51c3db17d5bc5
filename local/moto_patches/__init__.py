"""moto 5.2.5 bridged for this pipeline: one missing behaviour, and the hot paths of a long queue.

Applied to the moto running in this process (``MotoServer`` is a ThreadedMotoServer, so the
backends are shared) only while someone holds ``applied()``: ``LocalPipeline`` enters it on start
and leaves it on stop, so nothing after a pipeline (other tests, other stand-ins) runs on patched
moto. ``applied()`` refuses a moto other than ``WRITTEN_FOR``: each patch copies or replaces a
piece of moto's code as it is in that version. ``unpatched()`` puts moto's own code back for a
while, so tests can compare the two on the same data (tests/e2e/test_moto_patches.py).

Speed — each patch returns what moto returns (same values, same order, same errors); it
only does less work. Why: with ~1,000 files in the ledger and ~1,000 messages in the intake queue
(``make soak``), moto's cost per call grows with the data and a tracker run took ~1 s of moto time,
so starts (about one per tracker run) crawled. Profile figures are in docs/reliability.md ("Load").
The SQS patches (and the one behaviour, FIFO sequence numbers) are in ``sqs.py``, the DynamoDB
ones in ``dynamodb.py``; the server's is here:

- The server's dispatcher lists moto's package directory (``os.listdir`` + ``isdir`` of ~150
  entries) on every request to recognise service names; the listing is read once.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import moto.backends

from local.moto_patches import dynamodb, sqs

WRITTEN_FOR = "5.2.5"
"""The moto version every patch was read against (requirements-dev.txt pins it)."""


def _list_of_moto_modules(original: Callable[[], Iterator[str]]) -> Callable[[], Iterator[str]]:
    listing: list[tuple[str, ...]] = []

    @functools.wraps(original)
    def list_of_moto_modules() -> Iterator[str]:
        if not listing:
            listing.append(tuple(original()))
        return iter(listing[0])

    return list_of_moto_modules


@dataclass(frozen=True)
class _Patch:
    owner: Any
    name: str
    make: Callable[[Any], Any]  # the original attribute -> its replacement


_PATCHES = tuple(
    _Patch(owner, name, make)
    for owner, name, make in (
        *sqs.PATCHES,
        (moto.backends, "list_of_moto_modules", _list_of_moto_modules),
        *dynamodb.PATCHES,
    )
)


class MotoVersionError(RuntimeError):
    """The installed moto is not the one the patches were written for."""


def targets() -> tuple[tuple[Any, str], ...]:
    """Every (owner, attribute name) the patches replace."""
    return tuple((patch.owner, patch.name) for patch in _PATCHES)


def check_moto_version() -> None:
    installed_version = importlib.metadata.version("moto")
    if installed_version != WRITTEN_FOR:
        raise MotoVersionError(
            f"local/moto_patches was written for moto {WRITTEN_FOR}, and moto {installed_version} "
            f"is installed: install moto[server]=={WRITTEN_FOR} (requirements-dev.txt), or check each "
            "patch against the new moto's code, run tests/e2e/test_moto_patches.py and change WRITTEN_FOR"
        )


class _State:
    """moto's own attributes while patched, and how many ``applied()`` are open."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.originals: dict[tuple[int, str], Any] = {}
        self.holders = 0

    def swap(self, replacements: dict[tuple[int, str], Any]) -> dict[tuple[int, str], Any]:
        """Set every target to its replacement; what was there before."""
        before: dict[tuple[int, str], Any] = {}
        for patch in _PATCHES:
            key = (id(patch.owner), patch.name)
            before[key] = patch.owner.__dict__[patch.name]
            setattr(patch.owner, patch.name, replacements[key])
        return before


_state = _State()


@contextmanager
def applied() -> Iterator[None]:
    """moto patched for the duration; nests (and across threads): the last holder to leave restores
    moto's own code. Refuses (MotoVersionError) a moto version the patches were not written for."""
    with _state.lock:
        if _state.holders == 0:
            check_moto_version()
            _state.originals = _state.swap(
                {(id(p.owner), p.name): p.make(p.owner.__dict__[p.name]) for p in _PATCHES}
            )
        _state.holders += 1
    try:
        yield
    finally:
        with _state.lock:
            _state.holders -= 1
            if _state.holders == 0:
                _state.swap(_state.originals)
                _state.originals = {}


def installed() -> bool:
    return bool(_state.originals)


@contextmanager
def unpatched() -> Iterator[None]:
    """moto's own code for the duration (tests compare results; not while a server is serving)."""
    with _state.lock:
        patched = _state.swap(_state.originals) if _state.originals else None
    try:
        yield
    finally:
        with _state.lock:
            if patched is not None and _state.originals:  # else the last applied() left meanwhile
                _state.swap(patched)
