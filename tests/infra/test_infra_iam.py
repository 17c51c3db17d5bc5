"""IAM: one test per permission the starter's and the tracker's code use, and nothing beyond them.

moto enforces no IAM, so a missing grant would only show in a user's account; here it fails.
"""

from __future__ import annotations

import pytest
from infra_helpers import Synth, as_list, render

GREENGRASS_BULK = (
    "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:/greengrass/bulk/deployments/*"
)
GREENGRASS_GROUPS = "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:/greengrass/groups/*"


def starter_permissions(synth: Synth) -> dict[str, set[str]]:
    bucket = synth.arn("bucket")
    table = synth.arn("ledger")
    ledger = {table, f"{table}/index/*"}
    queue = {synth.arn("queue")}
    return {
        # S3: HeadObject/GetObject of incoming objects: the version an event names; the current
        # one (dispatch() checks a queued file is still its key's current version)
        "s3:GetObject": {f"{bucket}/incoming/*"},
        "s3:GetObjectVersion": {f"{bucket}/incoming/*"},
        # S3: GetObjectTagging (with VersionId) of incoming objects
        "s3:GetObjectTagging": {f"{bucket}/incoming/*"},
        "s3:GetObjectVersionTagging": {f"{bucket}/incoming/*"},
        # S3: a missing key must answer 404, not 403
        "s3:ListBucket": {bucket},
        # S3: CopyObject to staged/, PutObject of reports/<token>/rejected.json
        "s3:PutObject": {f"{bucket}/staged/*", f"{bucket}/reports/*"},
        # DynamoDB: the ledger table and its indexes
        "dynamodb:GetItem": ledger,
        "dynamodb:PutItem": ledger,
        "dynamodb:UpdateItem": ledger,
        "dynamodb:DeleteItem": ledger,
        "dynamodb:Query": ledger,
        "dynamodb:ConditionCheckItem": ledger,
        # SNS: outcome notifications (rejected, superseded, started, start_failed) on the
        # KMS-encrypted outcomes topic
        "sns:Publish": {f"${{{synth.ids['outcomes_topic']}}}"},
        "kms:GenerateDataKey": {synth.arn("key")},
        "kms:Decrypt": {synth.arn("key")},
        # Greengrass: Start/List have no resource type; status is per bulk deployment; tag on
        # create on "*" as AWS's tagging guide grants it (conditions tested separately)
        "greengrass:StartBulkDeployment": {"*"},
        "greengrass:ListBulkDeployments": {"*"},
        "greengrass:GetBulkDeploymentStatus": {GREENGRASS_BULK},
        "greengrass:TagResource": {"*"},
        # IAM: pass the execution role to Greengrass (condition tested separately)
        "iam:PassRole": {synth.arn("execution_role")} if "execution_role" in synth.ids else set(),
        # SQS event source mapping (granted by CDK's SqsEventSource)
        "sqs:ReceiveMessage": queue,
        "sqs:DeleteMessage": queue,
        "sqs:ChangeMessageVisibility": queue,
        "sqs:GetQueueAttributes": queue,
        "sqs:GetQueueUrl": queue,
        # SQS: park a message that can never succeed in the intake dead-letter queue
        "sqs:SendMessage": {synth.arn("dlq")},
        # Logs to its own log group (EMF metrics are log lines), X-Ray active tracing
        "logs:CreateLogStream": {synth.arn("log_group")},
        "logs:PutLogEvents": {synth.arn("log_group")},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }


STARTER_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:ListBucket",
    "s3:PutObject",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "sns:Publish",
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "greengrass:StartBulkDeployment",
    "greengrass:ListBulkDeployments",
    "greengrass:GetBulkDeploymentStatus",
    "greengrass:TagResource",
    "iam:PassRole",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:SendMessage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
]


@pytest.mark.parametrize("action", STARTER_ACTIONS)
def test_starter_is_granted(synth: Synth, action: str) -> None:
    granted = synth.grants("starter_role")
    assert action in granted, f"the starter calls {action} but is not granted it"
    assert granted[action] == starter_permissions(synth)[action]


def test_starter_list_covers_every_expected_permission(synth: Synth) -> None:
    assert set(STARTER_ACTIONS) == set(starter_permissions(synth))


def test_starter_has_no_other_permission(synth: Synth) -> None:
    assert set(synth.grants("starter_role")) == set(STARTER_ACTIONS)


def test_starter_role_has_no_managed_policies(synth: Synth) -> None:
    assert "ManagedPolicyArns" not in synth.props("starter_role")


def test_starter_role_is_assumed_by_lambda_only(synth: Synth) -> None:
    (statement,) = synth.props("starter_role")["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_pass_role_only_to_greengrass(synth: Synth, role: str) -> None:
    statement = synth.statement_granting(role, "iam:PassRole")
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "greengrass.amazonaws.com"}}
    assert as_list(statement["Action"]) == ["iam:PassRole"]


def test_starter_may_list_the_whole_bucket(synth: Synth) -> None:
    # HEAD of a missing key under incoming/ must answer 404: no prefix condition here.
    assert "Condition" not in synth.statement_granting("starter_role", "s3:ListBucket")


