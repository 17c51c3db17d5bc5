"""infra/config.py: context parsing, defaults, and errors that name the cdk.json key (no synthesis)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bulk_deployer.config import ConfigurationError

from infra.config import CONTEXT_KEYS, DeployConfig, field_for_key
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
    for key in CONTEXT_KEYS:
        assert context[key.name] == key.default, key.name
    assert DeployConfig.from_context(context) == DeployConfig()


def test_every_key_maps_to_a_field() -> None:
    for key in CONTEXT_KEYS:
        field_for_key(key.name)


def test_every_key_is_documented_in_the_readme_section() -> None:
    section = (REPO_ROOT / "docs" / "_readme_deploy_section.md").read_text()
    for key in CONTEXT_KEYS:
        assert re.search(rf"^\| `{key.name}` \|", section, re.MULTILINE), key.name


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
    ],
)
def test_bad_values_name_the_key(context: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"cdk.json context key '{key}'"):
        DeployConfig.from_context(context)


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
