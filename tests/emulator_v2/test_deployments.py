"""Deployments over time: replace, status per target kind, cancel, delete, listing, devices."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import GreengrassV2Emulator

from .conftest import Fleet, deploy, error_of, executions, thing_arn, unchecked

SETTLED = 5.0  # pickup 1 s + apply 2 s, with room


def status(gg: Any, deployment_id: str) -> str:
    return str(gg.get_deployment(deploymentId=deployment_id)["deploymentStatus"])


def test_a_new_deployment_replaces_the_targets_previous_one(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "a", "b")
    emulator.set_device("b", "offline")
    first = deploy(gg, target)
    emulator.advance_clock(SETTLED)
    second = deploy(gg, target, components={"com.example.Other": {"componentVersion": "2.0.0"}})
    old = gg.get_deployment(deploymentId=first["deploymentId"])
    assert (old["isLatestForTarget"], old["deploymentStatus"], old["revisionId"]) == (False, "INACTIVE", "1")
    assert iot.describe_job(jobId=first["iotJobId"])["job"]["status"] == "CANCELED"
    assert executions(iot, first["iotJobId"]) == {"a": "SUCCEEDED", "b": "CANCELED"}
    new = gg.get_deployment(deploymentId=second["deploymentId"])
    assert (new["isLatestForTarget"], new["deploymentStatus"], new["revisionId"]) == (True, "ACTIVE", "2")
    latest = gg.list_deployments(targetArn=target)["deployments"]
    assert [d["deploymentId"] for d in latest] == [second["deploymentId"]]
    history = gg.list_deployments(targetArn=target, historyFilter="ALL")["deployments"]
    assert [d["revisionId"] for d in history] == ["2", "1"]


def test_what_a_replaced_deployment_becomes_is_a_switch(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    emulator.configure(replaced_status="CANCELED")
    target = fleet.group("fleet", "a")
    first = deploy(gg, target)["deploymentId"]
    deploy(gg, target)
    assert status(gg, first) == "CANCELED"


def test_a_replaced_thing_deployment_that_had_finished_keeps_its_status(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    fleet.things("core")
    first = deploy(gg, thing_arn("core"))["deploymentId"]
    emulator.advance_clock(SETTLED)
    deploy(gg, thing_arn("core"))
    assert status(gg, first) == "COMPLETED"


@pytest.mark.parametrize(
    ("behaviour", "final"), [("healthy", "COMPLETED"), ("failing", "FAILED"), ("rejecting", "FAILED")]
)
def test_a_thing_deployment_ends_when_its_device_does(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet, behaviour: str, final: str
) -> None:
    fleet.things("core")
    emulator.set_device("core", behaviour)
    deployment_id = deploy(gg, thing_arn("core"))["deploymentId"]
    assert status(gg, deployment_id) == "ACTIVE"
    emulator.advance_clock(SETTLED)
    assert status(gg, deployment_id) == final


def test_a_thing_group_deployment_stays_active(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    answer = deploy(gg, fleet.group("fleet", "a", "b"))
    emulator.advance_clock(SETTLED)
    assert executions(iot, answer["iotJobId"]) == {"a": "SUCCEEDED", "b": "SUCCEEDED"}
    assert status(gg, answer["deploymentId"]) == "ACTIVE"
    assert iot.describe_job(jobId=answer["iotJobId"])["job"]["status"] == "IN_PROGRESS"


def test_effective_deployments_per_device(emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet) -> None:
    group = fleet.group("fleet", "core")
    emulator.set_device("core", "failing")
    on_group = deploy(gg, group, deploymentName="group")
    emulator.advance_clock(SETTLED)
    emulator.set_device("core", "healthy")
    on_thing = deploy(gg, thing_arn("core"), deploymentName="thing")
    emulator.advance_clock(SETTLED)
    found = gg.list_effective_deployments(coreDeviceThingName="core")["effectiveDeployments"]
    assert [(e["deploymentId"], e["coreDeviceExecutionStatus"]) for e in found] == [
        (on_thing["deploymentId"], "COMPLETED"),
        (on_group["deploymentId"], "FAILED"),
    ]
    failed = found[1]
    assert failed["reason"].startswith("FAILED_ROLLBACK_COMPLETE")
    assert failed["statusDetails"] == {
        "errorStack": ["DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR", "COMPONENT_BROKEN"],
        "errorTypes": ["COMPONENT_ERROR"],
    }
    with pytest.raises(ClientError) as exc_info:
        gg.list_effective_deployments(coreDeviceThingName="ghost")
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)


def test_group_members_succeed_where_a_thing_target_completes(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    deploy(gg, fleet.group("fleet", "core"))
    emulator.advance_clock(SETTLED)
    [entry] = gg.list_effective_deployments(coreDeviceThingName="core")["effectiveDeployments"]
    assert entry["coreDeviceExecutionStatus"] == "SUCCEEDED"


def test_cancel_stops_devices_that_have_not_started(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "started", "waiting")
    emulator.set_device("waiting", "offline")
    answer = deploy(gg, target)
    emulator.advance_clock(1.5)  # "started" is IN_PROGRESS
    gg.cancel_deployment(deploymentId=answer["deploymentId"])
    assert status(gg, answer["deploymentId"]) == "CANCELED"
    assert iot.describe_job(jobId=answer["iotJobId"])["job"]["status"] == "CANCELED"
    emulator.advance_clock(SETTLED)
    assert executions(iot, answer["iotJobId"]) == {"started": "SUCCEEDED", "waiting": "CANCELED"}
    with pytest.raises(ClientError) as exc_info:
        gg.cancel_deployment(deploymentId=answer["deploymentId"])
    assert error_of(exc_info) == ("ConflictException", 409)


def test_delete_requires_a_cancel_first(gg: Any, fleet: Fleet) -> None:
    deployment_id = deploy(gg, fleet.group("fleet", "core"))["deploymentId"]
    with pytest.raises(ClientError) as exc_info:
        gg.delete_deployment(deploymentId=deployment_id)
    assert error_of(exc_info) == ("ConflictException", 409)
    gg.cancel_deployment(deploymentId=deployment_id)
    assert gg.delete_deployment(deploymentId=deployment_id)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc_info:
        gg.get_deployment(deploymentId=deployment_id)
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)
    assert gg.list_deployments(historyFilter="ALL")["deployments"] == []


def test_list_deployments_filters_and_pages(emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet) -> None:
    parent = fleet.group("fleet")
    targets = [fleet.group(f"g{i}", f"core{i}") for i in range(3)]
    for target in targets:
        deploy(gg, target)
    child = deploy(gg, targets[0], parentTargetArn=parent)["deploymentId"]
    pages = list(gg.get_paginator("list_deployments").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["deployments"]) for p in pages] == [2, 1]
    assert [d["deploymentId"] for d in gg.list_deployments(parentTargetArn=parent)["deployments"]] == [child]
    assert len(gg.list_deployments(historyFilter="ALL")["deployments"]) == 4
    with pytest.raises(ClientError) as exc_info:
        unchecked("greengrassv2", emulator).list_deployments(maxResults=101)
    assert error_of(exc_info) == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc_info:
        unchecked("greengrassv2", emulator).list_deployments(historyFilter="SOME")
    assert error_of(exc_info) == ("ValidationException", 400)


def test_core_devices_report_health_after_a_failure_without_rollback(
    emulator: GreengrassV2Emulator, gg: Any, iot: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "good", "bad")
    emulator.set_device("bad", "failing")
    answer = deploy(gg, target, deploymentPolicies={"failureHandlingPolicy": "DO_NOTHING"})
    emulator.advance_clock(SETTLED)
    assert gg.get_core_device(coreDeviceThingName="bad")["status"] == "UNHEALTHY"
    assert gg.get_core_device(coreDeviceThingName="good")["status"] == "HEALTHY"
    unhealthy = gg.list_core_devices(status="UNHEALTHY")["coreDevices"]
    assert [d["coreDeviceThingName"] for d in unhealthy] == ["bad"]
    fleet.things("elsewhere")
    in_group = gg.list_core_devices(thingGroupArn=target)["coreDevices"]
    assert sorted(d["coreDeviceThingName"] for d in in_group) == ["bad", "good"]
    details = iot.describe_job_execution(jobId=answer["iotJobId"], thingName="bad")["execution"][
        "statusDetails"
    ]
    assert details["detailsMap"]["detailed-deployment-status"] == "FAILED_ROLLBACK_NOT_REQUESTED"
    broken = gg.list_installed_components(coreDeviceThingName="bad")["installedComponents"]
    assert [(c["componentName"], c["lifecycleState"]) for c in broken] == [("com.example.Hello", "BROKEN")]


def test_a_new_revision_uninstalls_what_it_omits_and_a_rollback_keeps_the_previous_set(
    emulator: GreengrassV2Emulator, gg: Any, fleet: Fleet
) -> None:
    target = fleet.group("fleet", "core")
    deploy(gg, target, components={"a": {"componentVersion": "1.0.0"}, "b": {"componentVersion": "1.0.0"}})
    emulator.advance_clock(SETTLED)
    second = deploy(gg, target, components={"a": {"componentVersion": "2.0.0"}})["deploymentId"]
    emulator.advance_clock(SETTLED)

    def installed() -> list[tuple[str, str, str]]:
        found = gg.list_installed_components(coreDeviceThingName="core")["installedComponents"]
        return [(c["componentName"], c["componentVersion"], c["lastInstallationSource"]) for c in found]

    assert installed() == [("a", "2.0.0", second)]
    emulator.set_device("core", "failing")
    deploy(gg, target, components={"c": {"componentVersion": "1.0.0"}})  # ROLLBACK by default
    emulator.advance_clock(SETTLED)
    assert installed() == [("a", "2.0.0", second)]
    assert gg.get_core_device(coreDeviceThingName="core")["status"] == "HEALTHY"
