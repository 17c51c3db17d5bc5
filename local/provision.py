"""Creates, in moto, the resources the CDK stack creates in AWS (what the code touches of them).

Mirrors infra/storage.py, infra/intake.py and infra/processing.py: the versioned SSE-S3 bucket
with S3 → EventBridge notifications, the "Object Created under incoming/" rule whose SQS FIFO
target carries a MessageGroupId (and a standard dead-letter queue), the FIFO intake queue with
content-based deduplication and a FIFO dead-letter queue after maxReceiveCount receives, the
ledger table (schema from bulk_deployer.ledger_model) with its TTL attribute, the outcomes
topic, and the Greengrass execution role with the stack's trust and permission policies.
Not mirrored: Lambda functions (the runner invokes the handlers), alarms, logs, bucket policies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID
from bulk_deployer.ledger_model import TTL_ATTRIBUTE, table_definition

from infra.config import DeployConfig
from local.stack_config import REGION, LocalNames, ResourceIds

GREENGRASS_PRINCIPAL = "greengrass.amazonaws.com"
EVENT_RETRY_ATTEMPTS = 185  # infra.intake: EventBridge's maximum
EVENT_MAX_AGE_SECONDS = 24 * 3600
LOCAL_ALARM_EMAIL = "operator@example.com"  # when the local config sets no alarmEmail


@dataclass(frozen=True)
class Provisioned:
    """Where everything is; enough for the runner, the demo and the tests."""

    names: LocalNames
    account_id: str
    region: str
    intake_queue_url: str
    intake_queue_arn: str
    intake_dead_letter_queue_url: str
    event_dead_letter_queue_url: str
    outcomes_topic_arn: str
    alarm_topic_arn: str
    execution_role_arn: str

    def outputs(self, config: DeployConfig) -> dict[str, str]:
        """The deployed stack's CloudFormation outputs (infra's CfnOutputs), as the stand-ins have
        them: what ``bulk-deployer --local`` reads. As infra's, a V2 stack's have no execution role
        (the stand-ins provision it either way) and say which Greengrass the stack deploys with."""
        return {
            "BucketName": self.names.bucket,
            "GreengrassVersion": config.greengrass,
            "IncomingPrefix": config.incoming_prefix,
            "StagedPrefix": config.staged_prefix,
            "ReportsPrefix": config.reports_prefix,
            **({"ExecutionRoleArn": self.execution_role_arn} if config.is_v1 else {}),
            "IntakeQueueUrl": self.intake_queue_url,
            "IntakeDeadLetterQueueUrl": self.intake_dead_letter_queue_url,
            "EventDeadLetterQueueUrl": self.event_dead_letter_queue_url,
            "LedgerTableName": self.names.ledger_table,
            "OutcomesTopicArn": self.outcomes_topic_arn,
            "AlarmTopicArn": self.alarm_topic_arn,
        }

    @property
    def ids(self) -> ResourceIds:
        return ResourceIds(
            ledger_table_name=self.names.ledger_table,
            execution_role_arn=self.execution_role_arn,
            input_bucket=self.names.bucket,
            outcomes_topic_arn=self.outcomes_topic_arn,
            intake_dead_letter_queue_url=self.intake_dead_letter_queue_url,
            account_id=self.account_id,
        )


def event_pattern(bucket: str, incoming_prefix: str) -> dict[str, Any]:
    """infra.intake's rule pattern: S3 Object Created, this bucket, keys under the incoming prefix."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": incoming_prefix}]}},
    }


