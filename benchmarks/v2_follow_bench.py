"""Peak memory of following a 100,000-device Greengrass V2 thing group to its end and reading its report.

Run as its own process (python -m benchmarks.v2_follow_bench MOTO_URL DEVICES [traced]) so that
the peak RSS is this work's (with ``traced``: tracemalloc's peak, of the status pass alone);
moto (S3, DynamoDB) runs in another process. The V2 emulator runs in this
one, called without HTTP (InProcessClient): over HTTP most of the time goes to botocore parsing
three timestamps per job execution, which measures botocore, not the follower. Its fleet is made,
the deployment started and every device done before the measurement begins; then one status
pass finds the group done (every recorded member's job execution listed and checked, the
per-device rows written) and every row is paged as the report reads them.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import boto3
from bulk_deployer.aws import CLIENT_CONFIG
from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer, StartSettings, V2StartRequests
from bulk_deployer.dynamo import TableAccess

from benchmarks.rss import PeakGrowth
from local.greengrass_v2_emulator import EmulatorConfig, InProcessClient, ManualClock
from local.greengrass_v2_emulator.service import EmulatorService
from local.provision import create_input_bucket, create_ledger_table

BUCKET, TABLE, GROUP = "bench-v2", "bench-v2-ledger", "bench-fleet"
TOKEN = "b" * 64
DEPLOYMENT = f"gg2-{TOKEN}"
COMPONENTS = {"com.example.Hello": {"componentVersion": "1.0.0"}}
ROLLOUT_PER_MINUTE = 100_000  # the whole fleet reached in a minute of the emulator's clock


def follow_and_report(
    s3: Any,
    dynamodb: Any,
    devices: int,
    measure: Callable[[Callable[[], dict[str, Any]]], dict[str, Any]],
    *,
    report: bool = True,
) -> dict[str, Any]:
    """Start a deployment to a ``devices``-thing group, every device done, then ``measure`` the pass.

    ``measure`` runs the pass it is given (a status pass, then, with ``report``, the report's
    paging through every row) and adds its peak memory to the figures it answers.
    """
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
    clock.advance(5 * 60)
    service.advance()

    def follow_pass() -> dict[str, Any]:
        started = time.perf_counter()
        status = deployer.status(DEPLOYMENT)
        follow_seconds = time.perf_counter() - started
        rows = succeeded = 0
        next_token: str | None = None
        more = report
        while more:
            page, next_token = deployer.target_results(DEPLOYMENT, next_token=next_token, page_size=1000)
            rows += len(page)
            succeeded += sum(result.status == "SUCCEEDED" for result in page)
            more = next_token is not None
        return {
            "lifecycle": status.lifecycle.value,
            "rows": rows,
            "succeeded": succeeded,
            "follow_seconds": follow_seconds,
            "seconds": time.perf_counter() - started,
        }

    return {"devices": devices, **measure(follow_pass)}


def peak_rss(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The work's figures and its peak RSS growth (this process's: moto must run in another)."""
    peak = PeakGrowth()
    return {**work(), "rss_growth_mb": peak.growth_mb()}


def peak_traced(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The work's figures and the peak of the Python memory it allocated (tracemalloc): for a
    test in one process; SQLite's own page cache (C, 1 MiB at most) is not traced."""
    tracemalloc.start()
    try:
        figures = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {**figures, "traced_peak_mb": peak / 2**20}


def main(argv: list[str]) -> None:
    moto_url, devices, *how = argv
    traced = how == ["traced"]
    session = boto3.session.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=moto_url, config=CLIENT_CONFIG)
    dynamodb = session.client("dynamodb", endpoint_url=moto_url, config=CLIENT_CONFIG)
    figures = follow_and_report(
        s3, dynamodb, int(devices), peak_traced if traced else peak_rss, report=not traced
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
