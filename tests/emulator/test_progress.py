"""Progress over time: statuses, records, group deployments in moto, settling, Stop, permissions."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_emulator import GreengrassEmulator

from .conftest import World, client_for, permissions, status_of, wait_for, wait_status


def start(gg: Any, world: World, input_uri: str, role: str | None = None) -> str:
    bulk_id: str = gg.start_bulk_deployment(
        AmznClientToken="t-" + input_uri[-12:], ExecutionRoleArn=role or world.role(), InputFileUri=input_uri
    )["BulkDeploymentId"]
    return bulk_id


def metrics(gg: Any, bulk_id: str) -> dict[str, int]:
    found: dict[str, int] = gg.get_bulk_deployment_status(BulkDeploymentId=bulk_id)["BulkDeploymentMetrics"]
    return found


def reports(gg: Any, bulk_id: str) -> list[dict[str, Any]]:
    pages = gg.get_paginator("list_bulk_deployment_detailed_reports").paginate(BulkDeploymentId=bulk_id)
    return [d for page in pages for d in page["Deployments"]]


def test_status_progression_on_a_manual_clock(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(manual_clock=True, init_seconds=10, record_seconds=1)
    gg = client_for(emulator)
    groups = world.groups(3)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", groups))
    assert status_of(gg, bulk_id) == "Initializing"
    emulator.advance_clock(9.9)
    assert status_of(gg, bulk_id) == "Initializing"
    emulator.advance_clock(0.2)
    assert status_of(gg, bulk_id) == "Running"
    assert metrics(gg, bulk_id)["RecordsProcessed"] == 0
    emulator.advance_clock(1)
    assert metrics(gg, bulk_id)["RecordsProcessed"] == 1
    assert len(reports(gg, bulk_id)) == 1
    emulator.advance_clock(1)
    assert (status_of(gg, bulk_id), metrics(gg, bulk_id)["RecordsProcessed"]) == ("Running", 2)
    emulator.advance_clock(1)
    assert status_of(gg, bulk_id) == "Completed"
    assert metrics(gg, bulk_id) == {"RecordsProcessed": 3, "InvalidInputRecords": 0, "RetryAttempts": 0}


def test_statuses_advance_on_their_own(make_emulator: Any, world: World) -> None:
    gg = client_for(make_emulator(init_seconds=0.3))
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(2)))
    seen = {status_of(gg, bulk_id)}
    wait_for(lambda: seen.add(status_of(gg, bulk_id)) or "Completed" in seen)
    assert "Initializing" in seen
    assert seen <= {"Initializing", "Running", "Completed"}


def test_records_become_group_deployments_in_moto(gg: Any, world: World) -> None:
    groups = world.groups(3)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", groups))
    wait_status(gg, bulk_id, "Completed")
    found = reports(gg, bulk_id)
    assert len(found) == 3
    for (group_id, _), entry in zip(groups, found, strict=True):
        in_moto = world.moto_gg.list_deployments(GroupId=group_id)["Deployments"]
        assert [d["DeploymentId"] for d in in_moto] == [entry["DeploymentId"]]
        assert entry["DeploymentArn"] == in_moto[0]["DeploymentArn"]
        assert entry["GroupArn"].endswith(f":/greengrass/groups/{group_id}")
        assert entry["DeploymentType"] == "NewDeployment"
        assert entry["DeploymentStatus"] in ("InProgress", "Success")
    # The other Greengrass calls go through the emulator's endpoint to moto.
    assert (
        gg.list_deployments(GroupId=groups[0][0])["Deployments"][0]["DeploymentId"]
        == found[0]["DeploymentId"]
    )


def test_invalid_records_are_counted(make_emulator: Any, world: World) -> None:
    gg = client_for(make_emulator())
    good = world.group()
    group_id, _ = world.group()
    coreless = world.group(with_core=False)
    records = [good, ("no-such-group", "v"), (group_id, "no-such-version"), coreless]
    bulk_id = start(gg, world, world.upload_records("a.jsonl", records))
    status = wait_status(gg, bulk_id, "Completed")
    assert status["BulkDeploymentMetrics"] == {
        "RecordsProcessed": 4,
        "InvalidInputRecords": 3,
        "RetryAttempts": 0,
    }
    assert [r["GroupArn"].rsplit("/", 1)[1] for r in reports(gg, bulk_id)] == [good[0]]


def test_invalid_records_in_reports_switch(make_emulator: Any, world: World) -> None:
    gg = client_for(make_emulator(report_invalid_records=True))
    bulk_id = start(gg, world, world.upload_records("a.jsonl", [world.group(), ("no-such-group", "v")]))
    wait_status(gg, bulk_id, "Completed")
    found = reports(gg, bulk_id)
    assert [r["DeploymentStatus"] for r in found] in (["InProgress", "Failure"], ["Success", "Failure"])
    assert "DeploymentId" not in found[1]
    assert "does not exist" in found[1]["ErrorMessage"]


def test_group_deployments_settle_after_the_bulk_deployment_completed(
    make_emulator: Any, world: World
) -> None:
    emulator = make_emulator(manual_clock=True, init_seconds=1, record_seconds=1, settle_seconds=30)
    gg = client_for(emulator)
    ok, bad = world.groups(2)
    emulator.configure(failing_groups={bad[0]})
    bulk_id = start(gg, world, world.upload_records("a.jsonl", [ok, bad]))
    emulator.advance_clock(3)
    assert status_of(gg, bulk_id) == "Completed"
    assert [r["DeploymentStatus"] for r in reports(gg, bulk_id)] == ["InProgress", "InProgress"]
    emulator.advance_clock(29.5)  # now 32.5: the first settled at 2 + 30, the second settles at 33
    assert [r["DeploymentStatus"] for r in reports(gg, bulk_id)] == ["Success", "InProgress"]
    emulator.advance_clock(1)
    first, second = reports(gg, bulk_id)
    assert (first["DeploymentStatus"], second["DeploymentStatus"]) == ("Success", "Failure")
    assert "marked to fail" in second["ErrorMessage"]
    assert second["ErrorDetails"][0]["DetailedErrorMessage"] == second["ErrorMessage"]
    # GetDeploymentStatus through the emulator agrees (moto alone would say InProgress forever).
    answer = gg.get_deployment_status(GroupId=bad[0], DeploymentId=second["DeploymentId"])
    assert answer["DeploymentStatus"] == "Failure"
    assert answer["ErrorMessage"] == second["ErrorMessage"]
    answer = gg.get_deployment_status(GroupId=ok[0], DeploymentId=first["DeploymentId"])
    assert (answer["DeploymentStatus"], answer["DeploymentType"]) == ("Success", "NewDeployment")


def test_group_deployments_settle_on_the_system_clock(make_emulator: Any, world: World) -> None:
    # Settling takes 3 s of real time: a loaded machine (the whole suite on 2 cores) may take
    # over a second between the bulk deployment's completion and the look at its reports.
    gg = client_for(make_emulator(settle_seconds=3.0))
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(2)))
    wait_status(gg, bulk_id, "Completed")
    assert {r["DeploymentStatus"] for r in reports(gg, bulk_id)} == {"InProgress"}
    wait_for(lambda: {r["DeploymentStatus"] for r in reports(gg, bulk_id)} == {"Success"}, timeout=10.0)


def test_stop(make_emulator: Any, world: World) -> None:
    emulator = make_emulator(manual_clock=True, init_seconds=1, record_seconds=1, stop_seconds=5)
    gg = client_for(emulator)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(4)))
    emulator.advance_clock(2.5)  # Running, one record processed
    gg.stop_bulk_deployment(BulkDeploymentId=bulk_id)
    assert status_of(gg, bulk_id) == "Stopping"
    gg.stop_bulk_deployment(BulkDeploymentId=bulk_id)  # still Stopping: accepted again
    emulator.advance_clock(4.9)
    assert status_of(gg, bulk_id) == "Stopping"
    with pytest.raises(ClientError):  # Stopping is not terminal: no new start
        gg.start_bulk_deployment(ExecutionRoleArn=world.role(), InputFileUri=world.upload("b.jsonl", ""))
    emulator.advance_clock(0.2)
    assert status_of(gg, bulk_id) == "Stopped"
    assert metrics(gg, bulk_id)["RecordsProcessed"] == 1
    with pytest.raises(ClientError) as exc_info:
        gg.stop_bulk_deployment(BulkDeploymentId=bulk_id)
    assert exc_info.value.response["Error"]["Code"] == "BadRequestException"
    assert gg.start_bulk_deployment(ExecutionRoleArn=world.role(), InputFileUri=world.upload("c.jsonl", ""))


def test_stop_while_initializing(make_emulator: Any, world: World) -> None:
    emulator = make_emulator(manual_clock=True, init_seconds=1, stop_seconds=1)
    gg = client_for(emulator)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(1)))
    gg.stop_bulk_deployment(BulkDeploymentId=bulk_id)
    emulator.advance_clock(5)
    assert status_of(gg, bulk_id) == "Stopped"
    assert metrics(gg, bulk_id)["RecordsProcessed"] == 0


def test_retry_attempts_switch(make_emulator: Any, world: World) -> None:
    emulator = make_emulator()
    gg = client_for(emulator)
    retried, given_up = world.groups(2)
    emulator.configure(retry_groups={retried[0]: 2, given_up[0]: 6})
    bulk_id = start(gg, world, world.upload_records("a.jsonl", [retried, given_up]))
    status = wait_status(gg, bulk_id, "Completed")
    assert status["BulkDeploymentMetrics"] == {
        "RecordsProcessed": 2,
        "InvalidInputRecords": 1,
        "RetryAttempts": 7,
    }


def test_role_without_s3_read_fails_the_bulk_deployment(gg: Any, world: World) -> None:
    document = permissions(bucket="some-other-bucket")
    role = world.role("no-read", policy=document)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(1)), role=role)
    status = wait_status(gg, bulk_id, "Completed", "Failed")
    assert status["BulkDeploymentStatus"] == "Failed"
    assert "s3:GetObject" in status["ErrorMessage"]


def test_role_may_only_deploy_some_groups(gg: Any, world: World) -> None:
    allowed, other = world.groups(2)
    role = world.role("some-groups", policy=permissions(groups=allowed[0]))
    bulk_id = start(gg, world, world.upload_records("a.jsonl", [allowed, other]), role=role)
    status = wait_status(gg, bulk_id, "Completed")
    assert status["BulkDeploymentMetrics"]["InvalidInputRecords"] == 1
    assert world.moto_gg.list_deployments(GroupId=other[0])["Deployments"] == []


def test_attached_managed_policies_count(gg: Any, world: World) -> None:
    import json

    role = world.role("managed", policy=False)
    arn = world.iam.create_policy(PolicyName="deploy", PolicyDocument=json.dumps(permissions()))["Policy"][
        "Arn"
    ]
    world.iam.attach_role_policy(RoleName="managed", PolicyArn=arn)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(1)), role=role)
    assert wait_status(gg, bulk_id, "Completed", "Failed")["BulkDeploymentStatus"] == "Completed"


def test_explicit_deny_wins(gg: Any, world: World) -> None:
    document = permissions()
    document["Statement"].append({"Effect": "Deny", "Action": "greengrass:*", "Resource": "*"})
    role = world.role("denied", policy=document)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(1)), role=role)
    assert wait_status(gg, bulk_id, "Completed")["BulkDeploymentMetrics"]["InvalidInputRecords"] == 1


def test_permission_checks_can_be_switched_off(make_emulator: Any, world: World) -> None:
    gg = client_for(make_emulator(check_role_permissions=False))
    role = world.role("bare", policy=False)
    bulk_id = start(gg, world, world.upload_records("a.jsonl", world.groups(1)), role=role)
    status = wait_status(gg, bulk_id, "Completed", "Failed")
    assert status["BulkDeploymentStatus"] == "Completed"
    assert status["BulkDeploymentMetrics"]["InvalidInputRecords"] == 0
