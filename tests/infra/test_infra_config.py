"""infra/config.py: context parsing, defaults, and errors that name the cdk.json key (no synthesis)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bulk_deployer.config import ConfigurationError

from infra.config import CONTEXT_SETTINGS, DeployConfig, field_for_key
from infra.stack import build_app

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_without_context() -> None:
    config = DeployConfig.from_context({})
    assert config == DeployConfig()
    assert (config.incoming_prefix, config.staged_prefix, config.reports_prefix) == (
        "incoming/",
        "staged/",
        "reports/",
    )
    assert config.max_receive_count == 5
    assert config.intake_visibility_timeout_seconds == 6 * config.starter_timeout_seconds
    assert config.processing_lease_seconds == config.starter_timeout_seconds
    assert config.execution_role_source_account_condition is True
    assert config.bucket_removal_policy == "retain"


def test_cdk_json_holds_every_key_with_its_documented_default() -> None:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    for entry in CONTEXT_SETTINGS:
        assert context[entry.key] == entry.default, entry.key
    assert DeployConfig.from_context(context) == DeployConfig()


def test_every_key_maps_to_a_field() -> None:
    for entry in CONTEXT_SETTINGS:
        assert entry.key is not None
        field_for_key(entry.key)


def test_every_key_is_documented_in_the_readme() -> None:
    section = (REPO_ROOT / "README.md").read_text()
    for entry in CONTEXT_SETTINGS:
        assert re.search(rf"^\| `{entry.key}` \|", section, re.MULTILINE), entry.key


def test_command_line_strings_are_accepted() -> None:
    config = DeployConfig.from_context(
        {
            "starterTimeoutSeconds": "600",
            "maxReceiveCount": "10",
            "executionRoleSourceAccountCondition": "false",
            "bundleDependencies": "False",
            "defaultTags": '{"team": "iot"}',
            "startRetryBaseSeconds": "0.5",
            "logLevel": "warning",
            "bucketRemovalPolicy": "DESTROY",
        }
    )
    assert config.starter_timeout_seconds == 600
    assert config.intake_visibility_timeout_seconds == 3600
    assert config.max_receive_count == 10
    assert config.execution_role_source_account_condition is False
    assert config.bundle_dependencies is False
    assert config.default_tags == {"team": "iot"}
    assert config.start_retry_base_seconds == 0.5
    assert config.log_level == "WARNING"
    assert config.bucket_removal_policy == "destroy"


def test_null_means_default() -> None:
    assert (
        DeployConfig.from_context({"alarmEmail": None, "intakeVisibilityTimeoutSeconds": None})
        == DeployConfig()
    )


def test_unrelated_context_is_ignored() -> None:
    assert DeployConfig.from_context({"@aws-cdk/core:checkSecretUsage": True}) == DeployConfig()


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"stagedPrefix": "incoming/staged/"}, "stagedPrefix"),
        ({"reportsPrefix": "incoming/"}, "reportsPrefix"),
        ({"incomingPrefix": "staged/in/"}, "incomingPrefix"),
        ({"incomingPrefix": "incoming"}, "incomingPrefix"),
        ({"stagedPrefix": "/staged/"}, "stagedPrefix"),
        ({"reportsPrefix": ""}, "reportsPrefix"),
    ],
)
def test_bad_prefixes_name_the_key(context: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"cdk.json context key .*'{key}'"):
        DeployConfig.from_context(context)


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"starterTimeoutSeconds": 901}, "starterTimeoutSeconds"),
        ({"starterTimeoutSeconds": "five"}, "starterTimeoutSeconds"),
        ({"starterMemoryMb": 64}, "starterMemoryMb"),
        ({"intakeVisibilityTimeoutSeconds": 1799}, "intakeVisibilityTimeoutSeconds"),
        ({"intakeVisibilityTimeoutSeconds": 43201}, "intakeVisibilityTimeoutSeconds"),
        ({"maxReceiveCount": 0}, "maxReceiveCount"),
        ({"maxReceiveCount": 1001}, "maxReceiveCount"),
        ({"maxReceiveCount": True}, "maxReceiveCount"),
        ({"logRetentionDays": 10}, "logRetentionDays"),
        ({"noncurrentVersionExpirationDays": 0}, "noncurrentVersionExpirationDays"),
        ({"stagedExpirationDays": -1}, "stagedExpirationDays"),
        ({"bucketRemovalPolicy": "snapshot"}, "bucketRemovalPolicy"),
        ({"executionRoleSourceAccountCondition": "yes"}, "executionRoleSourceAccountCondition"),
        ({"alarmEmail": "not-an-address"}, "alarmEmail"),
        ({"metricsNamespace": "AWS/Lambda"}, "metricsNamespace"),
        ({"logLevel": "VERBOSE"}, "logLevel"),
        ({"defaultTags": "[1, 2]"}, "defaultTags"),
        ({"defaultTags": "{not json"}, "defaultTags"),
        ({"defaultTags": {"aws:reserved": "x"}}, "defaultTags"),
        ({"defaultTags": {"k": 1}}, "defaultTags"),
        ({"defaultTags": {"k": "v" * 257}}, "defaultTags"),
        ({"defaultTags": {"bad<char": "v"}}, "defaultTags"),
        ({"defaultTags": {f"k{i}": "v" for i in range(46)}}, "defaultTags"),
        ({"startRetryBaseSeconds": 61}, "startRetryBaseSeconds"),
        ({"stackName": "1-starts-with-digit"}, "stackName"),
        ({"bundleDependencies": "maybe"}, "bundleDependencies"),
        ({"trackerScheduleMinutes": 0}, "trackerScheduleMinutes"),
        ({"trackerScheduleMinutes": 61}, "trackerScheduleMinutes"),
        ({"trackerTimeoutSeconds": 59}, "trackerTimeoutSeconds"),
        ({"trackerTimeoutSeconds": 901}, "trackerTimeoutSeconds"),
        ({"trackerMemoryMb": 64}, "trackerMemoryMb"),
        ({"overdueAfterSeconds": 59}, "overdueAfterSeconds"),
        ({"reportSettleBoundSeconds": 10}, "reportSettleBoundSeconds"),
        ({"reportRecheckSeconds": -1}, "reportRecheckSeconds"),
        ({"reportPageSize": 0}, "reportPageSize"),
        ({"reportPageSize": 1001}, "reportPageSize"),
        ({"reconcileEverySeconds": 30}, "reconcileEverySeconds"),
        ({"reconcileLookbackDays": 0}, "reconcileLookbackDays"),
        ({"reconcileMinAgeSeconds": "soon"}, "reconcileMinAgeSeconds"),
        ({"oldestQueuedFileAlarmSeconds": 0}, "oldestQueuedFileAlarmSeconds"),
    ],
)
def test_bad_values_name_the_key(context: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"cdk.json context key '{key}'"):
        DeployConfig.from_context(context)


@pytest.mark.parametrize(
    ("context", "problem"),
    [
        ({"starterTimeoutSeconds": 901}, "901 is not "),
        ({"logRetentionDays": 10}, "10 is not one of 1, 3, 5,"),
        ({"stackName": "1-starts-with-digit"}, "'1-starts-with-digit' is not a CloudFormation stack name"),
        ({"metricsNamespace": "AWS/Lambda"}, "'AWS/Lambda' is not a CloudWatch namespace"),
        ({"metricsNamespace": "has space"}, "'has space' is not a CloudWatch namespace"),
    ],
)
def test_a_value_breaking_a_rule_is_named_with_the_rule(context: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DeployConfig.from_context(context)
    assert problem in str(raised.value)


def test_visibility_may_exceed_the_minimum() -> None:
    assert (
        DeployConfig.from_context({"intakeVisibilityTimeoutSeconds": 7200}).intake_visibility_timeout_seconds
        == 7200
    )


def test_direct_construction_keeps_the_invariants() -> None:
    with pytest.raises(ConfigurationError, match="intakeVisibilityTimeoutSeconds"):
        DeployConfig(starter_timeout_seconds=600)
    with pytest.raises(ConfigurationError, match="stagedPrefix"):
        DeployConfig(staged_prefix="incoming/")


def test_starter_environment_serializes_every_setting() -> None:
    config = DeployConfig.from_context({"defaultTags": {"b": "2", "a": "1"}, "startRetryBaseSeconds": 1.5})
    env = config.starter_environment(ledger_table_name="ledger", execution_role_arn="arn")
    assert env["DEFAULT_TAGS"] == '{"a":"1","b":"2"}'
    assert env["START_RETRY_BASE_SECONDS"] == "1.5"
    assert all(isinstance(value, str) for value in env.values())


def test_a_bad_context_value_fails_the_app_before_synthesis() -> None:
    with pytest.raises(ConfigurationError, match="'reportsPrefix'"):
        build_app(context={"reportsPrefix": "staged/reports/"})


def test_tracker_defaults_are_the_runtime_defaults() -> None:
    from bulk_deployer.tracker_config import TrackerSettings

    config = DeployConfig()
    runtime = TrackerSettings(ledger_table_name="t", region="eu-west-1", input_bucket="b")
    assert config.overdue_after_seconds == runtime.overdue_after_seconds
    assert config.report_settle_bound_seconds == runtime.report_settle_bound_seconds
    assert config.report_recheck_seconds == runtime.report_recheck_seconds
    assert config.report_page_size == runtime.report_page_size
    assert config.reconcile_every_seconds == runtime.reconcile_every_seconds
    assert config.reconcile_lookback_days == runtime.reconcile_lookback_days
    assert config.reconcile_min_age_seconds == runtime.reconcile_min_age_seconds
    assert (config.tracker_schedule_minutes, config.tracker_timeout_seconds) == (1, 300)
    assert config.tracker_follow_seconds == runtime.tracker_follow_seconds
    assert config.tracker_poll_seconds == runtime.tracker_poll_seconds
    # The run lease is derived from the timeout in one place: 300 s in both (it was 900 at runtime).
    assert config.tracker_lease_seconds == runtime.tracker_lease_seconds == 300


@pytest.mark.parametrize(
    ("context", "problem"),
    [
        ({"trackerFollowSeconds": 60}, "not less than one tracker period"),
        ({"trackerFollowSeconds": 45, "trackerTimeoutSeconds": 100}, "for its reports"),
        ({"trackerFollowSeconds": 61, "trackerScheduleMinutes": 5}, "between"),
        ({"trackerPollSeconds": 0}, "between"),
    ],
)
def test_following_on_must_fit_a_period_and_leave_the_run_time_for_reports(
    context: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as refused:
        DeployConfig.from_context(context)
    assert f"context key '{next(iter(context))}'" in str(refused.value)


def test_following_on_can_be_switched_off_or_lengthened_with_the_period() -> None:
    assert DeployConfig.from_context({"trackerFollowSeconds": 0}).tracker_follow_seconds == 0
    longer = DeployConfig.from_context({"trackerFollowSeconds": "59.5", "trackerScheduleMinutes": 2})
    env = longer.tracker_environment(ledger_table_name="t", input_bucket_name="b")
    assert env["TRACKER_FOLLOW_SECONDS"] == "59.5"


def test_tracker_lease_is_never_shorter_than_a_run() -> None:
    for timeout in (60, 300, 900):
        follow = 0 if timeout == 60 else 30  # a 60 s run leaves no time to follow on
        config = DeployConfig.from_context({"trackerTimeoutSeconds": timeout, "trackerFollowSeconds": follow})
        assert config.tracker_lease_seconds >= config.tracker_timeout_seconds


def test_tracker_environment_is_the_dispatch_settings_plus_its_own() -> None:
    config = DeployConfig.from_context({"reportPageSize": "250", "trackerTimeoutSeconds": 600})
    common = {"ledger_table_name": "ledger", "outcomes_topic_arn": "topic"}
    starter = config.starter_environment(**common, execution_role_arn="arn")
    tracker = config.tracker_environment(**common, input_bucket_name="bucket")
    assert starter["OUTCOMES_TOPIC_ARN"] == "topic"
    starter_only = {"EXECUTION_ROLE_ARN", "DEFAULT_TAGS", "PROCESSING_LEASE_SECONDS"}
    assert starter.keys() - tracker.keys() == starter_only
    assert tracker.items() >= {k: v for k, v in starter.items() if k not in starter_only}.items()
    assert {k: tracker[k] for k in tracker.keys() - starter.keys()} == {
        "INPUT_BUCKET_NAME": "bucket",
        "TRACKER_LEASE_SECONDS": "600",
        "TRACKER_FOLLOW_SECONDS": "30",
        "TRACKER_POLL_SECONDS": "5",
        "OVERDUE_AFTER_SECONDS": "21600",
        "REPORT_SETTLE_BOUND_SECONDS": "86400",
        "REPORT_RECHECK_SECONDS": "300",
        "REPORT_PAGE_SIZE": "250",
        "RECONCILE_EVERY_SECONDS": "3600",
        "RECONCILE_LOOKBACK_DAYS": "3",
        "RECONCILE_MIN_AGE_SECONDS": "300",
    }


def test_starter_environment_without_a_topic_is_unchanged() -> None:
    # The local stand-ins call it without the topic: no OUTCOMES_TOPIC_ARN, no notifications.
    env = DeployConfig().starter_environment(ledger_table_name="ledger", execution_role_arn="arn")
    assert "OUTCOMES_TOPIC_ARN" not in env


def test_the_unprocessed_files_alarm_period_spans_one_reconciliation_and_fits_cloudwatch() -> None:
    # Default: every 3600 s, a tracker run every minute that may take 300 s to reach reconciliation.
    assert DeployConfig().reconciliation_alarm_period_seconds == 3600 + 60 + 300
    odd = DeployConfig.from_context({"reconcileEverySeconds": 1000, "trackerTimeoutSeconds": 90})
    assert odd.reconciliation_alarm_period_seconds == 1200  # 1150 rounded up to whole minutes
    # CloudWatch evaluates an alarm over at most seven days.
    longest = 7 * 86_400 - 60 - 300
    assert DeployConfig.from_context(
        {"reconcileEverySeconds": longest}
    ).reconciliation_alarm_period_seconds == (7 * 86_400)
    with pytest.raises(ConfigurationError, match=r"context key 'reconcileEverySeconds'.*604800 s"):
        DeployConfig.from_context({"reconcileEverySeconds": longest + 1})


def test_default_tags_may_not_carry_the_deployable_group_tag() -> None:
    # The functions may not put that tag on anything (IAM), so every start would be refused.
    with pytest.raises(ConfigurationError, match=r"context key 'defaultTags'.*fleet=eu-west"):
        DeployConfig.from_context(
            {"deployableGroupTag": "fleet=eu-west", "defaultTags": {"fleet": "eu-west"}}
        )
    allowed = DeployConfig.from_context(
        {"deployableGroupTag": "fleet=eu-west", "defaultTags": {"fleet": "us"}}
    )
    assert allowed.default_tags == {"fleet": "us"}