# ---------------------------------------------------------------- tracker


def tracker_permissions(synth: Synth) -> dict[str, set[str]]:
    bucket = synth.arn("bucket")
    table = synth.arn("ledger")
    ledger = {table, f"{table}/index/*"}
    return {
        # S3: report.json, groups.csv, the interim report; multipart uploads (Create/UploadPart/
        # Complete are authorized by s3:PutObject) and their abort
        "s3:PutObject": {f"{bucket}/reports/*"},
        "s3:AbortMultipartUpload": {f"{bucket}/reports/*"},
        # S3: reconciliation lists the object versions under incoming/ (prefix condition tested
        # separately)
        "s3:ListBucketVersions": {bucket},
        # S3: dispatch() HEADs a queued file's key (no VersionId), and a deleted key must answer
        # 404, not 403
        "s3:GetObject": {f"{bucket}/incoming/*"},
        "s3:ListBucket": {bucket},
        # DynamoDB: the ledger, slot, controls and run leases (TransactWriteItems -> per item)
        "dynamodb:GetItem": ledger,
        "dynamodb:PutItem": ledger,
        "dynamodb:UpdateItem": ledger,
        "dynamodb:DeleteItem": ledger,
        "dynamodb:Query": ledger,
        "dynamodb:ConditionCheckItem": ledger,
        # Greengrass: follow the active bulk deployment and its group deployments
        "greengrass:GetBulkDeploymentStatus": {GREENGRASS_BULK},
        "greengrass:ListBulkDeploymentDetailedReports": {GREENGRASS_BULK},
        # Greengrass + IAM: dispatch() starts the next queued file, like the starter
        "greengrass:StartBulkDeployment": {"*"},
        "greengrass:ListBulkDeployments": {"*"},
        "greengrass:TagResource": {"*"},
        "iam:PassRole": {synth.arn("execution_role")} if "execution_role" in synth.ids else set(),
        # SNS: outcome notifications on the KMS-encrypted outcomes topic
        "sns:Publish": {f"${{{synth.ids['outcomes_topic']}}}"},
        "kms:GenerateDataKey": {synth.arn("key")},
        "kms:Decrypt": {synth.arn("key")},
        # Logs to its own log group (EMF metrics are log lines), X-Ray active tracing
        "logs:CreateLogStream": {synth.arn("tracker_log_group")},
        "logs:PutLogEvents": {synth.arn("tracker_log_group")},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }


TRACKER_ACTIONS = [
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListBucketVersions",
    "s3:GetObject",
    "s3:ListBucket",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "greengrass:GetBulkDeploymentStatus",
    "greengrass:ListBulkDeploymentDetailedReports",
    "greengrass:StartBulkDeployment",
    "greengrass:ListBulkDeployments",
    "greengrass:TagResource",
    "iam:PassRole",
    "sns:Publish",
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
]


@pytest.mark.parametrize("action", TRACKER_ACTIONS)
def test_tracker_is_granted(synth: Synth, action: str) -> None:
    granted = synth.grants("tracker_role")
    assert action in granted, f"the tracker calls {action} but is not granted it"
    assert granted[action] == tracker_permissions(synth)[action]


def test_tracker_list_covers_every_expected_permission(synth: Synth) -> None:
    assert set(TRACKER_ACTIONS) == set(tracker_permissions(synth))


def test_tracker_has_no_other_permission(synth: Synth) -> None:
    assert set(synth.grants("tracker_role")) == set(TRACKER_ACTIONS)


