"""Storage: the input/staging/reports bucket, its access-log bucket and the ledger table."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from bulk_deployer.ledger_model import INDEX_KEYS, PARTITION_KEY, TTL_ATTRIBUTE
from constructs import Construct

from infra.config import DeployConfig

ABORT_INCOMPLETE_UPLOADS_DAYS = 7
# Writing under the incoming prefix starts a deployment: creating an object there (PutObject
# also authorizes CopyObject and multipart uploads; ReplicateObject is how replication writes),
# and setting its tags (they become the bulk deployment's tags).
INCOMING_WRITE_ACTIONS = (
    "s3:PutObject",
    "s3:ReplicateObject",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
)


def uploader_statement(bucket: s3.IBucket, config: DeployConfig) -> iam.PolicyStatement:
    """Only the listed principals may write under the incoming prefix.

    A Deny with a condition on aws:PrincipalArn, not NotPrincipal: a role session's principal is
    its session ARN, which NotPrincipal would have to name session by session, while
    aws:PrincipalArn is the role's ARN. A request without the key (an AWS service acting as
    itself) is denied too. The stack's own functions write only the staged and reports prefixes.
    """
    return iam.PolicyStatement(
        sid="DenyIncomingWritesByUnlistedPrincipals",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(INCOMING_WRITE_ACTIONS),
        resources=[bucket.arn_for_objects(f"{config.incoming_prefix}*")],
        conditions={"ArnNotLike": {"aws:PrincipalArn": list(config.uploader_principal_arns)}},
    )


# Creating an object under the staged or reports prefix (PutObject also authorizes CopyObject
# and multipart uploads).
OUTPUT_WRITE_ACTIONS = ("s3:PutObject", "s3:ReplicateObject")


def writers_only_statement(
    sid: str, bucket: s3.IBucket, prefix: str, writers: list[iam.IRole]
) -> iam.PolicyStatement:
    """Nobody but ``writers`` (the stack's own function roles) may create objects under ``prefix``.

    Greengrass reads ``staged/<token>.jsonl`` by key, not by version, and the copy there is what
    was validated only as long as nobody else writes it: without this, any principal with a broad
    ``s3:PutObject`` on the bucket could replace a staged copy after validation. The same holds for
    the reports operators act on.
    """
    return iam.PolicyStatement(
        sid=sid,
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(OUTPUT_WRITE_ACTIONS),
        resources=[bucket.arn_for_objects(f"{prefix}*")],
        conditions={"ArnNotEquals": {"aws:PrincipalArn": [role.role_arn for role in writers]}},
    )


def _private_bucket(scope: Construct, construct_id: str, **props: Any) -> s3.Bucket:
    """Both buckets: SSE-S3, TLS only, no public access, no ACLs (the bucket owner owns every object)."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **props,
    )


class Storage(Construct):
    """Everything that holds state. Buckets are retained unless bucketRemovalPolicy is 'destroy'."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.DESTROY if config.bucket_removal_policy == "destroy" else RemovalPolicy.RETAIN

        # Server access logs need SSE-S3 on the target bucket; S3 writes them via the bucket
        # policy CDK adds (logging.s3.amazonaws.com, scoped to the source bucket and account).
        self.access_log_bucket = _private_bucket(
            self,
            "AccessLogBucket",
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(config.access_log_expiration_days),
                    abort_incomplete_multipart_upload_after=Duration.days(ABORT_INCOMPLETE_UPLOADS_DAYS),
                )
            ],
            removal_policy=removal,
        )

        # SSE-S3, not SSE-KMS: Greengrass bulk deployments cannot read input files from a
        # bucket whose default encryption is SSE-KMS, and the staged copies live here too.
        self.bucket = _private_bucket(
            self,
            "Bucket",
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_expiration_days),
                    expired_object_delete_marker=True,
                ),
                # The tracker streams report.json and groups.csv as multipart uploads across runs;
                # a report pass cut off for good (or an uploader's broken upload) leaves parts
                # behind, billed but invisible. A pass finishes within hours, never days.
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(ABORT_INCOMPLETE_UPLOADS_DAYS),
                ),
                s3.LifecycleRule(
                    id="expire-staged-copies",
                    prefix=config.staged_prefix,
                    expiration=Duration.days(config.staged_expiration_days),
                ),
            ],
            removal_policy=removal,
        )
        # An uploader may ask for SSE-KMS (or SSE-C) on a single object although the bucket
        # default is SSE-S3; neither the starter nor Greengrass could read it. Refuse such
        # uploads. (StringEquals: a request without the header is not affected.)
        for sid, conditions in (
            (
                "DenyKmsEncryptedObjects",
                {"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]}},
            ),
            (
                "DenyCustomerKeyEncryptedObjects",
                {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
            ),
        ):
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects("*")],
                    conditions=conditions,
                )
            )
        if config.uploader_principal_arns:
            self.bucket.add_to_resource_policy(uploader_statement(self.bucket, config))
        # S3 -> EventBridge in the bucket's own NotificationConfiguration. The L2 property
        # (event_bridge_enabled) would add a custom resource and its Lambda function instead.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

        self.ledger = dynamodb.Table(
            self,
            "Ledger",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index_name, (partition, sort) in INDEX_KEYS.items():
            self.ledger.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sort, type=dynamodb.AttributeType.STRING) if sort else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
