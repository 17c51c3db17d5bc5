"""The IoT registry: things, thing groups, recursive membership and the documented limits."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import GreengrassV2Emulator

from .conftest import Fleet, error_of, group_arn, thing_arn, unchecked


def test_create_and_describe_a_thing(iot: Any) -> None:
    created = iot.create_thing(thingName="core-1", attributePayload={"attributes": {"site": "a"}})
    assert created["thingArn"] == thing_arn("core-1")
    described = iot.describe_thing(thingName="core-1")
    assert (described["thingId"], described["attributes"]) == (created["thingId"], {"site": "a"})


def test_creating_a_thing_again_is_idempotent_only_with_the_same_configuration(iot: Any) -> None:
    first = iot.create_thing(thingName="core-1")
    assert iot.create_thing(thingName="core-1")["thingId"] == first["thingId"]
    with pytest.raises(ClientError) as exc_info:
        iot.create_thing(thingName="core-1", attributePayload={"attributes": {"site": "b"}})
    assert error_of(exc_info) == ("ResourceAlreadyExistsException", 409)


@pytest.mark.parametrize("name", ["has space", "x" * 129, "slash/name"])
def test_thing_and_group_names_are_1_to_128_of_the_allowed_characters(
    emulator: GreengrassV2Emulator, name: str
) -> None:
    iot = unchecked("iot", emulator)
    for create in (
        lambda: iot.create_thing(thingName=name),
        lambda: iot.create_thing_group(thingGroupName=name),
    ):
        with pytest.raises(ClientError) as exc_info:
            create()
        assert error_of(exc_info) == ("InvalidRequestException", 400)
    assert iot.create_thing(thingName="ok:Name_with-dashes" + "x" * 109)["thingName"]


def test_a_group_with_a_parent_knows_its_ancestors(iot: Any, fleet: Fleet) -> None:
    fleet.group("root")
    fleet.group("mid", parent="root")
    fleet.group("leaf", parent="mid")
    metadata = iot.describe_thing_group(thingGroupName="leaf")["thingGroupMetadata"]
    assert metadata["parentGroupName"] == "mid"
    assert [g["groupName"] for g in metadata["rootToParentThingGroups"]] == ["root", "mid"]
    with pytest.raises(ClientError) as exc_info:
        iot.create_thing_group(thingGroupName="orphan", parentGroupName="nowhere")
    assert error_of(exc_info) == ("ResourceNotFoundException", 404)


def test_listing_a_group_recursively_includes_its_descendants(iot: Any, fleet: Fleet) -> None:
    fleet.group("fleet", "a", "b")
    fleet.group("eu", "c", parent="fleet")
    fleet.group("eu-west", "d", parent="eu")
    assert iot.list_things_in_thing_group(thingGroupName="fleet")["things"] == ["a", "b"]
    pages = iot.get_paginator("list_things_in_thing_group").paginate(
        thingGroupName="fleet", recursive=True, PaginationConfig={"PageSize": 3}
    )
    sizes_and_things = [(len(p["things"]), p["things"]) for p in pages]
    assert [size for size, _ in sizes_and_things] == [3, 1]
    assert sorted(t for _, things in sizes_and_things for t in things) == ["a", "b", "c", "d"]


def test_list_page_size_is_at_most_250(emulator: GreengrassV2Emulator, fleet: Fleet) -> None:
    fleet.group("fleet")
    with pytest.raises(ClientError) as exc_info:
        unchecked("iot", emulator).list_things_in_thing_group(thingGroupName="fleet", maxResults=251)
    assert error_of(exc_info) == ("InvalidRequestException", 400)


def test_adding_and_removing_members(iot: Any, fleet: Fleet) -> None:
    fleet.group("fleet", "a")
    fleet.things("b")
    iot.add_thing_to_thing_group(thingGroupArn=group_arn("fleet"), thingArn=thing_arn("b"))
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="b")  # already there: no error
    iot.remove_thing_from_thing_group(thingGroupName="fleet", thingName="a")
    assert iot.list_things_in_thing_group(thingGroupName="fleet")["things"] == ["b"]
    assert iot.list_thing_groups_for_thing(thingName="b")["thingGroups"] == [
        {"groupName": "fleet", "groupArn": group_arn("fleet")}
    ]
    for kwargs in (
        {"thingGroupName": "nope", "thingName": "b"},
        {"thingGroupName": "fleet", "thingName": "nope"},
    ):
        with pytest.raises(ClientError) as exc_info:
            iot.add_thing_to_thing_group(**kwargs)
        assert error_of(exc_info) == ("ResourceNotFoundException", 404)


def test_a_member_or_group_is_named_by_name_or_by_an_arn_of_this_account(iot: Any, fleet: Fleet) -> None:
    fleet.group("fleet", "a")
    other_account = thing_arn("a").replace(":123456789012:", ":210987654321:")
    refusals = [
        ({"thingGroupName": "fleet"}, "InvalidRequestException", "Either thingName or thingArn"),
        ({"thingName": "a"}, "InvalidRequestException", "Either thingGroupName or thingGroupArn"),
        ({"thingGroupName": "fleet", "thingArn": other_account}, "ResourceNotFoundException", other_account),
        ({"thingGroupArn": group_arn("nope"), "thingName": "a"}, "ResourceNotFoundException", "nope"),
    ]
    for kwargs, code, message in refusals:
        with pytest.raises(ClientError) as exc_info:
            iot.remove_thing_from_thing_group(**kwargs)
        assert error_of(exc_info)[0] == code
        assert message in exc_info.value.response["Error"]["Message"]
    iot.remove_thing_from_thing_group(thingGroupArn=group_arn("fleet"), thingArn=thing_arn("a"))
    assert iot.list_things_in_thing_group(thingGroupName="fleet")["things"] == []


def test_a_thing_is_in_at_most_ten_groups(iot: Any, fleet: Fleet) -> None:
    fleet.things("core")
    for index in range(10):
        fleet.group(f"g{index}", "core")
    fleet.group("g10")
    with pytest.raises(ClientError) as exc_info:
        iot.add_thing_to_thing_group(thingGroupName="g10", thingName="core")
    assert error_of(exc_info) == ("InvalidRequestException", 400)
    assert "10 thing groups" in exc_info.value.response["Error"]["Message"]


def test_a_thing_is_in_one_group_per_hierarchy(
    emulator: GreengrassV2Emulator, iot: Any, fleet: Fleet
) -> None:
    fleet.group("fleet", "core")
    fleet.group("eu", parent="fleet")
    with pytest.raises(ClientError) as exc_info:
        iot.add_thing_to_thing_group(thingGroupName="eu", thingName="core")
    assert error_of(exc_info) == ("InvalidRequestException", 400)
    emulator.configure(one_group_per_hierarchy=False)
    iot.add_thing_to_thing_group(thingGroupName="eu", thingName="core")
    assert iot.list_things_in_thing_group(thingGroupName="fleet", recursive=True)["things"] == ["core"]


def test_a_hierarchy_is_at_most_seven_deep(iot: Any, fleet: Fleet) -> None:
    fleet.group("level1")
    for level in range(2, 8):
        fleet.group(f"level{level}", parent=f"level{level - 1}")
    with pytest.raises(ClientError) as exc_info:
        iot.create_thing_group(thingGroupName="level8", parentGroupName="level7")
    assert error_of(exc_info) == ("InvalidRequestException", 400)
