"""The deployments' IoT jobs: one execution per device, continuous groups, rollout, cancel."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import GreengrassV2Emulator

from .conftest import Fleet, deploy, error_of, executions, thing_arn, unchecked


def counts(iot: Any, job_id: str) -> dict[str, int]:
    details = iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]
    return {
        k.removeprefix("numberOf").removesuffix("Things"): v
        for k, v in details.items()
        if v and k != "processingTargets"
    }


def test_a_group_job_has_one_execution_per_device_of_the_group_and_its_subgroups(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "a", "b")
    fleet.group("eu", "c", parent="fleet")
    answer = deploy(gg, target)
    emulator.advance_clock(0.2)  # the default rollout: 1000 a minute, one every 60 ms
    assert executions(iot, answer["iotJobId"]) == dict.fromkeys(["a", "b", "c"], "QUEUED")
    job = iot.describe_job(jobId=answer["iotJobId"])["job"]
    assert (job["targetSelection"], job["targets"]) == ("CONTINUOUS", [target])
    assert counts(iot, answer["iotJobId"]) == {"Queued": 3}


def test_devices_joining_later_get_the_deployment_and_leaving_ones_are_removed(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "a")
    fleet.group("eu", parent="fleet")
    emulator.set_device("a", "offline")
    answer = deploy(gg, target)
    emulator.advance_clock(5)
    fleet.things("late", "later")
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="late")
    iot.add_thing_to_thing_group(thingGroupName="eu", thingName="later")
    emulator.advance_clock(0.1)
    assert executions(iot, answer["iotJobId"]) == {"a": "QUEUED", "late": "QUEUED", "later": "QUEUED"}
    iot.remove_thing_from_thing_group(thingGroupName="fleet", thingName="a")
    emulator.advance_clock(5)
    assert executions(iot, answer["iotJobId"]) == {"a": "REMOVED", "late": "SUCCEEDED", "later": "SUCCEEDED"}
    assert counts(iot, answer["iotJobId"]) == {"Removed": 1, "Succeeded": 2}


def test_a_thing_job_is_a_snapshot_that_completes(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    fleet.things("core")
    answer = deploy(gg, thing_arn("core"))
    emulator.advance_clock(5)
    job = iot.describe_job(jobId=answer["iotJobId"])["job"]
    assert (job["targetSelection"], job["status"], counts(iot, answer["iotJobId"])) == (
        "SNAPSHOT",
        "COMPLETED",
        {"Succeeded": 1},
    )


def test_execution_listing_filters_by_status_and_pages_up_to_250(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    names = [f"core{i}" for i in range(5)]
    target = fleet.group("fleet", *names)
    emulator.set_device("core0", "failing")
    job_id = deploy(gg, target)["iotJobId"]
    emulator.advance_clock(5)
    failed = iot.list_job_executions_for_job(jobId=job_id, status="FAILED")["executionSummaries"]
    assert [s["thingArn"] for s in failed] == [thing_arn("core0")]
    pages = iot.get_paginator("list_job_executions_for_job").paginate(
        jobId=job_id, PaginationConfig={"PageSize": 2}
    )
    assert [len(p["executionSummaries"]) for p in pages] == [2, 2, 1]
    with pytest.raises(ClientError) as exc_info:
        unchecked("iot", emulator).list_job_executions_for_job(jobId=job_id, maxResults=251)
    assert error_of(exc_info) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as exc_info:
        iot.describe_job(jobId="no-such-job")
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)


def test_executions_are_created_no_faster_than_the_rollout_rate(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", *[f"core{i}" for i in range(4)])
    for index in range(4):
        emulator.set_device(f"core{index}", "offline")
    job_id = deploy(gg, target, iotJobConfiguration={"jobExecutionsRolloutConfig": {"maximumPerMinute": 60}})[
        "iotJobId"
    ]
    assert len(executions(iot, job_id)) == 1
    assert iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]["processingTargets"] == [target]
    emulator.advance_clock(1)
    assert len(executions(iot, job_id)) == 2
    emulator.advance_clock(2)
    assert len(executions(iot, job_id)) == 4
    assert "processingTargets" not in iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]


@pytest.mark.parametrize(("force", "in_progress_becomes"), [(False, "SUCCEEDED"), (True, "CANCELED")])
def test_cancel_job_cancels_queued_executions_and_with_force_those_in_progress(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet, force: bool, in_progress_becomes: str
) -> None:
    target = fleet.group("fleet", "busy", "idle")
    emulator.set_device("idle", "offline")
    job_id = deploy(gg, target)["iotJobId"]
    emulator.advance_clock(1.5)
    iot.cancel_job(jobId=job_id, force=force, reasonCode="BY_HAND")
    emulator.advance_clock(5)
    assert executions(iot, job_id) == {"busy": in_progress_becomes, "idle": "CANCELED"}
    job = iot.describe_job(jobId=job_id)["job"]
    assert (job["status"], job["reasonCode"], job["forceCanceled"]) == ("CANCELED", "BY_HAND", force)
    with pytest.raises(ClientError) as exc_info:
        iot.cancel_job(jobId=job_id)
    assert error_of(exc_info) == ("InvalidRequestException", 400)


def test_replacing_may_force_cancel_executions_in_progress(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    emulator.configure(force_cancel_replaced=True)
    target = fleet.group("fleet", "core")
    first = deploy(gg, target)["iotJobId"]
    emulator.advance_clock(1.5)
    deploy(gg, target)
    assert executions(iot, first) == {"core": "CANCELED"}


@pytest.mark.parametrize(
    ("behaviour", "final", "detailed"),
    [
        ("healthy", "SUCCEEDED", "SUCCESSFUL"),
        ("failing", "FAILED", "FAILED_ROLLBACK_COMPLETE"),
        ("rejecting", "REJECTED", "REJECTED"),
    ],
)
def test_each_device_reports_its_outcome_in_the_execution_details(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet, behaviour: str, final: str, detailed: str
) -> None:
    target = fleet.group("fleet", "core")
    emulator.set_device("core", behaviour)
    job_id = deploy(gg, target)["iotJobId"]
    emulator.advance_clock(5)
    execution = iot.describe_job_execution(jobId=job_id, thingName="core")["execution"]
    assert (execution["status"], execution["statusDetails"]["detailsMap"]["detailed-deployment-status"]) == (
        final,
        detailed,
    )


def test_a_slow_device_times_out_after_the_jobs_timeout(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    emulator.set_device("core", "slow")
    job_id = deploy(gg, target, iotJobConfiguration={"timeoutConfig": {"inProgressTimeoutInMinutes": 2}})[
        "iotJobId"
    ]
    emulator.advance_clock(1 + 119)
    execution = iot.describe_job_execution(jobId=job_id, thingName="core")["execution"]
    assert (execution["status"], execution["approximateSecondsBeforeTimedOut"]) == ("IN_PROGRESS", 1)
    emulator.advance_clock(1)
    assert executions(iot, job_id) == {"core": "TIMED_OUT"}
