"""GreengrassV2Emulator: the embeddable Greengrass V2 (+ IoT) emulator and its Python API.

Why one object: a test or the demo starts it, points boto3 `greengrassv2` and `iot` clients at
`emulator.url`, sets device behaviours, injects faults and reads counters through the same
handle, then stops it (the lifecycle and the switches every emulator has are emulator_kit.server's);
the HTTP control surface offers the same to other processes.
"""

from __future__ import annotations

from typing import Any

from ..emulator_kit.clock import Clock
from ..emulator_kit.http import EmulatorHTTPServer
from ..emulator_kit.server import EmulatorServer
from .calls import Call
from .config import EmulatorConfig, Fault
from .control import CONTROL
from .http import Handler
from .service import EmulatorService


class GreengrassV2Emulator(EmulatorServer[EmulatorService]):
    """The Greengrass V2 (+ IoT registry and jobs) emulator, embedded in the current process."""

    title = "Greengrass V2 emulator"
    thread_prefix = "gg2-emulator"

    def __init__(
        self,
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
        self.service = EmulatorService(self.config, self.clock)

    def _http_server(self, address: tuple[str, int]) -> EmulatorHTTPServer[EmulatorService]:
        """One server for both clients (greengrassv2 and iot) at `url`."""
        return EmulatorHTTPServer(address, Handler, self.service, CONTROL)

    # ------------------------------------------------------------------ switches
    def fail(
        self,
        operation: str,
        error: str,
        times: int | None = 1,
        after_work: bool = False,
        service: str = "greengrassv2",
        target_arn: str | None = None,
    ) -> None:
        """The next `times` calls of `operation` (naming `target_arn`, if given) answer `error` (a
        code its model lists)."""
        self.service.add_fault(Fault(operation, error, times, after_work, service, target_arn))

    def conflict(self, times: int = 1) -> None:
        """The next `times` CreateDeployment calls answer ConflictException (nothing created)."""
        self.fail("CreateDeployment", "ConflictException", times)

    def refuse(self, target_arn: str, error: str = "ValidationException", times: int | None = None) -> None:
        """CreateDeployment for this target answers `error` (nothing created); other targets' go through."""
        self.fail("CreateDeployment", error, times, target_arn=target_arn)

    def already_in_progress(self, times: int = 1, after_work: bool = False) -> None:
        """The next `times` CreateDeployment calls answer RequestAlreadyInProgressException."""
        self.fail("CreateDeployment", "RequestAlreadyInProgressException", times, after_work)

    def lose_response(self, times: int = 1, operation: str = "CreateDeployment") -> None:
        """Do the work, then answer HTTP 500 InternalServerException: the caller cannot know it worked."""
        self.fail(operation, "InternalServerException", times, after_work=True)

    def throttle(self, operation: str = "*", times: int | None = 1, service: str = "greengrassv2") -> None:
        """The next `times` calls answer ThrottlingException, whatever the quota says."""
        self.fail(operation, "ThrottlingException", times, service=service)

    def set_device(self, thing: str, kind: str = "healthy", **options: Any) -> None:
        """healthy | offline | failing | slow | rejecting, from now on (see devices.Behaviour)."""
        self.service.set_device(thing, kind, **options)

    def populate_group(self, group: str, count: int, prefix: str = "device-") -> str:
        """A thing group of ``count`` new things, made in-process without a request each: its ARN."""
        return self.service.populate_group(group, count, prefix)

    # ------------------------------------------------------------------ counters
    def calls(self, **filters: Any) -> list[Call]:
        """Calls received, filtered by Call fields: operation, outcome, client_token, target_arn..."""
        return self.service.calls(**filters)

    def call_counts(self) -> dict[str, dict[str, int]]:
        """{operation: {outcome: count}}."""
        return self.service.call_counts()

    def create_counts(self) -> dict[str, dict[str, int]]:
        """CreateDeployment calls by client token and by target, and those that created one."""
        return self.service.create_counts()

    def devices(self) -> dict[str, dict[str, Any]]:
        return self.service.devices()
