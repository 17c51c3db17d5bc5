"""The emulator as a separate process, and the forwarding of other Greengrass calls to moto."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.greengrass_emulator import EmulatorControlClient, GreengrassEmulator

from .conftest import FAST, World, aws_client, wait_status

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator_process(moto_url: str) -> Iterator[str]:
    settings = json.dumps(FAST)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "local.greengrass_emulator", "--port", "0", "--aws-endpoint", moto_url),
            *("--settings", settings, "--log-level", "WARNING"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        assert ready[:1] == ["READY"], ready
        yield ready[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_runs_as_a_process(emulator_process: str, world: World) -> None:
    gg = aws_client("greengrass", emulator_process)
    groups = world.groups(2)
    bulk_id = gg.start_bulk_deployment(
        AmznClientToken="t",
        ExecutionRoleArn=world.role(),
        InputFileUri=world.upload_records("a.jsonl", groups),
    )["BulkDeploymentId"]
    assert wait_status(gg, bulk_id, "Completed")["BulkDeploymentMetrics"]["RecordsProcessed"] == 2
    control = EmulatorControlClient(emulator_process)
    assert control.config()["record_seconds"] == FAST["record_seconds"]
    assert control.start_counts()["by_client_token"] == {"t": 1}


def test_other_greengrass_calls_are_forwarded_to_moto(emulator: GreengrassEmulator, world: World) -> None:
    gg: Any = aws_client("greengrass", emulator.url)
    group_id = gg.create_group(Name="through-the-emulator")["Id"]
    assert world.moto_gg.get_group(GroupId=group_id)["Name"] == "through-the-emulator"
    assert group_id in [g["Id"] for g in gg.list_groups()["Groups"]]
    with pytest.raises(gg.exceptions.ClientError) as exc_info:
        gg.get_group(GroupId="missing")
    assert exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_endpoint_from_the_environment(
    emulator: GreengrassEmulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore honours AWS_ENDPOINT_URL_GREENGRASS: the product needs no endpoint parameter."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_GREENGRASS", emulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", world.url)
    session = boto3.session.Session()
    assert session.client("greengrass").list_bulk_deployments()["BulkDeployments"] == []
    assert session.client("s3").list_buckets()["Buckets"]
    assert emulator.calls(operation="ListBulkDeployments")
