"""Fixtures of the Greengrass V2 deployer's tests (the emulator and moto: tests/deployers/conftest.py)."""

from __future__ import annotations

import pytest

from local.greengrass_v2_emulator import GreengrassV2Emulator
from local.moto_server import MotoServer
from tests.deployers.greengrass_v2.world import World, reset


@pytest.fixture
def world(v2_emulator: GreengrassV2Emulator, contract_moto: MotoServer) -> World:
    """A new world: no things, no deployments, no calls, quotas off (a test turns them on)."""
    reset(v2_emulator, contract_moto)
    return World(v2_emulator, contract_moto)
