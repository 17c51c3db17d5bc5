"""Greengrass V1 bulk-deployment emulator: a loopback HTTP stand-in for tests and demos.

It answers StartBulkDeployment, GetBulkDeploymentStatus, ListBulkDeploymentDetailedReports,
ListBulkDeployments and StopBulkDeployment in botocore's wire format, creates the group
deployments in the AWS stand-in (moto), and forwards every other Greengrass call there.
It is not AWS: see docs/local.md for what it implements and what it assumes.
"""

from ..emulator_kit.clock import Clock, ManualClock, SystemClock
from .config import EmulatorConfig, Fault
from .control_client import EmulatorControlClient
from .model import BadRequest
from .server import GreengrassEmulator

__all__ = [
    "BadRequest",
    "Clock",
    "EmulatorConfig",
    "EmulatorControlClient",
    "Fault",
    "GreengrassEmulator",
    "ManualClock",
    "SystemClock",
]
