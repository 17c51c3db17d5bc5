"""A boto3-shaped client that calls the emulator's service in this process, without HTTP.

Why: following a 100,000-device group over HTTP spends most of its time in botocore parsing
300,000 timestamps; a measurement of the follower's own memory and calls needs neither the
socket nor the parsing. Answers are the handlers' own (timestamps as epoch seconds, which the
deployer reads as botocore's datetimes); an error is raised as botocore's ClientError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .errors import ServiceError
from .service import EmulatorService


class InProcessClient:
    """``InProcessClient(service, "iot").list_job_executions_for_job(jobId=...)``, as boto3's."""

    def __init__(self, service: EmulatorService, name: str) -> None:
        self._service = service
        self._name = name  # "iot" or "greengrassv2"

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        operation = "".join(word.capitalize() for word in method.split("_"))

        def call(**params: Any) -> dict[str, Any]:
            try:
                return self._service.call(self._name, operation, **params)
            except ServiceError as exc:
                error = {"Error": {"Code": exc.code, "Message": exc.message}, **exc.members}
                raise ClientError(error, operation) from exc

        return call
