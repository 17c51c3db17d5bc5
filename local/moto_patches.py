"""The one hop moto 5.2.5 gets wrong for this pipeline, bridged: FIFO sequence numbers.

Real SQS gives every message of a FIFO queue a ``SequenceNumber`` that grows within its message
group, and Lambda's event source passes it to the function; the starter uses it as the arrival
order of queued files. moto sets it only when the sender passes an explicit deduplication id,
and then as 20 *random* digits; EventBridge's deliveries (content-based deduplication) get none.
This patch numbers every message of a FIFO queue from one increasing counter, before the
message becomes visible. It changes nothing else in moto and is applied only to the moto server
running in this process (``MotoServer`` is a ThreadedMotoServer, so the backends are shared).
"""

from __future__ import annotations

import functools
import itertools
import threading
import time

from moto.sqs.models import Message, Queue

_PATCHED_FLAG = "_bulk_deployer_fifo_sequence"
_lock = threading.Lock()
# Starts at the current time in nanoseconds, so numbers keep growing across moto resets and
# processes (real sequence numbers are up to 128-bit decimals; 20 digits is what moto emits).
_counter = itertools.count(time.time_ns())


def next_sequence_number() -> str:
    with _lock:
        return str(next(_counter)).rjust(20, "0")


def install() -> None:
    """Idempotent: patch ``Queue.add_message`` once per process."""
    original = Queue.add_message
    if getattr(original, _PATCHED_FLAG, False):
        return

    @functools.wraps(original)
    def add_message(self: Queue, message: Message) -> None:
        if self.fifo_queue:
            message.sequence_number = next_sequence_number()
        original(self, message)

    setattr(add_message, _PATCHED_FLAG, True)
    Queue.add_message = add_message  # type: ignore[method-assign]


def installed() -> bool:
    return bool(getattr(Queue.add_message, _PATCHED_FLAG, False))
