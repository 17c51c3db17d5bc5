"""IAM of a Greengrass V2 stack (``-c greengrass=v2``): what the functions' V2 deployer calls.

V2 passes no execution role: Greengrass V2 acts with the caller's own permissions, so the
functions themselves need CreateDeployment's dependent AWS IoT actions (the IoT job of a thing
group target, the ``AWSManagedGreengrassV2Deployment`` shadow of a thing target). Both functions
start files (``dispatch()``), so both get the starting and reading set; only the tracker stops
deployments (the deployer's ``stop``: CancelDeployment).

Resource types, from the Service Authorization Reference (AWS IoT Greengrass V2, AWS IoT):

- ``greengrass:CreateDeployment`` and ``greengrass:ListDeployments`` have no resource type: only
  ``"*"`` matches. CreateDeployment takes the tags in its request and has the condition keys
  ``aws:RequestTag/${TagKey}`` and ``aws:TagKeys`` and no dependent ``greengrass:TagResource``, so
  no TagResource is granted; the grant requires the stack's token tag instead (every deployment
  the deployer creates carries it).
- ``greengrass:GetDeployment`` and ``greengrass:CancelDeployment``: ``deployment``,
  ``arn:${Partition}:greengrass:${Region}:${Account}:deployments:${DeploymentId}``.
- ``iot:CreateJob``: ``job`` and the job's targets, ``thing`` / ``thinggroup``; CancelJob,
  DescribeJob, UpdateJob, ListJobExecutionsForJob: ``job``; DescribeJobExecution: ``job`` and
  ``thing``; DescribeThing and the thing shadow actions: ``thing``; DescribeThingGroup and
  ListThingsInThingGroup: ``thinggroup``.

Every ARN is in the stack's own partition, region and account. With ``deployableTargetArns`` the
targets of ``iot:CreateJob`` are exactly those ARNs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aws_cdk import Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from bulk_deployer.contract import TOKEN_TAG
from constructs import IConstruct

from infra.config import DeployConfig
from infra.nag import acknowledge, arn_ref

_IOT: Final = "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:"
IOT_JOBS_ARN: Final = f"{_IOT}job/*"
THINGS_ARN: Final = f"{_IOT}thing/*"
THING_GROUPS_ARN: Final = f"{_IOT}thinggroup/*"
DEPLOYMENTS_ARN: Final = "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:deployments:*"
# CreateDeployment's dependent actions (Service Authorization Reference; the same set as AWS's
# minimal installer policy for deploying), minus iot:CreateJob, which is scoped to the targets.
DEPLOYMENT_JOB_ACTIONS: Final = ("iot:CancelJob", "iot:DescribeJob", "iot:UpdateJob")
DEPLOYMENT_SHADOW_ACTIONS: Final = ("iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow")


def _sub(pattern: str) -> str:
    return Fn.sub(pattern)


def job_targets(config: DeployConfig) -> list[str]:
    """What ``iot:CreateJob`` may target: the allow-list, or every thing and thing group here."""
    if config.deployable_target_arns:
        return list(config.deployable_target_arns)
    return [_sub(THINGS_ARN), _sub(THING_GROUPS_ARN)]


def dispatch_statements(config: DeployConfig, bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """What the V2 deployer's ``start`` and status reading call, in either function."""
    jobs = _sub(IOT_JOBS_ARN)
    return [
        iam.PolicyStatement(
            sid="CreateV2DeploymentsWithTheTokenTag",
            actions=["greengrass:CreateDeployment"],
            resources=["*"],
            conditions={"Null": {f"aws:RequestTag/{TOKEN_TAG}": "false"}},
        ),
        iam.PolicyStatement(sid="ListV2Deployments", actions=["greengrass:ListDeployments"], resources=["*"]),
        iam.PolicyStatement(
            sid="ReadV2Deployments", actions=["greengrass:GetDeployment"], resources=[_sub(DEPLOYMENTS_ARN)]
        ),
        iam.PolicyStatement(
            sid="CreateDeploymentJobsForTheTargets",
            actions=["iot:CreateJob"],
            resources=[jobs, *job_targets(config)],
        ),
        iam.PolicyStatement(
            sid="ManageDeploymentJobs", actions=list(DEPLOYMENT_JOB_ACTIONS), resources=[jobs]
        ),
        iam.PolicyStatement(
            sid="ReadDeviceJobExecutions", actions=["iot:ListJobExecutionsForJob"], resources=[jobs]
        ),
        iam.PolicyStatement(
            sid="ReadOneDevicesJobExecution",
            actions=["iot:DescribeJobExecution"],
            resources=[jobs, _sub(THINGS_ARN)],
        ),
        iam.PolicyStatement(
            sid="DescribeThings", actions=["iot:DescribeThing"], resources=[_sub(THINGS_ARN)]
        ),
        iam.PolicyStatement(
            sid="ReadThingGroupsAndMembers",
            actions=["iot:DescribeThingGroup", "iot:ListThingsInThingGroup"],
            resources=[_sub(THING_GROUPS_ARN)],
        ),
        iam.PolicyStatement(
            sid="ThingTargetDeploymentShadows",
            actions=list(DEPLOYMENT_SHADOW_ACTIONS),
            resources=[_sub(THINGS_ARN)],
        ),
        # The deployer reads the file to start from its staged copy (V1: Greengrass did, with
        # the execution role).
        iam.PolicyStatement(
            sid="ReadStagedCopies",
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{config.staged_prefix}*")],
        ),
        # What a start records under reports/<token>/ (the replaced deployment, a thing group's
        # members, streamed as a multipart upload): read back by whichever function resumes the
        # start or follows it, and an upload cut short is aborted by the function writing it.
        iam.PolicyStatement(
            sid="RecordsOfTheStart",
            actions=["s3:GetObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{config.reports_prefix}*")],
        ),
    ]


