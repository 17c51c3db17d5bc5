"""The contract suite's drivers: one parameter per stand-in of a deployer (see drivers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.moto_server import MotoServer
from tests.deployers.drivers import Driver, InProcessFakeDriver, emulator_driver


@pytest.fixture(scope="session")
def contract_moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(params=["v1-in-process-fake", "v1-http-emulator"])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    if request.param == "v1-in-process-fake":
        yield InProcessFakeDriver()
        return
    server: MotoServer = request.getfixturevalue("contract_moto")
    server.reset()
    yield from emulator_driver(server.url)
