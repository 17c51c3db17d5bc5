"""A big fleet in the emulator: made in-process, listed and rolled out without quadratic costs,
and called in-process as boto3 would."""

from __future__ import annotations

import time
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


def test_a_group_deployment_to_100000_devices_rolls_out_and_lists_in_seconds(
    emulator: GreengrassV2Emulator,
) -> None:
    """Releasing and listing were quadratic in the fleet (a dict walked past its deleted head on
    every release; a dict of every member built for every page): 100,000 devices took over a minute."""
    emulator.configure(default_rollout_per_minute=100_000, enforce_quotas=False)
    group = emulator.populate_group("fleet", 100_000)
    iot = InProcessClient(emulator.service, "iot")
    gg = InProcessClient(emulator.service, "greengrassv2")
    started = time.perf_counter()
    job = gg.create_deployment(targetArn=group, components=COMPONENTS)["iotJobId"]
    emulator.advance_clock(120)
    names = _every(iot.list_things_in_thing_group, "things", thingGroupName="fleet", recursive=True)
    executions = _every(iot.list_job_executions_for_job, "executionSummaries", jobId=job)
    assert len(set(names)) == 100_000
    assert [e["jobExecutionSummary"]["status"] for e in executions] == ["SUCCEEDED"] * 100_000
    assert time.perf_counter() - started < 20


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
