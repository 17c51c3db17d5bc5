"""The control surface both Greengrass emulators share (local/emulator_kit), over HTTP.

Why one test for both: the routes, the client and their errors are written once; each emulator
must answer them the same way, whatever else it adds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local.emulator_kit.clock import ManualClock
from local.emulator_kit.control_client import ControlClient
from local.emulator_kit.server import EmulatorServer
from local.greengrass_emulator import EmulatorControlClient, GreengrassEmulator
from local.greengrass_v2_emulator import EmulatorV2ControlClient, GreengrassV2Emulator

T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Kind:
    build: Callable[[ManualClock], EmulatorServer[Any]]
    client: type[ControlClient]
    throttle: Callable[[Any], None]  # inject one throttle through the emulator's Python API
    fault_field: str  # the field that says what the fault does, in its JSON


KINDS = {
    "v1": Kind(
        lambda clock: GreengrassEmulator(None, clock=clock),
        EmulatorControlClient,
        lambda emulator: emulator.throttle("StartBulkDeployment", times=2),
        "kind",
    ),
    "v2": Kind(
        lambda clock: GreengrassV2Emulator(clock=clock),
        EmulatorV2ControlClient,
        lambda emulator: emulator.throttle("CreateDeployment", times=2),
        "error",
    ),
}


@pytest.fixture(params=sorted(KINDS))
def running(request: pytest.FixtureRequest) -> Iterator[tuple[Kind, Any, ControlClient]]:
    kind = KINDS[request.param]
    with kind.build(ManualClock(T0)) as emulator:
        yield kind, emulator, kind.client(emulator.url)


def test_settings_are_read_and_changed_by_name(running: tuple[Kind, Any, ControlClient]) -> None:
    _, emulator, control = running
    assert control.health()
    assert control.config()["tick_seconds"] == emulator.config.tick_seconds
    assert control.configure(tick_seconds=0)["tick_seconds"] == 0
    assert emulator.config.tick_seconds == 0
    with pytest.raises(RuntimeError, match=r"HTTP 400.*unknown setting"):
        control.configure(no_such_setting=1)


def test_faults_are_listed_until_cleared(running: tuple[Kind, Any, ControlClient]) -> None:
    kind, emulator, control = running
    assert control.faults() == []
    kind.throttle(emulator)
    [fault] = control.faults()
    assert fault["times"] == 2
    assert fault[kind.fault_field] in ("throttle", "ThrottlingException")
    control.clear_faults()
    assert control.faults() == []


def test_the_manual_clock_moves_and_refusals_carry_their_status(
    running: tuple[Kind, Any, ControlClient],
) -> None:
    _, emulator, control = running
    assert control.advance_clock(5) == T0 + 5
    assert emulator.clock.now() == T0 + 5
    assert control.calls() == []
    with pytest.raises(RuntimeError, match=r"HTTP 400.*unknown filter"):
        control.calls(no_such_field="x")
    with pytest.raises(RuntimeError, match="HTTP 404"):
        control._request("GET", "no-such-route")
