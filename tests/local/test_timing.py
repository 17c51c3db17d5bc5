"""One fast timing profile (LocalTiming.fast()) for every test suite; the load runs' one variant of it."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.pipeline_bench import BURST_TIMING
from benchmarks.soak import SOAK_TIMING
from local.stack_config import LocalTiming
from tests.cli.conftest import FAST as CLI_PACE
from tests.emulator.conftest import FAST as EMULATOR_TESTS_PACE


def test_the_cli_and_emulator_tests_run_the_emulator_at_the_e2e_tests_pace() -> None:
    assert CLI_PACE == EMULATOR_TESTS_PACE == dict(LocalTiming.fast().emulator)


def test_the_load_runs_differ_from_the_fast_profile_only_where_they_say_why() -> None:
    fast, load = LocalTiming.fast(), LocalTiming.load()
    assert replace(load, emulator=fast.emulator) == fast
    assert load.emulator.keys() == fast.emulator.keys()
    assert all(load.emulator[switch] < pace for switch, pace in fast.emulator.items())
    assert load == SOAK_TIMING
    # The burst measures in tracker periods, longer than a tracker run (benchmarks/pipeline_bench.py).
    assert replace(load, tracker_period_seconds=1.0) == BURST_TIMING
