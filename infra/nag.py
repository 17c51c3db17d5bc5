"""cdk-nag 3.x wiring: rule packs as validation plugins, acknowledgements with reasons."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

MIN_REASON_CHARS = 30
PACKS = ("AwsSolutions", "Serverless")


def add_rule_packs(app: App) -> None:
    """Any unacknowledged finding (error or warning) makes synthesis fail."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct (and its children), with a specific reason.

    ``rule`` is a rule id (``AwsSolutions-SQS3``) or one finding of a rule
    (``AwsSolutions-IAM5[Resource::*]``).
    """
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise ValueError(f"acknowledgement of {rule} needs a specific reason, got {reason!r}")
    pack = rule.split("-", 1)[0]
    if pack not in PACKS:
        raise ValueError(f"{rule} belongs to none of the rule packs in use ({', '.join(PACKS)})")
    # "<pack>::<rule>" is the id cdk-nag reports a finding under ("Acknowledge with ...").
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{rule}", reason=reason))


def arn_ref(construct: IConstruct) -> str:
    """How cdk-nag names the ARN of a resource in finding ids: ``<LogicalId.Arn>``."""
    cfn = construct.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    stack = Stack.of(cfn)
    return f"<{stack.resolve(stack.get_logical_id(cfn))}.Arn>"


def prefix_pattern(prefix: str) -> str:
    """Every object under a key prefix, as IAM resources and the findings naming them spell it."""
    return f"{prefix}*"
