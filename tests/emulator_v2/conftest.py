"""Fixtures for the Greengrass V2 emulator tests: one emulator on a ManualClock, boto3 clients.

The emulator is driven through real boto3 `greengrassv2` and `iot` clients over HTTP, as the
product will drive it; its Python API is used for switches, time and counters. One server serves
the whole package (reset before each test) so that boto3 clients are built once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.greengrass_v2_emulator import EmulatorConfig, GreengrassV2Emulator, ManualClock

REGION = "us-east-1"
ACCOUNT = "123456789012"
COMPONENTS = {"com.example.Hello": {"componentVersion": "1.0.0"}}

_CLIENTS: dict[str, Any] = {}


def client(service: str, url: str, **config: Any) -> Any:
    """boto3 clients are costly to build (~30 ms): reuse them (they hold no state)."""
    key = json.dumps([service, url, config], sort_keys=True)
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.client(service, endpoint_url=url, region_name=REGION, config=Config(**config))  # type: ignore[call-overload]
    return _CLIENTS[key]


@pytest.fixture(scope="session")
def _server() -> Iterator[GreengrassV2Emulator]:
    with GreengrassV2Emulator(clock=ManualClock(1_800_000_000.0), tick_seconds=0) as emulator:
        yield emulator


@pytest.fixture
def emulator(_server: GreengrassV2Emulator) -> GreengrassV2Emulator:
    """The shared emulator, as new: no state, no calls, no faults, default settings."""
    _server.reset()
    _server.configure(**EmulatorConfig(tick_seconds=0).to_dict())
    return _server


@pytest.fixture
def gg(emulator: GreengrassV2Emulator) -> Any:
    """The product's view: greengrassv2 on the emulator, botocore retrying as configured by default."""
    return client("greengrassv2", emulator.url)


@pytest.fixture
def iot(emulator: GreengrassV2Emulator) -> Any:
    return client("iot", emulator.url)


def no_retry(service: str, emulator: GreengrassV2Emulator, **config: Any) -> Any:
    return client(service, emulator.url, retries={"mode": "standard", "total_max_attempts": 1}, **config)


def unchecked(service: str, emulator: GreengrassV2Emulator) -> Any:
    """A client that sends what it is given: the emulator's own checks answer."""
    return no_retry(service, emulator, parameter_validation=False)


@dataclass
class Fleet:
    """Things and thing groups, created through the iot client."""

    iot: Any

    def __post_init__(self) -> None:
        self.created: set[str] = set()

    def things(self, *names: str) -> list[str]:
        arns = [self.iot.create_thing(thingName=name)["thingArn"] for name in names]
        self.created.update(names)
        return arns

    def group(self, name: str, *things: str, parent: str | None = None) -> str:
        """A thing group (child of `parent`) with these things in it (created when new)."""
        kwargs = {"parentGroupName": parent} if parent else {}
        arn: str = self.iot.create_thing_group(thingGroupName=name, **kwargs)["thingGroupArn"]
        self.things(*[t for t in things if t not in self.created])
        for thing in things:
            self.iot.add_thing_to_thing_group(thingGroupName=name, thingName=thing)
        return arn


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def group_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


@pytest.fixture
def fleet(iot: Any) -> Fleet:
    return Fleet(iot)


def error_of(exc_info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc_info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def deploy(gg: Any, target: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = gg.create_deployment(**{"targetArn": target, "components": COMPONENTS, **extra})
    return answer


def executions(iot: Any, job_id: str) -> dict[str, str]:
    """thing name -> execution status, over every page."""
    pages = iot.get_paginator("list_job_executions_for_job").paginate(jobId=job_id)
    return {
        s["thingArn"].rsplit("/", 1)[1]: s["jobExecutionSummary"]["status"]
        for page in pages
        for s in page["executionSummaries"]
    }
