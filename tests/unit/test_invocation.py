"""InvocationTime: the current invocation's time limit, as the V2 deployer reads it."""

from __future__ import annotations

from bulk_deployer.invocation import UNBOUNDED_SECONDS, InvocationTime


def test_outside_an_invocation_the_time_is_a_functions_longest() -> None:
    assert InvocationTime(clock=lambda: 0.0).time_left() == UNBOUNDED_SECONDS


def test_each_invocation_sets_its_own_limit_and_time_runs_down_to_zero() -> None:
    now = [100.0]
    invocation = InvocationTime(clock=lambda: now[0])
    invocation.begin(60)
    now[0] += 45
    assert invocation.time_left() == 15
    now[0] += 30
    assert invocation.time_left() == 0
    invocation.begin(900)  # the next invocation of the same execution environment
    assert invocation.time_left() == 900
