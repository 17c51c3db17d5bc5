"""Tracker Lambda: a scheduled run that follows bulk deployments, reports, and starts the next file."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

# boto3 first, before this package's deeper chain of imports: on CPython 3.13 before 3.13.13, the
# frames of botocore's import landing on a chunk boundary of the frame stack map and unmap a 16 KB
# chunk a thousand times or more (CPython gh-142183): 15-25 ms of cold start (docs/performance.md).
import boto3  # noqa: F401

from bulk_deployer.invocation import INVOCATION
from bulk_deployer.observability import logger, metrics
from bulk_deployer.tracker import BulkDeploymentTracker
from bulk_deployer.tracker_config import TrackerSettings
from bulk_deployer.wiring import build_tracker

if TYPE_CHECKING:  # a type only: the typing utility costs ~15 ms of cold start to import
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def _tracker() -> BulkDeploymentTracker:
    """Settings are checked on the first (cold) invocation: a bad one names itself in the error."""
    return build_tracker(TrackerSettings.from_env())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def remaining() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    INVOCATION.begin(remaining())
    run = _tracker().run(remaining)
    summary = {
        "ran": run.ran,
        "followed": run.followed,
        "ended": run.ended,
        "dispatched": run.dispatched.result.value if run.dispatched else None,
        "started": run.started,
        "reports_final": run.reports_final,
        "reports_interim": run.reports_interim,
        "reports_continuing": run.reports_continuing,
        "unprocessed_input_files": run.unprocessed,
    }
    logger.info("tracker run finished", extra=summary)
    return summary
