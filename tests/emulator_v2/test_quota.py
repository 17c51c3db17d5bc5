"""The shared 30 requests/s Greengrass V2 quota, the IoT API rates, and the call counters."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import GreengrassV2Emulator

from .conftest import Fleet, client, deploy, error_of, no_retry


def test_every_greengrass_call_shares_30_requests_per_second(
    emulator: GreengrassV2Emulator, fleet: Fleet
) -> None:
    gg = no_retry("greengrassv2", emulator)
    deployment_id = deploy(gg, fleet.group("fleet", "core"))["deploymentId"]
    for index in range(29):  # 1 + 29 = 30 calls in the same instant, over three operations
        if index % 2:
            gg.get_deployment(deploymentId=deployment_id)
        else:
            gg.list_deployments()
    with pytest.raises(ClientError) as exc_info:
        gg.get_core_device(coreDeviceThingName="core")
    assert error_of(exc_info) == ("ThrottlingException", 429)
    assert exc_info.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    emulator.advance_clock(0.1)  # 3 tokens back
    for _ in range(3):
        gg.list_deployments()
    with pytest.raises(ClientError):
        gg.list_deployments()
    assert emulator.call_counts()["ListDeployments"] == {"ok": 18, "ThrottlingException": 1}


def test_the_iot_calls_do_not_use_the_greengrass_quota(emulator: GreengrassV2Emulator, fleet: Fleet) -> None:
    gg, iot = no_retry("greengrassv2", emulator), no_retry("iot", emulator)
    job_id = deploy(gg, fleet.group("fleet", "core"))["iotJobId"]
    for _ in range(10):
        iot.describe_job(jobId=job_id)
    with pytest.raises(ClientError) as exc_info:
        iot.describe_job(jobId=job_id)
    assert error_of(exc_info) == ("ThrottlingException", 400)  # as the IoT model says
    assert iot.list_job_executions_for_job(jobId=job_id)["executionSummaries"]  # its own bucket
    for _ in range(29):
        gg.list_deployments()


def test_botocore_retries_a_throttled_call(emulator: GreengrassV2Emulator, fleet: Fleet) -> None:
    target = fleet.group("fleet", "core")
    for mode in ("standard", "legacy"):
        emulator.throttle("CreateDeployment", times=1)
        gg = client("greengrassv2", emulator.url, retries={"mode": mode, "max_attempts": 2})
        assert deploy(gg, target, clientToken=f"tok-{mode}")["ResponseMetadata"]["RetryAttempts"] == 1
    outcomes = [c.outcome for c in emulator.calls(operation="CreateDeployment")]
    assert outcomes == ["ThrottlingException", "ok"] * 2


def test_limits_are_settings(emulator: GreengrassV2Emulator, fleet: Fleet) -> None:
    emulator.configure(greengrass_rate=2.0)
    gg = no_retry("greengrassv2", emulator)
    gg.list_deployments()
    gg.list_deployments()
    with pytest.raises(ClientError):
        gg.list_deployments()
    emulator.configure(enforce_quotas=False)
    for _ in range(50):
        gg.list_deployments()


def test_call_counters_per_operation_and_per_create(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    deploy(gg, target, clientToken="a")
    deploy(gg, target, clientToken="a")
    deploy(gg, target, clientToken="b")
    counts = emulator.call_counts()
    assert counts["CreateDeployment"] == {"ok": 3}
    assert counts["CreateThingGroup"] == {"ok": 1}
    creates = emulator.create_counts()
    assert creates == {
        "by_client_token": {"a": 2, "b": 1},
        "by_target": {target: 3},
        "created_by_target": {target: 2},
    }
    assert [c.created for c in emulator.calls(operation="CreateDeployment", client_token="a")] == [
        True,
        False,
    ]


def _storm_outcomes(emulator: GreengrassV2Emulator, calls: int) -> list[bool]:
    """Whether each of `calls` calls (alternating greengrassv2 and iot) was throttled."""
    gg, iot = no_retry("greengrassv2", emulator), no_retry("iot", emulator)
    throttled = []
    for index in range(calls):
        try:
            if index % 2:
                iot.describe_thing(thingName="core")
            else:
                gg.list_deployments()
            throttled.append(False)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ThrottlingException"
            throttled.append(True)
    return throttled


def test_a_storm_throttles_its_share_of_every_call_whatever_the_quota(
    emulator: GreengrassV2Emulator, fleet: Fleet
) -> None:
    fleet.things("core")
    emulator.configure(enforce_quotas=False, throttle_fraction=0.5, throttle_seed=7)
    first = _storm_outcomes(emulator, 200)
    assert 70 <= sum(first) <= 130  # about half, of both services
    assert any(first[0::2]) and any(first[1::2])
    counts = emulator.call_counts()
    assert counts["ListDeployments"]["ThrottlingException"] + counts["DescribeThing"][
        "ThrottlingException"
    ] == sum(first)

    emulator.reset()  # the same seed, the same calls: the same throttles
    emulator.configure(throttle_fraction=0.0)  # no draws while off
    fleet.iot.create_thing(thingName="core")
    emulator.configure(throttle_fraction=0.5)
    assert _storm_outcomes(emulator, 200) == first
    emulator.configure(throttle_seed=8)  # another seed: another sequence
    assert _storm_outcomes(emulator, 200) != first
    emulator.configure(throttle_fraction=0.0)
    assert not any(_storm_outcomes(emulator, 20))
    emulator.configure(throttle_fraction=1.0)
    assert all(_storm_outcomes(emulator, 20))
    with pytest.raises(ValueError, match="throttle_fraction"):
        emulator.configure(throttle_fraction=1.5)
