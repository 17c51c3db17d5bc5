"""CreateDeployment: the API model's rules, the target, client tokens (8 hours), tags."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import GreengrassV2Emulator

from .conftest import ACCOUNT, COMPONENTS, Fleet, deploy, error_of, group_arn, thing_arn, unchecked

EIGHT_HOURS = 8 * 3600

INVALID: dict[str, dict[str, Any]] = {
    "deploymentName over 256": {"deploymentName": "n" * 257},
    "deploymentName empty": {"deploymentName": ""},
    "componentVersion over 64": {"components": {"com.x": {"componentVersion": "1" * 65}}},
    "componentVersion missing": {"components": {"com.x": {}}},
    "component name over 128": {"components": {"c" * 129: {"componentVersion": "1.0.0"}}},
    "failureHandlingPolicy not in the enum": {"deploymentPolicies": {"failureHandlingPolicy": "RETRY"}},
    "update policy action not in the enum": {
        "deploymentPolicies": {"componentUpdatePolicy": {"action": "NOW"}}
    },
    "maximumPerMinute over 1000": {
        "iotJobConfiguration": {"jobExecutionsRolloutConfig": {"maximumPerMinute": 1001}}
    },
    "thresholdPercentage over 100": {
        "iotJobConfiguration": {
            "abortConfig": {
                "criteriaList": [
                    {
                        "failureType": "FAILED",
                        "action": "CANCEL",
                        "thresholdPercentage": 101.0,
                        "minNumberOfExecutedThings": 1,
                    }
                ]
            }
        }
    },
    "abort criteria list empty": {"iotJobConfiguration": {"abortConfig": {"criteriaList": []}}},
    "timeout over 7 days (IoT CreateJob)": {
        "iotJobConfiguration": {"timeoutConfig": {"inProgressTimeoutInMinutes": 10081}}
    },
    "incrementFactor 1.05 (IoT CreateJob)": {
        "iotJobConfiguration": {
            "jobExecutionsRolloutConfig": {
                "exponentialRate": {
                    "baseRatePerMinute": 10,
                    "incrementFactor": 1.05,
                    "rateIncreaseCriteria": {"numberOfNotifiedThings": 5},
                }
            }
        }
    },
    "both rate increase criteria": {
        "iotJobConfiguration": {
            "jobExecutionsRolloutConfig": {
                "exponentialRate": {
                    "baseRatePerMinute": 10,
                    "incrementFactor": 2.0,
                    "rateIncreaseCriteria": {"numberOfNotifiedThings": 5, "numberOfSucceededThings": 5},
                }
            }
        }
    },
    "merge is not a JSON object": {
        "components": {"com.x": {"componentVersion": "1.0.0", "configurationUpdate": {"merge": "[1, 2]"}}}
    },
    "reset entry is not a JSON pointer": {
        "components": {"com.x": {"componentVersion": "1.0.0", "configurationUpdate": {"reset": ["level"]}}}
    },
    "201 tags": {"tags": {f"k{i}": "v" for i in range(201)}},
    "tag key over 128": {"tags": {"k" * 129: "v"}},
    "tag value over 256": {"tags": {"k": "v" * 257}},
    "clientToken with an underscore": {"clientToken": "token_1"},
    "clientToken over 64": {"clientToken": "t" * 65},
    "parentTargetArn not a thing group": {"parentTargetArn": thing_arn("core")},
}


@pytest.mark.parametrize("extra", INVALID.values(), ids=INVALID.keys())
def test_requests_that_break_the_model_are_refused(
    emulator: GreengrassV2Emulator, fleet: Fleet, extra: dict[str, Any]
) -> None:
    target = fleet.group("fleet", "core")
    gg = unchecked("greengrassv2", emulator)
    with pytest.raises(ClientError) as exc_info:
        gg.create_deployment(**{"targetArn": target, "components": COMPONENTS, **extra})
    assert error_of(exc_info) == ("ValidationException", 400)
    response = exc_info.value.response
    assert response["reason"] == "FIELD_VALIDATION_FAILED"
    assert response["Error"]["Message"].startswith("1 validation error detected: Value ")
    assert gg.list_deployments(historyFilter="ALL")["deployments"] == []


def test_a_missing_target_is_a_validation_error_with_its_field(emulator: GreengrassV2Emulator) -> None:
    with pytest.raises(ClientError) as exc_info:
        unchecked("greengrassv2", emulator).create_deployment(components=COMPONENTS)
    assert error_of(exc_info) == ("ValidationException", 400)
    assert exc_info.value.response["fields"] == [
        {
            "name": "targetArn",
            "message": "Value null at 'targetArn' failed to satisfy constraint: Member must not be null",
        }
    ]


@pytest.mark.parametrize(
    "target",
    ["arn:aws:iot:us-east-1:123456789012:thingx/core", "arn:aws:s3:::bucket", "core"],
)
def test_a_target_arn_must_name_a_thing_or_thing_group(emulator: GreengrassV2Emulator, target: str) -> None:
    with pytest.raises(ClientError) as exc_info:
        unchecked("greengrassv2", emulator).create_deployment(targetArn=target, components=COMPONENTS)
    assert error_of(exc_info) == ("ValidationException", 400)


def test_the_checks_beyond_the_model_can_be_switched_off(
    emulator: GreengrassV2Emulator, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    emulator.configure(iot_job_limits=False, check_configuration_json=False)
    gg = unchecked("greengrassv2", emulator)
    for name in (
        "timeout over 7 days (IoT CreateJob)",
        "incrementFactor 1.05 (IoT CreateJob)",
        "merge is not a JSON object",
    ):
        assert gg.create_deployment(**{"targetArn": target, "components": COMPONENTS, **INVALID[name]})[
            "deploymentId"
        ]


@pytest.mark.parametrize(
    "target",
    [
        thing_arn("ghost"),
        group_arn("ghosts"),
        f"arn:aws:iot:eu-west-1:{ACCOUNT}:thing/core",
        "arn:aws:iot:us-east-1:210987654321:thing/core",
    ],
    ids=["no such thing", "no such group", "other region", "other account"],
)
def test_the_target_must_exist_in_this_account_and_region(gg: Any, fleet: Fleet, target: str) -> None:
    fleet.things("core")
    with pytest.raises(ClientError) as exc_info:
        deploy(gg, target)
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)
    assert exc_info.value.response["resourceId"] == target


def test_created_answers_201_with_the_job(gg: Any, fleet: Fleet) -> None:
    answer = deploy(gg, fleet.group("fleet", "core"))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert answer["iotJobArn"] == f"arn:aws:iot:us-east-1:{ACCOUNT}:job/{answer['iotJobId']}"
    assert gg.get_deployment(deploymentId=answer["deploymentId"])["iotJobId"] == answer["iotJobId"]


def test_the_same_client_token_is_the_same_deployment(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    first = deploy(gg, target, clientToken="file-1-target-1")
    again = deploy(gg, target, clientToken="file-1-target-1")
    assert (again["deploymentId"], again["iotJobId"]) == (first["deploymentId"], first["iotJobId"])
    assert len(gg.list_deployments(historyFilter="ALL")["deployments"]) == 1
    counts = emulator.create_counts()
    assert counts["by_client_token"] == {"file-1-target-1": 2}
    assert counts["created_by_target"] == {target: 1}


def test_a_client_token_is_remembered_for_8_hours(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    first = deploy(gg, target, clientToken="tok")["deploymentId"]
    emulator.advance_clock(EIGHT_HOURS - 1)
    assert deploy(gg, target, clientToken="tok")["deploymentId"] == first
    emulator.advance_clock(1)
    second = deploy(gg, target, clientToken="tok")["deploymentId"]
    assert second != first
    assert [d["deploymentId"] for d in gg.list_deployments(historyFilter="ALL")["deployments"]] == [
        second,
        first,
    ]


def test_a_client_idempotency_mismatchd_with_other_parameters(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    first = deploy(gg, target, clientToken="tok")["deploymentId"]
    with pytest.raises(ClientError) as exc_info:
        deploy(gg, target, clientToken="tok", deploymentName="other")
    assert error_of(exc_info) == ("ConflictException", 409)
    emulator.configure(idempotency_mismatch="replay")
    assert deploy(gg, target, clientToken="tok", deploymentName="other")["deploymentId"] == first


def test_a_failed_request_does_not_use_up_its_token(gg: Any, fleet: Fleet) -> None:
    with pytest.raises(ClientError):
        deploy(gg, group_arn("fleet"), clientToken="tok")
    target = fleet.group("fleet", "core")
    assert deploy(gg, target, clientToken="tok")["deploymentId"]


def test_tags_are_kept_on_the_deployment(gg: Any, fleet: Fleet) -> None:
    answer = deploy(gg, fleet.group("fleet", "core"), tags={"bulk-deployer:token": "abc"})
    arn = f"arn:aws:greengrass:us-east-1:{ACCOUNT}:deployments:{answer['deploymentId']}"
    assert gg.get_deployment(deploymentId=answer["deploymentId"])["tags"] == {"bulk-deployer:token": "abc"}
    assert gg.list_tags_for_resource(resourceArn=arn)["tags"] == {"bulk-deployer:token": "abc"}
    gg.tag_resource(resourceArn=arn, tags={"more": "1"})
    gg.untag_resource(resourceArn=arn, tagKeys=["bulk-deployer:token"])
    assert gg.list_tags_for_resource(resourceArn=arn)["tags"] == {"more": "1"}
    with pytest.raises(ClientError) as exc_info:
        gg.list_tags_for_resource(resourceArn=f"arn:aws:greengrass:us-east-1:{ACCOUNT}:deployments:nope")
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)


def test_the_spec_comes_back_with_the_policy_defaults(gg: Any, fleet: Fleet) -> None:
    answer = deploy(
        gg, fleet.group("fleet", "core"), deploymentPolicies={"failureHandlingPolicy": "DO_NOTHING"}
    )
    found = gg.get_deployment(deploymentId=answer["deploymentId"])
    assert found["components"] == COMPONENTS
    assert found["deploymentPolicies"] == {
        "failureHandlingPolicy": "DO_NOTHING",
        "componentUpdatePolicy": {"timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS"},
        "configurationValidationPolicy": {"timeoutInSeconds": 30},
    }
