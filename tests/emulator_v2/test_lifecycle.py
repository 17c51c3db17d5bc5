"""The per-device lifecycle over emulator time, in process (no HTTP): exact instants, fast."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from local.greengrass_v2_emulator import EmulatorConfig, GreengrassV2Emulator, ManualClock, ServiceError
from local.greengrass_v2_emulator.service import EmulatorService

from .conftest import COMPONENTS, client, executions, group_arn, thing_arn

T0 = 1_800_000_000.0


class Emu:
    """EmulatorService on a ManualClock, called as the HTTP layer calls it."""

    def __init__(self, **settings: Any) -> None:
        self.clock = ManualClock(T0)
        config = EmulatorConfig()
        config.update(settings)
        self.service = EmulatorService(config, self.clock)

    def gg(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.service.call("greengrassv2", operation, **params)

    def iot(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.service.call("iot", operation, **params)

    def at(self, seconds: float) -> None:
        """Move the clock to T0 + seconds."""
        self.clock.advance(T0 + seconds - self.clock.now())

    def group(self, name: str, *things: str) -> str:
        arn = str(self.iot("CreateThingGroup", thingGroupName=name)["thingGroupArn"])
        for thing in things:
            self.iot("CreateThing", thingName=thing)
            self.iot("AddThingToThingGroup", thingGroupName=name, thingName=thing)
        return arn

    def deploy(self, target: str, **extra: Any) -> dict[str, Any]:
        return self.gg("CreateDeployment", targetArn=target, components=COMPONENTS, **extra)

    def execution(self, job_id: str, thing: str) -> dict[str, Any]:
        found: dict[str, Any] = self.iot("DescribeJobExecution", jobId=job_id, thingName=thing)["execution"]
        return found


@pytest.fixture
def emu() -> Emu:
    return Emu()


def statuses_at(emu: Emu, job_id: str, thing: str, instants: list[float]) -> list[str]:
    found = []
    for instant in instants:
        emu.at(instant)
        found.append(emu.execution(job_id, thing)["status"])
    return found


def test_a_healthy_device_picks_up_after_1_s_and_succeeds_2_s_later(emu: Emu) -> None:
    job_id = emu.deploy(emu.group("fleet", "core"))["iotJobId"]
    assert statuses_at(emu, job_id, "core", [0.99, 1.0, 2.99, 3.0]) == [
        "QUEUED",
        "IN_PROGRESS",
        "IN_PROGRESS",
        "SUCCEEDED",
    ]
    execution = emu.execution(job_id, "core")
    assert (execution["queuedAt"], execution["startedAt"], execution["lastUpdatedAt"]) == (T0, T0 + 1, T0 + 3)


def test_an_offline_device_starts_when_it_comes_back(emu: Emu) -> None:
    job_id = emu.deploy(emu.group("fleet", "core"))["iotJobId"]
    emu.service.set_device("core", "offline")
    emu.at(100)
    assert emu.execution(job_id, "core")["status"] == "QUEUED"
    emu.service.set_device("core", "healthy")
    assert statuses_at(emu, job_id, "core", [100.99, 101.0, 103.0]) == ["QUEUED", "IN_PROGRESS", "SUCCEEDED"]


def test_a_device_can_take_its_own_time(emu: Emu) -> None:
    target = emu.group("fleet", "core")
    emu.service.set_device("core", "healthy", apply_seconds=30)
    job_id = emu.deploy(target)["iotJobId"]
    assert statuses_at(emu, job_id, "core", [30.9, 31.0]) == ["IN_PROGRESS", "SUCCEEDED"]


def test_new_timings_apply_to_executions_under_way(emu: Emu) -> None:
    job_id = emu.deploy(emu.group("fleet", "core"))["iotJobId"]
    assert statuses_at(emu, job_id, "core", [1.2]) == ["IN_PROGRESS"]  # due at 3.0 so far
    emu.service.configure({"apply_seconds": 0.5})
    assert statuses_at(emu, job_id, "core", [1.4, 1.5]) == ["IN_PROGRESS", "SUCCEEDED"]


def test_a_slow_device_without_a_job_timeout_stays_in_progress(emu: Emu) -> None:
    target = emu.group("fleet", "core")
    emu.service.set_device("core", "slow")
    job_id = emu.deploy(target)["iotJobId"]
    assert statuses_at(emu, job_id, "core", [7 * 24 * 3600]) == ["IN_PROGRESS"]


def test_an_execution_in_progress_times_out_even_if_the_device_went_offline(emu: Emu) -> None:
    target = emu.group("fleet", "core")
    job_id = emu.deploy(target, iotJobConfiguration={"timeoutConfig": {"inProgressTimeoutInMinutes": 1}})[
        "iotJobId"
    ]
    emu.at(1.5)
    emu.service.set_device("core", "offline")
    assert statuses_at(emu, job_id, "core", [60.99, 61.0]) == ["IN_PROGRESS", "TIMED_OUT"]


@pytest.mark.parametrize(
    ("policy", "rollback_fails", "detailed", "health"),
    [
        ("ROLLBACK", False, "FAILED_ROLLBACK_COMPLETE", "HEALTHY"),
        ("ROLLBACK", True, "FAILED_UNABLE_TO_ROLLBACK", "UNHEALTHY"),
        ("DO_NOTHING", False, "FAILED_ROLLBACK_NOT_REQUESTED", "UNHEALTHY"),
    ],
)
def test_a_failing_device_rolls_back_when_asked_to(
    emu: Emu, policy: str, rollback_fails: bool, detailed: str, health: str
) -> None:
    target = emu.group("fleet", "core")
    emu.service.set_device(
        "core",
        "failing",
        rollback_fails=rollback_fails,
        error_stack=["DEPLOYMENT_FAILURE", "X"],
        failure_cause="boom",
    )
    job_id = emu.deploy(target, deploymentPolicies={"failureHandlingPolicy": policy})["iotJobId"]
    emu.at(3)
    details = emu.execution(job_id, "core")["statusDetails"]["detailsMap"]
    assert details == {
        "detailed-deployment-status": detailed,
        "deployment-failure-cause": "boom",
        "deployment-error-stack": "[DEPLOYMENT_FAILURE, X]",
        "deployment-error-types": "[COMPONENT_ERROR]",
    }
    assert emu.gg("GetCoreDevice", coreDeviceThingName="core")["status"] == health


def test_a_rejecting_device_refuses_on_pickup(emu: Emu) -> None:
    target = emu.group("fleet", "core")
    emu.service.set_device("core", "rejecting")
    job_id = emu.deploy(target)["iotJobId"]
    assert statuses_at(emu, job_id, "core", [0.5, 1.0]) == ["QUEUED", "REJECTED"]
    assert emu.execution(job_id, "core").get("startedAt") is None


def test_rollout_releases_one_execution_per_interval(emu: Emu) -> None:
    things = [f"core{i}" for i in range(5)]
    target = emu.group("fleet", *things)
    for thing in things:
        emu.service.set_device(thing, "offline")
    job_id = emu.deploy(target, iotJobConfiguration={"jobExecutionsRolloutConfig": {"maximumPerMinute": 6}})[
        "iotJobId"
    ]
    emu.at(40)
    queued = [emu.execution(job_id, t)["queuedAt"] - T0 for t in things]
    assert queued == [0.0, 10.0, 20.0, 30.0, 40.0]


def test_a_large_group_rolls_out_at_1000_devices_a_minute() -> None:
    emu = Emu(enforce_quotas=False)
    job_id = emu.deploy(emu.group("fleet", *[f"core{i}" for i in range(1500)]))["iotJobId"]
    emu.at(59.99)
    assert emu.iot("DescribeJob", jobId=job_id)["job"]["jobProcessDetails"]["numberOfSucceededThings"] == 950
    emu.at(93)
    details = emu.iot("DescribeJob", jobId=job_id)["job"]["jobProcessDetails"]
    assert (details["numberOfSucceededThings"], "processingTargets" in details) == (1500, False)


def test_a_device_joining_a_rolled_out_group_waits_for_the_rate(emu: Emu) -> None:
    target = emu.group("fleet", "a")
    job_id = emu.deploy(target, iotJobConfiguration={"jobExecutionsRolloutConfig": {"maximumPerMinute": 1}})[
        "iotJobId"
    ]
    emu.at(5)
    emu.iot("CreateThing", thingName="b")
    emu.iot("AddThingToThingGroup", thingGroupName="fleet", thingName="b")
    with pytest.raises(ServiceError):
        emu.execution(job_id, "b")
    emu.at(60)
    assert emu.execution(job_id, "b")["queuedAt"] == T0 + 60


def test_tokens_and_quota_work_in_process_too(emu: Emu) -> None:
    target = emu.group("fleet", "core")
    first = emu.deploy(target, clientToken="tok")["deploymentId"]
    assert emu.deploy(target, clientToken="tok")["deploymentId"] == first
    for _ in range(28):
        emu.gg("ListDeployments")
    with pytest.raises(ServiceError) as exc_info:
        emu.gg("ListDeployments")
    assert (exc_info.value.code, exc_info.value.status) == ("ThrottlingException", 429)


def test_a_thing_target_deployment_tracks_its_device(emu: Emu) -> None:
    emu.iot("CreateThing", thingName="core")
    deployment_id = emu.deploy(thing_arn("core"))["deploymentId"]
    emu.at(2.9)
    assert emu.gg("GetDeployment", deploymentId=deployment_id)["deploymentStatus"] == "ACTIVE"
    emu.at(3.0)
    assert emu.gg("GetDeployment", deploymentId=deployment_id)["deploymentStatus"] == "COMPLETED"
    assert emu.gg("GetCoreDevice", coreDeviceThingName="core")["lastStatusUpdateTimestamp"] == T0 + 3


def test_the_ticker_moves_executions_on_the_system_clock() -> None:
    settings = {"pickup_seconds": 0.05, "apply_seconds": 0.05, "tick_seconds": 0.01}
    with GreengrassV2Emulator(**settings) as emulator:
        iot, gg = client("iot", emulator.url), client("greengrassv2", emulator.url)
        iot.create_thing(thingName="core")
        iot.create_thing_group(thingGroupName="fleet")
        iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="core")
        job_id = gg.create_deployment(targetArn=group_arn("fleet"), components=COMPONENTS)["iotJobId"]
        wait_until(lambda: emulator.devices()["core"]["installedComponents"])
        assert executions(iot, job_id) == {"core": "SUCCEEDED"}


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)
