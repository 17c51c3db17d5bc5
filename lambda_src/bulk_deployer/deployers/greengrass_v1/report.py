"""A group deployment as the per-target report shows it (from ListBulkDeploymentDetailedReports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import ReportRows, TargetResult
from bulk_deployer.deployers.greengrass_v1.statuses import target_outcome_of

# A V1 report's rows are group deployments: report.json's "groups", groups.csv, group_count.
REPORT_ROWS = ReportRows("group", Metric.GROUP_DEPLOYMENTS_FAILED)

REPORT_COLUMNS = (
    "group_id",
    "group_arn",
    "status",
    "deployment_id",
    "deployment_arn",
    "deployment_type",
    "created_at",
    "error_message",
    "error_details",
)


def group_id_from_arn(arn: str) -> str:
    """``arn:aws:greengrass:<region>:<account>:/greengrass/groups/<id>`` → ``<id>``."""
    marker = "/greengrass/groups/"
    return arn.split(marker, 1)[1].split("/", 1)[0] if marker in arn else ""


def group_result(deployment: Mapping[str, Any]) -> TargetResult:
    arn = str(deployment.get("GroupArn") or "")
    status = deployment.get("DeploymentStatus")
    row = {
        "group_id": group_id_from_arn(arn),
        "group_arn": arn,
        "status": status,
        "deployment_id": deployment.get("DeploymentId"),
        "deployment_arn": deployment.get("DeploymentArn"),
        "deployment_type": deployment.get("DeploymentType"),
        "created_at": deployment.get("CreatedAt"),
        "error_message": deployment.get("ErrorMessage"),
        "error_details": list(deployment.get("ErrorDetails") or []),
    }
    return TargetResult(target=arn, status=str(status), outcome=target_outcome_of(str(status)), row=row)
