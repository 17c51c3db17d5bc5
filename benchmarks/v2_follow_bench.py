"""Following a big Greengrass V2 thing group to its end and reporting it: memory and calls.

Run as its own process (python -m benchmarks.v2_follow_bench MOTO_URL DEVICES MODE) so that
the peak RSS is this work's; moto (S3, DynamoDB) runs in another process. The V2 emulator runs
in this one, called without HTTP (InProcessClient): over HTTP most of the time goes to botocore
parsing three timestamps per job execution, which measures botocore, not the follower. Its fleet
is made and the deployment started before any measurement begins. MODE:

- ``report ROWS_PER_RUN TIMEOUT_SECONDS`` (`make bench` step 7): the file dropped into the V2
  stack's intake, every device done, then the tracker's runs until the report is final, each on
  a simulated Lambda clock cut off after ROWS_PER_RUN report rows; peak RSS of all the runs;
- ``calls`` (step 9): the calls of each status pass, counted at the emulator;
- ``traced`` (tests/deployers/greengrass_v2/test_follow_big_group.py): one status pass that
  finds the group done, tracemalloc's peak.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from dataclasses import asdict
from typing import Any

import boto3
from bulk_deployer.aws import CLIENT_CONFIG
from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer, StartSettings, V2StartRequests
from bulk_deployer.dynamo import TableAccess

from benchmarks.report_bench import read_back, write_report
from benchmarks.rss import PeakGrowth
from benchmarks.v2_functions import V2Functions
from local.fleet import v2_line
from local.greengrass_v2_emulator import EmulatorConfig, InProcessClient, ManualClock
from local.greengrass_v2_emulator.service import EmulatorService
from local.provision import create_input_bucket, create_ledger_table

BUCKET, TABLE, GROUP = "bench-v2", "bench-v2-ledger", "bench-fleet"
TOKEN = "b" * 64
DEPLOYMENT = f"gg2-{TOKEN}"
COMPONENTS = {"com.example.Hello": {"componentVersion": "1.0.0"}}
ROLLOUT_PER_MINUTE = 100_000  # the whole fleet reached in a minute of the emulator's clock


def _started_group(
    s3: Any, dynamodb: Any, devices: int
) -> tuple[EmulatorService, ManualClock, GreengrassV2Deployer]:
    """A ``devices``-thing group, a file's deployment to it started (no device reached yet)."""
    create_input_bucket(s3, BUCKET)
    create_ledger_table(dynamodb, TABLE)
    clock = ManualClock(1_800_000_000.0)
    config = EmulatorConfig(
        enforce_quotas=False, tick_seconds=0, default_rollout_per_minute=ROLLOUT_PER_MINUTE
    )
    service = EmulatorService(config, clock)
    group = service.populate_group(GROUP, devices)
    line = {"targetArn": group, "components": COMPONENTS}
    s3.put_object(Bucket=BUCKET, Key="staged/fleet.jsonl", Body=json.dumps(line).encode() + b"\n")
    request = V2StartRequests().build(BUCKET, "staged/fleet.jsonl", {TOKEN_TAG: TOKEN}, (group,))
    settings = StartSettings(time_left=lambda: 900.0, clock=clock.now)
    deployer = GreengrassV2Deployer(
        InProcessClient(service, "greengrassv2"),
        InProcessClient(service, "iot"),
        s3,
        TableAccess(dynamodb, TABLE, clock=clock.now),
        settings,
    )
    deployer.start(TOKEN, request)
    return service, clock, deployer


def traced_status_pass(s3: Any, dynamodb: Any, devices: int) -> dict[str, Any]:
    """Start a deployment to a ``devices``-thing group, every device done, then one status pass
    that finds it done: its figures and the peak of the Python memory it allocated (tracemalloc;
    SQLite's own page cache, C, 1 MiB at most, is not traced)."""
    service, clock, deployer = _started_group(s3, dynamodb, devices)
    clock.advance(5 * 60)
    service.advance()
    tracemalloc.start()
    try:
        started = time.perf_counter()
        status = deployer.status(DEPLOYMENT)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "devices": devices,
        "lifecycle": status.lifecycle.value,
        "follow_seconds": seconds,
        "traced_peak_mb": peak / 2**20,
    }


