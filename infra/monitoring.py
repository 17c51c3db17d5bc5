"""Monitoring: one dashboard, the alarms (all to the alarm topic), saved Logs Insights queries.

Dashboards and alarms come from cdk-monitoring-constructs (``MonitoringFacade``): its Lambda
and SQS monitors render the standard widgets, and every alarm — also those on our own EMF
metrics (``monitor_custom``) — goes through one alarm factory with one naming scheme and one
SNS action strategy. Plain ``aws_cloudwatch`` / ``aws_logs`` are used where the library has
nothing: the metric filter that counts failed intake messages and the query definitions.

EMF metrics are emitted by ``bulk_deployer.observability`` with the dimension
``service=bulk-deployer`` in the configured namespace; an alarm must use exactly those or it
never leaves INSUFFICIENT_DATA (tests/infra compares them with real EMF output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
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
from infra.notifications import alarm_name_prefix

# The EMF dimension Powertools adds (observability.SERVICE; POWERTOOLS_SERVICE_NAME).
SERVICE: Final = "bulk-deployer"
EMF_DIMENSIONS: Final = {"service": SERVICE}
# Counts of events: "did it happen in the last 5 minutes".
EVENT_PERIOD: Final = Duration.minutes(5)
# The starter logs this (at ERROR) for each message it fails; SQS delivers the message again.
# Failed messages are partial batch failures, not Lambda errors: a metric filter counts them.
FAILED_MESSAGE_LOG: Final = "message failed; SQS will deliver it again, then dead-letter it"
FAILED_MESSAGES_METRIC: Final = "IntakeMessagesFailed"
# Logs Insights: the log lines the saved queries select (bulk_deployer's logger messages).
REJECTED_LOG: Final = "input file rejected"
STARTED_LOGS: Final = (
    "bulk deployment started",
    "recovered a bulk deployment started by an interrupted attempt",
)


@dataclass(frozen=True)
class EmfAlarm:
    metric: str
    statistic: str
    threshold: float
    comparison: cloudwatch.ComparisonOperator
    description: str
    # A period without data: an idle system is quiet. A gauge emitted less often than the
    # alarm evaluates keeps its state instead (IGNORE).
    missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING


_GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
_GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


def emf_metric(config: DeployConfig, name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=config.metrics_namespace,
        metric_name=name,
        dimensions_map=dict(EMF_DIMENSIONS),
        statistic=statistic,
        period=period,
        label=name,
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
        self._files(config)
        self._queue_health(config)
        self._bulk_deployments(config)
        self._intake(
            intake_queue, intake_dead_letter_queue, event_dead_letter_queue, intake_rule, schedule_rule
        )
        self._functions(config, starter, starter_log_group, tracker)
        self._queries(config, starter_log_group, tracker_log_group)

    # -- EMF metrics ------------------------------------------------------------------------

    def _emf_group(
        self,
        title: str,
        plain: list[tuple[str, str, Duration]],
        alarms: list[tuple[EmfAlarm, Duration]],
    ) -> CustomMetricGroup:
        metrics: list[cloudwatch.Metric | CustomMetricWithAlarm] = [
            emf_metric(self.config, name, statistic, period) for name, statistic, period in plain
        ]
        for alarm, period in alarms:
            metrics.append(
                CustomMetricWithAlarm(
                    metric=emf_metric(self.config, alarm.metric, alarm.statistic, period),
                    alarm_friendly_name=alarm.metric,
                    add_alarm={
                        "Alarm": CustomThreshold(
                            threshold=alarm.threshold,
                            comparison_operator=alarm.comparison,
                            treat_missing_data_override=alarm.missing_data,
                            alarm_description_override=alarm.description,
                        )
                    },
                )
            )
        return CustomMetricGroup(title=title, metrics=metrics)

    def _files(self, config: DeployConfig) -> None:
        self.facade.monitor_custom(
            human_readable_name="Input files by outcome",
            alarm_friendly_name="Files",
            metric_groups=[
                self._emf_group(
                    "Files by outcome (per 5 minutes)",
                    [
                        ("InputFileQueued", "Sum", EVENT_PERIOD),
                        ("BulkDeploymentStarted", "Sum", EVENT_PERIOD),
                        ("InputFileSuperseded", "Sum", EVENT_PERIOD),
                        ("DuplicateEventIgnored", "Sum", EVENT_PERIOD),
                        ("WaitingForPreviousBulkDeployment", "Sum", EVENT_PERIOD),
                    ],
                    [
                        (
                            EmfAlarm(
                                "InputFileRejected",
                                "Sum",
                                0,
                                _GT,
                                "An uploaded input file failed validation. Read "
                                "reports/<token>/rejected.json, fix the file and upload it again.",
                            ),
                            EVENT_PERIOD,
                        ),
                        (
                            EmfAlarm(
                                "StartFailed",
                                "Sum",
                                0,
                                _GT,
                                "Greengrass refused a StartBulkDeployment (role, permission, quota). "
                                "After startMaxRefusals refusals the file is START_FAILED and "
                                "dispatching pauses: fix the cause, then resume.",
                            ),
                            EVENT_PERIOD,
                        ),
                    ],
                )
            ],
        )

    def _queue_health(self, config: DeployConfig) -> None:
        period = self.gauge_period
        self.facade.monitor_custom(
            human_readable_name="Queue (files waiting in the ledger)",
            alarm_friendly_name="Queue",
            metric_groups=[
                self._emf_group("Queued files", [("QueuedFiles", "Maximum", period)], []),
                self._emf_group(
                    "Oldest queued file age (seconds)",
                    [],
                    [
                        (
                            EmfAlarm(
                                "OldestQueuedFileAgeSeconds",
                                "Maximum",
                                config.oldest_queued_file_alarm_seconds,
                                _GT,
                                f"A file has waited more than {config.oldest_queued_file_alarm_seconds} s "
                                "to start. Is a bulk deployment running for long (ours or another "
                                "tool's), is dispatching paused, or is the tracker failing?",
                            ),
                            period,
                        )
                    ],
                ),
                self._emf_group(
                    "Dispatch paused (1 = paused)",
                    [],
                    [
                        (
                            EmfAlarm(
                                "DispatchPaused",
                                "Maximum",
                                1,
                                _GTE,
                                "Dispatching is paused after a START_FAILED file: nothing starts "
                                "until an operator fixes the cause and resumes.",
                            ),
                            period,
                        )
                    ],
                ),
                self._emf_group(
                    "Unprocessed input files (reconciliation)",
                    [],
                    [
                        (
                            EmfAlarm(
                                "UnprocessedInputFiles",
                                "Maximum",
                                0,
                                _GT,
                                "Reconciliation found objects under the incoming prefix that have no "
                                "ledger entry (a lost event?). Copy each object onto itself to "
                                "trigger a new event.",
                                # Emitted once per reconciliation, not per run: between two of
                                # them the alarm keeps its state rather than going OK.
                                missing_data=cloudwatch.TreatMissingData.IGNORE,
                            ),
                            # Every period holds one reconciliation's figure (see there).
                            Duration.seconds(config.reconciliation_alarm_period_seconds),
                        )
                    ],
                ),
            ],
        )

    def _bulk_deployments(self, config: DeployConfig) -> None:
        self.facade.monitor_custom(
            human_readable_name="Bulk deployments",
            alarm_friendly_name="BulkDeployments",
            metric_groups=[
                self._emf_group(
                    "Bulk deployments by outcome (per 5 minutes)",
                    [
                        ("BulkDeploymentCompleted", "Sum", EVENT_PERIOD),
                        ("BulkDeploymentStopped", "Sum", EVENT_PERIOD),
                    ],
                    [
                        (
                            EmfAlarm(
                                "BulkDeploymentFailed",
                                "Sum",
                                0,
                                _GT,
                                "A bulk deployment ended Failed. Its report (reports/<token>/report.json) "
                                "holds the error message and details.",
                            ),
                            EVENT_PERIOD,
                        ),
                        (
                            EmfAlarm(
                                "BulkDeploymentOverdue",
                                "Sum",
                                0,
                                _GT,
                                "A bulk deployment has been running longer than "
                                f"{config.overdue_after_seconds} s; later files wait behind it. Check "
                                "it in the Greengrass console.",
                            ),
                            self.gauge_period,
                        ),
                    ],
                ),
                self._emf_group(
                    "Records (per 5 minutes)",
                    [
                        ("RecordsProcessed", "Sum", EVENT_PERIOD),
                        ("InvalidInputRecords", "Sum", EVENT_PERIOD),
                        ("RetryAttempts", "Sum", EVENT_PERIOD),
                    ],
                    [],
                ),
                self._emf_group(
                    "Group deployments failed (per 5 minutes)",
                    [],
                    [
                        (
                            EmfAlarm(
                                "GroupDeploymentsFailed",
                                "Sum",
                                0,
                                _GT,
                                "Group deployments of a finished bulk deployment ended in Failure. "
                                "groups.csv next to its report.json lists them.",
                            ),
                            EVENT_PERIOD,
                        )
                    ],
                ),
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
        starter_log_group: logs.ILogGroup,
        tracker: lambda_.IFunction,
    ) -> None:
        # Starter: a failed message comes back only after the intake visibility timeout (the
        # FIFO group is blocked meanwhile), so a single transient failure is one datapoint. The
        # alarm fires on a second failure within one visibility timeout (plus a period).
        logs.MetricFilter(
            self,
            "IntakeMessagesFailedFilter",
            log_group=starter_log_group,
            metric_namespace=config.metrics_namespace,
            metric_name=FAILED_MESSAGES_METRIC,
            filter_pattern=logs.FilterPattern.all(
                logs.FilterPattern.string_value("$.level", "=", "ERROR"),
                logs.FilterPattern.string_value("$.message", "=", FAILED_MESSAGE_LOG),
            ),
            metric_value="1",
        )
        failed_messages = cloudwatch.Metric(
            namespace=config.metrics_namespace,
            metric_name=FAILED_MESSAGES_METRIC,
            statistic="Sum",
            period=EVENT_PERIOD,
        )
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

    # -- Logs Insights ----------------------------------------------------------------------

    def _queries(
        self, config: DeployConfig, starter_log_group: logs.ILogGroup, tracker_log_group: logs.ILogGroup
    ) -> None:
        groups = [starter_log_group, tracker_log_group]
        started = ", ".join(f'"{message}"' for message in STARTED_LOGS)
        for query_id, name, query in (
            (
                "FileHistoryQuery",
                "file-history",
                logs.QueryString(
                    fields=[
                        "@timestamp",
                        "level",
                        "message",
                        "state",
                        "token",
                        "version_id",
                        "etag",
                        "bulk_deployment_id",
                        "report_key",
                        "service_message",
                    ],
                    filter_statements=[f'key = "{config.incoming_prefix}REPLACE-WITH-FILE-NAME.jsonl"'],
                    sort="@timestamp asc",
                    limit=1000,
                ),
            ),
            (
                "RejectionsQuery",
                "rejections",
                logs.QueryString(
                    fields=[
                        "@timestamp",
                        "key",
                        "version_id",
                        "token",
                        "error_count",
                        "first_errors.0.line",
                        "first_errors.0.code",
                        "first_errors.0.message",
                        "report_key",
                    ],
                    filter_statements=[f'message = "{REJECTED_LOG}"'],
                    sort="@timestamp desc",
                    limit=1000,
                ),
            ),
            (
                "StartsQuery",
                "starts",
                logs.QueryString(
                    fields=["@timestamp", "message", "bulk_deployment_id", "token", "key", "version_id"],
                    filter_statements=[f"message in [{started}]"],
                    sort="@timestamp desc",
                    limit=1000,
                ),
            ),
        ):
            logs.QueryDefinition(
                self,
                query_id,
                query_definition_name=f"{config.stack_name}/{name}",
                query_string=query,
                log_groups=groups,
            )
