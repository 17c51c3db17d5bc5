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
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from bulk_deployer.contract import SERVICE, Metric
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
from infra.deployment_alarms import (
    EVENT_PERIOD,
    GT,
    GTE,
    EmfAlarm,
    Panel,
    deployer_metrics,
    deployment_panels,
    happened,
)
from infra.log_queries import add_saved_queries
from infra.notifications import alarm_name_prefix

# The EMF dimension Powertools adds (POWERTOOLS_SERVICE_NAME).
EMF_DIMENSIONS: Final = {"service": SERVICE}


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
        for panel in deployment_panels(config, self.gauge_period):
            self._panel(panel)
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

    def _panel(self, panel: Panel) -> None:
        self.facade.monitor_custom(
            human_readable_name=panel.name,
            alarm_friendly_name=panel.alarm_name,
            metric_groups=[
                self._emf_group(g.title, g.plain, g.alarms, statistic=g.statistic, period=g.period)
                for g in panel.groups
            ],
        )

    def _files(self) -> None:
        rejected = happened(
            Metric.INPUT_FILE_REJECTED,
            "An uploaded input file failed validation. Read reports/<token>/rejected.json, fix the "
            "file and upload it again.",
        )
        refused = "StartBulkDeployment" if self.config.is_v1 else "CreateDeployment of a file's target"
        start_failed = happened(
            Metric.START_FAILED,
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
            comparison=GTE,
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
                            comparison_operator=GT,
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
                                    comparison_operator=GT,
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