def status_pass_calls(s3: Any, dynamodb: Any, devices: int) -> dict[str, Any]:
    """Greengrass and IoT calls of each status pass over a ``devices``-thing group, counted at the
    emulator: while it rolls out, and the pass that finds every device done (lists them all)."""
    service, clock, deployer = _started_group(s3, dynamodb, devices)
    passes: list[int] = []
    lifecycle = ""
    for seconds in (1, 5 * 60):  # rolling out (a sixtieth of the fleet reached); every device done
        clock.advance(seconds)
        service.advance()
        before = len(service.calls())
        lifecycle = deployer.status(DEPLOYMENT).lifecycle.value
        passes.append(len(service.calls()) - before)
    return {"devices": devices, "lifecycle": lifecycle, "calls_per_pass": passes}


class _CountedRows:
    """The deployer's ``target_results``, counting the rows it serves and where each page starts."""

    def __init__(self, deployer: Any) -> None:
        self._results = deployer.target_results
        self.rows_served = 0
        self.pages: list[Any] = []  # the token each page was asked for with
        deployer.target_results = self  # the report pass calls it through the deployer

    def __call__(self, deployment_id: str, *, next_token: str | None, page_size: int) -> Any:
        self.pages.append(next_token)
        page, after = self._results(deployment_id, next_token=next_token, page_size=page_size)
        self.rows_served += len(page)
        return page, after


def report_across_runs(
    s3: Any, dynamodb: Any, devices: int, rows_per_run: int, timeout_seconds: float
) -> dict[str, Any]:
    """A ``devices``-thing group deployed by a dropped file (the V2 stack's intake), every device
    done; then the tracker runs, each on a simulated Lambda clock that runs out after
    ``rows_per_run`` report rows, until the report is final: the first run's status pass finds
    the group done and writes its rows, its report pass is cut off, later runs resume from the
    ledger's checkpoint. The figures: the runs, the peak RSS growth of all of them, and the
    report read back (every device once, in order)."""
    clock = ManualClock(1_800_000_000.0)
    config = EmulatorConfig(
        enforce_quotas=False, tick_seconds=0, default_rollout_per_minute=ROLLOUT_PER_MINUTE
    )
    service = EmulatorService(config, clock)
    functions = V2Functions.in_process(s3, dynamodb, service, clock, BUCKET, TABLE)
    group = service.populate_group(GROUP, devices)
    result = functions.deliver(functions.upload("incoming/fleet.jsonl", [v2_line(group)]), 1)
    if result.dispatch is None or result.dispatch.result.value != "started":
        raise RuntimeError(f"the file did not start: {result}")
    token = str(result.token)
    clock.advance(5 * 60)
    service.advance()
    tracker = functions.tracker()
    counted = _CountedRows(tracker.deployer)
    peak = PeakGrowth()
    started = time.perf_counter()
    runs = write_report(
        tracker,
        counted,
        token,
        checkpoint_page=lambda progress: progress.next_token if progress else None,
        rows_per_run=rows_per_run,
        timeout_seconds=timeout_seconds,
    )
    growth = peak.growth_mb()
    seconds = time.perf_counter() - started
    return {
        "devices": devices,
        "runs": [asdict(run) for run in runs],
        "seconds": seconds,
        "rss_growth_mb": growth,
        "rows_read": counted.rows_served,
        # devices.csv: every device once, in recorded (name) order, SUCCEEDED
        **read_back(s3, BUCKET, f"reports/{token}/", "devices.csv", _device_row_ok, "device_count"),
        "expected_rows": devices,
    }


def _device_row_ok(index: int, line: bytes) -> bool:
    fields = line.decode().split(",")
    return (fields[1], fields[2]) == (f"device-{index:06d}", "SUCCEEDED")


def main(argv: list[str]) -> None:
    """MOTO_URL DEVICES (traced | calls | report ROWS_PER_RUN TIMEOUT_SECONDS)."""
    moto_url, devices, mode, *args = argv
    session = boto3.session.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=moto_url, config=CLIENT_CONFIG)
    dynamodb = session.client("dynamodb", endpoint_url=moto_url, config=CLIENT_CONFIG)
    if mode == "calls":
        figures = status_pass_calls(s3, dynamodb, int(devices))
    elif mode == "report":
        figures = report_across_runs(s3, dynamodb, int(devices), int(args[0]), float(args[1]))
    elif mode == "traced":
        figures = traced_status_pass(s3, dynamodb, int(devices))
    else:
        raise SystemExit(f"unknown mode {mode!r}: traced, calls or report")
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
