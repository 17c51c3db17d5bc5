"""A Greengrass V2 world for the deployer's tests: the V2 emulator on a manual clock, moto's S3
and DynamoDB, and the deployer built on them as the wiring would build it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.base import StartRequest
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer, StartSettings, V2StartRequests
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.ledger_model import table_definition

from local.greengrass_v2_emulator import EmulatorConfig, GreengrassV2Emulator, ManualClock
from local.moto_server import MotoServer

REGION, ACCOUNT = "us-east-1", "123456789012"
BUCKET, TABLE = "bulk-input", "ledger"
COMPONENTS = {"com.example.Hello": {"componentVersion": "1.0.0"}}
NO_RETRY = {"mode": "standard", "total_max_attempts": 1}
_CLIENTS: dict[str, Any] = {}


def aws(service: str, url: str, **config: Any) -> Any:
    """boto3 clients are costly to build: reuse them (they hold no state)."""
    key = json.dumps([service, url, config], sort_keys=True)
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.client(service, endpoint_url=url, region_name=REGION, config=Config(**config))  # type: ignore[call-overload]
    return _CLIENTS[key]


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def group_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


def line(target: str, components: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"targetArn": target, "components": components or COMPONENTS, **extra}


@dataclass
class Clock:
    """Time left to the caller, set by the test."""

    seconds_left: float = 900.0
    sleeps: list[float] = field(default_factory=list)
    script: list[float] = field(default_factory=list)  # answers before seconds_left, in turn

    def time_left(self) -> float:
        return self.script.pop(0) if self.script else self.seconds_left

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@dataclass
class World:
    emulator: GreengrassV2Emulator
    moto: MotoServer
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.s3 = aws("s3", self.moto.url)
        self.db = aws("dynamodb", self.moto.url)
        self.iot = aws("iot", self.emulator.url, retries=NO_RETRY)
        self.s3.create_bucket(Bucket=BUCKET)
        self.db.create_table(**table_definition(TABLE))
        self.deployer = self.build()

    def build(
        self, *, retries: dict[str, Any] | None = None, gg: Any = None, **options: Any
    ) -> GreengrassV2Deployer:
        gg = gg or aws("greengrassv2", self.emulator.url, retries=retries or NO_RETRY)
        assert isinstance(self.emulator.clock, ManualClock)
        now = self.emulator.clock.now
        bounds = {k: options.pop(k) for k in ("conflict_refusal_seconds",) if k in options}
        settings = StartSettings(
            time_left=self.clock.time_left,
            margin_seconds=30.0,
            default_timeout_minutes=options.pop("default_timeout_minutes", 60),
            clock=now,
            sleep=self.clock.sleep,
            **bounds,
        )
        table = TableAccess(self.db, TABLE, clock=now)
        return GreengrassV2Deployer(gg, self.iot, self.s3, table, settings, **options)

    # -- things and groups --------------------------------------------------------------------
    def things(self, *names: str) -> list[str]:
        return [self.iot.create_thing(thingName=name)["thingArn"] for name in names]

    def group(self, name: str, *things: str, parent: str | None = None) -> str:
        kwargs = {"parentGroupName": parent} if parent else {}
        arn: str = self.iot.create_thing_group(thingGroupName=name, **kwargs)["thingGroupArn"]
        for thing in things:
            self.iot.create_thing(thingName=thing)
            self.iot.add_thing_to_thing_group(thingGroupName=name, thingName=thing)
        return arn

    # -- files --------------------------------------------------------------------------------
    def request(self, token: str, lines: list[dict[str, Any]], key: str | None = None) -> StartRequest:
        """Stage a file of these lines as the intake does, and the start request naming it."""
        key = key or f"staged/{token}.jsonl"
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        tags = {TOKEN_TAG: token, "team": "v2"}
        return V2StartRequests().build(BUCKET, key, tags, tuple(line["targetArn"] for line in lines))

    def created(self) -> dict[str, int]:
        """CreateDeployment calls that created a deployment, per target."""
        counts: dict[str, int] = {}
        for call in self.emulator.calls(operation="CreateDeployment"):
            if call.created:
                counts[str(call.target_arn)] = counts.get(str(call.target_arn), 0) + 1
        return counts

    def greengrass_and_iot_calls(self, *, but: tuple[str, ...] = ()) -> int:
        return len([c for c in self.emulator.calls() if c.operation not in but])

    def object_text(self, key: str) -> str:
        return str(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())

    def advance(self, seconds: float) -> None:
        self.emulator.advance_clock(seconds)


def emulator_session() -> Iterator[GreengrassV2Emulator]:
    with GreengrassV2Emulator(clock=ManualClock(1_800_000_000.0), tick_seconds=0) as emulator:
        yield emulator


def reset(emulator: GreengrassV2Emulator, moto: MotoServer, **settings: Any) -> None:
    moto.reset()
    emulator.reset()
    emulator.configure(**{**EmulatorConfig(tick_seconds=0, enforce_quotas=False).to_dict(), **settings})
