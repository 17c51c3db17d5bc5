"""The bulk-deployer stack and the app that holds it (shared by app.py and the tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, App, CfnOutput, Stack
from bulk_deployer.settings_schema import GREENGRASS_V1, GREENGRASS_V2
from constructs import Construct

from infra.config import CONTEXT_KEY_NAMES, DeployConfig
from infra.greengrass_v1 import GreengrassExecutionRole
from infra.intake import Intake
from infra.monitoring import Monitoring
from infra.nag import add_rule_packs
from infra.notifications import Notifications
from infra.processing import SharedResources, Starter
from infra.storage import Storage, writers_only_statement
from infra.tracking import Tracker

DESCRIPTIONS = {
    GREENGRASS_V1: (
        "bulk-deployer: starts AWS IoT Greengrass (V1) bulk deployments exactly once "
        "from files uploaded to S3"
    ),
    GREENGRASS_V2: (
        "bulk-deployer: starts AWS IoT Greengrass V2 deployments exactly once from files uploaded to S3"
    ),
}


class BulkDeployerStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig) -> None:
        super().__init__(scope, construct_id, description=DESCRIPTIONS[config.greengrass])
        self.config = config
        for number, message in enumerate(config.deprecations):
            # A renamed context key still works, but whoever synthesizes should rename it.
            Annotations.of(self).add_warning_v2(f"bulk-deployer:deprecatedContextKey{number}", message)
        for entry in config.settings_of_the_other_version():
            # Set, but meaningless for this stack's Greengrass version: say so instead of ignoring it.
            Annotations.of(self).add_warning_v2(
                f"bulk-deployer:ignoredContextKey:{entry.key}",
                f"cdk.json context key {entry.key!r} applies to Greengrass {entry.only_for} stacks only; "
                f"this stack is greengrass={config.greengrass}, so its value is ignored",
            )
        self.storage = Storage(self, "Storage", config=config)
        self.intake = Intake(self, "Intake", config=config, bucket=self.storage.bucket)
        # Greengrass V2 passes no execution role: a V2 stack has none.
        self.execution_role = (
            GreengrassExecutionRole(
                self, "GreengrassExecutionRole", config=config, bucket=self.storage.bucket
            )
            if config.is_v1
            else None
        )
        self.notifications = Notifications(self, "Notifications", config=config)
        shared = SharedResources(
            bucket=self.storage.bucket,
            ledger=self.storage.ledger,
            execution_role=self.execution_role.role if self.execution_role else None,
            notifications=self.notifications,
        )
        self.starter = Starter(
            self,
            "Starter",
            config=config,
            shared=shared,
            intake_queue=self.intake.queue,
            intake_dead_letter_queue=self.intake.dead_letter_queue,
        )
        self.tracker = Tracker(self, "Tracker", config=config, shared=shared)
        # Only the starter writes staged copies; only the starter and the tracker write reports.
        bucket = self.storage.bucket
        bucket.add_to_resource_policy(
            writers_only_statement(
                "DenyStagedWritesByOthersThanTheStarter", bucket, config.staged_prefix, [self.starter.role]
            )
        )
        bucket.add_to_resource_policy(
            writers_only_statement(
                "DenyReportWritesByOthersThanTheFunctions",
                bucket,
                config.reports_prefix,
                [self.starter.role, self.tracker.role],
            )
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            alarm_topic=self.notifications.alarm_topic,
            starter=self.starter.function,
            starter_log_group=self.starter.log_group,
            tracker=self.tracker.function,
            tracker_log_group=self.tracker.log_group,
            intake_queue=self.intake.queue,
            intake_dead_letter_queue=self.intake.dead_letter_queue,
            event_dead_letter_queue=self.intake.event_dead_letter_queue,
            intake_rule=self.intake.rule,
            schedule_rule=self.tracker.schedule,
        )
        self._outputs()

    def _outputs(self) -> None:
        config = self.config
        if self.execution_role is not None:
            CfnOutput(
                self,
                "ExecutionRoleArn",
                value=self.execution_role.role.role_arn,
                description="Role Greengrass assumes for the bulk deployments",
            )
        for output_id, value, description in (
            (
                "BucketName",
                self.storage.bucket.bucket_name,
                "Bucket for input files, staged copies and reports",
            ),
            (
                "GreengrassVersion",
                config.greengrass,
                "The deployment service: v1 (bulk deployments) or v2 (a deployment per target)",
            ),
            ("IncomingPrefix", config.incoming_prefix, "Upload input files under this prefix"),
            ("StagedPrefix", config.staged_prefix, "Validated copies that Greengrass reads"),
            ("ReportsPrefix", config.reports_prefix, "Rejection and deployment reports"),
            ("IntakeQueueUrl", self.intake.queue.queue_url, "FIFO queue of S3 Object Created events"),
            (
                "IntakeDeadLetterQueueUrl",
                self.intake.dead_letter_queue.queue_url,
                "Intake messages that failed maxReceiveCount times",
            ),
            (
                "EventDeadLetterQueueUrl",
                self.intake.event_dead_letter_queue.queue_url,
                "Events EventBridge could not deliver to the intake queue",
            ),
            ("LedgerTableName", self.storage.ledger.table_name, "DynamoDB ledger of every file"),
            ("StarterFunctionName", self.starter.function.function_name, "The starter Lambda function"),
            ("TrackerFunctionName", self.tracker.function.function_name, "The tracker Lambda function"),
            (
                "OutcomesTopicArn",
                self.notifications.outcomes_topic.topic_arn,
                "One JSON message per file outcome; subscribe with a filter on outcome / key",
            ),
            ("AlarmTopicArn", self.notifications.alarm_topic.topic_arn, "Every alarm of the stack"),
        ):
            CfnOutput(self, output_id, value=value, description=description)


def context_of(app: App) -> dict[str, Any]:
    """The configuration keys present in the app's context (cdk.json and -c), old names included."""
    return {name: app.node.try_get_context(name) for name in CONTEXT_KEY_NAMES}


def build_app(
    *, context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, BulkDeployerStack]:
    """A fresh app with the stack and the cdk-nag rule packs (AwsSolutions, Serverless)."""
    app = App(context=dict(context) if context else None, outdir=outdir)
    config = DeployConfig.from_context(context_of(app))
    stack = BulkDeployerStack(app, config.stack_name, config=config)
    add_rule_packs(app)
    return app, stack
