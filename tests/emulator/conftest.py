"""Fixtures for the Greengrass bulk emulator tests: moto server (AWS stand-in), emulator, clients.

The emulator is only ever driven through a real boto3 `greengrass` client over HTTP; its Python
control API is used for switches and counters, as the product's tests will use it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config

from local.greengrass_emulator import GreengrassEmulator, ManualClock
from local.moto_server import MotoServer
from local.stack_config import LocalTiming

REGION = "us-east-1"
BUCKET = "bulk-input"
FAST = dict(LocalTiming.fast().emulator)  # the tests' one pace (the e2e tests' too)
TRUST_GREENGRASS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "greengrass.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def permissions(bucket: str = BUCKET, groups: str = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {
                "Effect": "Allow",
                "Action": "greengrass:CreateDeployment",
                "Resource": f"arn:aws:greengrass:{REGION}:*:/greengrass/groups/{groups}",
            },
        ],
    }


@pytest.fixture(scope="session", autouse=True)
def fake_aws_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SECURITY_TOKEN": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            mp.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GREENGRASS", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server(fake_aws_environment: None) -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto_url(moto_server: MotoServer) -> str:
    """A fresh AWS stand-in for every test."""
    moto_server.reset()
    return moto_server.url


_CLIENTS: dict[str, Any] = {}


def aws_client(service: str, url: str, **config: Any) -> Any:
    """boto3 clients are costly to build (~30 ms): reuse them across tests (they hold no state)."""
    key = json.dumps([service, url, config], sort_keys=True)
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.client(service, endpoint_url=url, region_name=REGION, config=Config(**config))  # type: ignore[call-overload]
    return _CLIENTS[key]


@pytest.fixture
def make_emulator(moto_url: str) -> Iterator[Callable[..., GreengrassEmulator]]:
    started: list[GreengrassEmulator] = []

    def make(manual_clock: bool = False, **settings: Any) -> GreengrassEmulator:
        clock = ManualClock() if manual_clock else None
        emulator = GreengrassEmulator(moto_url, clock=clock, **{**FAST, **settings}).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., GreengrassEmulator]) -> GreengrassEmulator:
    return make_emulator()


@pytest.fixture
def gg(emulator: GreengrassEmulator) -> Any:
    """The product's view: a boto3 greengrass client whose endpoint is the emulator."""
    return aws_client("greengrass", emulator.url, retries={"mode": "standard", "max_attempts": 4})


@dataclass
class World:
    """Resources in the AWS stand-in (moto): roles, groups, input files."""

    url: str

    def __post_init__(self) -> None:
        self.s3 = aws_client("s3", self.url)
        self.iam = aws_client("iam", self.url)
        self.moto_gg = aws_client("greengrass", self.url)
        self.s3.create_bucket(Bucket=BUCKET)
        self._core_arn: str | None = None
        self._roles: dict[str, str] = {}

    def role(
        self,
        name: str = "bulk-deploy",
        trust: dict[str, Any] | None = None,
        policy: dict[str, Any] | bool | None = True,
    ) -> str:
        """Create the role once per name (later calls with the same name return it)."""
        if name in self._roles:
            return self._roles[name]
        arn: str = self.iam.create_role(
            RoleName=name, Path="/service/", AssumeRolePolicyDocument=json.dumps(trust or TRUST_GREENGRASS)
        )["Role"]["Arn"]
        if policy:
            document = permissions() if policy is True else policy
            self.iam.put_role_policy(RoleName=name, PolicyName="deploy", PolicyDocument=json.dumps(document))
        self._roles[name] = arn
        return arn

    def group(self, with_core: bool = True) -> tuple[str, str]:
        """A group and a deployable version (moto refuses deployments without a core)."""
        group_id: str = self.moto_gg.create_group(Name=f"g-{uuid.uuid4().hex[:8]}")["Id"]
        if with_core and self._core_arn is None:
            core = self.moto_gg.create_core_definition(
                Name="core",
                InitialVersion={
                    "Cores": [
                        {
                            "Id": "core-1",
                            "CertificateArn": f"arn:aws:iot:{REGION}:123456789012:cert/abc",
                            "ThingArn": f"arn:aws:iot:{REGION}:123456789012:thing/core",
                            "SyncShadow": False,
                        }
                    ]
                },
            )
            self._core_arn = core["LatestVersionArn"]
        kwargs = {"CoreDefinitionVersionArn": self._core_arn} if with_core else {}
        version: str = self.moto_gg.create_group_version(GroupId=group_id, **kwargs)["Version"]
        return group_id, version

    def groups(self, count: int) -> list[tuple[str, str]]:
        return [self.group() for _ in range(count)]

    def upload(self, key: str, body: bytes | str) -> str:
        """Put the object and return its documented https InputFileUri (percent-encoded key)."""
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)
        return uri(key)

    def upload_records(self, key: str, groups: list[tuple[str, str]]) -> str:
        return self.upload(key, "".join(line(g, v) + "\n" for g, v in groups))


def uri(key: str, bucket: str = BUCKET) -> str:
    return f"https://{bucket}.s3.{REGION}.amazonaws.com/{quote(key)}"


def line(group_id: str, version_id: str, deployment_type: str = "NewDeployment") -> str:
    return json.dumps({"GroupId": group_id, "GroupVersionId": version_id, "DeploymentType": deployment_type})


@pytest.fixture
def world(moto_url: str) -> World:
    return World(moto_url)


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll until predicate() is truthy; bounded, so a broken emulator fails fast."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_status(gg: Any, bulk_id: str, *statuses: str, timeout: float = 5.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        answer: dict[str, Any] = gg.get_bulk_deployment_status(BulkDeploymentId=bulk_id)
        return answer if answer["BulkDeploymentStatus"] in statuses else None

    result: dict[str, Any] = wait_for(done, timeout)
    return result


def status_of(gg: Any, bulk_id: str) -> str:
    return str(gg.get_bulk_deployment_status(BulkDeploymentId=bulk_id)["BulkDeploymentStatus"])


def client_for(emulator: GreengrassEmulator, **config: Any) -> Any:
    """A greengrass client for an emulator made by make_emulator."""
    return aws_client("greengrass", emulator.url, **config)
