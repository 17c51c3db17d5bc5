"""The alarms and dashboard panels of a stack's deployments, in its deployer's words.

Greengrass V1: one bulk deployment per file, its group deployments and records. Greengrass V2:
a file's deployments (one per target) followed to every device, and the region's request quota.
The core's metrics (files, queue, intake) are the same for both: ``infra.monitoring``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import LifecycleMetrics, ReportRows
from bulk_deployer.deployers.greengrass_v1 import GreengrassV1Deployer
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer

from infra.config import DeployConfig

# Counts of events: "did it happen in the last 5 minutes".
EVENT_PERIOD: Final = Duration.minutes(5)
# Greengrass V2: throttled requests are retried and cost only time; throttles in this many
# consecutive event periods mean the region's shared quota is contended, not a passing burst.
THROTTLED_PERIODS: Final = 3

GT: Final = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
GTE: Final = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


@dataclass(frozen=True)
class EmfAlarm:
    metric: Metric
    statistic: str
    threshold: float
    description: str
    period: Duration = EVENT_PERIOD
    comparison: cloudwatch.ComparisonOperator = GT
    # A period without data: an idle system is quiet. A gauge emitted less often than the
    # alarm evaluates keeps its state instead (IGNORE).
    missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING
    # Breaching periods among the last ``evaluation_periods`` that raise the alarm.
    datapoints: int = 1
    evaluation_periods: int = 1


def happened(
    metric: Metric, description: str, period: Duration = EVENT_PERIOD, **options: object
) -> EmfAlarm:
    """An alarm on a count of events: any in the period."""
    return EmfAlarm(metric, "Sum", 0, description, period, **options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class MetricGroup:
    """One widget: metrics without an alarm (``statistic`` over ``period``), then alarmed ones."""

    title: str
    plain: tuple[Metric, ...] = ()
    alarms: tuple[EmfAlarm, ...] = ()
    statistic: str = "Sum"
    period: Duration = EVENT_PERIOD


@dataclass(frozen=True)
class Panel:
    """A dashboard section and the alarms in it."""

    name: str
    alarm_name: str
    groups: tuple[MetricGroup, ...]


@dataclass(frozen=True)
class DeployerMetrics:
    """The metrics the core emits in the words of the stack's deployer (``deployers.base``)."""

    lifecycle: LifecycleMetrics
    rows: ReportRows
    counters: tuple[Metric, ...]


def deployer_metrics(config: DeployConfig) -> DeployerMetrics:
    """What the functions of this stack's variant emit: its deployer's own answers."""
    deployer = GreengrassV1Deployer if config.is_v1 else GreengrassV2Deployer
    return DeployerMetrics(deployer.lifecycle_metrics, deployer.report_rows, deployer.counter_metrics)


def deployment_panels(config: DeployConfig, gauge_period: Duration) -> list[Panel]:
    """The panels of this stack's deployer."""
    deployer = deployer_metrics(config)
    if config.is_v1:
        return [_bulk_deployments(config, deployer, gauge_period)]
    return [_file_deployments(config, deployer, gauge_period), _greengrass_quota()]


def _bulk_deployments(config: DeployConfig, deployer: DeployerMetrics, gauge_period: Duration) -> Panel:
    """Greengrass V1: one bulk deployment per file."""
    lifecycle, rows = deployer.lifecycle, deployer.rows
    failed = happened(
        lifecycle.failed,
        "A bulk deployment ended Failed. Its report (reports/<token>/report.json) holds the error "
        "message and details.",
    )
    overdue = happened(
        lifecycle.overdue,
        f"A bulk deployment has been running longer than {config.overdue_after_seconds} s; later "
        "files wait behind it. Check it in the Greengrass console.",
        gauge_period,
    )
    groups_failed = happened(
        rows.failed_metric,
        "Group deployments of a finished bulk deployment ended in Failure. groups.csv next to its "
        "report.json lists them.",
    )
    return Panel(
        "Bulk deployments",
        "BulkDeployments",
        (
            MetricGroup(
                "Bulk deployments by outcome (per 5 minutes)",
                (lifecycle.completed, lifecycle.stopped),
                (failed, overdue),
            ),
            MetricGroup("Records (per 5 minutes)", deployer.counters),
            MetricGroup("Group deployments failed (per 5 minutes)", alarms=(groups_failed,)),
        ),
    )


