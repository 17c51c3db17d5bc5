"""Processing: the starter function with exactly its permissions.

The helpers below (function, role, dispatch statements) are shared with the tracker
(infra/tracking.py): both functions call the same ``dispatch()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from infra import bundling, greengrass_v1, greengrass_v2
from infra.config import DeployConfig
from infra.nag import acknowledge, arn_ref, prefix_pattern
from infra.notifications import Notifications

STARTER_HANDLER: Final = "bulk_deployer.handlers.starter.handler"
# Every DynamoDB call the starter and the tracker make on the ledger table and its indexes.
# TransactWriteItems (STARTED + slot handover) is authorized by the per-item actions.
LEDGER_ACTIONS: Final = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
)
# cdk-nag asks for the newest Python runtime (3.14); the functions run on 3.13 on purpose.
RUNTIME_REASON: Final = (
    "Python 3.13, not the newest Lambda Python, on purpose: the functions are tested on exactly the "
    "Python they run on, and no CPython 3.14 can be installed where they are tested; Lambda supports "
    "python3.13 until 2029-06-30 (docs/deployment.md, Which Python)."
)


@dataclass(frozen=True)
class SharedResources:
    """What both functions use: the bucket, the ledger, the execution role they start bulk
    deployments with (both dispatch; a V2 stack has none) and the topics they notify."""

    bucket: s3.IBucket
    ledger: dynamodb.ITable
    execution_role: iam.IRole | None
    notifications: Notifications


class FunctionConstruct(Construct):
    """A Python function with its own role and log group (the starter, the tracker): an own role
    per function, no AWS managed policy, logs only to the function's log group."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, kind: str, shared: SharedResources
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.shared = shared
        self.kind = kind  # "starter" or "tracker": in the role description and nag reasons
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            description=f"bulk-deployer {kind} function",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.log_group.grant_write(self.role)

    def add_function(
        self,
        description: str,
        handler: str,
        *,
        memory_mb: int,
        timeout_seconds: int,
        environment: dict[str, str],
        retry_attempts: int | None = None,
        max_event_age: Duration | None = None,
    ) -> lambda_.Function:
        """Python 3.13 on arm64, the shared asset, active tracing; no reserved concurrency (it fails
        on accounts with a low concurrency quota)."""
        function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            handler=handler,
            code=bundling.lambda_code(with_dependencies=self.config.bundle_dependencies),
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        cfn_function = function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        # CDK makes the function depend on its role (already implied by GetAtt Role.Arn) and on
        # the role's default policy (needed: the permissions must exist before the first run).
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(function, rule, RUNTIME_REASON)
        return function

    def grant_role(self, own: Iterable[iam.PolicyStatement], wildcards: Iterable[tuple[str, str]]) -> None:
        """The function's `own` statements, then what dispatch() calls (both functions start the
        next queued file), the outcome notifications and the ledger, in the role's default policy;
        the wildcard resources every function has, and `wildcards` ((rule, reason) of its own),
        acknowledged."""
        shared = self.shared
        for statement in (
            *own,
            *dispatch_statements(self.config, shared.bucket, shared.execution_role),
            *shared.notifications.publish_statements(),
        ):
            self.role.add_to_principal_policy(statement)
        shared.ledger.grant(self.role, *ledger_actions(self.config))
        default_policy = self.role.node.find_child("DefaultPolicy")
        acknowledge_shared_wildcards(default_policy, shared.ledger, self.kind, v1=self.config.is_v1)
        for rule, reason in wildcards:
            acknowledge(default_policy, rule, reason)


def dispatch_statements(
    config: DeployConfig, bucket: s3.IBucket, execution_role: iam.IRole | None
) -> list[iam.PolicyStatement]:
    """What ``dispatch()`` calls: check the queued file is still its key's current version, then
    the deployer's calls to find, start and follow deployments (V1 or V2)."""
    if not config.is_v1:
        deployer = greengrass_v2.dispatch_statements(config, bucket)
    elif execution_role is None:
        raise ValueError("a Greengrass V1 stack's functions pass its execution role")
    else:
        deployer = greengrass_v1.dispatch_statements(config, execution_role)
    return [
        *deployer,
        # Just before starting a queued file: HeadObject of its key without VersionId (is the
        # queued version still the current one?).
        iam.PolicyStatement(
            sid="HeadQueuedInputFiles",
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(prefix_pattern(config.incoming_prefix))],
        ),
        # Without ListBucket a deleted key answers 403 instead of 404. HeadObject carries no
        # s3:prefix, so a prefix condition would take the 404 away again: the bucket, unconditioned.
        iam.PolicyStatement(sid="ListBucket", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
    ]


