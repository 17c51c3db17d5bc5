"""The contract suite's drivers: one parameter per stand-in of a deployer (see drivers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.greengrass_v2_emulator import GreengrassV2Emulator
from local.moto_server import MotoServer
from tests.deployers.drivers import Driver, InProcessFakeDriver, V2EmulatorDriver, emulator_driver
from tests.deployers.greengrass_v2.world import World, emulator_session, reset


@pytest.fixture(scope="session")
def contract_moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def v2_emulator() -> Iterator[GreengrassV2Emulator]:
    """The Greengrass V2 emulator on a manual clock, shared by the package (reset per test)."""
    yield from emulator_session()


@pytest.fixture(params=["v1-in-process-fake", "v1-http-emulator", "v2-http-emulator"])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    if request.param == "v1-in-process-fake":
        yield InProcessFakeDriver()
        return
    server: MotoServer = request.getfixturevalue("contract_moto")
    if request.param == "v2-http-emulator":
        emulator: GreengrassV2Emulator = request.getfixturevalue("v2_emulator")
        reset(emulator, server)
        yield V2EmulatorDriver(World(emulator, server))
        return
    server.reset()
    yield from emulator_driver(server.url)
