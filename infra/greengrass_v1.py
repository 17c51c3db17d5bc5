"""Greengrass V1: the execution role Greengrass assumes, and the functions' bulk deployment calls.

Everything IAM that only a V1 stack (``-c greengrass=v1``, the default) has: StartBulkDeployment
and its status, tag on create, passing the execution role, and the role itself (deploy groups,
read staged copies), with the confused-deputy conditions on its trust.
"""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Aws, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from bulk_deployer.contract import TOKEN_TAG
from constructs import Construct, IConstruct

from infra.config import DeployConfig
from infra.nag import acknowledge, arn_ref, prefix_pattern

GREENGRASS_PRINCIPAL: Final = "greengrass.amazonaws.com"
GROUP_ARN_PREFIX: Final = (
    "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:/greengrass/groups/"
)
GROUPS_ARN: Final = f"{GROUP_ARN_PREFIX}*"
BULK_DEPLOYMENTS_ARN: Final = (
    "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:/greengrass/bulk/deployments/*"
)


def dispatch_statements(config: DeployConfig, execution_role: iam.IRole) -> list[iam.PolicyStatement]:
    """Greengrass V1: find a running bulk deployment, start the next one with its tags, passing
    the execution role."""
    return [
        # StartBulkDeployment and ListBulkDeployments have no resource type: "*" is the only
        # resource IAM matches for them.
        iam.PolicyStatement(
            sid="StartAndListBulkDeployments",
            actions=["greengrass:StartBulkDeployment", "greengrass:ListBulkDeployments"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="ReadBulkDeploymentStatus",
            actions=["greengrass:GetBulkDeploymentStatus"],
            resources=[Fn.sub(BULK_DEPLOYMENTS_ARN)],
        ),
        tag_on_create_statement(config),
        iam.PolicyStatement(
            sid="PassExecutionRoleToGreengrass",
            actions=["iam:PassRole"],
            resources=[execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": GREENGRASS_PRINCIPAL}},
        ),
    ]


def tag_on_create_statement(config: DeployConfig) -> iam.PolicyStatement:
    """``greengrass:TagResource`` for the tags StartBulkDeployment puts on the bulk deployment it
    creates (tag on create).

    Granted on ``*``, as AWS's Greengrass V1 tagging guide grants tag on create: which resource
    the service authorizes the tags against at creation is not documented, and a grant limited
    to bulk-deployment ARNs that does not match refuses every start. Narrowed by what is in the
    request instead: the tags must include the stack's token tag (every start carries it), and
    with ``deployableGroupTag`` they must not set that key to that value, so neither function can
    tag a group into the set the execution role may deploy.
    """
    conditions: dict[str, Any] = {"Null": {f"aws:RequestTag/{TOKEN_TAG}": "false"}}
    if config.deployable_group_tag is not None:
        tag_key, tag_value = config.deployable_group_tag
        conditions["StringNotEquals"] = {f"aws:RequestTag/{tag_key}": tag_value}
    return iam.PolicyStatement(
        sid="TagBulkDeploymentsOnCreate",
        actions=["greengrass:TagResource"],
        resources=["*"],
        conditions=conditions,
    )


def acknowledge_wildcards(default_policy: IConstruct, who: str) -> None:
    """The wildcard resources of a V1 stack's function roles, each with its reason."""
    for rule, reason in (
        (
            "AwsSolutions-IAM5[Resource::*]",
            f"The {who}: StartBulkDeployment and ListBulkDeployments have no IAM resource type, and "
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) none either: only '*' matches. "
            "TagResource (tag on create) is granted on '*' as AWS's Greengrass V1 tagging guide does, "
            "only for requests carrying the stack's token tag.",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:greengrass:<AWS::Region>:<AWS::AccountId>"
            ":/greengrass/bulk/deployments/*]",
            f"The {who} reads the status of bulk deployments, whose ids StartBulkDeployment creates "
            "at run time; limited to this account's and region's bulk deployments.",
        ),
    ):
        acknowledge(default_policy, rule, reason)


def create_deployment_statement(config: DeployConfig) -> iam.PolicyStatement:
    """CreateDeployment on the deployable groups: every group of this account and region, or
    exactly ``deployableGroupIds``; with ``deployableGroupTag``, only groups carrying that tag."""
    groups = config.deployable_group_ids
    resources = (
        [Fn.sub(f"{GROUP_ARN_PREFIX}{group_id}") for group_id in groups] if groups else [Fn.sub(GROUPS_ARN)]
    )
    conditions = None
    if config.deployable_group_tag is not None:
        tag_key, tag_value = config.deployable_group_tag
        conditions = {"StringEquals": {f"aws:ResourceTag/{tag_key}": tag_value}}
    return iam.PolicyStatement(
        sid="DeployGroupsListedInInputFiles",
        actions=["greengrass:CreateDeployment"],
        resources=resources,
        conditions=conditions,
    )


def trust_conditions(config: DeployConfig) -> dict[str, Any] | None:
    """Confused-deputy conditions on the execution role's trust, as the Greengrass V1 guide's
    "Cross-service confused deputy prevention" page recommends for exactly this role (bulk
    deployment execution role): the request must come from this account, on behalf of a
    Greengrass resource of this account and region."""
    if not config.execution_role_source_account_condition:
        return None
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:greengrass:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"},
    }


class GreengrassExecutionRole(Construct):
    """The role Greengrass assumes to run a bulk deployment: read the staged file, deploy groups."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by AWS IoT Greengrass to run bulk deployments started by bulk-deployer",
            assumed_by=iam.ServicePrincipal(GREENGRASS_PRINCIPAL, conditions=trust_conditions(config)),
        )
        staged_objects = bucket.arn_for_objects(prefix_pattern(config.staged_prefix))
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                create_deployment_statement(config),
                iam.PolicyStatement(
                    sid="ReadStagedInputFiles",
                    actions=["s3:GetObject"],
                    resources=[staged_objects],
                ),
            ],
        )
        policy.attach_to_role(self.role)
        if not config.deployable_group_ids:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:greengrass:<AWS::Region>:<AWS::AccountId>"
                ":/greengrass/groups/*]",
                "Which Greengrass groups a bulk deployment deploys is known only from each uploaded "
                "file; the role is limited to this account's and region's groups (deployableGroupIds "
                "narrows it to named groups).",
            )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{arn_ref(bucket)}/{prefix_pattern(config.staged_prefix)}]",
            "Greengrass reads one staged copy per file (named by the file's token) and only under "
            "the staged prefix.",
        )