def test_tracker_lists_object_versions_only_under_the_incoming_prefix(synth: Synth, variant: Synth) -> None:
    # Reconciliation compares object versions (ListObjectVersions), not ETags.
    statement = synth.statement_granting("tracker_role", "s3:ListBucketVersions")
    assert statement["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}
    assert as_list(statement["Action"]) == ["s3:ListBucketVersions"]
    assert variant.statement_granting("tracker_role", "s3:ListBucketVersions")["Condition"] == {
        "StringLike": {"s3:prefix": ["drop/*"]}
    }


@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_dispatch_may_list_the_whole_bucket(synth: Synth, role: str) -> None:
    # dispatch() HEADs the queued key: a deleted key must answer 404, and HeadObject carries no
    # s3:prefix, so any prefix condition here would turn that 404 into a 403.
    statement = synth.statement_granting(role, "s3:ListBucket")
    assert "Condition" not in statement
    assert [render(r) for r in as_list(statement["Resource"])] == [synth.arn("bucket")]


@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_dispatch_may_head_incoming_objects(synth: Synth, variant: Synth, role: str) -> None:
    assert synth.grants(role)["s3:GetObject"] == {f"{synth.arn('bucket')}/incoming/*"}
    assert variant.grants(role)["s3:GetObject"] == {f"{variant.arn('bucket')}/drop/*"}


def test_tracker_reads_only_incoming_and_writes_only_reports(synth: Synth) -> None:
    bucket = synth.arn("bucket")
    for action, resources in synth.grants("tracker_role").items():
        if action == "s3:GetObject":
            assert resources == {f"{bucket}/incoming/*"}
        elif action.startswith("s3:") and action not in ("s3:ListBucket", "s3:ListBucketVersions"):
            assert resources == {f"{bucket}/reports/*"}, action


@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_tag_on_create_only_with_the_token_tag(synth: Synth, role: str) -> None:
    # StartBulkDeployment tags the bulk deployment it creates. AWS's V1 tagging guide grants tag
    # on create on "*": a grant on bulk-deployment ARNs alone may match nothing at creation.
    statement = synth.statement_granting(role, "greengrass:TagResource")
    assert as_list(statement["Action"]) == ["greengrass:TagResource"]
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {"Null": {"aws:RequestTag/bulk-deployer:token": "false"}}


@pytest.mark.parametrize("role", ["starter_role", "tracker_role"])
def test_tag_on_create_cannot_put_the_deployable_group_tag(variant: Synth, role: str) -> None:
    # With deployableGroupTag (fleet=eu-west) a function that could set that tag on a group
    # would widen what the execution role may deploy.
    statement = variant.statement_granting(role, "greengrass:TagResource")
    assert statement["Condition"] == {
        "Null": {"aws:RequestTag/bulk-deployer:token": "false"},
        "StringNotEquals": {"aws:RequestTag/fleet": "eu-west"},
    }


def test_the_token_tag_of_the_condition_is_the_one_every_start_sends() -> None:
    from bulk_deployer.contract import TOKEN_TAG
    from bulk_deployer.tags import merge_tags

    assert TOKEN_TAG == "bulk-deployer:token"
    tags = merge_tags({TOKEN_TAG: "forged"}, {"team": "iot"}, required={TOKEN_TAG: "t"})
    assert tags[TOKEN_TAG] == "t"


def test_tracker_role_has_no_managed_policies_and_is_assumed_by_lambda(synth: Synth) -> None:
    props = synth.props("tracker_role")
    assert "ManagedPolicyArns" not in props
    (statement,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_tracker_grants_follow_configured_prefixes(variant: Synth) -> None:
    bucket = variant.arn("bucket")
    tracker = variant.grants("tracker_role")
    assert tracker["s3:PutObject"] == {f"{bucket}/results/*"}
    assert tracker["s3:AbortMultipartUpload"] == {f"{bucket}/results/*"}


def test_no_wildcard_actions_in_identity_policies(synth: Synth) -> None:
    for resource in synth.resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                for action in as_list(statement["Action"]):
                    assert "*" not in action, action


def test_execution_role_trusts_greengrass_with_source_account(synth: Synth) -> None:
    (statement,) = synth.props("execution_role")["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "greengrass.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_execution_role_trusts_only_this_accounts_greengrass_resources(synth: Synth) -> None:
    # The Greengrass V1 guide's confused-deputy page: aws:SourceArn is the Greengrass resource
    # behind the sts:AssumeRole; its bulk-deployment tutorial uses arn:...:greengrass:region:account:*
    # together with aws:SourceAccount (the same account) on exactly this role.
    (statement,) = synth.props("execution_role")["AssumeRolePolicyDocument"]["Statement"]
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}
    source = render(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source == "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:*"


def test_execution_role_source_account_condition_can_be_switched_off(variant: Synth) -> None:
    (statement,) = variant.props("execution_role")["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "greengrass.amazonaws.com"}
    assert "Condition" not in statement


def test_execution_role_may_create_deployments_of_this_accounts_groups(synth: Synth) -> None:
    assert synth.grants("execution_role")["greengrass:CreateDeployment"] == {GREENGRASS_GROUPS}


def test_execution_role_may_read_staged_copies_only(synth: Synth) -> None:
    assert synth.grants("execution_role")["s3:GetObject"] == {f"{synth.arn('bucket')}/staged/*"}


def test_execution_role_has_nothing_else(synth: Synth) -> None:
    assert set(synth.grants("execution_role")) == {"greengrass:CreateDeployment", "s3:GetObject"}
    assert "ManagedPolicyArns" not in synth.props("execution_role")


def test_grants_follow_configured_prefixes(variant: Synth) -> None:
    bucket = variant.arn("bucket")
    starter = variant.grants("starter_role")
    assert starter["s3:GetObject"] == {f"{bucket}/drop/*"}
    assert starter["s3:GetObjectVersionTagging"] == {f"{bucket}/drop/*"}
    assert starter["s3:PutObject"] == {f"{bucket}/ready/*", f"{bucket}/results/*"}
    assert variant.grants("execution_role")["s3:GetObject"] == {f"{bucket}/ready/*"}


def test_rendering_of_policy_resources_is_exact(synth: Synth) -> None:
    # Guard for the helpers above: the ledger grant names the table and its indexes only.
    statement = synth.statement_granting("starter_role", "dynamodb:Query")
    assert sorted(render(r) for r in as_list(statement["Resource"])) == sorted(
        [synth.arn("ledger"), f"{synth.arn('ledger')}/index/*"]
    )
