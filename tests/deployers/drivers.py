"""Drivers: how the contract suite moves each stand-in of a deployment service.

The contract tests speak only to a ``Deployer`` and to a ``Driver``: a driver prepares what a
start names (an input file with so many targets, some of them failing), lets the service's
time pass, and switches on the failures the product must survive. One driver per stand-in
(and later one per real service, for an opt-in run against an account).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import pytest
from botocore.config import Config
from bulk_deployer.aws import START_CLIENT_CONFIG
from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.base import Deployer, StartRequest
from bulk_deployer.deployers.greengrass_v1 import GreengrassV1Deployer, input_file_uri
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer, target_token_for

from local.greengrass_emulator import GreengrassEmulator, ManualClock
from tests.deployers.greengrass_v2 import world as v2
from tests.emulator.conftest import BUCKET, REGION, World, aws_client
from tests.fakes.greengrass import FakeGreengrass, client_error

ROLE = "arn:aws:iam::123456789012:role/service/bulk-deploy"


def no_sleep(_seconds: float) -> None:
    """Throttling backoff takes no time in the contract tests."""


class Capability(StrEnum):
    """What a service does that another may not: a contract case about it applies only there."""

    # One deployment at a time per account: a start while one runs is refused, latest() shows it.
    ACCOUNT_BUSY = "account_busy"
    # The service reads the input file after the start answered: an unreadable one fails later.
    READS_FILE_AFTER_START = "reads_file_after_start"
    # A start of one call: once its answer is lost, find_by_token finds what it started.
    ONE_CALL_START = "one_call_start"
    # A start after the service forgot the token starts again (nothing of ours remembers it).
    FORGETS_STARTS = "forgets_starts"
    # A stop takes a while (Stopping), and an ended deployment cannot be stopped.
    STOPS_GRADUALLY = "stops_gradually"
    # A deployment whose targets failed still ends SUCCEEDED (the bulk deployment itself ran).
    ENDS_SUCCEEDED_WHEN_TARGETS_FAIL = "ends_succeeded_when_targets_fail"


V1_CAPABILITIES = frozenset(Capability)


class Driver(Protocol):
    deployer: Deployer
    capabilities: frozenset[Capability]

    def request(self, token: str, key: str, *, targets: int = 1, failing: int = 0) -> StartRequest:
        """A start request for an input file of ``targets`` targets, the last ``failing`` failing."""
        ...

    def broken_request(self, token: str, key: str) -> StartRequest:
        """A start request the service accepts but whose deployment fails (an unreadable file)."""
        ...

    def run_to_end(self) -> None:
        """Let the service's time pass until every deployment and target has settled."""
        ...

    def lose_next_start(self) -> None:
        """The next start is carried out but its answer is lost (a 5xx after the work)."""
        ...

    def throttle_next_start(self) -> None: ...

    def forget_tokens(self) -> None:
        """The service forgets every client token (as it does some time after a start)."""
        ...

    def deployments_for(self, token: str) -> int:
        """How many deployments the service created for starts with this token."""
        ...


def _tags(token: str) -> dict[str, str]:
    return {TOKEN_TAG: token, "team": "contract"}


@dataclass
class _Plan:
    targets: int
    failing: int
    broken: bool = False


class InProcessFakeDriver:
    """The V1 deployer over the in-process fake of boto3's ``greengrass`` client."""

    capabilities = V1_CAPABILITIES

    def __init__(self) -> None:
        self.fake = FakeGreengrass()
        self.deployer: Deployer = GreengrassV1Deployer(self.fake, sleep=no_sleep)
        self._plans: dict[str, _Plan] = {}

    def request(self, token: str, key: str, *, targets: int = 1, failing: int = 0) -> StartRequest:
        uri = input_file_uri(BUCKET, key, REGION)
        self._plans[uri] = _Plan(targets, failing)
        return StartRequest(execution_role_arn=ROLE, input_file_uri=uri, tags=_tags(token))

    def broken_request(self, token: str, key: str) -> StartRequest:
        uri = input_file_uri(BUCKET, key, REGION)
        self._plans[uri] = _Plan(0, 0, broken=True)
        return StartRequest(execution_role_arn=ROLE, input_file_uri=uri, tags=_tags(token))

    def run_to_end(self) -> None:
        self.fake.settle_stopping()
        for deployment in self.fake.deployments:
            if deployment.status not in ("Initializing", "Running"):
                continue
            plan = self._plans[deployment.params["InputFileUri"]]
            if plan.broken:
                self.fake.set_status(deployment.id, "Failed", error_message="InvalidInputFile: no such key")
                continue
            statuses = ["Success"] * (plan.targets - plan.failing) + ["Failure"] * plan.failing
            self.fake.set_groups(deployment.id, statuses)
            self.fake.finish(deployment.id)

    def lose_next_start(self) -> None:
        self.fake.lose_next.add("StartBulkDeployment")

    def throttle_next_start(self) -> None:
        error = client_error("TooManyRequestsException", "Rate exceeded", "StartBulkDeployment", 429)
        self.fake.fail_next.setdefault("StartBulkDeployment", []).append(error)

    def forget_tokens(self) -> None:
        self.fake.forget_tokens = True

    def deployments_for(self, token: str) -> int:
        return self.fake.started_per_token()[token]


