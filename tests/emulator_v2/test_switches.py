"""Fault switches, the HTTP control surface, start and stop."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import EmulatorV2ControlClient, GreengrassV2Emulator
from local.greengrass_v2_emulator.service import HANDLERS

from .conftest import Fleet, client, deploy, error_of, executions, no_retry


@pytest.mark.parametrize(
    ("inject", "code", "status"),
    [
        ("conflict", "ConflictException", 409),
        ("already_in_progress", "RequestAlreadyInProgressException", 400),
    ],
)
def test_the_next_creates_answer_an_error_and_create_nothing(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet, inject: str, code: str, status: int
) -> None:
    target = fleet.group("fleet", "core")
    getattr(emulator, inject)(times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as exc_info:
            deploy(gg, target, clientToken="tok")
        assert error_of(exc_info) == (code, status)
    assert gg.list_deployments(historyFilter="ALL")["deployments"] == []
    assert deploy(gg, target, clientToken="tok")["deploymentId"]
    assert emulator.create_counts()["created_by_target"] == {target: 1}


def test_already_in_progress_after_the_work_is_found_again_by_its_token(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    emulator.already_in_progress(after_work=True)
    with pytest.raises(ClientError):
        deploy(gg, target, clientToken="tok")
    [created] = gg.list_deployments()["deployments"]
    assert deploy(gg, target, clientToken="tok")["deploymentId"] == created["deploymentId"]


def test_a_lost_answer_is_retried_by_botocore_into_the_same_deployment(
    emulator: GreengrassV2Emulator, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    emulator.lose_response()
    gg = client("greengrassv2", emulator.url, retries={"mode": "standard", "max_attempts": 3})
    answer = deploy(gg, target, clientToken="tok")
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    calls = emulator.calls(operation="CreateDeployment")
    assert [(c.outcome, c.answer_lost, c.created) for c in calls] == [
        ("InternalServerException", True, True),
        ("ok", False, False),
    ]
    assert [d["deploymentId"] for d in gg.list_deployments()["deployments"]] == [answer["deploymentId"]]


def test_faults_name_errors_the_operation_can_answer(emulator: GreengrassV2Emulator) -> None:
    with pytest.raises(ValueError, match="does not answer"):
        emulator.fail("GetDeployment", "ConflictException")
    with pytest.raises(ValueError, match="unknown operation"):
        emulator.fail("StartDeployment", "ConflictException")
    with pytest.raises(ValueError, match="unknown setting"):
        emulator.configure(token_ttl=5)


def test_other_operations_can_fail_too(emulator: GreengrassV2Emulator, fleet: Fleet) -> None:
    job_id = deploy(client("greengrassv2", emulator.url), fleet.group("fleet", "core"))["iotJobId"]
    emulator.fail("DescribeJob", "ServiceUnavailableException", service="iot")
    with pytest.raises(ClientError) as exc_info:
        no_retry("iot", emulator).describe_job(jobId=job_id)
    assert error_of(exc_info) == ("ServiceUnavailableException", 503)


def test_http_control_surface(emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet) -> None:
    control = EmulatorV2ControlClient(emulator.url)
    assert control.health()
    assert control.configure(apply_seconds=10)["apply_seconds"] == 10
    with pytest.raises(RuntimeError, match="unknown setting"):
        control.configure(nope=1)
    target = fleet.group("fleet", "good", "bad:one")
    assert (
        control.set_device("bad:one", "failing", error_types=["DEVICE_ERROR"])["behaviour"]["kind"]
        == "failing"
    )
    control.add_fault("CreateDeployment", "ConflictException")
    with pytest.raises(ClientError):
        deploy(gg, target, clientToken="tok")
    job_id = deploy(gg, target, clientToken="tok")["iotJobId"]
    control.advance_clock(12)  # rollout 0.06 s + pickup 1 s + apply 10 s
    assert executions(iot, job_id) == {"good": "SUCCEEDED", "bad:one": "FAILED"}
    assert control.devices()["bad:one"]["status"] == "HEALTHY"  # rolled back
    assert [c["outcome"] for c in control.calls(operation="CreateDeployment")] == ["ConflictException", "ok"]
    assert control.call_counts()["CreateDeployment"] == {"ConflictException": 1, "ok": 1}
    assert control.create_counts()["by_client_token"] == {"tok": 2}
    control.forget_tokens()
    assert deploy(gg, target, clientToken="tok")["iotJobId"] != job_id
    control.add_fault("CreateDeployment", "InternalServerException", times=None)
    control.clear_faults()
    control.reset()
    assert control.devices() == {}
    assert control.calls() == []


def test_unknown_paths_and_a_system_clock(emulator: GreengrassV2Emulator) -> None:
    with pytest.raises(urllib.request.HTTPError) as exc_info:
        urllib.request.urlopen(emulator.url + "/greengrass/v2/nothing-here")
    assert exc_info.value.code == 404
    assert exc_info.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    with GreengrassV2Emulator() as on_system_clock, pytest.raises(RuntimeError, match="409"):
        EmulatorV2ControlClient(on_system_clock.url).advance_clock(1)


def test_an_emulator_bug_is_answered_as_an_internal_error(
    emulator: GreengrassV2Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setitem(HANDLERS["greengrassv2"], "ListDeployments", broken)
    with pytest.raises(ClientError) as exc_info:
        no_retry("greengrassv2", emulator).list_deployments()
    assert error_of(exc_info) == ("InternalServerException", 500)
    assert "RuntimeError('bug')" in exc_info.value.response["Error"]["Message"]
    assert emulator.call_counts()["ListDeployments"] == {"InternalServerException": 1}


def test_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        GreengrassV2Emulator(host="0.0.0.0")


def test_runs_as_a_process() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.greengrass_v2_emulator", "--manual-clock", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        assert ready[0] == "READY"
        control = EmulatorV2ControlClient(ready[1])
        assert control.health()
        assert control.advance_clock(5) > 0
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_endpoints_from_the_environment(
    emulator: GreengrassV2Emulator, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore honours AWS_ENDPOINT_URL_<SERVICE>: the product needs no endpoint parameter."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_GREENGRASSV2", emulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT", emulator.url)
    session = boto3.session.Session()
    target = session.client("iot").create_thing_group(thingGroupName="fleet")["thingGroupArn"]
    assert deploy(session.client("greengrassv2"), target)["deploymentId"]


def test_every_handler_answers_an_operation_of_its_service_model() -> None:
    """Handlers name their operation by their function name: a misspelt one would answer nothing."""
    import botocore.session

    session = botocore.session.get_session()
    for service, handlers in HANDLERS.items():
        assert set(handlers) <= set(session.get_service_model(service).operation_names), service
        assert len(handlers) == 12, service


def test_refuse_answers_one_targets_creates_with_the_error_and_lets_the_others_through(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    refused, other = fleet.group("refused", "core-r"), fleet.group("other", "core-o")
    emulator.refuse(refused)
    for _ in range(2):  # until cleared, not once
        with pytest.raises(ClientError) as exc_info:
            deploy(gg, refused, clientToken="tok-r")
        assert error_of(exc_info) == ("ValidationException", 400)
        assert refused in exc_info.value.response["Error"]["Message"]
    assert deploy(gg, other, clientToken="tok-o")["deploymentId"]
    assert emulator.create_counts()["created_by_target"] == {other: 1}
    emulator.clear_faults()
    control = EmulatorV2ControlClient(emulator.url)
    control.refuse(other, "AccessDeniedException", times=1)
    with pytest.raises(ClientError) as exc_info:
        deploy(gg, other, clientToken="tok-o2")
    assert error_of(exc_info) == ("AccessDeniedException", 403)
    assert deploy(gg, refused, clientToken="tok-r")["deploymentId"]
    assert deploy(gg, other, clientToken="tok-o2")["deploymentId"]