def ledger_actions(config: DeployConfig) -> tuple[str, ...]:
    """The ledger calls of both functions; a V2 stack's deployer also reads its per-target
    records in batches (BatchGetItem)."""
    return LEDGER_ACTIONS if config.is_v1 else (*LEDGER_ACTIONS, "dynamodb:BatchGetItem")


def acknowledge_shared_wildcards(
    default_policy: IConstruct, ledger: dynamodb.ITable, who: str, *, v1: bool
) -> None:
    """The wildcard resources every function role of the stack has, each with its reason."""
    acknowledge(
        default_policy,
        f"AwsSolutions-IAM5[Resource::{arn_ref(ledger)}/index/*]",
        f"The {who} queries the ledger's own indexes (queue, by_key, by_bulk_deployment) and nothing else.",
    )
    (greengrass_v1 if v1 else greengrass_v2).acknowledge_wildcards(default_policy, who)


class Starter(FunctionConstruct):
    """The starter function, fed one intake message at a time, with exactly the calls it makes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        shared: SharedResources,
        intake_queue: sqs.IQueue,
        intake_dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id, config=config, kind="starter", shared=shared)
        environment = config.starter_environment(
            ledger_table_name=shared.ledger.table_name,
            execution_role_arn=shared.execution_role.role_arn if shared.execution_role else None,
            outcomes_topic_arn=shared.notifications.outcomes_topic.topic_arn,
            intake_dead_letter_queue_url=intake_dead_letter_queue.queue_url,
            stack_account_id=Aws.ACCOUNT_ID,
        )
        # The single FIFO message group already runs one invocation at a time.
        self.function = self.add_function(
            "bulk-deployer starter: registers, validates, stages and queues uploaded files",
            STARTER_HANDLER,
            memory_mb=config.starter_memory_mb,
            timeout_seconds=config.starter_timeout_seconds,
            environment=environment,
        )
        self.function.add_event_source(
            event_sources.SqsEventSource(intake_queue, batch_size=1, report_batch_item_failures=True)
        )
        # Beyond dispatch(), the outcome notifications: rejected, superseded, started, start_failed.
        self.grant_role(_starter_statements(config, shared.bucket), _starter_wildcards(config, shared.bucket))
        # A message that can never succeed is parked in the dead-letter queue at once
        # (bulk_deployer.parking) instead of holding up the FIFO group for five receives.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ParkMessagesThatCanNeverSucceed",
                actions=["sqs:SendMessage"],
                resources=[intake_dead_letter_queue.queue_arn],
            )
        )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by the SQS event source only; a message that keeps failing moves "
            "to the intake queue's dead-letter queue (redrive policy), there is no async invocation.",
        )
        acknowledge(
            self.function,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings do not support on-failure destinations; the intake queue's "
            "redrive policy moves failed messages to its FIFO dead-letter queue.",
        )


def _starter_statements(config: DeployConfig, bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """What the starter calls of its own: read what arrives, write staged copies and rejection
    reports."""
    incoming_objects = bucket.arn_for_objects(prefix_pattern(config.incoming_prefix))
    return [
        # HeadObject/GetObject of the version an event names. The current object's
        # (s3:GetObject) and the 404 for a missing key (s3:ListBucket) come with
        # dispatch_statements(): dispatch() needs exactly those on the same objects.
        iam.PolicyStatement(
            sid="ReadIncomingObjectVersions",
            actions=["s3:GetObjectVersion"],
            resources=[incoming_objects],
        ),
        # GetObjectTagging with VersionId: per-file bulk-deployment tags.
        iam.PolicyStatement(
            sid="ReadIncomingObjectTags",
            actions=["s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
            resources=[incoming_objects],
        ),
        # CopyObject to staged/<token>.jsonl and PutObject of reports/<token>/rejected.json.
        iam.PolicyStatement(
            sid="WriteStagedCopiesAndReports",
            actions=["s3:PutObject"],
            resources=[
                bucket.arn_for_objects(prefix_pattern(config.staged_prefix)),
                bucket.arn_for_objects(prefix_pattern(config.reports_prefix)),
            ],
        ),
    ]


def _starter_wildcards(config: DeployConfig, bucket: s3.IBucket) -> tuple[tuple[str, str], ...]:
    """(nag rule, reason) for each wildcard resource of the starter's own."""
    bucket_arn = arn_ref(bucket)
    return (
        (
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix_pattern(config.incoming_prefix)}]",
            "The starter reads whatever operators upload under the incoming prefix, and only there.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix_pattern(config.staged_prefix)}]",
            "One staged copy per file, named by its token, written (and in a V2 stack read back to "
            "start it) only under the staged prefix.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix_pattern(config.reports_prefix)}]",
            "One report folder per file, named by its token, written only under the reports prefix.",
        ),
    )


_RETENTION: Final = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days (DeployConfig allows only these)."""
    return _RETENTION[days]
