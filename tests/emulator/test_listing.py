"""Pagination of detailed reports and of ListBulkDeployments; tags."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_emulator import GreengrassEmulator

from .conftest import World, client_for, wait_status


def completed(gg: Any, world: World, key: str, groups: list[tuple[str, str]], **extra: Any) -> str:
    bulk_id: str = gg.start_bulk_deployment(
        AmznClientToken=key,
        ExecutionRoleArn=world.role(),
        InputFileUri=world.upload_records(key, groups),
        **extra,
    )["BulkDeploymentId"]
    wait_status(gg, bulk_id, "Completed")
    return bulk_id


def test_detailed_reports_are_paginated(make_emulator: Any, world: World) -> None:
    emulator: GreengrassEmulator = make_emulator(manual_clock=True, init_seconds=0, record_seconds=0.001)
    gg = client_for(emulator)
    group = world.group()  # one group listed 250 times: 250 deployments of it
    bulk_id = gg.start_bulk_deployment(
        ExecutionRoleArn=world.role(), InputFileUri=world.upload_records("big.jsonl", [group] * 250)
    )["BulkDeploymentId"]
    emulator.advance_clock(1)
    assert gg.get_bulk_deployment_status(BulkDeploymentId=bulk_id)["BulkDeploymentStatus"] == "Completed"
    sizes, ids, token = [], [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = gg.list_bulk_deployment_detailed_reports(BulkDeploymentId=bulk_id, MaxResults="100", **kwargs)
        sizes.append(len(page["Deployments"]))
        ids += [d["DeploymentId"] for d in page["Deployments"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sizes == [100, 100, 50]
    assert len(set(ids)) == 250
    assert len(world.moto_gg.list_deployments(GroupId=group[0])["Deployments"]) == 250
    # The default page size (no MaxResults) is smaller than the file: callers must follow NextToken.
    first = gg.list_bulk_deployment_detailed_reports(BulkDeploymentId=bulk_id)
    assert len(first["Deployments"]) == 50 and first["NextToken"]
    # The service may return fewer than asked for.
    emulator.configure(max_page_size=30)
    pages = gg.get_paginator("list_bulk_deployment_detailed_reports").paginate(
        BulkDeploymentId=bulk_id, PaginationConfig={"PageSize": "100"}
    )
    assert [len(p["Deployments"]) for p in pages] == [30] * 8 + [10]


def test_list_bulk_deployments_most_recent_first_paginated(gg: Any, world: World) -> None:
    ids = [completed(gg, world, f"f{i}.jsonl", []) for i in range(3)]
    first = gg.list_bulk_deployments(MaxResults="2")
    assert [b["BulkDeploymentId"] for b in first["BulkDeployments"]] == ids[::-1][:2]
    second = gg.list_bulk_deployments(MaxResults="2", NextToken=first["NextToken"])
    assert [b["BulkDeploymentId"] for b in second["BulkDeployments"]] == [ids[0]]
    assert "NextToken" not in second
    entry = first["BulkDeployments"][0]
    assert set(entry) == {"BulkDeploymentArn", "BulkDeploymentId", "CreatedAt"}
    assert entry["CreatedAt"].endswith("Z")
    pages = gg.get_paginator("list_bulk_deployments").paginate(PaginationConfig={"PageSize": "1"})
    assert [b["BulkDeploymentId"] for p in pages for b in p["BulkDeployments"]] == ids[::-1]


@pytest.mark.parametrize(
    "kwargs", [{"MaxResults": "0"}, {"MaxResults": "ten"}, {"NextToken": "garbage"}, {"NextToken": "Kg=="}]
)
def test_bad_pagination_parameters(gg: Any, world: World, kwargs: dict[str, str]) -> None:
    bulk_id = completed(gg, world, "a.jsonl", [])
    for call in (gg.list_bulk_deployments, gg.list_bulk_deployment_detailed_reports):
        extra = {"BulkDeploymentId": bulk_id} if call == gg.list_bulk_deployment_detailed_reports else {}
        with pytest.raises(ClientError) as exc_info:
            call(**kwargs, **extra)
        assert exc_info.value.response["Error"]["Code"] == "BadRequestException"


def test_next_token_of_one_bulk_deployment_is_not_valid_for_another(gg: Any, world: World) -> None:
    group = world.group()
    first = completed(gg, world, "a.jsonl", [group] * 3)
    second = completed(gg, world, "b.jsonl", [group] * 3)
    token = gg.list_bulk_deployment_detailed_reports(BulkDeploymentId=first, MaxResults="1")["NextToken"]
    with pytest.raises(ClientError):
        gg.list_bulk_deployment_detailed_reports(BulkDeploymentId=second, NextToken=token)


def test_tags_are_returned(gg: Any, world: World) -> None:
    tags = {"bulk-deployer:token": "a" * 64, "team": "ops"}
    bulk_id = completed(gg, world, "a.jsonl", [], tags=tags)
    assert gg.get_bulk_deployment_status(BulkDeploymentId=bulk_id)["tags"] == tags
    arn = gg.list_bulk_deployments()["BulkDeployments"][0]["BulkDeploymentArn"]
    assert gg.list_tags_for_resource(ResourceArn=arn)["tags"] == tags
    untagged = completed(gg, world, "b.jsonl", [])
    assert "tags" not in gg.get_bulk_deployment_status(BulkDeploymentId=untagged)
