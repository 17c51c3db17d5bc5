"""Intake: S3 "Object Created" (incoming prefix) -> EventBridge rule -> SQS FIFO queue."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID
from constructs import Construct

from infra.config import DeployConfig
from infra.nag import acknowledge

RETENTION: Final = Duration.days(14)  # the SQS maximum, on every queue
# EventBridge's own maximum: 185 attempts over 24 hours, then the event goes to the target DLQ.
EVENT_RETRY_ATTEMPTS: Final = 185
EVENT_MAX_AGE: Final = Duration.hours(24)

_EVERY_QUEUE: Final[dict[str, Any]] = {
    "encryption": sqs.QueueEncryption.SQS_MANAGED,
    "enforce_ssl": True,
    "retention_period": RETENTION,
}


def _queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    """Every queue of the stack: SSE-SQS, TLS only, the maximum retention."""
    return sqs.Queue(scope, construct_id, **_EVERY_QUEUE, **props)


def _fifo_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    """A FIFO queue deduplicated by content: EventBridge sets no deduplication id."""
    return _queue(scope, construct_id, fifo=True, content_based_deduplication=True, **props)


class Intake(Construct):
    """The rule, the FIFO intake queue, its FIFO dead-letter queue and the rule target's DLQ."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)

        # SSE-SQS everywhere: EventBridge cannot send to a queue encrypted with the AWS-managed
        # aws/sqs KMS key, and a customer-managed key would add cost without adding a reader boundary.
        self.dead_letter_queue = _fifo_queue(self, "IntakeDeadLetterQueue")
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "This FIFO queue is the dead-letter queue of the intake queue; it needs none of its own.",
        )

        # FIFO with content-based deduplication: EventBridge sets no deduplication id, and a
        # retried delivery of the same event (same body) within 5 minutes is dropped.
        self.queue = _fifo_queue(
            self,
            "IntakeQueue",
            visibility_timeout=Duration.seconds(config.intake_visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=config.max_receive_count
            ),
        )

        # EventBridge dead-letter queues must be standard queues.
        self.event_dead_letter_queue = _queue(self, "EventDeadLetterQueue")
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.event_dead_letter_queue,
                rule,
                "This queue is the EventBridge rule target's dead-letter queue; it needs none of its own.",
            )

        self.rule = events.Rule(
            self,
            "ObjectCreatedRule",
            description="S3 Object Created under the incoming prefix -> bulk-deployer intake queue",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": config.incoming_prefix}]},
                },
            ),
        )
        # The target adds the queue policy statement: only events.amazonaws.com, only for this
        # rule (aws:SourceArn), may send; likewise on the dead-letter queue.
        self.rule.add_target(
            targets.SqsQueue(
                self.queue,
                message_group_id=INTAKE_MESSAGE_GROUP_ID,
                dead_letter_queue=self.event_dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=EVENT_MAX_AGE,
            )
        )
