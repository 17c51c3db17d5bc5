"""Switches for what the documentation does not say, faults, and the control surfaces."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_emulator import EmulatorControlClient, GreengrassEmulator

from .conftest import World, client_for, status_of


def start(gg: Any, world: World, key: str, token: str | None = "tok") -> str:
    kwargs = {"AmznClientToken": token} if token else {}
    bulk_id: str = gg.start_bulk_deployment(
        ExecutionRoleArn=world.role(), InputFileUri=world.upload_records(key, []), **kwargs
    )["BulkDeploymentId"]
    return bulk_id


def test_tokens_are_forgotten_after_the_ttl(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(manual_clock=True, token_ttl_seconds=60)
    gg = client_for(emulator)
    first = start(gg, world, "a.jsonl")
    emulator.advance_clock(59)
    assert start(gg, world, "a.jsonl") == first
    emulator.advance_clock(1)
    second = start(gg, world, "a.jsonl")  # same token, same parameters: a second bulk deployment
    assert second != first
    assert len(emulator.deployments(client_token="tok")) == 2


def test_forget_tokens_now(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(manual_clock=True)
    gg = client_for(emulator)
    first = start(gg, world, "a.jsonl")
    emulator.forget_tokens()
    with pytest.raises(ClientError) as exc_info:  # first still Initializing: now a concurrency error
        start(gg, world, "a.jsonl")
    assert exc_info.value.response["Error"]["Code"] == "BadRequestException"
    emulator.advance_clock(1)
    assert start(gg, world, "a.jsonl") != first


def test_concurrency_message_varies(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(manual_clock=True)
    emulator.configure(concurrency_messages=["One is running.", "ConcurrentDeploymentException: busy"])
    gg = client_for(emulator)
    start(gg, world, "a.jsonl")
    messages = []
    for _ in range(3):
        with pytest.raises(ClientError) as exc_info:
            start(gg, world, "b.jsonl", token=None)
        messages.append(exc_info.value.response["Error"]["Message"])
    assert messages == ["One is running.", "ConcurrentDeploymentException: busy", "One is running."]


@pytest.mark.parametrize("code", ["TooManyRequestsException", "ThrottlingException"])
def test_throttling_is_retried_by_botocore(
    world: World, emulator: GreengrassEmulator, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gg = client_for(emulator, retries={"mode": "standard", "max_attempts": 3})
    emulator.throttle("StartBulkDeployment", times=1, code=code)
    answer = gg.start_bulk_deployment(
        AmznClientToken="tok", ExecutionRoleArn=world.role(), InputFileUri=world.upload_records("a.jsonl", [])
    )
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert [c.outcome for c in emulator.calls(operation="StartBulkDeployment")] == ["throttled", "ok"]
    assert emulator.start_calls(client_token="tok") == 2


def test_throttling_seen_by_a_client_that_does_not_retry(world: World, emulator: GreengrassEmulator) -> None:
    gg = client_for(emulator, retries={"mode": "standard", "total_max_attempts": 1})
    bulk_id = start(gg, world, "a.jsonl")
    emulator.throttle("GetBulkDeploymentStatus", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as exc_info:
            gg.get_bulk_deployment_status(BulkDeploymentId=bulk_id)
        assert exc_info.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert status_of(gg, bulk_id)  # the third call goes through
    emulator.throttle("*", times=None)
    with pytest.raises(ClientError):
        gg.list_bulk_deployments()
    emulator.clear_faults()
    assert gg.list_bulk_deployments()["BulkDeployments"]


def test_server_errors_are_retried(world: World, emulator: GreengrassEmulator) -> None:
    gg = client_for(emulator, retries={"mode": "standard", "max_attempts": 3})
    emulator.fail("ListBulkDeployments", times=1, status=503)
    answer = gg.list_bulk_deployments()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert [c.outcome for c in emulator.calls(operation="ListBulkDeployments")] == ["error", "ok"]


def test_lost_response_then_retry_with_the_same_token_is_one_bulk_deployment(
    world: World, emulator: GreengrassEmulator
) -> None:
    gg = client_for(emulator, retries={"mode": "standard", "max_attempts": 3})
    emulator.lose_response("StartBulkDeployment")
    input_uri = world.upload_records("a.jsonl", [])
    answer = gg.start_bulk_deployment(
        AmznClientToken="tok", ExecutionRoleArn=world.role(), InputFileUri=input_uri
    )
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert [d["BulkDeploymentId"] for d in emulator.deployments(input_uri=input_uri)] == [
        answer["BulkDeploymentId"]
    ]
    calls = emulator.calls(operation="StartBulkDeployment")
    assert [(c.outcome, c.created) for c in calls] == [("lost_response", True), ("ok", False)]


def test_slow_responses(world: World, emulator: GreengrassEmulator) -> None:
    gg = client_for(emulator)
    emulator.delay("ListBulkDeployments", seconds=0.3, times=1)
    began = time.monotonic()
    gg.list_bulk_deployments()
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    gg.list_bulk_deployments()
    assert time.monotonic() - began < 0.3


def test_unknown_switch_is_refused(emulator: GreengrassEmulator) -> None:
    with pytest.raises(ValueError, match="unknown setting"):
        emulator.configure(token_ttl=5)
    with pytest.raises(ValueError, match="unknown operation"):
        emulator.throttle("StartDeployment")


def test_http_control_surface(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(manual_clock=True)
    control = EmulatorControlClient(emulator.url)
    gg = client_for(emulator, retries={"mode": "standard", "total_max_attempts": 1})
    assert control.health()
    assert control.configure(token_ttl_seconds=10, failing_groups=["g1"])["failing_groups"] == ["g1"]
    assert emulator.config.token_ttl_seconds == 10
    with pytest.raises(RuntimeError, match="unknown setting"):
        control.configure(nope=1)

    input_uri = world.upload_records("a.jsonl", [])
    role = world.role()
    control.throttle("StartBulkDeployment", times=1)
    with pytest.raises(ClientError):
        gg.start_bulk_deployment(AmznClientToken="tok", ExecutionRoleArn=role, InputFileUri=input_uri)
    first = gg.start_bulk_deployment(AmznClientToken="tok", ExecutionRoleArn=role, InputFileUri=input_uri)
    control.add_fault("ListBulkDeployments", "error", times=1, status=500)
    assert len(control.calls(operation="StartBulkDeployment")) == 2
    assert [c["outcome"] for c in control.calls(client_token="tok")] == ["throttled", "ok"]
    counts = control.start_counts()
    assert counts["by_client_token"] == {"tok": 2}
    assert counts["by_input_uri"] == {input_uri: 2}
    assert counts["created_by_input_uri"] == {input_uri: 1}

    [snapshot] = control.deployments(input_uri=input_uri)
    assert (snapshot["BulkDeploymentId"], snapshot["BulkDeploymentStatus"]) == (
        first["BulkDeploymentId"],
        "Initializing",
    )
    control.advance_clock(5)
    assert control.deployments()[0]["BulkDeploymentStatus"] == "Completed"

    control.forget_tokens()
    assert (
        gg.start_bulk_deployment(AmznClientToken="tok", ExecutionRoleArn=role, InputFileUri=input_uri)[
            "BulkDeploymentId"
        ]
        != first["BulkDeploymentId"]
    )
    control.clear_faults()
    assert gg.list_bulk_deployments()["BulkDeployments"]  # the 500 fault was cleared
    control.reset()
    assert control.deployments() == []
    assert control.calls() == []


def test_clock_advance_over_http_needs_a_manual_clock(emulator: GreengrassEmulator) -> None:
    with pytest.raises(RuntimeError, match="409"):
        EmulatorControlClient(emulator.url).advance_clock(1)


def test_without_the_ticker_time_is_applied_on_requests(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(tick_seconds=0)
    gg = client_for(emulator)
    group_id, version_id = world.group()
    bulk_id = gg.start_bulk_deployment(
        ExecutionRoleArn=world.role(), InputFileUri=world.upload_records("a.jsonl", [(group_id, version_id)])
    )["BulkDeploymentId"]
    time.sleep(0.2)
    assert world.moto_gg.list_deployments(GroupId=group_id)["Deployments"] == []  # nobody asked yet
    assert status_of(gg, bulk_id) == "Completed"
    assert len(world.moto_gg.list_deployments(GroupId=group_id)["Deployments"]) == 1


def test_identity_and_page_size_switches(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(account_id="111122223333", default_page_size=2)
    gg = client_for(emulator)
    for key in ("a.jsonl", "b.jsonl", "c.jsonl"):
        start(gg, world, key, token=key)
        time.sleep(0.1)  # 0 records: Completed after init_seconds
    page = gg.list_bulk_deployments()
    assert len(page["BulkDeployments"]) == 2 and page["NextToken"]
    assert page["BulkDeployments"][0]["BulkDeploymentArn"].startswith(
        "arn:aws:greengrass:us-east-1:111122223333:"
    )
