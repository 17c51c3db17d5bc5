"""Faults injected from the test side, never from lambda_src/.

``CrashAfterCall`` registers a botocore ``after-call`` hook on boto3's default session (the one
``bulk_deployer.aws.client`` builds its clients from) and cold-starts the functions, so the
starter's next clients carry it. The hook raises once, right after the service answered: the
call took effect, but the caller dies before it can record the answer — the starter's crash
between StartBulkDeployment and the ledger's STARTED write.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import boto3

from local.pipeline import LocalPipeline


class SimulatedCrash(Exception):
    """Stands for the process dying: nothing after the call runs in this invocation."""


class CrashAfterCall:
    def __init__(self, pipeline: LocalPipeline, service: str, operation: str, times: int = 1) -> None:
        self._pipeline = pipeline
        self._event = f"after-call.{service}.{operation}"
        self._remaining = times
        self.crashes = 0
        self._session: Any = None

    def _hook(self, **_: Any) -> None:
        if self._remaining > 0:
            self._remaining -= 1
            self.crashes += 1
            raise SimulatedCrash(f"{self._event}: the invocation dies after the service answered")

    def __enter__(self) -> CrashAfterCall:
        boto3.setup_default_session()
        self._session = boto3.DEFAULT_SESSION
        self._session.events.register(self._event, self._hook, unique_id="e2e-crash-after-call")
        self._pipeline.cold_start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._session.events.unregister(self._event, unique_id="e2e-crash-after-call")
        self._pipeline.cold_start()
