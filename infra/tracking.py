"""Tracking: the scheduled tracker function with exactly the calls it makes.

Each run follows the active bulk deployment, frees the slot and dispatches the next file,
writes group-deployment reports under the reports prefix (multipart uploads, checkpointed in
the ledger), emits queue-health metrics and, periodically, reconciles the incoming prefix.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, Fn
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import greengrass_v2
from infra.config import DeployConfig
from infra.greengrass_v1 import BULK_DEPLOYMENTS_ARN
from infra.nag import acknowledge, arn_ref
from infra.processing import FunctionConstruct, SharedResources

TRACKER_HANDLER: Final = "bulk_deployer.handlers.tracker.handler"
# EventBridge retries an invocation that failed to be *delivered* (throttling, service errors)
# within one schedule period; a later run does the same work anyway.
SCHEDULE_TARGET_RETRY_ATTEMPTS: Final = 2


def schedule_period(config: DeployConfig) -> Duration:
    return Duration.minutes(config.tracker_schedule_minutes)


class Tracker(FunctionConstruct):
    """The tracker function, its role and the EventBridge schedule that runs it."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, shared: SharedResources
    ) -> None:
        super().__init__(scope, construct_id, config=config, kind="tracker", shared=shared)
        period = schedule_period(config)
        environment = config.tracker_environment(
            ledger_table_name=shared.ledger.table_name,
            input_bucket_name=shared.bucket.bucket_name,
            outcomes_topic_arn=shared.notifications.outcomes_topic.topic_arn,
        )
        self.function = self.add_function(
            "bulk-deployer tracker: follows bulk deployments, writes reports, starts the next",
            TRACKER_HANDLER,
            memory_mb=config.tracker_memory_mb,
            timeout_seconds=config.tracker_timeout_seconds,
            environment=environment,
            # A failed run is not retried by Lambda: the next scheduled run redoes the same work
            # from the ledger, and an overlapping retry would only find the run lease taken. A
            # queued (throttled) event older than one period is superseded by the next one.
            retry_attempts=0,
            max_event_age=period,
            # No reserved concurrency: one run at a time is a lease item in the ledger.
        )

        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Runs the bulk-deployer tracker every {config.tracker_schedule_minutes} minute(s)",
            schedule=events.Schedule.rate(period),
        )
        self.schedule.add_target(
            targets.LambdaFunction(
                self.function, retry_attempts=SCHEDULE_TARGET_RETRY_ATTEMPTS, max_event_age=period
            )
        )

        # The tracker starts the next queued file with the starter's dispatch(); its outcome
        # notifications: finished (with counts), and those of dispatch().
        self.grant_role(_tracker_statements(config, shared.bucket), _tracker_wildcards(config, shared.bucket))
        for rule in ("Serverless-LambdaDLQ", "Serverless-LambdaAsyncFailureDestination"):
            acknowledge(
                self.function,
                rule,
                "Invoked by its schedule only; a failed run is not worth replaying (the next run, one "
                "period later, redoes its work from the ledger) and failed runs raise the tracker alarm.",
            )
        acknowledge(
            self.schedule,
            "Serverless-EventBusDLQ",
            "A scheduled event carries no data: one that cannot be delivered is replaced by the next "
            "period's, and FailedInvocations on this rule raises an alarm.",
        )


def _tracker_statements(config: DeployConfig, bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """What the tracker calls of its own: write reports, list the incoming prefix (to reconcile),
    read the deployer's results (V1: bulk deployments' reports; V2: see greengrass_v2)."""
    reports = bucket.arn_for_objects(f"{config.reports_prefix}*")
    deployer = (
        [
            # The active bulk deployment's group deployments, page by page.
            iam.PolicyStatement(
                sid="ReadBulkDeploymentReports",
                actions=["greengrass:ListBulkDeploymentDetailedReports"],
                resources=[Fn.sub(BULK_DEPLOYMENTS_ARN)],
            )
        ]
        if config.is_v1
        else greengrass_v2.tracker_statements(config, bucket)
    )
    return [
        # report.json, groups.csv and the interim report: PutObject, and the multipart
        # uploads (CreateMultipartUpload, UploadPart, CompleteMultipartUpload are
        # authorized by s3:PutObject).
        iam.PolicyStatement(sid="WriteReports", actions=["s3:PutObject"], resources=[reports]),
        # A report pass that gives up on an upload aborts it.
        iam.PolicyStatement(
            sid="AbortReportUploads", actions=["s3:AbortMultipartUpload"], resources=[reports]
        ),
        # Reconciliation lists the versions under the incoming prefix, and nothing else of the
        # bucket. (Its unconditioned s3:ListBucket comes with dispatch_statements(): the 404
        # of a deleted queued key needs it, see there.)
        iam.PolicyStatement(
            sid="ListIncomingObjectVersions",
            actions=["s3:ListBucketVersions"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{config.incoming_prefix}*"]}},
        ),
        *deployer,
    ]


def _tracker_wildcards(config: DeployConfig, bucket: s3.IBucket) -> tuple[tuple[str, str], ...]:
    """(nag rule, reason) for each wildcard resource of the tracker's own."""
    bucket_arn = arn_ref(bucket)
    return (
        *(() if config.is_v1 else (greengrass_v2.staged_wildcard(config, bucket),)),
        (
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{config.reports_prefix}*]",
            "The tracker writes one report folder per file (report.json, groups.csv; in a V2 stack "
            "also reads back what the start recorded there), named by the file's token, only under "
            "the reports prefix.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{config.incoming_prefix}*]",
            "dispatch() in the tracker HEADs a queued file's key under the incoming prefix (is it "
            "still the current version?) just before starting it; HeadObject needs s3:GetObject.",
        ),
    )
