"""One fast timing profile (LocalTiming.fast()) for every test suite; the load runs' one variant of it."""

from __future__ import annotations

import time
from dataclasses import replace

from bulk_deployer.deployers.greengrass_v2.starter import _LOOKUP_MARGIN_SECONDS

from benchmarks.pipeline_bench import BURST_TIMING
from benchmarks.soak import SOAK_TIMING
from local.emulator_kit.clock import LaggingClock
from local.stack_config import V2_CONTEXT, LocalTiming, load_deploy_config
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


def test_a_v2_stacks_one_minute_deadline_comes_after_the_profiles_seconds() -> None:
    """The V2 emulator's clock runs behind the functions' by the rest of V2_CONTEXT's one-minute
    deadline, less than the starter tolerates when it looks for a lost answer's deployment."""
    assert load_deploy_config(V2_CONTEXT).thing_group_deadline_minutes == 1
    for timing in (LocalTiming.fast(), LocalTiming.demo(), LocalTiming.interactive()):
        assert timing.thing_group_deadline_seconds is not None
        assert timing.v2_emulator_behind_seconds + timing.thing_group_deadline_seconds == 60.0
        assert 0 < timing.v2_emulator_behind_seconds < _LOOKUP_MARGIN_SECONDS
    assert LocalTiming().v2_emulator_behind_seconds == 0.0  # the deployed stack's pace


def test_a_lagging_clock_is_wall_time_less_its_lag() -> None:
    clock = LaggingClock(behind_seconds=50.0)
    before = time.time()
    now = clock.now()
    assert before - 50.0 <= now <= time.time() - 50.0
