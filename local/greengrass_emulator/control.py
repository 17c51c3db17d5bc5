"""The V1 emulator's own control routes (/_emulator/...); the shared ones are emulator_kit.control's.

Why: tests in the same process use the Python API on GreengrassEmulator; anything else
(`make local-up`, the demo, a person with curl) needs the same switches and counters over HTTP.
Every route maps onto one BulkDeploymentService method.
"""

from __future__ import annotations

from typing import Any

from ..emulator_kit.control import Answer, ControlSurface
from .config import Fault
from .service import BulkDeploymentService


def _bulk_deployments(
    service: BulkDeploymentService, method: str, path: str, query: dict[str, str], payload: Any
) -> Answer | None:
    """GET bulk-deployments?input_uri=...&client_token=...: the snapshots, oldest first."""
    if (method, path) != ("GET", "bulk-deployments"):
        return None
    return 200, service.snapshots(query.get("input_uri"), query.get("client_token"))


CONTROL = ControlSurface[BulkDeploymentService](
    fault=Fault,
    call_filters={"operation", "client_token", "input_uri", "outcome", "bulk_id"},
    counters={"start-counts": BulkDeploymentService.start_counts},
    routes=_bulk_deployments,
)
