"""GreengrassEmulator: the embeddable V1 bulk-deployment emulator and its Python API.

Why one object: a test or the demo starts it, points boto3 at `emulator.url`, flips switches and
reads counters through the same handle, then stops it (the lifecycle and the switches every
emulator has are emulator_kit.server's); the HTTP control surface offers the same over HTTP.
"""

from __future__ import annotations

from typing import Any

from ..emulator_kit.clock import Clock
from ..emulator_kit.server import EmulatorServer
from .aws import AwsStandIn
from .config import EmulatorConfig, Fault
from .http import EmulatorHTTPServer
from .model import Call
from .service import BulkDeploymentService


class GreengrassEmulator(EmulatorServer[BulkDeploymentService]):
    """The Greengrass V1 bulk-deployment emulator, embedded in the current process."""

    title = "Greengrass bulk emulator"
    thread_prefix = "gg-emulator"

    def __init__(
        self,
        aws_endpoint: str | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        clock: Clock | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(host, port, clock)
        self.config = config or EmulatorConfig()
        self.config.update(settings)
        aws = AwsStandIn(aws_endpoint, self.config.region) if aws_endpoint else None
        self.service = BulkDeploymentService(self.config, self.clock, aws)
        self.aws_endpoint = aws_endpoint

    def _http_server(self, address: tuple[str, int]) -> EmulatorHTTPServer:
        return EmulatorHTTPServer(address, self.service, self.aws_endpoint)

    # ------------------------------------------------------------------ switches
    def throttle(self, operation: str, times: int | None = 1, code: str = "TooManyRequestsException") -> None:
        """Answer HTTP 429 `code` to the next `times` calls of `operation` (botocore retries them)."""
        self.service.add_fault(Fault(operation, "throttle", times, 429, code))

    def fail(self, operation: str, times: int | None = 1, status: int = 500) -> None:
        """Answer HTTP `status` (5xx) to the next `times` calls, without doing the work."""
        self.service.add_fault(Fault(operation, "error", times, status))

    def lose_response(self, operation: str, times: int | None = 1, status: int = 500) -> None:
        """Do the work, then answer HTTP `status`: the caller cannot know it succeeded."""
        self.service.add_fault(Fault(operation, "lose_response", times, status))

    def delay(self, operation: str, seconds: float, times: int | None = None) -> None:
        """Slow responses: sleep `seconds` before answering the next `times` calls (None: all)."""
        self.service.add_fault(Fault(operation, "delay", times, seconds=seconds))

    # ------------------------------------------------------------------ counters
    def calls(self, **filters: Any) -> list[Call]:
        """Calls received, filtered by Call fields: operation, client_token, input_uri, outcome..."""
        return self.service.calls(**filters)

    def start_calls(self, client_token: str | None = None, input_uri: str | None = None) -> int:
        """How many StartBulkDeployment calls arrived (any outcome) for this token and/or URI."""
        return len(
            self.service.calls(
                operation="StartBulkDeployment", client_token=client_token, input_uri=input_uri
            )
        )

    def start_counts(self) -> dict[str, dict[str, int]]:
        return self.service.start_counts()

    def deployments(
        self, input_uri: str | None = None, client_token: str | None = None
    ) -> list[dict[str, Any]]:
        """Bulk deployments created (oldest first), with their group deployments."""
        return self.service.snapshots(input_uri=input_uri, client_token=client_token)
