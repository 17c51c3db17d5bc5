"""A Greengrass V2 stack's configuration: what the functions get, what the stack refuses or warns
about (the settings of the other version), and what a V1 stack keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bulk_deployer.config import StarterSettings
from bulk_deployer.tracker_config import TrackerSettings
from infra_helpers import Synth

from infra.config import ConfigurationError, DeployConfig

GROUP_ARN = "arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet-eu"
THING_ARN = "arn:aws:iot:eu-west-1:123456789012:thing/gateway-7"
V2_ONLY = {
    "DEPLOYABLE_TARGET_ARNS",
    "V2_FILES_IN_FLIGHT",
    "GREENGRASS_REQUESTS_PER_SECOND",
    "THING_GROUP_DEADLINE_MINUTES",
    "ALLOW_LARGE_DEPLOYMENT_DOCUMENTS",
}


def _variables(synth: Synth, function: str) -> dict[str, object]:
    return dict(synth.props(function)["Environment"]["Variables"])


def test_v2_starter_environment(v2: Synth) -> None:
    env = _variables(v2, "function")
    assert env == {
        "OUTCOMES_TOPIC_ARN": {"Ref": v2.ids["outcomes_topic"]},
        "INTAKE_DEAD_LETTER_QUEUE_URL": {"Ref": v2.ids["dlq"]},
        "LEDGER_TABLE_NAME": {"Ref": v2.ids["ledger"]},
        "GREENGRASS": "v2",
        "INCOMING_PREFIX": "incoming/",
        "STAGED_PREFIX": "staged/",
        "REPORTS_PREFIX": "reports/",
        "DEFAULT_TAGS": "{}",
        "V2_FILES_IN_FLIGHT": "4",
        "GREENGRASS_REQUESTS_PER_SECOND": "10",
        "ALLOW_LARGE_DEPLOYMENT_DOCUMENTS": "false",
        "THING_GROUP_DEADLINE_MINUTES": "60",  # a target's deadline is set when it starts
        "STACK_ACCOUNT_ID": {"Ref": "AWS::AccountId"},
        "LEDGER_TTL_DAYS": "400",
        "START_MAX_REFUSALS": "3",
        "START_RETRY_BASE_SECONDS": "2",
        "SLOT_LEASE_SECONDS": "300",
        "PROCESSING_LEASE_SECONDS": "300",
        "POWERTOOLS_SERVICE_NAME": "bulk-deployer",
        "POWERTOOLS_METRICS_NAMESPACE": "BulkDeployer",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def test_v2_tracker_environment(v2: Synth) -> None:
    env = _variables(v2, "tracker_function")
    assert env["GREENGRASS"] == "v2"
    assert env["THING_GROUP_DEADLINE_MINUTES"] == "60"
    assert env["V2_FILES_IN_FLIGHT"] == "4"
    assert env["GREENGRASS_REQUESTS_PER_SECOND"] == "10"
    # The allow-list and the document size are the starter's validation only.
    assert not {"DEPLOYABLE_TARGET_ARNS", "ALLOW_LARGE_DEPLOYMENT_DOCUMENTS", "EXECUTION_ROLE_ARN"} & set(env)


def test_v2_settings_reach_the_functions(v2_variant: Synth) -> None:
    starter, tracker = _variables(v2_variant, "function"), _variables(v2_variant, "tracker_function")
    assert sorted(json.loads(str(starter["DEPLOYABLE_TARGET_ARNS"]))) == sorted([GROUP_ARN, THING_ARN])
    assert starter["ALLOW_LARGE_DEPLOYMENT_DOCUMENTS"] == "true"
    assert starter["V2_FILES_IN_FLIGHT"] == tracker["V2_FILES_IN_FLIGHT"] == "8"
    assert starter["GREENGRASS_REQUESTS_PER_SECOND"] == tracker["GREENGRASS_REQUESTS_PER_SECOND"] == "20"
    assert tracker["THING_GROUP_DEADLINE_MINUTES"] == "120"
    # deployableGroupIds is set in this context, but means nothing to a V2 stack.
    assert "DEPLOYABLE_GROUP_IDS" not in starter


def test_v1_functions_get_no_v2_setting(synth: Synth, variant: Synth) -> None:
    for which in (synth, variant):
        for function in ("function", "tracker_function"):
            env = _variables(which, function)
            assert env["GREENGRASS"] == "v1"
            assert not V2_ONLY & set(env), function


def test_the_v2_functions_start_on_their_environment(v2_variant: Synth) -> None:
    def concrete(function: str) -> dict[str, str]:
        resolved = {"AWS::AccountId": "123456789012"}  # as CloudFormation resolves the pseudo parameter
        env = {
            k: v if isinstance(v, str) else resolved.get(str(dict(v).get("Ref")), "placeholder")  # type: ignore[call-overload]
            for k, v in _variables(v2_variant, function).items()
        }
        return env | {"AWS_REGION": "eu-west-1"}

    starter = StarterSettings.from_env(concrete("function"))
    assert (starter.greengrass, starter.execution_role_arn) == ("v2", "")
    assert starter.deployable_target_arns == {GROUP_ARN, THING_ARN}
    assert starter.allow_large_deployment_documents is True
    assert starter.function_requests_per_second == 10  # half of greengrassRequestsPerSecond 20
    tracker = TrackerSettings.from_env(concrete("tracker_function"))
    assert (tracker.greengrass, tracker.thing_group_deadline_minutes, tracker.v2_files_in_flight) == (
        "v2",
        120,
        8,
    )


def test_v2_stack_says_what_it_starts(v2: Synth, synth: Synth) -> None:
    assert "Greengrass V2 deployments" in v2.template["Description"]
    assert "(V1) bulk deployments" in synth.template["Description"]


# ---------------------------------------------------------------- configuration (no synthesis)


def test_greengrass_is_v1_unless_set() -> None:
    assert DeployConfig.from_context({}).greengrass == "v1"
    assert DeployConfig.from_context({"greengrass": "V2"}).greengrass == "v2"
    with pytest.raises(ConfigurationError, match=r"'greengrass'.*not one of v1, v2"):
        DeployConfig.from_context({"greengrass": "v3"})


def test_deployable_target_arns_accepts_things_and_thing_groups_of_any_form() -> None:
    as_text = DeployConfig.from_context({"deployableTargetArns": f"{GROUP_ARN}, {THING_ARN}"})
    as_json = DeployConfig.from_context({"deployableTargetArns": json.dumps([GROUP_ARN, THING_ARN])})
    assert as_text.deployable_target_arns == as_json.deployable_target_arns == (GROUP_ARN, THING_ARN)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iot:eu-west-1:123456789012:thinggroup/*",  # a wildcard would widen the IAM grant
        "arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet?",
        "arn:aws:greengrass:eu-west-1:123456789012:/greengrass/groups/g-1",  # a V1 group
        "arn:aws:iot:eu-west-1:12345:thing/core",  # not an account id
        "arn:aws:iot:eu-west-1:123456789012:thing/" + "x" * 129,  # IoT names are 1-128 characters
        "fleet-eu",
    ],
)
def test_deployable_target_arns_refuses_what_is_not_one_thing_or_thing_group(arn: str) -> None:
    with pytest.raises(ConfigurationError, match=r"'deployableTargetArns'.*not a thing or thing group ARN"):
        DeployConfig.from_context({"deployableTargetArns": [arn]})


def test_deployable_target_arns_must_fit_the_functions_environment() -> None:
    arns = [f"arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet-{n:04d}" for n in range(40)]
    with pytest.raises(ConfigurationError, match="do not fit the functions' environment"):
        DeployConfig.from_context({"deployableTargetArns": arns})


@pytest.mark.parametrize(
    ("context", "ignored"),
    [
        ({"greengrass": "v2", "deployableGroupIds": ["g-1"], "deployableGroupTag": "fleet=eu"},
         ["deployableGroupIds", "deployableGroupTag"]),
        ({"greengrass": "v2", "executionRoleSourceAccountCondition": False},
         ["executionRoleSourceAccountCondition"]),
        ({"deployableTargetArns": [GROUP_ARN], "v2FilesInFlight": 2, "allowLargeDeploymentDocuments": True},
         ["deployableTargetArns", "v2FilesInFlight", "allowLargeDeploymentDocuments"]),
        # Values equal to the defaults (as cdk.json lists them) are not "set".
        ({"greengrass": "v2", "deployableGroupIds": [], "executionRoleSourceAccountCondition": True}, []),
        ({"deployableTargetArns": [], "thingGroupDeadlineMinutes": 60}, []),
    ],
)  # fmt: skip
def test_settings_of_the_other_version_are_named(context: dict[str, object], ignored: list[str]) -> None:
    config = DeployConfig.from_context(context)
    assert [entry.key for entry in config.settings_of_the_other_version()] == ignored


def test_a_v1_stack_warns_about_a_v2_setting(tmp_path: Path) -> None:
    from infra.stack import build_app

    context = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
    _, stack = build_app(
        context=context
        | {"bundleDependencies": False, "v2FilesInFlight": 8, "alarmEmail": "ops@example.com"},
        outdir=str(tmp_path),
    )
    warnings = [str(entry.data) for entry in stack.node.metadata if entry.type == "aws:cdk:warning"]
    assert len(warnings) == 1
    assert "'v2FilesInFlight' applies to Greengrass v2 stacks only" in warnings[0]
    assert "greengrass=v1" in warnings[0]
