"""Invoking the Lambda handlers in this process, the way Lambda would: context, environment, cold start.

Why one invocation at a time: both handlers share this process's Powertools Logger and Metrics
(module-level objects in bulk_deployer.observability) and ``os.environ``; in AWS each function
has its own execution environment. Serializing keeps each invocation's metrics in its own EMF
flush. Correctness under concurrency is the ledger's job (conditional writes) and is tested
elsewhere, deterministically.

Why a function's variables stay in ``os.environ`` after its invocation (until
``restore_process_environment``): see ``_ProcessEnvironment``.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.stack_config import REGION

Handler = Callable[[dict[str, Any], Any], Any]

STARTER_HANDLER = "bulk_deployer.handlers.starter.handler"
TRACKER_HANDLER = "bulk_deployer.handlers.tracker.handler"


@dataclass
class LambdaContext:
    """What Powertools and the handlers read from Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float  # time.monotonic() at which the function would time out
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class Function:
    """One function: its handler (``module.attribute``), environment and limits."""

    name: str
    handler_path: str
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int = 1024
    account_id: str = "123456789012"
    region: str = REGION
    _module: ModuleType | None = field(default=None, repr=False)

    @property
    def module(self) -> ModuleType:
        """Imported inside the function's environment, as Lambda's init phase does (Powertools
        reads POWERTOOLS_* variables when bulk_deployer.observability is first imported)."""
        if self._module is None:
            _PROCESS_ENVIRONMENT.apply(self.environment)
            self._module = importlib.import_module(self.handler_path.rsplit(".", 1)[0])
        return self._module

    @property
    def handler(self) -> Handler:
        handler: Handler = getattr(self.module, self.handler_path.rsplit(".", 1)[1])
        return handler

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"

    def cold_start(self) -> None:
        """Forget what the handler module cached (its object graph built from the environment).

        The module is process-wide (sys.modules), shared by every Function object naming it.
        """
        module = sys.modules.get(self.handler_path.rsplit(".", 1)[0])
        if module is None:
            return
        for value in vars(module).values():
            cache_clear = getattr(value, "cache_clear", None)
            if callable(cache_clear) and getattr(value, "__module__", None) == module.__name__:
                cache_clear()

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=self.arn,
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + self.timeout_seconds,
            log_group_name=f"/aws/lambda/{self.name}",
        )


class Invoker:
    """Runs handlers one at a time, each with its function's environment variables in force."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def invoke(self, function: Function, event: dict[str, Any]) -> Any:
        with self._lock:
            _PROCESS_ENVIRONMENT.apply(function.environment)
            return function.handler(event, function.context())


class _ProcessEnvironment:
    """``os.environ`` as the functions need it: variables are added or overwritten while functions
    may run, and only removed by ``restore`` once none runs.

    CPython's os.environ cannot be iterated while another thread removes a key: ``items()`` lists
    the keys, then looks each one up, and a key gone in between raises KeyError (cpython#74626
    leaves the locking to applications). Every boto3 client created anywhere in the process
    iterates it (urllib's proxy lookup), so a test thread creating a client while the tracker's
    thread put the environment back failed at random. The price: between restores, a function
    also sees the variables only the other has (the tracker's are a superset of the starter's,
    which adds its dead-letter queue's URL); each function's own set is checked by infra's tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: dict[str, str | None] = {}

    def apply(self, values: Mapping[str, str]) -> None:
        with self._lock:
            for name, value in values.items():
                current = os.environ.get(name)
                if current != value:
                    self._saved.setdefault(name, current)
                    os.environ[name] = value

    def restore(self) -> None:
        with self._lock:
            for name, old in self._saved.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old
            self._saved.clear()


_PROCESS_ENVIRONMENT = _ProcessEnvironment()


def restore_process_environment() -> None:
    """Put back the variables the functions changed. Only when no function runs (the runner is
    stopped) and no other thread creates clients."""
    _PROCESS_ENVIRONMENT.restore()
