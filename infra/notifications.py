"""Notifications: the outcomes topic (one message per file outcome) and the alarm topic.

Both topics are encrypted with one customer-managed KMS key. CloudWatch alarms cannot
publish to a topic encrypted with the AWS-managed ``aws/sns`` key (its policy cannot be
changed to admit cloudwatch.amazonaws.com): the notifications would be dropped silently.
"""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Annotations, Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import DeployConfig
from infra.nag import acknowledge

CLOUDWATCH_PRINCIPAL: Final = "cloudwatch.amazonaws.com"
# What a publisher to an SSE-KMS topic needs on the key (SNS generates a data key per message).
PUBLISH_KEY_ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")


# The synth-time warning when no alarm subscription is configured (its annotation id).
NO_ALARM_SUBSCRIBER_WARNING: Final = "bulk-deployer:alarm-topic-without-subscriber"


def alarm_name_prefix(config: DeployConfig) -> str:
    """Every alarm of the stack is named ``<stackName>-...``; the alarm topic admits only those."""
    return f"{config.stack_name}-"


def alarm_source_conditions(config: DeployConfig) -> dict[str, Any]:
    """What CloudWatch may do for this stack's alarms only (confused-deputy prevention): the
    alarm topic's policy and the key's CloudWatch statement share them."""
    alarms = f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"{alarms}{alarm_name_prefix(config)}*"},
    }


class Notifications(Construct):
    """The KMS key, the outcomes topic, the alarm topic and its optional e-mail subscription."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig) -> None:
        super().__init__(scope, construct_id)
        # The key protects SNS messages only while SNS holds them; nothing at rest outlives the
        # topics, so the key is scheduled for deletion with the stack (30 days' waiting period).
        self.key = kms.Key(
            self,
            "Key",
            description="bulk-deployer: encrypts the outcomes and alarm SNS topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch encrypts the alarm notification it publishes: it needs the key. (AWS's
        # documented statement for CloudWatch alarms -> SSE-KMS topics; the key encrypts nothing
        # but these two topics' messages.) Only for this stack's alarms, like the topic policy.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublishToEncryptedTopics",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=alarm_source_conditions(config),
            )
        )

        self.outcomes_topic = self._topic("OutcomesTopic", "bulk-deployer file outcomes")
        self.alarm_topic = self._topic("AlarmTopic", "bulk-deployer alarms")
        # enforce_ssl gives the topic a policy of its own, which replaces SNS's default policy
        # (the one that lets same-account services publish): admit this stack's alarms explicitly.
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions=alarm_source_conditions(config),
            )
        )
        if not config.alarm_email:
            # Nothing fails without a subscriber: the alarms go to ALARM and nobody hears of it.
            Annotations.of(self.alarm_topic).add_warning_v2(
                NO_ALARM_SUBSCRIBER_WARNING,
                "alarmEmail is not set: every alarm of the stack publishes to the alarm topic (output "
                "AlarmTopicArn) and reaches nobody until someone subscribes. Deploy with "
                "-c alarmEmail=you@example.com and confirm the e-mail, or subscribe your own endpoint; "
                "`bulk-deployer doctor` checks for a confirmed subscription.",
            )
        else:
            subscription = self.alarm_topic.add_subscription(
                subscriptions.EmailSubscription(config.alarm_email)
            )
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "An e-mail subscription to the alarm topic: an alarm whose e-mail bounces is still in "
                "ALARM in CloudWatch; a dead-letter queue of undelivered e-mails would be read by nobody.",
            )

    def _topic(self, construct_id: str, display_name: str) -> sns.Topic:
        """Both topics: encrypted with the stack's key, TLS only."""
        return sns.Topic(self, construct_id, display_name=display_name, master_key=self.key, enforce_ssl=True)

    def publish_statements(self) -> list[iam.PolicyStatement]:
        """Exactly what a function needs to publish outcome notifications."""
        return [
            iam.PolicyStatement(
                sid="PublishOutcomes",
                actions=["sns:Publish"],
                resources=[self.outcomes_topic.topic_arn],
            ),
            iam.PolicyStatement(
                sid="EncryptOutcomeMessages",
                actions=list(PUBLISH_KEY_ACTIONS),
                resources=[self.key.key_arn],
            ),
        ]
