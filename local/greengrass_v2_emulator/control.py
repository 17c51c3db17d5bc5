"""The V2 emulator's own control routes (/_emulator/...); the shared ones are emulator_kit.control's.

Why: tests in the same process use GreengrassV2Emulator's Python API; anything else needs the
same switches and counters over HTTP. Every route maps onto one EmulatorService method.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ..emulator_kit.control import Answer, ControlSurface
from .config import Fault
from .service import EmulatorService


def _set_device(
    service: EmulatorService, method: str, path: str, query: dict[str, str], payload: Any
) -> Answer | None:
    """POST devices/<thing> {"kind": ..., options}: the device's behaviour from now on."""
    if method != "POST" or not path.startswith("devices/"):
        return None
    thing = unquote(path.removeprefix("devices/"))
    service.set_device(thing, **payload)
    return 200, service.devices()[thing]


CONTROL = ControlSurface[EmulatorService](
    fault=Fault,
    call_filters={"service", "operation", "outcome", "client_token", "target_arn", "deployment_id"},
    counters={
        "call-counts": EmulatorService.call_counts,
        "create-counts": EmulatorService.create_counts,
        "devices": EmulatorService.devices,
    },
    routes=_set_device,
)