def tracker_statements(config: DeployConfig, bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """What only the tracker calls: stop a file's deployments, read what the start recorded."""
    return [
        iam.PolicyStatement(
            sid="CancelV2Deployments",
            actions=["greengrass:CancelDeployment"],
            resources=[_sub(DEPLOYMENTS_ARN)],
        ),
    ]


def _nag_arn(pattern: str) -> str:
    """How cdk-nag names an Fn::Sub ARN in a finding id."""
    for pseudo in ("AWS::Partition", "AWS::Region", "AWS::AccountId"):
        pattern = pattern.replace(f"${{{pseudo}}}", f"<{pseudo}>")
    return f"AwsSolutions-IAM5[Resource::{pattern}]"


def wildcards(who: str) -> Iterable[tuple[str, str]]:
    """(nag rule, reason) for each wildcard resource of ``dispatch_statements``."""
    yield (
        "AwsSolutions-IAM5[Resource::*]",
        f"The {who}: Greengrass V2 CreateDeployment and ListDeployments have no IAM resource type, and "
        "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) none either: only '*' matches. "
        "CreateDeployment is granted only for requests carrying the stack's token tag.",
    )
    yield (
        _nag_arn(DEPLOYMENTS_ARN),
        f"The {who} reads the Greengrass V2 deployments it created (ids known only at run time), "
        "limited to this account's and region's deployments.",
    )
    yield (
        _nag_arn(IOT_JOBS_ARN),
        f"The {who}: Greengrass V2 creates each deployment's IoT job with the caller's permissions "
        "under an id chosen at run time; limited to this account's and region's jobs.",
    )
    yield (
        _nag_arn(THINGS_ARN),
        f"The {who}: a thing target's deployment goes through its AWSManagedGreengrassV2Deployment "
        "shadow, and a group's devices are any things of this account and region; only those.",
    )
    yield (
        _nag_arn(THING_GROUPS_ARN),
        f"The {who} reads the thing groups named in input files and their members; only this "
        "account's and region's thing groups (deployableTargetArns narrows the jobs' targets).",
    )


def staged_wildcard(config: DeployConfig, bucket: s3.IBucket) -> tuple[str, str]:
    """(nag rule, reason) for the tracker's read of staged copies (the starter's own reason for
    the same resource covers its writes and reads)."""
    return (
        f"AwsSolutions-IAM5[Resource::{arn_ref(bucket)}/{config.staged_prefix}*]",
        "The tracker reads the staged copy of a file it starts (one per file, named by its token), "
        "only under the staged prefix.",
    )


def acknowledge_wildcards(default_policy: IConstruct, who: str) -> None:
    for rule, reason in wildcards(who):
        acknowledge(default_policy, rule, reason)
