"""Template assertions for every property the issue names (bucket, rule, queues, function, table)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asset_allow_list import bytecode_problems
from aws_cdk.assertions import Match
from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID, Metric
from infra_helpers import Synth, render

from infra.bundling import LAMBDA_SRC, PACKAGE

# ---------------------------------------------------------------- bucket


def test_bucket_is_versioned(synth: Synth) -> None:
    assert synth.props("bucket")["VersioningConfiguration"] == {"Status": "Enabled"}


def test_bucket_default_encryption_is_sse_s3(synth: Synth) -> None:
    encryption = synth.props("bucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]


def test_bucket_blocks_all_public_access(synth: Synth) -> None:
    assert synth.props("bucket")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_bucket_owner_enforced(synth: Synth) -> None:
    assert synth.props("bucket")["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }


def test_bucket_logs_access_to_separate_bucket(synth: Synth) -> None:
    logging = synth.props("bucket")["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": synth.ids["log_bucket"]}
    assert synth.ids["log_bucket"] != synth.ids["bucket"]
    log_bucket = synth.props("log_bucket")
    assert log_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0] == {
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}
    }
    assert log_bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_bucket_sends_events_to_eventbridge_without_custom_resource(synth: Synth) -> None:
    assert synth.props("bucket")["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    kinds = {resource["Type"] for resource in synth.resources.values()}
    assert "Custom::S3BucketNotifications" not in kinds
    # The only functions in the stack are the starter and the tracker: no custom-resource handlers.
    synth.assertions.resource_count_is("AWS::Lambda::Function", 2)


def test_bucket_lifecycle_expires_noncurrent_versions_and_staged_copies(synth: Synth) -> None:
    rules = {rule["Id"]: rule for rule in synth.props("bucket")["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["expire-noncurrent-versions"]["Status"] == "Enabled"
    assert rules["expire-staged-copies"]["Prefix"] == "staged/"
    assert rules["expire-staged-copies"]["ExpirationInDays"] == 90
    # Nothing else expires: incoming files and reports are kept.
    assert all("ExpirationInDays" not in r for i, r in rules.items() if i != "expire-staged-copies")


def test_bucket_lifecycle_aborts_incomplete_multipart_uploads_everywhere(synth: Synth) -> None:
    # A report pass cut off for good leaves an unfinished multipart upload under reports/.
    rules = [
        rule
        for rule in synth.props("bucket")["LifecycleConfiguration"]["Rules"]
        if "AbortIncompleteMultipartUpload" in rule
    ]
    assert rules == [
        {
            "Id": "abort-incomplete-multipart-uploads",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            "Status": "Enabled",
        }
    ]


def test_bucket_lifecycle_follows_configuration(variant: Synth) -> None:
    rules = {rule["Id"]: rule for rule in variant.props("bucket")["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    assert rules["expire-staged-copies"]["Prefix"] == "ready/"
    assert rules["expire-staged-copies"]["ExpirationInDays"] == 60


def _bucket_policy_statements(synth: Synth) -> list[dict[str, object]]:
    return list(synth.props("bucket_policy")["PolicyDocument"]["Statement"])


def test_bucket_policy_denies_insecure_transport(synth: Synth) -> None:
    statements = _bucket_policy_statements(synth)
    assert any(
        s["Effect"] == "Deny"
        and s["Action"] == "s3:*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_bucket_policy_refuses_kms_and_customer_key_uploads(synth: Synth) -> None:
    by_sid = {s.get("Sid"): s for s in _bucket_policy_statements(synth)}
    kms = by_sid["DenyKmsEncryptedObjects"]
    assert kms["Effect"] == "Deny"
    assert kms["Action"] == "s3:PutObject"
    assert kms["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]}
    }
    sse_c = by_sid["DenyCustomerKeyEncryptedObjects"]
    assert sse_c["Condition"] == {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}


def test_buckets_are_retained_by_default(synth: Synth) -> None:
    for name in ("bucket", "log_bucket"):
        resource = synth.resources[synth.ids[name]]
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"


def test_buckets_can_be_destroyed_when_configured(variant: Synth) -> None:
    for name in ("bucket", "log_bucket"):
        assert variant.resources[variant.ids[name]]["DeletionPolicy"] == "Delete"
    # Never an auto-delete custom resource: the buckets must be emptied by hand.
    assert "Custom::S3AutoDeleteObjects" not in {r["Type"] for r in variant.resources.values()}


# ---------------------------------------------------------------- EventBridge rule


def test_rule_matches_object_created_in_this_bucket_under_incoming(synth: Synth) -> None:
    pattern = synth.props("rule")["EventPattern"]
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": synth.ids["bucket"]}]},
            "object": {"key": [{"prefix": "incoming/"}]},
        },
    }


def test_rule_pattern_follows_incoming_prefix(variant: Synth) -> None:
    assert variant.props("rule")["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "drop/"}]


def test_rule_targets_intake_queue_with_message_group_and_dlq(synth: Synth) -> None:
    (target,) = synth.props("rule")["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synth.ids["queue"], "Arn"]}
    assert target["SqsParameters"] == {"MessageGroupId": INTAKE_MESSAGE_GROUP_ID}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [synth.ids["event_dlq"], "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


# ---------------------------------------------------------------- queues


def test_intake_queue_is_fifo_with_content_based_deduplication(synth: Synth) -> None:
    props = synth.props("queue")
    assert props["FifoQueue"] is True
    assert props["ContentBasedDeduplication"] is True


def test_intake_dlq_is_fifo_with_content_based_deduplication(synth: Synth) -> None:
    props = synth.props("dlq")
    assert props["FifoQueue"] is True
    assert props["ContentBasedDeduplication"] is True


def test_event_dlq_is_a_standard_queue(synth: Synth) -> None:
    assert "FifoQueue" not in synth.props("event_dlq")


@pytest.mark.parametrize("queue", ["queue", "dlq", "event_dlq"])
def test_queue_uses_sse_sqs_not_kms(synth: Synth, queue: str) -> None:
    props = synth.props(queue)
    assert props["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in props


@pytest.mark.parametrize("queue", ["queue", "dlq", "event_dlq"])
def test_queue_retains_messages_14_days(synth: Synth, queue: str) -> None:
    assert synth.props(queue)["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("queue", ["queue", "dlq", "event_dlq"])
def test_queue_policy_enforces_tls(synth: Synth, queue: str) -> None:
    synth.assertions.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": synth.ids[queue]}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def _queue_policy(synth: Synth, queue: str) -> list[dict[str, object]]:
    for resource in synth.resources.values():
        if resource["Type"] == "AWS::SQS::QueuePolicy" and resource["Properties"]["Queues"] == [
            {"Ref": synth.ids[queue]}
        ]:
            return list(resource["Properties"]["PolicyDocument"]["Statement"])
    raise AssertionError(f"no policy for {queue}")


@pytest.mark.parametrize("queue", ["queue", "event_dlq"])
def test_only_the_rule_may_send(synth: Synth, queue: str) -> None:
    allows = [s for s in _queue_policy(synth, queue) if s["Effect"] == "Allow"]
    assert allows, "EventBridge must be allowed to send"
    for statement in allows:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [synth.ids["rule"], "Arn"]}}
        }


def test_nobody_may_send_to_the_intake_dlq_directly(synth: Synth) -> None:
    assert [s for s in _queue_policy(synth, "dlq") if s["Effect"] == "Allow"] == []


def test_intake_queue_visibility_is_six_times_the_starter_timeout(synth: Synth) -> None:
    timeout = synth.props("function")["Timeout"]
    assert synth.props("queue")["VisibilityTimeout"] == 6 * timeout == 1800


def test_intake_queue_visibility_follows_the_timeout(variant: Synth) -> None:
    assert variant.props("queue")["VisibilityTimeout"] == 6 * 120


def test_intake_queue_redrives_to_fifo_dlq_after_max_receive_count(synth: Synth, variant: Synth) -> None:
    assert synth.props("queue")["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [synth.ids["dlq"], "Arn"]},
        "maxReceiveCount": 5,
    }
    assert variant.props("queue")["RedrivePolicy"]["maxReceiveCount"] == 9


# ---------------------------------------------------------------- starter function


def test_function_runtime_and_architecture(synth: Synth) -> None:
    props = synth.props("function")
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bulk_deployer.handlers.starter.handler"


def test_function_memory_and_timeout(synth: Synth, variant: Synth) -> None:
    assert (synth.props("function")["MemorySize"], synth.props("function")["Timeout"]) == (1024, 300)
    assert (variant.props("function")["MemorySize"], variant.props("function")["Timeout"]) == (512, 120)


def test_function_has_active_tracing(synth: Synth) -> None:
    assert synth.props("function")["TracingConfig"] == {"Mode": "Active"}


def test_function_has_no_reserved_concurrency(synth: Synth) -> None:
    assert "ReservedConcurrentExecutions" not in synth.props("function")


def test_function_logs_to_own_log_group_with_retention(synth: Synth, variant: Synth) -> None:
    assert synth.props("function")["LoggingConfig"] == {"LogGroup": {"Ref": synth.ids["log_group"]}}
    assert synth.props("log_group")["RetentionInDays"] == 90
    assert variant.props("log_group")["RetentionInDays"] == 30


def test_event_source_is_the_intake_queue_one_at_a_time(synth: Synth) -> None:
    synth.assertions.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    synth.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [synth.ids["queue"], "Arn"]},
            "FunctionName": {"Ref": synth.ids["function"]},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": Match.absent(),
        },
    )


def test_function_environment_has_every_setting(synth: Synth) -> None:
    env = synth.props("function")["Environment"]["Variables"]
    assert env == {
        "OUTCOMES_TOPIC_ARN": {"Ref": synth.ids["outcomes_topic"]},
        "INTAKE_DEAD_LETTER_QUEUE_URL": {"Ref": synth.ids["dlq"]},
        "LEDGER_TABLE_NAME": {"Ref": synth.ids["ledger"]},
        "EXECUTION_ROLE_ARN": {"Fn::GetAtt": [synth.ids["execution_role"], "Arn"]},
        "INCOMING_PREFIX": "incoming/",
        "STAGED_PREFIX": "staged/",
        "REPORTS_PREFIX": "reports/",
        "DEFAULT_TAGS": "{}",
        "GREENGRASS": "v1",
        "LEDGER_TTL_DAYS": "400",
        "START_MAX_REFUSALS": "3",
        "START_RETRY_BASE_SECONDS": "2",
        "SLOT_LEASE_SECONDS": "300",
        "PROCESSING_LEASE_SECONDS": "300",
        "POWERTOOLS_SERVICE_NAME": "bulk-deployer",
        "POWERTOOLS_METRICS_NAMESPACE": "BulkDeployer",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def test_function_environment_follows_configuration(variant: Synth) -> None:
    env = variant.props("function")["Environment"]["Variables"]
    assert env["INCOMING_PREFIX"] == "drop/"
    assert env["STAGED_PREFIX"] == "ready/"
    assert env["REPORTS_PREFIX"] == "results/"
    assert json.loads(env["DEFAULT_TAGS"]) == {"team": "iot", "cost-center": "42"}
    assert env["PROCESSING_LEASE_SECONDS"] == "120"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Custom/BulkDeployer"
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"


def test_environment_is_accepted_by_the_starters_settings(synth: Synth) -> None:
    from bulk_deployer.config import StarterSettings

    env = {
        key: value if isinstance(value, str) else "placeholder"
        for key, value in synth.props("function")["Environment"]["Variables"].items()
    }
    env["EXECUTION_ROLE_ARN"] = "arn:aws:iam::123456789012:role/bulk-deployer-execution"
    env["AWS_REGION"] = "eu-west-1"
    settings = StarterSettings.from_env(env)
    assert settings.processing_lease_seconds == synth.props("function")["Timeout"]


def test_code_only_asset_holds_the_package_without_caches(synth: Synth) -> None:
    code = synth.props("function")["Code"]
    asset = synth.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"
    assert (asset / PACKAGE / "__init__.py").is_file()
    modules = {path.relative_to(LAMBDA_SRC / PACKAGE) for path in (LAMBDA_SRC / PACKAGE).rglob("*.py")}
    assert {path.relative_to(asset / PACKAGE) for path in (asset / PACKAGE).rglob("*.py")} == modules
    # What the asset ships is this package: its contract, imported from the asset, is this one.
    program = (
        "import json\n"
        "from bulk_deployer import contract\n"
        "print(json.dumps([contract.__file__, [metric.value for metric in contract.Metric]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        env=os.environ | {"PYTHONPATH": str(asset)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    shipped, metrics = json.loads(result.stdout)
    assert Path(shipped).is_relative_to(asset) and metrics == [metric.value for metric in Metric]
    # No cache of this checkout's: only the bytecode the build compiled for the runtime.
    assert bytecode_problems(asset) == []
    assert not (asset / "boto3").exists()  # bundleDependencies=false in these tests


# ---------------------------------------------------------------- ledger table


def test_ledger_keys_and_ttl(synth: Synth) -> None:
    props = synth.props("ledger")
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    attributes = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert attributes == {
        "pk": "S",
        "queue_pk": "S",
        "queue_sk": "S",
        "object_id": "S",
        "registered_sk": "S",
        "bulk_deployment_id": "S",
    }


def test_ledger_indexes(synth: Synth) -> None:
    indexes = {i["IndexName"]: i for i in synth.props("ledger")["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"queue", "by_key", "by_bulk_deployment"}
    assert indexes["queue"]["KeySchema"] == [
        {"AttributeName": "queue_pk", "KeyType": "HASH"},
        {"AttributeName": "queue_sk", "KeyType": "RANGE"},
    ]
    assert indexes["by_key"]["KeySchema"] == [
        {"AttributeName": "object_id", "KeyType": "HASH"},
        {"AttributeName": "registered_sk", "KeyType": "RANGE"},
    ]
    assert indexes["by_bulk_deployment"]["KeySchema"] == [
        {"AttributeName": "bulk_deployment_id", "KeyType": "HASH"}
    ]
    assert all(i["Projection"] == {"ProjectionType": "ALL"} for i in indexes.values())


def test_ledger_is_on_demand_with_pitr_and_deletion_protection(synth: Synth) -> None:
    props = synth.props("ledger")
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert synth.resources[synth.ids["ledger"]]["DeletionPolicy"] == "Retain"


# ---------------------------------------------------------------- outputs


def test_outputs(synth: Synth) -> None:
    outputs = {name: render(o["Value"]) for name, o in synth.template["Outputs"].items()}
    assert outputs == {
        "BucketName": f"${{{synth.ids['bucket']}}}",
        "GreengrassVersion": "v1",
        "IncomingPrefix": "incoming/",
        "StagedPrefix": "staged/",
        "ReportsPrefix": "reports/",
        "ExecutionRoleArn": synth.arn("execution_role"),
        "IntakeQueueUrl": f"${{{synth.ids['queue']}}}",
        "IntakeDeadLetterQueueUrl": f"${{{synth.ids['dlq']}}}",
        "EventDeadLetterQueueUrl": f"${{{synth.ids['event_dlq']}}}",
        "LedgerTableName": f"${{{synth.ids['ledger']}}}",
        "StarterFunctionName": f"${{{synth.ids['function']}}}",
        "TrackerFunctionName": f"${{{synth.ids['tracker_function']}}}",
        "OutcomesTopicArn": f"${{{synth.ids['outcomes_topic']}}}",
        "AlarmTopicArn": f"${{{synth.ids['alarm_topic']}}}",
    }


def test_stack_name_is_configurable(synth: Synth, variant: Synth) -> None:
    assert synth.stack.stack_name == "BulkDeployer"
    assert variant.stack.stack_name == "BulkDeployerVariant"
