"""IAM of a Greengrass V2 stack (``-c greengrass=v2``): one test per permission, each scoped to
the stack's account and region; no execution role; and a V1 stack without any of it.

The V1 expectations (test_infra_iam.py) are the base: a V2 function has the same storage, ledger,
queue, topic and log permissions, without V1's Greengrass calls and iam:PassRole, plus the V2
deployer's. Resource types: infra/greengrass_v2.py (Service Authorization Reference).
"""

from __future__ import annotations

import json

import pytest
from infra_helpers import Synth, as_list, policy_documents, render
from test_infra_iam import STARTER_ACTIONS, TRACKER_ACTIONS, starter_permissions, tracker_permissions

_IOT = "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:"
JOBS = f"{_IOT}job/*"
THINGS = f"{_IOT}thing/*"
THING_GROUPS = f"{_IOT}thinggroup/*"
DEPLOYMENTS = "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:deployments:*"
# The V2 variant's deployableTargetArns (conftest.V2_VARIANT_CONTEXT).
ALLOWED_TARGETS = {
    "arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet-eu",
    "arn:aws:iot:eu-west-1:123456789012:thing/gateway-7",
}

# What only a V1 stack's functions call: bulk deployments, tag on create, the execution role.
V1_ONLY = {
    "greengrass:StartBulkDeployment",
    "greengrass:ListBulkDeployments",
    "greengrass:GetBulkDeploymentStatus",
    "greengrass:ListBulkDeploymentDetailedReports",
    "greengrass:TagResource",
    "iam:PassRole",
}


def v2_dispatch_permissions(synth: Synth) -> dict[str, set[str]]:
    """What the V2 deployer calls in either function (both dispatch)."""
    table = synth.arn("ledger")
    return {
        # CreateDeployment and ListDeployments have no resource type; CreateDeployment carries its
        # tags in the request (aws:RequestTag condition keys, no dependent TagResource)
        "greengrass:CreateDeployment": {"*"},
        "greengrass:ListDeployments": {"*"},
        "greengrass:GetDeployment": {DEPLOYMENTS},
        # CreateDeployment's dependent IoT actions: the deployment's job (thing group targets)
        # and the target thing's deployment shadow (thing targets)
        "iot:CreateJob": {JOBS, THINGS, THING_GROUPS},
        "iot:CancelJob": {JOBS},
        "iot:DescribeJob": {JOBS},
        "iot:UpdateJob": {JOBS},
        "iot:DescribeThing": {THINGS},
        "iot:DescribeThingGroup": {THING_GROUPS},
        "iot:GetThingShadow": {THINGS},
        "iot:UpdateThingShadow": {THINGS},
        "iot:DeleteThingShadow": {THINGS},
        # Following a thing group's devices: members at start, their job executions
        "iot:ListThingsInThingGroup": {THING_GROUPS},
        "iot:ListJobExecutionsForJob": {JOBS},
        "iot:DescribeJobExecution": {JOBS, THINGS},
        # The deployer's per-target records in the ledger, read in batches
        "dynamodb:BatchGetItem": {table, f"{table}/index/*"},
    }


V2_DISPATCH_ACTIONS = [
    "greengrass:CreateDeployment",
    "greengrass:ListDeployments",
    "greengrass:GetDeployment",
    "iot:CreateJob",
    "iot:CancelJob",
    "iot:DescribeJob",
    "iot:UpdateJob",
    "iot:DescribeThing",
    "iot:DescribeThingGroup",
    "iot:GetThingShadow",
    "iot:UpdateThingShadow",
    "iot:DeleteThingShadow",
    "iot:ListThingsInThingGroup",
    "iot:ListJobExecutionsForJob",
    "iot:DescribeJobExecution",
    "dynamodb:BatchGetItem",
]
V2_STARTER_ACTIONS = [a for a in STARTER_ACTIONS if a not in V1_ONLY] + [
    *V2_DISPATCH_ACTIONS,
    "s3:AbortMultipartUpload",
]
V2_TRACKER_ACTIONS = [
    *(a for a in TRACKER_ACTIONS if a not in V1_ONLY),
    *V2_DISPATCH_ACTIONS,
    "greengrass:CancelDeployment",
]


def v2_starter_permissions(synth: Synth) -> dict[str, set[str]]:
    bucket = synth.arn("bucket")
    expected = {k: v for k, v in starter_permissions(synth).items() if k not in V1_ONLY}
    expected |= v2_dispatch_permissions(synth)
    # ... and the deployer reads the staged copy of the file it starts (V1: the execution role did)
    # and what a start recorded under reports/ (a start is resumed by whichever function
    # dispatches next), and aborts a members upload it cut short
    expected["s3:GetObject"] = {f"{bucket}/incoming/*", f"{bucket}/staged/*", f"{bucket}/reports/*"}
    expected["s3:AbortMultipartUpload"] = {f"{bucket}/reports/*"}
    return expected


def v2_tracker_permissions(synth: Synth) -> dict[str, set[str]]:
    bucket = synth.arn("bucket")
    expected = {k: v for k, v in tracker_permissions(synth).items() if k not in V1_ONLY}
    expected |= v2_dispatch_permissions(synth)
    # The deployer's stop: cancel a file's deployments still ACTIVE
    expected["greengrass:CancelDeployment"] = {DEPLOYMENTS}
    # Staged copies (start), and what the start recorded under reports/ (thing group members)
    expected["s3:GetObject"] = {f"{bucket}/incoming/*", f"{bucket}/staged/*", f"{bucket}/reports/*"}
    return expected


