"""Fault injection into the functions' own AWS calls, from the test side (never from lambda_src/).

The functions build their clients from boto3's default session (``bulk_deployer.aws.client``).
A handler registered on that session before a cold start is inherited by every client the
functions build next, and by nothing else: the tests' own clients, the Greengrass emulator and
the CLI use sessions of their own.

- ``Hooks`` registers handlers and cold-starts the functions on entry and exit.
- ``answer_error`` builds a ``before-send`` handler that answers in place of the service: the
  request never leaves, botocore parses the error and its retry policy applies as for a real one
  (so "3 throttles, then success" exercises the functions' retry configuration).
- ``fast_backoff`` compresses botocore's retry backoff (1 s base for throttling, up to 20 s)
  so that a run of retries takes milliseconds; the number of attempts is unchanged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.retries import standard

from local.pipeline import LocalPipeline


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _json_error(status: int, code: str, message: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse("https://injected.invalid/", status, headers, _Raw(body))


def _xml_error(status: int, code: str, message: str) -> AWSResponse:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return AWSResponse("https://injected.invalid/", status, {"Content-Type": "application/xml"}, _Raw(body))


class Counter:
    """How many calls a hook saw and how many it failed (thread-safe)."""

    def __init__(self, fail_first: int) -> None:
        self.remaining = fail_first
        self.calls = 0
        self.failed = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            self.calls += 1
            if self.remaining > 0:
                self.remaining -= 1
                self.failed += 1
                return True
            return False


def answer_error(
    counter: Counter,
    *,
    status: int,
    code: str,
    protocol: str = "json",
    when: Callable[..., bool] | None = None,
) -> Callable[..., AWSResponse | None]:
    """A ``before-send`` handler failing the first ``counter.remaining`` matching requests."""
    build = _json_error if protocol == "json" else _xml_error

    def handler(request: Any = None, **_: Any) -> AWSResponse | None:
        if when is not None and not when(request):
            return None
        if counter.take():
            return build(status, code, f"injected by tests/e2e/hooks.py ({counter.failed})")
        return None

    return handler


class Hooks:
    """Register botocore event handlers for the functions' next clients (cold start on entry/exit)."""

    def __init__(self, pipeline: LocalPipeline, *handlers: tuple[str, Callable[..., Any]]) -> None:
        self._pipeline = pipeline
        self._handlers = [
            (event, handler, f"e2e-hook-{n}-{id(self)}") for n, (event, handler) in enumerate(handlers)
        ]
        self._session: Any = None

    def __enter__(self) -> Hooks:
        self._session = boto3._get_default_session()
        for event, handler, unique_id in self._handlers:
            self._session.events.register(event, handler, unique_id=unique_id)
        self._pipeline.cold_start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for event, _handler, unique_id in self._handlers:
            self._session.events.unregister(event, unique_id=unique_id)
        self._pipeline.cold_start()


@contextmanager
def fast_backoff(scale: float = 0.01) -> Iterator[None]:
    """botocore's standard-mode backoff x ``scale`` (attempt counts unchanged)."""
    original = standard.ExponentialBackoff.delay_amount

    def scaled(self: Any, context: Any) -> float:
        return float(original(self, context)) * scale

    standard.ExponentialBackoff.delay_amount = scaled
    try:
        yield
    finally:
        standard.ExponentialBackoff.delay_amount = original