def _file_deployments(config: DeployConfig, deployer: DeployerMetrics, gauge_period: Duration) -> Panel:
    """Greengrass V2: a file's deployments, one per target, followed to every device."""
    lifecycle, rows = deployer.lifecycle, deployer.rows
    failed = happened(
        lifecycle.failed,
        "A file's deployments ended with a target that did not succeed on every device (a device "
        "failed, timed out or rejected it, was still pending at the deadline, the deployment "
        "was replaced or cancelled, or Greengrass refused the target at start). "
        f"reports/<token>/report.json has each target's counts, {rows.csv_name} each {rows.noun}.",
    )
    refused = happened(
        Metric.TARGETS_REFUSED,
        "Greengrass V2 refused a target of a started file (ValidationException, AccessDenied, a "
        "thing group gone since validation, a lasting conflict): nothing was deployed to it, and "
        "the file's other targets went on. The outcome message 'started' names it; its REFUSED row "
        f"in {rows.csv_name} and its summary in report.json hold the error.",
    )
    overdue = happened(
        lifecycle.overdue,
        f"A file's deployments have been running longer than {config.overdue_after_seconds} s; "
        "later files sharing a target wait behind it. Check its targets' deployments and IoT jobs.",
        gauge_period,
    )
    not_succeeded = happened(
        rows.failed_metric,
        f"{rows.member.capitalize()} of a finished file did not succeed (failed, timed out, "
        f"rejected, pending at the deadline, replaced or cancelled). {rows.csv_name} next to its "
        "report.json lists them, with the reason and error types of failed ones.",
    )
    device_failures = happened(
        Metric.DEVICE_DEPLOYMENTS_FAILED,
        "Devices' deployments ended without success while the tracker followed a file. "
        f"{rows.csv_name} (written when the target settles) has each device's status and reason.",
    )
    pending = happened(
        Metric.DEVICES_PENDING_AT_DEADLINE,
        "A thing-group target reached its deadline (the line's job timeout, else "
        "thingGroupDeadlineMinutes) with members still queued or in progress: offline devices. "
        f"They are PENDING in {rows.csv_name}; the report does not wait for them any longer.",
    )
    alarmed = {device_failures.metric, pending.metric, refused.metric}
    return Panel(
        "File deployments (Greengrass V2, one per target)",
        "FileDeployments",
        (
            MetricGroup(
                "File deployments by outcome (per 5 minutes)",
                (lifecycle.completed, lifecycle.stopped),
                (failed, overdue),
            ),
            MetricGroup(
                "Devices (per 5 minutes)",
                tuple(metric for metric in deployer.counters if metric not in alarmed),
                (device_failures, pending),
            ),
            MetricGroup("Targets refused at start (per 5 minutes)", alarms=(refused,)),
            MetricGroup(
                f"{rows.member.capitalize()} not succeeded in final reports (per 5 minutes)",
                alarms=(not_succeeded,),
            ),
        ),
    )


def _greengrass_quota() -> Panel:
    """Greengrass V2: the region's 30 requests per second are shared with every other caller."""
    minutes = THROTTLED_PERIODS * int(EVENT_PERIOD.to_minutes())
    throttled = happened(
        Metric.GREENGRASS_REQUESTS_THROTTLED,
        f"Greengrass V2 or IoT requests of the functions were throttled in every 5-minute period "
        f"for {minutes} minutes: the region's shared quota of 30 requests per second is contended "
        "(other tools, people, or greengrassRequestsPerSecond set too high). Throttled requests are "
        "retried with backoff and fail no file; deployments only go slower.",
        datapoints=THROTTLED_PERIODS,
        evaluation_periods=THROTTLED_PERIODS,
    )
    return Panel(
        "Greengrass V2 request quota",
        "GreengrassQuota",
        (MetricGroup("Throttled Greengrass V2 and IoT requests (per 5 minutes)", alarms=(throttled,)),),
    )
