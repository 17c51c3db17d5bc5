"""Monitoring: one dashboard, the alarms (all to the alarm topic), saved Logs Insights queries.

Dashboards and alarms come from cdk-monitoring-constructs (``MonitoringFacade``): its Lambda
and SQS monitors render the standard widgets, and every alarm — also those on our own EMF
metrics (``monitor_custom``) — goes through one alarm factory with one naming scheme and one
SNS action strategy. Plain ``aws_cloudwatch`` is used where the library has nothing: the
starter's errors plus failed messages (a metric math expression). The saved queries are in
``infra.log_queries``.

EMF metrics are emitted by ``bulk_deployer.observability`` with the dimension
``service=bulk-deployer`` in the configured namespace; an alarm must use exactly those or it
never leaves INSUFFICIENT_DATA (tests/infra compares them with real EMF output). Their names,
and the log messages the saved queries select, come from ``bulk_deployer.contract``; the
names of a deployment's lifecycle, its report rows and its counters from the stack's deployer
(``DeployerMetrics``), so a V1 stack alarms on BulkDeploymentFailed and a V2 stack on
FileDeploymentFailed, each on what its functions really emit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from bulk_deployer.contract import SERVICE, Metric
from bulk_deployer.deployers.base import LifecycleMetrics, ReportRows
from bulk_deployer.deployers.greengrass_v1 import GreengrassV1Deployer
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    ErrorCountThreshold,
    MaxMessageCountThreshold,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

from infra.config import DeployConfig
from infra.log_queries import add_saved_queries
from infra.notifications import alarm_name_prefix

# The EMF dimension Powertools adds (POWERTOOLS_SERVICE_NAME).
EMF_DIMENSIONS: Final = {"service": SERVICE}
# Counts of events: "did it happen in the last 5 minutes".
EVENT_PERIOD: Final = Duration.minutes(5)
# Greengrass V2: throttled requests are retried and cost only time; throttles in this many
# consecutive event periods mean the region's shared quota is contended, not a passing burst.
THROTTLED_PERIODS: Final = 3

_GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
_GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


@dataclass(frozen=True)
class EmfAlarm:
    metric: Metric
    statistic: str
    threshold: float
    description: str
    period: Duration = EVENT_PERIOD
    comparison: cloudwatch.ComparisonOperator = _GT
    # A period without data: an idle system is quiet. A gauge emitted less often than the
    # alarm evaluates keeps its state instead (IGNORE).
    missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING
    # Breaching periods among the last ``evaluation_periods`` that raise the alarm.
    datapoints: int = 1
    evaluation_periods: int = 1


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


def emf_metric(config: DeployConfig, metric: Metric, statistic: str, period: Duration) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=config.metrics_namespace,
        metric_name=metric.value,
        dimensions_map=dict(EMF_DIMENSIONS),
        statistic=statistic,
        period=period,
        label=metric.value,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        alarm_topic: sns.ITopic,
        starter: lambda_.IFunction,
        starter_log_group: logs.ILogGroup,
        tracker: lambda_.IFunction,
        tracker_log_group: logs.ILogGroup,
        intake_queue: sqs.IQueue,
        intake_dead_letter_queue: sqs.IQueue,
        event_dead_letter_queue: sqs.IQueue,
        intake_rule: events.IRule,
        schedule_rule: events.IRule,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # Gauges (queue depth, paused) are emitted once per tracker run: an alarm period shorter
        # than the schedule would see gaps and flap between ALARM and OK.
        self.gauge_period = Duration.minutes(max(5, config.tracker_schedule_minutes))
        action = SnsAlarmActionStrategy(on_alarm_topic=alarm_topic, on_ok_topic=alarm_topic)
        self.dashboard_factory = DefaultDashboardFactory(
            self,
            "Dashboards",
            dashboard_name_prefix=config.stack_name,
            create_dashboard=True,
            create_summary_dashboard=False,
            create_alarm_dashboard=False,
        )
        self.facade = MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=alarm_name_prefix(config).rstrip("-"),
                action=action,
                datapoints_to_alarm=1,
                evaluation_periods=1,
            ),
            dashboard_factory=self.dashboard_factory,
        )
        self.deployer = deployer_metrics(config)
        self._files()
        self._queue_health(config)
        if config.is_v1:
            self._bulk_deployments(config)
        else:
            self._file_deployments(config)
            self._greengrass_quota()
        self._intake(
            intake_queue, intake_dead_letter_queue, event_dead_letter_queue, intake_rule, schedule_rule
        )
        self._functions(config, starter, tracker)
        add_saved_queries(self, config, [starter_log_group, tracker_log_group])

    # -- EMF metrics ------------------------------------------------------------------------

    def _emf_group(
        self,
        title: str,
        plain: Sequence[Metric],
        alarms: Sequence[EmfAlarm] = (),
        *,
        statistic: str = "Sum",
        period: Duration = EVENT_PERIOD,
    ) -> CustomMetricGroup:
        """A widget: metrics without an alarm (``statistic`` over ``period``), then alarmed ones."""
        metrics: list[cloudwatch.Metric | CustomMetricWithAlarm] = [
            emf_metric(self.config, metric, statistic, period) for metric in plain
        ]
        for alarm in alarms:
            metrics.append(
                CustomMetricWithAlarm(
                    metric=emf_metric(self.config, alarm.metric, alarm.statistic, alarm.period),
                    alarm_friendly_name=alarm.metric.value,
                    add_alarm={
                        "Alarm": CustomThreshold(
                            threshold=alarm.threshold,
                            comparison_operator=alarm.comparison,
                            treat_missing_data_override=alarm.missing_data,
                            alarm_description_override=alarm.description,
                            datapoints_to_alarm=alarm.datapoints,
                            evaluation_periods=alarm.evaluation_periods,
                        )
                    },
                )
            )
        return CustomMetricGroup(title=title, metrics=metrics)

    def _files(self) -> None:
        rejected = EmfAlarm(
            Metric.INPUT_FILE_REJECTED,
            "Sum",
            0,
            "An uploaded input file failed validation. Read reports/<token>/rejected.json, fix the "
            "file and upload it again.",
        )
        refused = "StartBulkDeployment" if self.config.is_v1 else "CreateDeployment of a file's target"
        start_failed = EmfAlarm(
            Metric.START_FAILED,
            "Sum",
            0,
            f"Greengrass refused a {refused} (role, permission, quota). After "
            "startMaxRefusals refusals the file is START_FAILED and dispatching pauses: fix the "
            "cause, then resume.",
        )
        lifecycle = self.deployer.lifecycle
        outcomes = [
            Metric.INPUT_FILE_QUEUED,
            lifecycle.started,
            Metric.INPUT_FILE_SUPERSEDED,
            Metric.DUPLICATE_EVENT_IGNORED,
            lifecycle.waiting,
        ]
        self.facade.monitor_custom(
            human_readable_name="Input files by outcome",
            alarm_friendly_name="Files",
            metric_groups=[
                self._emf_group("Files by outcome (per 5 minutes)", outcomes, [rejected, start_failed])
            ],
        )

    def _queue_health(self, config: DeployConfig) -> None:
        period = self.gauge_period
        bound = config.oldest_queued_file_alarm_seconds
        oldest = EmfAlarm(
            Metric.OLDEST_QUEUED_FILE_AGE_SECONDS,
            "Maximum",
            bound,
            f"A file has waited more than {bound} s to start. Is a bulk deployment running for long "
            "(ours or another tool's), is dispatching paused, or is the tracker failing?",
            period,
        )
        paused = EmfAlarm(
            Metric.DISPATCH_PAUSED,
            "Maximum",
            1,
            "Dispatching is paused after a START_FAILED file: nothing starts until an operator fixes "
            "the cause and resumes.",
            period,
            comparison=_GTE,
        )
        unprocessed = EmfAlarm(
            Metric.UNPROCESSED_INPUT_FILES,
            "Maximum",
            0,
            "Reconciliation found objects under the incoming prefix that have no ledger entry (a "
            "lost event?). Copy each object onto itself to trigger a new event.",
            # Every period holds one reconciliation's figure (see there).
            Duration.seconds(config.reconciliation_alarm_period_seconds),
            # Emitted once per reconciliation, not per run: between two of them the alarm keeps
            # its state rather than going OK.
            missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        self.facade.monitor_custom(
            human_readable_name="Queue (files waiting in the ledger)",
            alarm_friendly_name="Queue",
            metric_groups=[
                self._emf_group("Queued files", [Metric.QUEUED_FILES], statistic="Maximum", period=period),
                self._emf_group("Oldest queued file age (seconds)", [], [oldest]),
                self._emf_group("Dispatch paused (1 = paused)", [], [paused]),
                self._emf_group("Unprocessed input files (reconciliation)", [], [unprocessed]),
            ],
        )

    def _bulk_deployments(self, config: DeployConfig) -> None:
        """Greengrass V1: one bulk deployment per file."""
        lifecycle, rows = self.deployer.lifecycle, self.deployer.rows
        failed = EmfAlarm(
            lifecycle.failed,
            "Sum",
            0,
            "A bulk deployment ended Failed. Its report (reports/<token>/report.json) holds the error "
            "message and details.",
        )
        overdue = EmfAlarm(
            lifecycle.overdue,
            "Sum",
            0,
            f"A bulk deployment has been running longer than {config.overdue_after_seconds} s; later "
            "files wait behind it. Check it in the Greengrass console.",
            self.gauge_period,
        )
        groups_failed = EmfAlarm(
            rows.failed_metric,
            "Sum",
            0,
            "Group deployments of a finished bulk deployment ended in Failure. groups.csv next to its "
            "report.json lists them.",
        )
        ended = [lifecycle.completed, lifecycle.stopped]
        records = list(self.deployer.counters)
        self.facade.monitor_custom(
            human_readable_name="Bulk deployments",
            alarm_friendly_name="BulkDeployments",
            metric_groups=[
                self._emf_group("Bulk deployments by outcome (per 5 minutes)", ended, [failed, overdue]),
                self._emf_group("Records (per 5 minutes)", records),
                self._emf_group("Group deployments failed (per 5 minutes)", [], [groups_failed]),
            ],
        )

    def _file_deployments(self, config: DeployConfig) -> None:
        """Greengrass V2: a file's deployments, one per target, followed to every device."""
        lifecycle, rows = self.deployer.lifecycle, self.deployer.rows
        failed = EmfAlarm(
            lifecycle.failed,
            "Sum",
            0,
            "A file's deployments ended with a target that did not succeed on every device (a device "
            "failed, timed out or rejected it, was still pending at the deadline, or the deployment "
            f"was replaced or cancelled). reports/<token>/report.json has each target's counts, "
            f"{rows.csv_name} each {rows.noun}.",
        )
        overdue = EmfAlarm(
            lifecycle.overdue,
            "Sum",
            0,
            f"A file's deployments have been running longer than {config.overdue_after_seconds} s; "
            "later files sharing a target wait behind it. Check its targets' deployments and IoT jobs.",
            self.gauge_period,
        )
        not_succeeded = EmfAlarm(
            rows.failed_metric,
            "Sum",
            0,
            f"{rows.member.capitalize()} of a finished file did not succeed (failed, timed out, "
            f"rejected, pending at the deadline, replaced or cancelled). {rows.csv_name} next to its "
            "report.json lists them, with the reason and error types of failed ones.",
        )
        device_failures = EmfAlarm(
            Metric.DEVICE_DEPLOYMENTS_FAILED,
            "Sum",
            0,
            "Devices' deployments ended without success while the tracker followed a file. "
            f"{rows.csv_name} (written when the target settles) has each device's status and reason.",
        )
        pending = EmfAlarm(
            Metric.DEVICES_PENDING_AT_DEADLINE,
            "Sum",
            0,
            "A thing-group target reached its deadline (the line's job timeout, else "
            "thingGroupDeadlineMinutes) with members still queued or in progress: offline devices. "
            f"They are PENDING in {rows.csv_name}; the report does not wait for them any longer.",
        )
        ended = [lifecycle.completed, lifecycle.stopped]
        alarmed = {device_failures.metric, pending.metric}
        devices = [metric for metric in self.deployer.counters if metric not in alarmed]
        self.facade.monitor_custom(
            human_readable_name="File deployments (Greengrass V2, one per target)",
            alarm_friendly_name="FileDeployments",
            metric_groups=[
                self._emf_group("File deployments by outcome (per 5 minutes)", ended, [failed, overdue]),
                self._emf_group("Devices (per 5 minutes)", devices, [device_failures, pending]),
                self._emf_group(
                    f"{rows.member.capitalize()} not succeeded in final reports (per 5 minutes)",
                    [],
                    [not_succeeded],
                ),
            ],
        )

    def _greengrass_quota(self) -> None:
        """Greengrass V2: the region's 30 requests per second are shared with every other caller."""
        minutes = THROTTLED_PERIODS * int(EVENT_PERIOD.to_minutes())
        throttled = EmfAlarm(
            Metric.GREENGRASS_REQUESTS_THROTTLED,
            "Sum",
            0,
            f"Greengrass V2 or IoT requests of the functions were throttled in every 5-minute period "
            f"for {minutes} minutes: the region's shared quota of 30 requests per second is contended "
            "(other tools, people, or greengrassRequestsPerSecond set too high). Throttled requests are "
            "retried with backoff and fail no file; deployments only go slower.",
            datapoints=THROTTLED_PERIODS,
            evaluation_periods=THROTTLED_PERIODS,
        )
        self.facade.monitor_custom(
            human_readable_name="Greengrass V2 request quota",
            alarm_friendly_name="GreengrassQuota",
            metric_groups=[
                self._emf_group("Throttled Greengrass V2 and IoT requests (per 5 minutes)", [], [throttled])
            ],
        )

    # -- AWS metrics ------------------------------------------------------------------------

    def _intake(
        self,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        event_dead_letter_queue: sqs.IQueue,
        intake_rule: events.IRule,
        schedule_rule: events.IRule,
    ) -> None:
        def not_empty(description: str) -> dict[str, MaxMessageCountThreshold]:
            return {
                "Alarm": MaxMessageCountThreshold(
                    max_message_count=0,
                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description_override=description,
                )
            }

        self.facade.monitor_sqs_queue_with_dlq(
            queue=queue,
            dead_letter_queue=dead_letter_queue,
            human_readable_name="Intake queue (FIFO) and its dead-letter queue",
            alarm_friendly_name="IntakeQueue",
            add_dead_letter_queue_max_size_alarm=not_empty(
                "Intake messages failed maxReceiveCount times and were dead-lettered: their files were "
                "not processed. Read the starter's ERROR logs, fix the cause, then redrive the DLQ."
            ),
        )
        self.facade.monitor_sqs_queue(
            queue=event_dead_letter_queue,
            human_readable_name="EventBridge target dead-letter queue",
            alarm_friendly_name="EventDeadLetterQueue",
            add_queue_max_size_alarm=not_empty(
                "EventBridge could not deliver S3 events to the intake queue for 24 hours: those uploads "
                "were not processed. Fix the cause, then copy each named object onto itself."
            ),
        )
        failed: list[cloudwatch.Metric | CustomMetricWithAlarm] = []
        for name, rule in (("IntakeRule", intake_rule), ("TrackerSchedule", schedule_rule)):
            failed.append(
                CustomMetricWithAlarm(
                    metric=cloudwatch.Metric(
                        namespace="AWS/Events",
                        metric_name="FailedInvocations",
                        dimensions_map={"RuleName": rule.rule_name},
                        statistic="Sum",
                        period=EVENT_PERIOD,
                        label=f"{name} FailedInvocations",
                    ),
                    alarm_friendly_name=f"{name}FailedInvocations",
                    add_alarm={
                        "Alarm": CustomThreshold(
                            threshold=0,
                            comparison_operator=_GT,
                            treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                            alarm_description_override=(
                                f"EventBridge could not deliver events of the {name} rule to its target "
                                "(permissions, throttling, a deleted target)."
                            ),
                        )
                    },
                )
            )
        self.facade.monitor_custom(
            human_readable_name="EventBridge rules",
            alarm_friendly_name="EventBridge",
            metric_groups=[CustomMetricGroup(title="Failed invocations", metrics=failed)],
        )

    def _functions(
        self,
        config: DeployConfig,
        starter: lambda_.IFunction,
        tracker: lambda_.IFunction,
    ) -> None:
        # Starter: a failed message (a partial batch failure, not a Lambda error; the starter
        # counts it) comes back only after the intake visibility timeout (the FIFO group is
        # blocked meanwhile), so a single transient failure is one datapoint. The alarm fires
        # on a second failure within one visibility timeout (plus a period).
        failed_messages = emf_metric(config, Metric.INTAKE_MESSAGE_FAILED, "Sum", EVENT_PERIOD)
        window = -(-config.intake_visibility_timeout_seconds // int(EVENT_PERIOD.to_seconds())) + 1
        starter_errors = cloudwatch.MathExpression(
            expression="FILL(errors, 0) + FILL(failed, 0)",
            using_metrics={
                "errors": starter.metric_errors(statistic="Sum", period=EVENT_PERIOD),
                "failed": failed_messages,
            },
            period=EVENT_PERIOD,
            label="Starter errors + failed intake messages",
        )
        self.facade.monitor_lambda_function(
            lambda_function=starter,
            human_readable_name="Starter function",
            alarm_friendly_name="Starter",
        )
        self.facade.monitor_custom(
            human_readable_name="Starter failures",
            alarm_friendly_name="Starter",
            metric_groups=[
                CustomMetricGroup(
                    title="Starter: invocation errors + failed intake messages",
                    metrics=[
                        CustomMetricWithAlarm(
                            metric=starter_errors,
                            alarm_friendly_name="StarterErrors",
                            add_alarm={
                                "Alarm": CustomThreshold(
                                    threshold=0,
                                    comparison_operator=_GT,
                                    datapoints_to_alarm=2,
                                    evaluation_periods=window,
                                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                                    alarm_description_override=(
                                        "The starter failed repeatedly (a crash, a timeout, or intake "
                                        "messages that failed twice). Read the starter's ERROR logs; "
                                        "failing messages end in the intake dead-letter queue."
                                    ),
                                )
                            },
                        )
                    ],
                )
            ],
        )
        # Tracker: one run per schedule period; Lambda does not retry a failed run. Two failed
        # runs among three consecutive periods alarm, a single transient failure does not.
        self.facade.monitor_lambda_function(
            lambda_function=tracker,
            human_readable_name="Tracker function",
            alarm_friendly_name="Tracker",
            add_fault_count_alarm={
                "Alarm": ErrorCountThreshold(
                    max_error_count=0,
                    period=Duration.minutes(config.tracker_schedule_minutes),
                    datapoints_to_alarm=2,
                    evaluation_periods=3,
                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description_override=(
                        "Tracker runs are failing: finished bulk deployments are not seen, the next "
                        "file does not start and reports are not written. Read the tracker's logs."
                    ),
                )
            },
        )
