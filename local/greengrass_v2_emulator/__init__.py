"""Greengrass V2 emulator: a loopback HTTP stand-in for `greengrassv2` and the `iot` calls around it.

It answers, in botocore's rest-json wire format on one port: CreateDeployment (checked against
the API model, client tokens remembered 8 hours, replace semantics), GetDeployment,
ListDeployments, CancelDeployment, DeleteDeployment, ListEffectiveDeployments, GetCoreDevice,
ListCoreDevices, ListInstalledComponents and the tag operations; the IoT registry (things, thing
groups, recursive membership) and each deployment's IoT job with one execution per device,
moving over emulator time as each device behaves. The shared 30 requests/s quota is enforced.
It is not AWS: see docs/local.md for what it implements and what it assumes.
"""

from ..emulator_kit.clock import Clock, ManualClock, SystemClock
from .config import EmulatorConfig, Fault
from .control_client import EmulatorV2ControlClient
from .devices import Behaviour
from .errors import ServiceError
from .in_process import InProcessClient
from .server import GreengrassV2Emulator

__all__ = [
    "Behaviour",
    "Clock",
    "EmulatorConfig",
    "EmulatorV2ControlClient",
    "Fault",
    "GreengrassV2Emulator",
    "InProcessClient",
    "ManualClock",
    "ServiceError",
    "SystemClock",
]
