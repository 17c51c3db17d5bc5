"""Greengrass V2 starts: the rate a big file starts at against its request budget, and what a
duplicate event costs.

Run as its own process (python -m benchmarks.v2_start_bench MOTO_URL TARGETS
REQUESTS_PER_SECOND STARTER_TIMEOUT_SECONDS); prints one JSON line. moto (S3, DynamoDB) runs in
another process; the V2 emulator runs here over HTTP (the clients are botocore's, so the
request budget hooks every HTTP attempt and botocore retries throttles, as deployed), with its
quotas enforced: 30 Greengrass requests a second for every caller together, IoT's per-operation
rates.

The clock: the starter's time is wall-clock time, but its budget waits are skipped, not slept
(``SkippingClock``): the emulator, the budget and the invocation's remaining time all read the
same clock, which runs at wall speed plus every wait. So the start's own work (S3, DynamoDB,
botocore, the emulator) costs its real time, and a 1,000-target start that the budget spreads
over ten minutes takes a minute here. The figure: of the requests the budget allowed over the
start (its burst plus rate x elapsed seconds), the share the start used for requests that were
answered (not throttled). Below 1 means time the starter spent on its own work or on backoff.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import boto3
from bulk_deployer.aws import CLIENT_CONFIG
from bulk_deployer.config import StarterSettings
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger, TargetState
from bulk_deployer.dispatch import DispatchResult
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.intake import Outcome
from bulk_deployer.request_budget import BUDGETED_CLIENT_CONFIG, RequestBudget
from bulk_deployer.settings_schema import GREENGRASS_V2

from benchmarks.events import ACCOUNT, REGION
from benchmarks.v2_functions import V2Functions, thing_arn
from local.fleet import v2_line
from local.greengrass_v2_emulator import GreengrassV2Emulator

BUCKET, TABLE = "bench-v2-start", "bench-v2-start-ledger"
DUPLICATE_DELIVERIES = 5


class SkippingClock:
    """Wall-clock time plus every wait ``advance``d past instead of slept (epoch seconds)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._start, self._origin = start, time.perf_counter()
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._start + time.perf_counter() - self._origin + self._skipped

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._skipped += max(0.0, seconds)


def measure(moto_url: str, targets: int, requests_per_second: int, timeout_seconds: float) -> dict[str, Any]:
    """Start a ``targets``-thing file through the intake, each starter invocation ``timeout_seconds``
    long (a start that needs more resumes at the next dispatch, the tracker's); then deliver its
    event again."""
    session = boto3.session.Session(region_name=REGION)
    s3 = session.client("s3", endpoint_url=moto_url, config=CLIENT_CONFIG)
    dynamodb = session.client("dynamodb", endpoint_url=moto_url, config=CLIENT_CONFIG)
    clock = SkippingClock()
    rate = StarterSettings(
        ledger_table_name=TABLE,
        region=REGION,
        greengrass=GREENGRASS_V2,
        stack_account_id=ACCOUNT,
        greengrass_requests_per_second=requests_per_second,
    ).function_requests_per_second
    budget = RequestBudget(rate, clock=clock.now, sleep=clock.advance)
    throttles: list[str] = []
    with GreengrassV2Emulator(clock=clock, tick_seconds=0, enforce_quotas=True) as emulator:
        gg, iot = (
            budget.attach(
                session.client(name, endpoint_url=emulator.url, config=BUDGETED_CLIENT_CONFIG),
                on_throttle=throttles.append,
            )
            for name in ("greengrassv2", "iot")
        )
        invocation = {"ends_at": clock.now() + timeout_seconds}
        functions = V2Functions(
            s3,
            dynamodb,
            gg,
            iot,
            clock.now,
            clock.advance,
            BUCKET,
            TABLE,
            time_left=lambda: invocation["ends_at"] - clock.now(),
            settings={"greengrass_requests_per_second": requests_per_second},
        )
        emulator.populate_group("bench-fleet", targets, prefix="core-")  # the things, without requests
        names = [f"core-{i:06d}" for i in range(targets)]
        ref = functions.upload("incoming/fleet.jsonl", [v2_line(thing_arn(name)) for name in names])
        before = len(emulator.calls())
        requests_before = budget.requests
        delivered_at = clock.now()
        result = functions.deliver(ref, 1)
        invocations = 1
        dispatch = result.dispatch
        while dispatch is not None and dispatch.result not in (
            DispatchResult.STARTED,
            DispatchResult.RECOVERED,
        ):
            # Out of the invocation's time part-way: the next dispatch (the tracker's) resumes.
            invocations += 1
            if invocations > 20:
                raise RuntimeError(f"the start did not finish: {dispatch}")
            invocation["ends_at"] = clock.now() + timeout_seconds
            dispatch = functions.tracker().dispatcher.dispatch()
        calls = emulator.calls()[before:]
        answered = [c for c in calls if c.outcome != "ThrottlingException"]
        elapsed = calls[-1].at - delivered_at  # the intake's validation and staging included
        allowed = budget.burst + rate * elapsed
        records = TargetLedger(TableAccess(dynamodb, TABLE)).records(str(result.token), targets)
        states: dict[str, int] = {}
        for record in records.values():
            states[record.state.value] = states.get(record.state.value, 0) + 1
        created = emulator.create_counts()["created_by_target"]

        # The same event again, after the file started: the ledger answers, nothing else does.
        calls_before = len(emulator.calls())
        duplicates = [functions.deliver(ref, 2 + n).outcome for n in range(DUPLICATE_DELIVERIES)]
        duplicate_calls = len(emulator.calls()) - calls_before

    return {
        "targets": targets,
        "outcome": result.outcome.value,
        "invocations": invocations,
        "budget_per_second": rate,
        "requests": budget.requests - requests_before,
        "requests_per_target": len(answered) / targets,
        "elapsed_seconds": elapsed,
        "targets_per_second": targets / elapsed if elapsed > 0 else float("inf"),
        "start_rate_ratio": len(answered) / allowed,
        "throttles": len(throttles),
        "throttled_calls_at_emulator": len(calls) - len(answered),
        "states": states,
        "refused": states.get(TargetState.REFUSED.value, 0),
        "created_once": sum(1 for n in created.values() if n == 1),
        "created_twice": sum(1 for n in created.values() if n > 1),
        "duplicate_outcomes": sorted(set(duplicates)),
        "duplicate_deliveries": DUPLICATE_DELIVERIES,
        "duplicate_calls": duplicate_calls,
        "queued": result.outcome is Outcome.QUEUED,
    }


def main(argv: list[str]) -> None:
    moto_url, targets, requests_per_second, timeout_seconds = argv
    print(json.dumps(measure(moto_url, int(targets), int(requests_per_second), float(timeout_seconds))))


if __name__ == "__main__":
    main(sys.argv[1:])