def trust_policy(account_id: str, source_account_condition: bool) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": GREENGRASS_PRINCIPAL},
        "Action": "sts:AssumeRole",
    }
    if source_account_condition:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def execution_policy(bucket: str, staged_prefix: str, account_id: str, region: str) -> dict[str, Any]:
    """infra.processing.GreengrassExecutionRole's policy: deploy any group, read staged copies."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeployGroupsListedInInputFiles",
                "Effect": "Allow",
                "Action": "greengrass:CreateDeployment",
                "Resource": f"arn:aws:greengrass:{region}:{account_id}:/greengrass/groups/*",
            },
            {
                "Sid": "ReadStagedInputFiles",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/{staged_prefix}*",
            },
        ],
    }


def provision(clients: Any, config: DeployConfig, region: str = REGION) -> Provisioned:
    """Create every resource (in an empty moto); ``clients(service)`` returns a boto3 client."""
    names = LocalNames.for_stack(config.stack_name)
    account_id = str(clients("sts").get_caller_identity()["Account"])
    create_input_bucket(clients("s3"), names.bucket)
    create_ledger_table(clients("dynamodb"), names.ledger_table)
    sqs = clients("sqs")
    dlq_url, dlq_arn = _queue(sqs, names.intake_dead_letter_queue, _fifo())
    intake_url, intake_arn = _queue(
        sqs,
        names.intake_queue,
        {
            **_fifo(),
            "VisibilityTimeout": str(config.intake_visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": config.max_receive_count}
            ),
        },
    )
    event_dlq_url, event_dlq_arn = _queue(sqs, names.event_dead_letter_queue, {})
    events = clients("events")
    events.put_rule(
        Name=names.rule,
        Description="S3 Object Created under the incoming prefix -> bulk-deployer intake queue",
        EventPattern=json.dumps(event_pattern(names.bucket, config.incoming_prefix)),
        State="ENABLED",
    )
    events.put_targets(
        Rule=names.rule,
        Targets=[
            {
                "Id": "IntakeQueue",
                "Arn": intake_arn,
                "SqsParameters": {"MessageGroupId": INTAKE_MESSAGE_GROUP_ID},
                "DeadLetterConfig": {"Arn": event_dlq_arn},
                "RetryPolicy": {
                    "MaximumRetryAttempts": EVENT_RETRY_ATTEMPTS,
                    "MaximumEventAgeInSeconds": EVENT_MAX_AGE_SECONDS,
                },
            }
        ],
    )
    sns = clients("sns")
    topic_arn = str(sns.create_topic(Name=names.outcomes_topic)["TopicArn"])
    # The alarms' topic, subscribed as a deploy with alarmEmail is (moto confirms at once), so
    # `bulk-deployer doctor` finds someone receives the alarms.
    alarm_topic_arn = str(sns.create_topic(Name=names.alarm_topic)["TopicArn"])
    sns.subscribe(
        TopicArn=alarm_topic_arn, Protocol="email", Endpoint=config.alarm_email or LOCAL_ALARM_EMAIL
    )
    role_arn = _role(clients("iam"), names, config, account_id, region)
    return Provisioned(
        names=names,
        account_id=account_id,
        region=region,
        intake_queue_url=intake_url,
        intake_queue_arn=intake_arn,
        intake_dead_letter_queue_url=dlq_url,
        event_dead_letter_queue_url=event_dlq_url,
        outcomes_topic_arn=topic_arn,
        alarm_topic_arn=alarm_topic_arn,
        execution_role_arn=role_arn,
    )


def _fifo() -> dict[str, str]:
    return {"FifoQueue": "true", "ContentBasedDeduplication": "true"}


def create_input_bucket(s3: Any, name: str) -> None:
    """The stack's input bucket (infra/storage.py): also for tests that need only S3 and the ledger."""
    s3.create_bucket(Bucket=name)  # us-east-1: no location constraint
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )


def create_ledger_table(dynamodb: Any, name: str) -> None:
    """The stack's ledger table (infra/storage.py's, from the same table definition) with its TTL."""
    dynamodb.create_table(**table_definition(name))
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    arn = str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    return url, arn


def _role(iam: Any, names: LocalNames, config: DeployConfig, account_id: str, region: str) -> str:
    arn = str(
        iam.create_role(
            RoleName=names.execution_role,
            Description="Assumed by AWS IoT Greengrass to run bulk deployments started by bulk-deployer",
            AssumeRolePolicyDocument=json.dumps(
                trust_policy(account_id, config.execution_role_source_account_condition)
            ),
        )["Role"]["Arn"]
    )
    iam.put_role_policy(
        RoleName=names.execution_role,
        PolicyName="Policy",
        PolicyDocument=json.dumps(execution_policy(names.bucket, config.staged_prefix, account_id, region)),
    )
    return arn