@pytest.mark.parametrize("action", V2_STARTER_ACTIONS)
def test_v2_starter_is_granted(v2: Synth, action: str) -> None:
    granted = v2.grants("starter_role")
    assert action in granted, f"the V2 starter calls {action} but is not granted it"
    assert granted[action] == v2_starter_permissions(v2)[action]


def test_v2_starter_list_covers_every_expected_permission(v2: Synth) -> None:
    assert set(V2_STARTER_ACTIONS) == set(v2_starter_permissions(v2))


def test_v2_starter_has_no_other_permission(v2: Synth) -> None:
    assert set(v2.grants("starter_role")) == set(V2_STARTER_ACTIONS)


@pytest.mark.parametrize("action", V2_TRACKER_ACTIONS)
def test_v2_tracker_is_granted(v2: Synth, action: str) -> None:
    granted = v2.grants("tracker_role")
    assert action in granted, f"the V2 tracker calls {action} but is not granted it"
    assert granted[action] == v2_tracker_permissions(v2)[action]


def test_v2_tracker_list_covers_every_expected_permission(v2: Synth) -> None:
    assert set(V2_TRACKER_ACTIONS) == set(v2_tracker_permissions(v2))


def test_v2_tracker_has_no_other_permission(v2: Synth) -> None:
    assert set(v2.grants("tracker_role")) == set(V2_TRACKER_ACTIONS)


def test_only_the_tracker_cancels_deployments(v2: Synth) -> None:
    assert "greengrass:CancelDeployment" not in v2.grants("starter_role")


@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_create_deployment_only_with_the_token_tag(v2: Synth, role: str) -> None:
    # Every deployment the V2 deployer creates carries the token tag; CreateDeployment has the
    # aws:RequestTag condition key.
    statement = v2.statement_granting(role, "greengrass:CreateDeployment")
    assert as_list(statement["Action"]) == ["greengrass:CreateDeployment"]
    assert statement["Condition"] == {"Null": {"aws:RequestTag/bulk-deployer:token": "false"}}


@pytest.mark.parametrize("which", ["v2", "v2_variant"])
@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_star_only_for_actions_without_a_resource_type(
    which: str, role: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(which)
    on_star = {action for action, resources in synth.grants(role).items() if "*" in resources}
    assert on_star == {
        "greengrass:CreateDeployment",
        "greengrass:ListDeployments",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


@pytest.mark.parametrize("which", ["v2", "v2_variant"])
@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_every_greengrass_and_iot_resource_is_in_the_stacks_account_and_region(
    which: str, role: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(which)
    own = (
        "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:",
        "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:",
    )
    for action, resources in synth.grants(role).items():
        if action.split(":")[0] in ("greengrass", "iot"):
            for resource in resources - {"*"}:
                assert resource.startswith(own) or resource in ALLOWED_TARGETS, (action, resource)


@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_jobs_target_exactly_the_allow_list_when_one_is_set(v2_variant: Synth, role: str) -> None:
    granted = v2_variant.grants(role)
    assert granted["iot:CreateJob"] == {JOBS} | ALLOWED_TARGETS
    # Everything else is as without an allow-list.
    without = (
        v2_tracker_permissions(v2_variant) if role == "tracker_role" else v2_starter_permissions(v2_variant)
    )
    assert {k: v for k, v in granted.items() if k != "iot:CreateJob"} == {
        k: v for k, v in without.items() if k != "iot:CreateJob"
    }


def test_v2_stack_has_no_execution_role_and_passes_no_role(v2: Synth, v2_variant: Synth) -> None:
    for synth in (v2, v2_variant):
        assert synth.stack.execution_role is None
        for _, _, document in policy_documents(synth.template):
            for statement in as_list(document["Statement"]):
                assert "iam:PassRole" not in as_list(statement.get("Action", [])), statement
                principal = json.dumps(statement.get("Principal", {}))
                assert "greengrass.amazonaws.com" not in principal, statement
        assert "ExecutionRoleArn" not in synth.template["Outputs"]
        # What the operator CLI reads to tell a V2 stack from a V1 one.
        assert synth.template["Outputs"]["GreengrassVersion"]["Value"] == "v2"
        assert "EXECUTION_ROLE_ARN" not in synth.props("function")["Environment"]["Variables"]


def test_v1_stack_has_no_greengrass_v2_or_iot_job_permissions(synth: Synth, variant: Synth) -> None:
    for which in (synth, variant):
        for role in ("starter_role", "tracker_role"):
            granted = which.grants(role)
            assert not [action for action in granted if action.startswith("iot:")], role
            assert not set(granted) & set(v2_dispatch_permissions(which)), role
            assert "greengrass:CancelDeployment" not in granted
        # The execution role's CreateDeployment is V1's, on Greengrass groups only.
        for resource in which.grants("execution_role")["greengrass:CreateDeployment"]:
            assert ":/greengrass/groups/" in render(resource)
        assert "ExecutionRoleArn" in which.template["Outputs"]
