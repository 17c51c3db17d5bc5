"""A big fleet in the emulator: made in-process, listed and rolled out without quadratic costs,
and called in-process as boto3 would."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import GreengrassV2Emulator, InProcessClient

from .conftest import COMPONENTS


def test_populate_group_makes_a_group_of_new_things_each_a_member(
    emulator: GreengrassV2Emulator, iot: Any
) -> None:
    arn = emulator.populate_group("fleet", 3, prefix="dev-")
    assert not emulator.calls()  # no request each
    assert arn == iot.describe_thing_group(thingGroupName="fleet")["thingGroupArn"]
    assert iot.list_things_in_thing_group(thingGroupName="fleet", recursive=True)["things"] == [
        "dev-000000",
        "dev-000001",
        "dev-000002",
    ]


def test_a_big_group_deployment_rolls_out_to_every_device_and_lists_them_all(
    emulator: GreengrassV2Emulator,
) -> None:
    """Every member gets its execution and every page lists the next members. (Releasing and
    listing were quadratic in the fleet; their speed at 100,000 devices is `make bench` step 7's
    to show, not a timed test's.)"""
    devices = 5_000
    emulator.configure(default_rollout_per_minute=devices, enforce_quotas=False)
    group = emulator.populate_group("fleet", devices)
    iot = InProcessClient(emulator.service, "iot")
    gg = InProcessClient(emulator.service, "greengrassv2")
    job = gg.create_deployment(targetArn=group, components=COMPONENTS)["iotJobId"]
    emulator.advance_clock(120)
    names = _every(iot.list_things_in_thing_group, "things", thingGroupName="fleet", recursive=True)
    executions = _every(iot.list_job_executions_for_job, "executionSummaries", jobId=job)
    assert len(names) == len(set(names)) == devices
    assert [e["jobExecutionSummary"]["status"] for e in executions] == ["SUCCEEDED"] * devices
    assert {e["thingArn"].rsplit("/", 1)[-1] for e in executions} == set(names)


def _every(operation: Any, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, 250 a page."""
    found: list[Any] = []
    kwargs: dict[str, Any] = {**params, "maxResults": 250}
    while True:
        answer = operation(**kwargs)
        found += answer[key]
        if "nextToken" not in answer:
            return found
        kwargs["nextToken"] = answer["nextToken"]


def test_the_in_process_client_raises_errors_as_botocore_does(emulator: GreengrassV2Emulator) -> None:
    iot = InProcessClient(emulator.service, "iot")
    with pytest.raises(ClientError) as raised:
        iot.describe_thing_group(thingGroupName="missing")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
