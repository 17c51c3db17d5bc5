"""StartBulkDeployment: idempotency, concurrency, roles, URIs and the error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_emulator import GreengrassEmulator

from .conftest import REGION, TRUST_GREENGRASS, World, client_for, status_of, uri, wait_status


def start(gg: Any, role: str, input_uri: str, token: str | None = None, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"ExecutionRoleArn": role, "InputFileUri": input_uri, **extra}
    if token is not None:
        kwargs["AmznClientToken"] = token
    answer: dict[str, Any] = gg.start_bulk_deployment(**kwargs)
    return answer


def bad_request(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    response = exc_info.value.response
    assert response["Error"]["Code"] == "BadRequestException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message: str = response["Error"]["Message"]
    assert message
    return message


def test_same_token_same_parameters_is_the_same_bulk_deployment(
    gg: Any, world: World, emulator: GreengrassEmulator
) -> None:
    role = world.role()
    input_uri = world.upload_records("a.jsonl", world.groups(1))
    first = start(gg, role, input_uri, "token-1", tags={"k": "v"})
    second = start(gg, role, input_uri, "token-1", tags={"k": "v"})
    assert first["BulkDeploymentId"] == second["BulkDeploymentId"]
    assert first["BulkDeploymentArn"] == second["BulkDeploymentArn"]
    assert first["BulkDeploymentArn"].startswith(
        f"arn:aws:greengrass:{REGION}:123456789012:/greengrass/bulk/deployments/"
    )
    wait_status(gg, first["BulkDeploymentId"], "Completed")
    third = start(gg, role, input_uri, "token-1", tags={"k": "v"})  # also once terminal
    assert third["BulkDeploymentId"] == first["BulkDeploymentId"]
    assert emulator.start_calls(client_token="token-1") == 3
    assert len(emulator.deployments(input_uri=input_uri)) == 1
    assert emulator.start_counts()["created_by_input_uri"] == {input_uri: 1}


@pytest.mark.parametrize(
    "change",
    [{"InputFileUri": uri("other.jsonl")}, {"tags": {"k": "other"}}, {"ExecutionRoleArn": "second-role"}],
)
def test_same_token_other_parameters_is_rejected(gg: Any, world: World, change: dict[str, Any]) -> None:
    role = world.role()
    second_role = world.role("second")
    input_uri = world.upload_records("a.jsonl", world.groups(1))
    start(gg, role, input_uri, "token-1", tags={"k": "v"})
    kwargs: dict[str, Any] = {
        "ExecutionRoleArn": role,
        "InputFileUri": input_uri,
        "tags": {"k": "v"},
        **change,
    }
    if kwargs["ExecutionRoleArn"] == "second-role":
        kwargs["ExecutionRoleArn"] = second_role
    with pytest.raises(ClientError) as exc_info:
        gg.start_bulk_deployment(AmznClientToken="token-1", **kwargs)
    assert "different parameters" in bad_request(exc_info)


def test_concurrent_start_is_rejected_until_terminal(make_emulator: Any, world: World) -> None:
    emulator = make_emulator(manual_clock=True)
    gg = client_for(emulator)
    role = world.role()
    first_uri = world.upload_records("a.jsonl", world.groups(2))
    second_uri = world.upload_records("b.jsonl", world.groups(1))
    first = start(gg, role, first_uri, "t1")
    with pytest.raises(ClientError) as exc_info:
        start(gg, role, second_uri, "t2")
    assert "in progress" in bad_request(exc_info)
    assert emulator.calls(operation="StartBulkDeployment", outcome="BadRequest")[0].client_token == "t2"
    emulator.advance_clock(0.051)  # Initializing -> Running: still one at a time
    with pytest.raises(ClientError):
        start(gg, role, second_uri, "t2")
    emulator.advance_clock(1)
    assert status_of(gg, first["BulkDeploymentId"]) == "Completed"
    second = start(gg, role, second_uri, "t2")  # the rejected token was not remembered
    assert second["BulkDeploymentId"] != first["BulkDeploymentId"]


def test_without_a_token_every_start_is_new(gg: Any, world: World) -> None:
    role = world.role()
    input_uri = world.upload_records("a.jsonl", world.groups(1))
    first = start(gg, role, input_uri)
    wait_status(gg, first["BulkDeploymentId"], "Completed")
    second = start(gg, role, input_uri)
    assert second["BulkDeploymentId"] != first["BulkDeploymentId"]


def test_missing_role_is_rejected(gg: Any, world: World) -> None:
    input_uri = world.upload_records("a.jsonl", world.groups(1))
    with pytest.raises(ClientError) as exc_info:
        start(gg, "arn:aws:iam::123456789012:role/service/nope", input_uri, "t")
    assert "cannot assume" in bad_request(exc_info)


def test_role_that_does_not_trust_greengrass_is_rejected(gg: Any, world: World) -> None:
    trust = json.loads(json.dumps(TRUST_GREENGRASS).replace("greengrass.amazonaws", "lambda.amazonaws"))
    role = world.role(trust=trust)
    input_uri = world.upload_records("a.jsonl", world.groups(1))
    with pytest.raises(ClientError) as exc_info:
        start(gg, role, input_uri, "t")
    assert "trust policy" in bad_request(exc_info)


def test_role_path_must_match(gg: Any, world: World) -> None:
    world.role()  # created under /service/
    input_uri = world.upload_records("a.jsonl", world.groups(1))
    with pytest.raises(ClientError) as exc_info:
        start(gg, "arn:aws:iam::123456789012:role/bulk-deploy", input_uri, "t")
    bad_request(exc_info)


@pytest.mark.parametrize("source_context", [True, False])
def test_trust_condition_on_source_account_is_a_switch(
    make_emulator: Any, world: World, source_context: bool
) -> None:
    trust = json.loads(json.dumps(TRUST_GREENGRASS))
    trust["Statement"][0]["Condition"] = {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": f"arn:aws:greengrass:{REGION}:123456789012:*"},
    }
    role = world.role(trust=trust)
    emulator = make_emulator(trust_source_context=source_context)
    gg = client_for(emulator)
    input_uri = world.upload_records("a.jsonl", world.groups(1))
    if source_context:
        assert start(gg, role, input_uri, "t")["BulkDeploymentId"]
    else:
        with pytest.raises(ClientError) as exc_info:
            start(gg, role, input_uri, "t")
        bad_request(exc_info)


@pytest.mark.parametrize(
    "bad_uri",
    [
        "s3://bulk-input/a.jsonl",
        "http://bulk-input.s3.us-east-1.amazonaws.com/a.jsonl",
        "https://s3.us-east-1.amazonaws.com/bulk-input/a.jsonl",  # path style: not documented
        "https://bulk-input.s3.us-east-1.amazonaws.com/a b.jsonl",  # not percent-encoded
        "https://bulk-input.s3.us-east-1.amazonaws.com/",
        "https://bulk-input.s3.us-east-1.example.com/a.jsonl",
    ],
)
def test_input_file_uri_must_be_the_objects_https_url(gg: Any, world: World, bad_uri: str) -> None:
    role = world.role()
    with pytest.raises(ClientError) as exc_info:
        start(gg, role, bad_uri, "t")
    assert "InputFileUri" in bad_request(exc_info)


@pytest.mark.parametrize(
    "template",
    [
        "https://bulk-input.s3.us-east-1.amazonaws.com/{key}",
        "https://bulk-input.s3-us-east-1.amazonaws.com/{key}",  # the documented legacy form
    ],
)
def test_percent_encoded_keys_in_both_host_forms(gg: Any, world: World, template: str) -> None:
    role = world.role()
    key = "incoming/red flower+1 é.jsonl"
    world.upload_records(key, world.groups(1))
    encoded = uri(key).split("amazonaws.com/", 1)[1]
    answer = start(gg, role, template.format(key=encoded), "t")
    status = wait_status(gg, answer["BulkDeploymentId"], "Completed", "Failed")
    assert status["BulkDeploymentStatus"] == "Completed", status.get("ErrorMessage")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"AmznClientToken": "x" * 65}, "Client-Token"),
        ({"AmznClientToken": "tökén"}, "Client-Token"),
        ({"ExecutionRoleArn": "not-an-arn"}, "ExecutionRoleArn"),
        ({"ExecutionRoleArn": ""}, "ExecutionRoleArn"),
    ],
)
def test_parameter_checks(gg: Any, world: World, kwargs: dict[str, Any], expected: str) -> None:
    params = {"ExecutionRoleArn": world.role(), "InputFileUri": uri("a.jsonl"), **kwargs}
    with pytest.raises(ClientError) as exc_info:
        gg.start_bulk_deployment(**params)
    assert expected in bad_request(exc_info)


def test_unknown_bulk_deployment_is_a_bad_request(gg: Any) -> None:
    for call in (
        lambda: gg.get_bulk_deployment_status(BulkDeploymentId="nope"),
        lambda: gg.list_bulk_deployment_detailed_reports(BulkDeploymentId="nope"),
        lambda: gg.stop_bulk_deployment(BulkDeploymentId="nope"),
    ):
        with pytest.raises(ClientError) as exc_info:
            call()
        assert "does not exist" in bad_request(exc_info)
