"""Greengrass V1's words for a bulk deployment's and a group deployment's state, and its metrics."""

from __future__ import annotations

from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import Lifecycle, LifecycleMetrics, TargetOutcome

NON_TERMINAL = frozenset({"Initializing", "Running", "Stopping"})
LIFECYCLE = {
    "Completed": Lifecycle.SUCCEEDED,
    "Failed": Lifecycle.FAILED,
    "Stopped": Lifecycle.STOPPED,
}
TERMINAL = frozenset(LIFECYCLE)
# GetBulkDeploymentStatus's BulkDeploymentMetrics fields, re-emitted under the same names.
COUNTER_METRICS = (Metric.RECORDS_PROCESSED, Metric.INVALID_INPUT_RECORDS, Metric.RETRY_ATTEMPTS)
# What the core counts as a file's bulk deployment goes by.
LIFECYCLE_METRICS = LifecycleMetrics.named(
    "BulkDeployment", waiting=Metric.WAITING_FOR_PREVIOUS_BULK_DEPLOYMENT
)
TARGET_OUTCOME = {"Success": TargetOutcome.SUCCEEDED, "Failure": TargetOutcome.FAILED}


def lifecycle_of(status: str) -> Lifecycle:
    """Non-terminal (and unknown, to be safe: the slot stays held) statuses are RUNNING."""
    return LIFECYCLE.get(status, Lifecycle.RUNNING)


def target_outcome_of(status: str) -> TargetOutcome:
    """Group deployments are settled at Success or Failure; anything else may still change."""
    return TARGET_OUTCOME.get(status, TargetOutcome.PENDING)