class EmulatorDriver:
    """The V1 deployer over boto3 against the HTTP emulator, which reads input files from moto."""

    # Long enough for any contract test's file to be read, processed and settled.
    _TO_THE_END_SECONDS = 3600.0
    capabilities = V1_CAPABILITIES

    def __init__(self, emulator: GreengrassEmulator, world: World) -> None:
        self.emulator = emulator
        self.world = world
        client = aws_client("greengrass", emulator.url, retries={"mode": "standard", "max_attempts": 1})
        start_client = aws_client("greengrass", emulator.url, **_config_kwargs(START_CLIENT_CONFIG))
        self.deployer: Deployer = GreengrassV1Deployer(client, start_client, sleep=no_sleep)

    def request(self, token: str, key: str, *, targets: int = 1, failing: int = 0) -> StartRequest:
        groups = self.world.groups(targets)
        failing_ids = {group_id for group_id, _ in groups[targets - failing :]} if failing else set()
        self.emulator.configure(failing_groups=self.emulator.config.failing_groups | failing_ids)
        self.world.upload_records(key, groups)
        return StartRequest(
            execution_role_arn=self.world.role(),
            input_file_uri=input_file_uri(BUCKET, key, REGION),
            tags=_tags(token),
        )

    def broken_request(self, token: str, key: str) -> StartRequest:
        return StartRequest(
            execution_role_arn=self.world.role(),
            input_file_uri=input_file_uri(BUCKET, key, REGION),  # never uploaded
            tags=_tags(token),
        )

    def run_to_end(self) -> None:
        self.emulator.advance_clock(self._TO_THE_END_SECONDS)

    def lose_next_start(self) -> None:
        self.emulator.lose_response("StartBulkDeployment")

    def throttle_next_start(self) -> None:
        self.emulator.throttle("StartBulkDeployment")

    def forget_tokens(self) -> None:
        self.emulator.forget_tokens()

    def deployments_for(self, token: str) -> int:
        return len(self.emulator.deployments(client_token=token))


def _config_kwargs(config: Config) -> dict[str, Any]:
    """aws_client caches clients by their settings: pass the production start client's retries."""
    return {"retries": dict(config.retries or {})}


def emulator_driver(moto_url: str) -> Iterator[EmulatorDriver]:
    """An emulator on a manual clock (nothing moves unless the driver says so)."""
    emulator = GreengrassEmulator(
        moto_url,
        clock=ManualClock(),
        init_seconds=1,
        record_seconds=1,
        stop_seconds=5,
        settle_seconds=10,
        tick_seconds=0,
    ).start()
    try:
        yield EmulatorDriver(emulator, World(moto_url))
    finally:
        emulator.stop()


class V2EmulatorDriver:
    """The Greengrass V2 deployer over boto3 against the V2 emulator, with moto's S3 and DynamoDB.

    A request of n targets is a staged file of n things (one device each), the last ``failing``
    of them failing. Its deployment ends when every target's has (after run_to_end, at the next
    status). V2 does none of the ``Capability`` things: no account-wide one-at-a-time; the file
    is read before anything starts; a start of many calls whose answer was lost is resumed (its
    targets found by their tags), not found by ``find_by_token``; the per-target records keep a
    forgotten token from starting again; a stop cancels at once; a deployment with a failed
    device ends FAILED.
    """

    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, world: v2.World) -> None:
        self.world = world
        self.deployer: Deployer = world.deployer
        self._targets: dict[str, set[str]] = {}
        self._things = 0

    def request(self, token: str, key: str, *, targets: int = 1, failing: int = 0) -> StartRequest:
        names = [f"thing-{self._things + i}" for i in range(targets)]
        self._things += targets
        self.world.things(*names)
        for name in names[targets - failing :]:
            self.world.emulator.set_device(name, "failing")
        arns = [v2.thing_arn(name) for name in names]
        self._targets.setdefault(token, set()).update(arns)
        return self.world.request(token, [v2.line(arn) for arn in arns], key=f"staged/{key}")

    def broken_request(self, token: str, key: str) -> StartRequest:
        raise NotImplementedError("V2 reads the file before anything starts (READS_FILE_AFTER_START)")

    def run_to_end(self) -> None:
        self.world.advance(3600.0)

    def lose_next_start(self) -> None:
        self.world.emulator.lose_response()

    def throttle_next_start(self) -> None:
        self.world.emulator.throttle("CreateDeployment")

    def forget_tokens(self) -> None:
        self.world.emulator.forget_tokens()

    def deployments_for(self, token: str) -> int:
        """The most deployments created for any one of the file's targets (1: each exactly once)."""
        tokens = {target_token_for(token, arn) for arn in self._targets.get(token, ())}
        created = Counter(
            c.client_token for c in self.world.emulator.calls(operation="CreateDeployment") if c.created
        )
        return max((created[t] for t in tokens), default=0)


def requires(driver: Driver, capability: Capability, *, present: bool = True) -> None:
    """Skip a contract case about what this driver's service does (not) do (see Capability)."""
    if (capability in driver.capabilities) is not present:
        having = "does not have" if present else "has"
        pytest.skip(f"{type(driver).__name__}: the service {having} {capability.value}")


def _every_deployer_is_a_deployer(v1: GreengrassV1Deployer, v2: GreengrassV2Deployer) -> tuple[Deployer, ...]:
    """Checked by mypy, never called: each implementation answers the whole interface."""
    return v1, v2
