"""The deploy side of the settings schema: the stack's configuration, the functions' environments,
cdk.json and the README are all derived from one declaration per setting (no synthesis here but
one small app build)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bulk_deployer.config import ConfigurationError, StarterSettings
from bulk_deployer.settings_schema import SETTINGS, Reader, applies_to, default_of
from bulk_deployer.tracker_config import TrackerSettings

from infra import settings_docs
from infra.config import DeployConfig, field_for_key
from infra.stack import build_app

REPO_ROOT = Path(__file__).resolve().parents[2]
# A configuration with every function setting away from its default (and within its bounds).
CHANGED = {
    "incomingPrefix": "drop/",
    "stagedPrefix": "ready/",
    "reportsPrefix": "results/",
    "defaultTags": {"team": "iot"},
    "deployableGroupIds": ["g-1"],
    "ledgerTtlDays": 30,
    "startMaxRefusals": 5,
    "startRetryBaseSeconds": 0.5,
    "slotLeaseSeconds": 120,
    "starterTimeoutSeconds": 120,
    "trackerTimeoutSeconds": 600,
    "trackerFollowSeconds": 20,
    "trackerPollSeconds": 2.5,
    "overdueAfterSeconds": 7200,
    "reportSettleBoundSeconds": 3600,
    "reportRecheckSeconds": 60,
    "reportPageSize": 250,
    "reconcileEverySeconds": 1800,
    "reconcileLookbackDays": 7,
    "reconcileMinAgeSeconds": 600,
}
# The same for a Greengrass V2 stack: its own settings instead of V1's.
CHANGED_V2 = {key: value for key, value in CHANGED.items() if key != "deployableGroupIds"} | {
    "greengrass": "v2",
    "deployableTargetArns": ["arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet"],
    "v2FilesInFlight": 2,
    "greengrassRequestsPerSecond": 6,
    "thingGroupDeadlineMinutes": 30,
    "allowLargeDeploymentDocuments": True,
}
CHANGED_BY_VERSION = {"v1": CHANGED, "v2": CHANGED_V2}
ROLE = "arn:aws:iam::123456789012:role/gg-bulk"


def test_the_checked_in_cdk_json_and_readme_are_generated_from_the_schema() -> None:
    """Run ``python -m infra.settings_docs`` after changing a setting."""
    cdk_json = (REPO_ROOT / "cdk.json").read_text(encoding="utf-8")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_docs.cdk_json_text(cdk_json) == cdk_json
    assert settings_docs.readme_text(readme) == readme
    assert settings_docs.main(["--check"]) == 0


def test_the_generator_notices_drift() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    drifted = readme.replace("| `reportPageSize` | `100` |", "| `reportPageSize` | `50` |")
    assert drifted != readme and settings_docs.readme_text(drifted) == readme
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))
    cdk_json["context"]["reportPageSize"] = 50
    assert json.loads(settings_docs.cdk_json_text(json.dumps(cdk_json)))["context"]["reportPageSize"] == 100
    with pytest.raises(ValueError, match="markers"):
        settings_docs.readme_text("no tables here")


def test_every_context_setting_has_a_config_field_and_every_env_setting_a_value() -> None:
    config = DeployConfig()
    for entry in SETTINGS:
        if entry.key is not None:
            field_for_key(entry.key)
        if entry.env is not None:
            value = config.value_of(entry)
            assert (list(value) if entry.type is list else value) == default_of(entry.env), entry.env


@pytest.mark.parametrize("greengrass", ["v1", "v2"])
def test_each_function_gets_exactly_the_variables_the_schema_gives_it(greengrass: str) -> None:
    config = DeployConfig.from_context(CHANGED_BY_VERSION[greengrass])
    starter = config.starter_environment(ledger_table_name="t", execution_role_arn=ROLE)
    tracker = config.tracker_environment(ledger_table_name="t", input_bucket_name="b")
    for entry in SETTINGS:
        if entry.env is None:
            continue
        # A setting of the other Greengrass version is given to neither function.
        ours = applies_to(entry, greengrass)
        assert (entry.env in starter) == (Reader.STARTER in entry.readers and ours), entry.env
        assert (entry.env in tracker) == (Reader.TRACKER in entry.readers and ours), entry.env
    # The execution role is a V1 stack's only.
    assert ("EXECUTION_ROLE_ARN" in starter) == (greengrass == "v1")
    assert starter["GREENGRASS"] == tracker["GREENGRASS"] == greengrass


@pytest.mark.parametrize("greengrass", ["v1", "v2"])
def test_the_functions_read_back_every_value_the_stack_writes(greengrass: str) -> None:
    config = DeployConfig.from_context(CHANGED_BY_VERSION[greengrass])
    starter = StarterSettings.from_env(
        config.starter_environment(
            ledger_table_name="t", execution_role_arn=ROLE, stack_account_id="123456789012"
        )
        | {"AWS_REGION": "eu-west-1"}
    )
    tracker = TrackerSettings.from_env(
        config.tracker_environment(ledger_table_name="t", input_bucket_name="b") | {"AWS_REGION": "eu-west-1"}
    )
    assert starter.greengrass == tracker.greengrass == greengrass
    for entry in SETTINGS:
        if entry.env is None or entry.env.startswith("POWERTOOLS_") or not applies_to(entry, greengrass):
            continue
        expected = config.value_of(entry)
        for settings, reader in ((starter, Reader.STARTER), (tracker, Reader.TRACKER)):
            if reader in entry.readers:
                value = getattr(settings, entry.env.lower())
                if entry.type is list:
                    value, expected = sorted(value), sorted(expected)
                assert value == expected, (reader, entry.env)


def test_derived_leases_are_computed_in_one_place() -> None:
    config = DeployConfig.from_context({"starterTimeoutSeconds": 120, "trackerTimeoutSeconds": 600})
    assert config.processing_lease_seconds == 120
    assert config.tracker_lease_seconds == 600
    # ... and the runtime's defaults are the deployed stack's defaults.
    default = DeployConfig()
    starter = StarterSettings(ledger_table_name="t", region="eu-west-1", execution_role_arn=ROLE)
    tracker = TrackerSettings(ledger_table_name="t", region="eu-west-1", input_bucket="b")
    assert starter.processing_lease_seconds == default.processing_lease_seconds == 300
    assert tracker.tracker_lease_seconds == default.tracker_lease_seconds == 300


def test_runtime_and_stack_refuse_the_same_float_values() -> None:
    # The runtime accepted a 0 s poll interval that the stack refused.
    with pytest.raises(ConfigurationError, match="'trackerPollSeconds'"):
        DeployConfig.from_context({"trackerPollSeconds": 0})
    with pytest.raises(ConfigurationError, match="TRACKER_POLL_SECONDS"):
        TrackerSettings.from_env(
            {"LEDGER_TABLE_NAME": "t", "INPUT_BUCKET_NAME": "b", "AWS_REGION": "eu-west-1"}
            | {"TRACKER_POLL_SECONDS": "0"}
        )


# ---------------------------------------------------------------- the rename: startMaxRefusals


def test_start_max_refusals_sets_the_dispatchers_limit_in_both_functions() -> None:
    config = DeployConfig.from_context({"startMaxRefusals": "4"})
    assert config.start_max_refusals == 4
    assert config.deprecations == ()
    assert (
        config.starter_environment(ledger_table_name="t", execution_role_arn=ROLE)["START_MAX_REFUSALS"]
        == "4"
    )
    assert (
        config.tracker_environment(ledger_table_name="t", input_bucket_name="b")["START_MAX_REFUSALS"] == "4"
    )
    with pytest.raises(ConfigurationError, match="context key 'startMaxRefusals'"):
        DeployConfig.from_context({"startMaxRefusals": 11})


def test_the_old_key_start_max_attempts_is_still_read_with_a_deprecation() -> None:
    config = DeployConfig.from_context({"startMaxAttempts": 5})
    assert config.start_max_refusals == 5
    (message,) = config.deprecations
    assert "'startMaxAttempts' is deprecated" in message and "'startMaxRefusals'" in message
    # The new key wins; the old one is still reported so that it gets removed.
    both = DeployConfig.from_context({"startMaxAttempts": 5, "startMaxRefusals": 2})
    assert both.start_max_refusals == 2 and len(both.deprecations) == 1
    # The old key is checked like the new one, and errors name the new one.
    with pytest.raises(ConfigurationError, match=r"'startMaxRefusals'.*not between 1 and 10"):
        DeployConfig.from_context({"startMaxAttempts": 0})


def test_synthesis_warns_about_the_old_key(tmp_path: Path) -> None:
    context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    del context["startMaxRefusals"]
    old = context | {"startMaxAttempts": 5, "bundleDependencies": False}
    _, stack = build_app(context=old, outdir=str(tmp_path / "old"))
    warnings = [str(entry.data) for entry in stack.node.metadata if entry.type == "aws:cdk:warning"]
    assert len(warnings) == 1 and "'startMaxAttempts' is deprecated" in warnings[0]
    assert stack.config.start_max_refusals == 5
    new = context | {"startMaxRefusals": 5, "bundleDependencies": False}
    _, current = build_app(context=new, outdir=str(tmp_path / "new"))
    assert not [entry for entry in current.node.metadata if entry.type == "aws:cdk:warning"]
