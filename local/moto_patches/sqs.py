"""The SQS patches of ``local.moto_patches``: one behaviour moto lacks, and the queue's hot paths.

Behaviour — FIFO sequence numbers. Real SQS gives every message of a FIFO queue a
``SequenceNumber`` that grows within its message group, and Lambda's event source passes it to
the function; the starter uses it as the arrival order of queued files. moto sets it only when
the sender passes an explicit deduplication id, and then as 20 *random* digits; EventBridge's
deliveries (content-based deduplication) get none. ``Queue.add_message`` numbers every message of
a FIFO queue from one increasing counter, before the message becomes visible; numbering and
appending happen under one lock, so the order messages are received in is their numbers' order
(moto's server answers concurrent sends on several threads; numbered apart from the append, two
uploads at once could be received out of number order, which real SQS never does).

Speed (each returns what moto returns, doing less work):

- SQS ``Queue.messages`` and the approximate counts (every receive and GetQueueAttributes) asked
  the clock twice per message in the queue (a datetime round trip each); they read it once per
  call: the same result as moto's at one instant.
- SQS receive checks each received message's retention period through
  ``get_queue_attributes``, which computes every attribute of the queue, including the three
  approximate counts (three more scans of the queue); it reads the queue's retention period.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.models import Message, Queue, SQSBackend

_lock = threading.Lock()
# Held from numbering a message until it is in the queue (separate from _lock: the counter is
# also read on its own).
_ordering = threading.RLock()
# Starts at the current time in nanoseconds, so numbers keep growing across moto resets and
# processes (real sequence numbers are up to 128-bit decimals; 20 digits is what moto emits).
_counter = itertools.count(time.time_ns())


def next_sequence_number() -> str:
    with _lock:
        return str(next(_counter)).rjust(20, "0")


def _add_message(original: Callable[[Queue, Message], None]) -> Callable[[Queue, Message], None]:
    @functools.wraps(original)
    def add_message(self: Queue, message: Message) -> None:
        if not self.fifo_queue:
            original(self, message)
            return
        with _ordering:
            message.sequence_number = next_sequence_number()
            original(self, message)

    return add_message


def _messages(_: Any) -> property:
    def messages(self: Queue) -> list[Message]:
        now = unix_time_millis()  # Message.visible: now > visible_at; .delayed: now < delayed_until
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    return property(messages)


def _not_visible(_: Any) -> property:
    def approximate_number_of_messages_not_visible(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    return property(approximate_number_of_messages_not_visible)


def _delayed(_: Any) -> property:
    def approximate_number_of_messages_delayed(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    return property(approximate_number_of_messages_delayed)


_RetentionCheck = Callable[[SQSBackend, str, Message], bool]


def _retention(original: _RetentionCheck) -> _RetentionCheck:
    @functools.wraps(original)
    def is_message_valid_based_on_retention_period(
        self: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        retention_period = getattr(self.get_queue(queue_name), "message_retention_period", None)
        if retention_period is None:  # moto's own path raises (KeyError) here
            return original(self, queue_name, message)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    return is_message_valid_based_on_retention_period


# (owner, attribute, the original attribute -> its replacement), applied by local.moto_patches.
PATCHES: tuple[tuple[Any, str, Callable[[Any], Any]], ...] = (
    (Queue, "add_message", _add_message),
    (Queue, "messages", _messages),
    (Queue, "approximate_number_of_messages_not_visible", _not_visible),
    (Queue, "approximate_number_of_messages_delayed", _delayed),
    (SQSBackend, "is_message_valid_based_on_retention_period", _retention),
)
