"""The event-source runner: what Lambda's SQS event source mapping and the tracker's schedule do.

- ``SqsEventSource`` receives from the FIFO intake queue (batch size 1, every system attribute),
  invokes the starter with a Lambda-shaped SQS event, deletes the records that succeeded and
  leaves the ones reported in ``batchItemFailures`` (or all of them, if the handler raised) to
  come back after the visibility timeout. moto's redrive policy moves a message to the
  dead-letter queue at its next receive once it has been received maxReceiveCount times, as SQS
  does (the e2e tests check this).
- ``Schedule`` invokes the tracker with an EventBridge "Scheduled Event" every period.
- ``Runner`` runs both in background threads; ``pause()`` waits until nothing is in flight.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Invocation:
    """One handler invocation, as the runner saw it."""

    function: str
    started: float  # time.time()
    seconds: float
    result: Any = None
    error: str | None = None
    message_ids: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    receive_counts: tuple[int, ...] = ()


@dataclass
class History:
    """The most recent invocations (bounded), for the demo, the tests and ``local status``."""

    limit: int = 2000
    _items: deque[Invocation] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Invocation) -> None:
        with self._lock:
            self._items.append(item)
            while len(self._items) > self.limit:
                self._items.popleft()

    def items(self, function: str | None = None) -> list[Invocation]:
        with self._lock:
            return [i for i in self._items if function is None or i.function == function]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class SqsEventSource:
    """Lambda's SQS event source mapping for one queue, polled by ``poll_once``."""

    sqs: Any
    queue_url: str
    queue_arn: str
    region: str
    invoke: Invoke
    history: History
    _: KW_ONLY
    function: str = "starter"
    batch_size: int = 1
    failed_visibility_seconds: int | None = None

    def poll_once(self) -> int:
        """Receive one batch and handle it; the number of messages received."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages: list[dict[str, Any]] = response.get("Messages") or []
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        ids = tuple(str(m["MessageId"]) for m in messages)
        started, clock = time.time(), time.monotonic()
        result: Any = None
        error: str | None = None
        try:
            result = self.invoke(event)
            failed = _failed_ids(result, ids)
        except Exception as exc:  # the whole batch fails, as when a Lambda invocation errors
            log.exception(
                "%s invocation failed; its messages return after the visibility timeout", self.function
            )
            error = f"{type(exc).__name__}: {exc}"
            failed = set(ids)
        deleted = []
        for message in messages:
            message_id = str(message["MessageId"])
            if message_id in failed:
                self._release(message)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                deleted.append(message_id)
        self.history.add(
            Invocation(
                function=self.function,
                started=started,
                seconds=time.monotonic() - clock,
                result=result,
                error=error,
                message_ids=ids,
                deleted=tuple(deleted),
                failed=tuple(i for i in ids if i in failed),
                bodies=tuple(str(m["Body"]) for m in messages),
                receive_counts=tuple(
                    int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)) for m in messages
                ),
            )
        )
        return len(messages)

    def _release(self, message: dict[str, Any]) -> None:
        if self.failed_visibility_seconds is None:
            return  # stays invisible for the queue's visibility timeout, as with Lambda
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=self.failed_visibility_seconds,
        )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": dict(message.get("MessageAttributes") or {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }


def _failed_ids(result: Any, ids: tuple[str, ...]) -> set[str]:
    """Lambda's reading of a partial batch response; an unknown id fails the whole batch."""
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    failed = {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}
    if failed - set(ids) or len(failed) != len(failures):
        return set(ids)
    return failed


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule rule invoking one function."""

    invoke: Invoke
    history: History
    _: KW_ONLY
    period_seconds: float
    account_id: str
    region: str
    rule_name: str
    function: str = "tracker"

    @property
    def rule_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account_id}:rule/{self.rule_name}"

    def fire(self) -> Any:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.rule_arn],
            "detail": {},
        }
        started, clock = time.time(), time.monotonic()
        try:
            result = self.invoke(event)
        except Exception as exc:
            log.exception("%s invocation failed", self.function)
            self.history.add(
                Invocation(
                    self.function, started, time.monotonic() - clock, error=f"{type(exc).__name__}: {exc}"
                )
            )
            return None
        self.history.add(Invocation(self.function, started, time.monotonic() - clock, result=result))
        return result


class Runner:
    """Runs the event source and the schedule in background threads until ``stop()``."""

    def __init__(self, source: SqsEventSource, schedule: Schedule, *, idle_seconds: float = 0.05) -> None:
        self.source = source
        self.schedule = schedule
        self._idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._resumed = threading.Event()
        self._resumed.set()
        self._busy = threading.Lock()  # held while a poll or a tracker run is in flight
        self._threads: list[threading.Thread] = []

    def start(self) -> Runner:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._poll_loop, name="runner-sqs", daemon=True),
            threading.Thread(target=self._schedule_loop, name="runner-schedule", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._resumed.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def pause(self) -> None:
        """Stop receiving and scheduling; returns once nothing is in flight."""
        self._resumed.clear()
        with self._busy:
            pass

    def resume(self) -> None:
        self._resumed.set()

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._resumed.wait()
            if self._stop.is_set():
                return
            received = 0
            try:
                with self._busy:
                    if self._resumed.is_set():
                        received = self.source.poll_once()
            except Exception:
                log.exception("receiving from the intake queue failed")
            if not received:
                self._stop.wait(self._idle_seconds)

    def _schedule_loop(self) -> None:
        """Fire at a fixed rate, as an EventBridge schedule does (a run's length does not delay the next)."""
        period = self.schedule.period_seconds
        next_fire = time.monotonic() + period
        while not self._stop.wait(max(0.0, next_fire - time.monotonic())):
            self._resumed.wait()
            if self._stop.is_set():
                return
            with self._busy:
                if self._resumed.is_set():
                    self.schedule.fire()
            # A schedule does not queue the firings it missed while a run was still going: the
            # next one is the next point on the grid (so the intake poller gets its turn too).
            next_fire += period
            now = time.monotonic()
            if next_fire <= now:
                next_fire += period * math.ceil((now - next_fire) / period + 1e-9)
