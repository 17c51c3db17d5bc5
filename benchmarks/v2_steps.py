"""`make bench`'s Greengrass V2 steps (7-9), beside moto's server.

7. the report of a 100,000-device deployment, written by the tracker across runs (checkpointed):
   ``v2_report_rss_mb``;
8. a 1,000-target file started against the emulator's enforced quota within the functions'
   request budget: ``v2_start_rate_ratio``, its throttles, and what a duplicate event costs
   (``v2_duplicate_calls``);
9. Greengrass/IoT calls per device of each status pass over a 10,000-device group:
   ``v2_calls_per_device`` (in this process: no memory is measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from bulk_deployer.aws import CLIENT_CONFIG

from infra.config import DeployConfig

if TYPE_CHECKING:
    from benchmarks.run import Bench
    from local.moto_server import MotoServer

FULL_REPORT_DEVICES = 100_000


@dataclass(frozen=True)
class V2Scale:
    report_devices: int
    report_rows_per_run: int  # the simulated Lambda clock of a tracker run runs out after these
    start_targets: int
    calls_devices: int


# A run must read past one report part (5 MiB of CSV, about 44,500 device rows) to checkpoint.
V2_FULL = V2Scale(FULL_REPORT_DEVICES, 50_000, 1_000, 10_000)
# Too few rows for a report part: one run; the resume at a small scale is held by
# tests/deployers/greengrass_v2/test_faults.py (the tracker dying mid-report).
V2_SMOKE = V2Scale(1_000, 1_000_000, 10, 1_000)


def v2_scale(devices: int) -> V2Scale:
    """The full V2 steps with the full run (its ``v2_devices``), the smoke ones otherwise."""
    return V2_FULL if devices >= FULL_REPORT_DEVICES else V2_SMOKE


def v2_steps(bench: Bench, moto: MotoServer) -> None:
    config = DeployConfig.from_context({})
    scale = v2_scale(bench.scale.v2_devices)
    moto.reset()
    report_step(bench, moto, scale, config.tracker_timeout_seconds)
    moto.reset()
    start_step(bench, moto, scale, config.greengrass_requests_per_second, config.starter_timeout_seconds)
    moto.reset()
    calls_step(bench, moto, scale)


def _run(module: str, *args: str) -> dict[str, Any]:
    from benchmarks.run import _subprocess_json  # noqa: PLC0415 - run imports this module

    return _subprocess_json(module, *args)


def report_step(bench: Bench, moto: MotoServer, scale: V2Scale, timeout_seconds: int) -> None:
    devices, rows_per_run = scale.report_devices, scale.report_rows_per_run
    bench.say(
        f"7. Greengrass V2 report: a {devices:,}-device thing group followed and reported by the tracker, "
        f"each run cut off after {rows_per_run:,} rows by a simulated {timeout_seconds} s Lambda clock"
    )
    result = _run(
        "benchmarks.v2_follow_bench",
        moto.url,
        str(devices),
        "report",
        str(rows_per_run),
        str(timeout_seconds),
    )
    runs: list[dict[str, Any]] = result["runs"]
    for number, run in enumerate(runs, start=1):
        bench.say(
            f"  run {number}: checkpoint at row {run['checkpoint_rows']:,}, "
            f"{'resumed there' if run['resumed_at_checkpoint'] else 'NOT resumed there'}, "
            f"{run['rows_read']:,} rows read in {run['seconds']:.1f} s, "
            + ("cut off" if run["cut_off"] else "report final")
        )
    cut_off = sum(run["cut_off"] for run in runs)
    bench.row(
        "v2 report (tracker runs)",
        f"{result['seconds']:.1f} s",
        "",
        f"{devices:,} devices, {len(runs)} run(s), {cut_off} cut off and resumed, "
        f"{result['rows_read'] - devices:,} rows re-read",
    )
    bench.row("v2_report_rss_mb (peak growth)", f"{result['rss_growth_mb']:.1f}", "", "<= 64")
    bench.summary.update(v2_report_rss_mb=round(float(result["rss_growth_mb"]), 1), v2_report_runs=len(runs))
    bench.verify(
        result["rows_in_csv"] == result["device_count_in_json"] == devices and result["final_in_json"],
        f"the V2 report has {result['rows_in_csv']} rows in devices.csv and counts "
        f"{result['device_count_in_json']} devices, not {devices} (final: {result['final_in_json']})",
    )
    bench.verify(
        result["csv_first_wrong_row"] is None,
        f"devices.csv: row {result['csv_first_wrong_row']} is missing, repeated, out of order "
        "or not SUCCEEDED",
    )
    bench.verify(
        all(run["resumed_at_checkpoint"] for run in runs), "a run did not resume from its checkpoint"
    )
    if scale.report_rows_per_run < devices:
        bench.verify(cut_off >= 1, "the V2 report was never cut off: resume not shown")
    bench.check(float(result["rss_growth_mb"]) <= 64, f"v2_report_rss_mb {result['rss_growth_mb']:.1f} > 64")


def start_step(
    bench: Bench, moto: MotoServer, scale: V2Scale, requests_per_second: int, timeout_seconds: int
) -> None:
    targets = scale.start_targets
    bench.say(
        f"8. Greengrass V2 start: a {targets:,}-target file against the emulator's enforced quota, "
        f"greengrassRequestsPerSecond {requests_per_second} (half each function); then the same event again"
    )
    result = _run(
        "benchmarks.v2_start_bench", moto.url, str(targets), str(requests_per_second), str(timeout_seconds)
    )
    ratio = float(result["start_rate_ratio"])
    bench.row(
        "v2 start",
        f"{result['targets_per_second']:.2f} targets/s",
        f"budget {result['budget_per_second']:g} requests/s",
        f"{result['requests_per_target']:.2f} requests a target, {result['elapsed_seconds']:.0f} s "
        f"(emulator clock) in {result['invocations']} starter invocation(s)",
    )
    bench.row("v2_start_rate_ratio", f"{ratio:.3f}", "", ">= 0.9 (requests answered / budget allowed)")
    bench.row(
        "v2_start_throttles",
        str(result["throttles"]),
        "",
        f"retried, 0 failed: {result['refused']} refused, {result['created_twice']} created twice",
    )
    bench.row(
        "v2_duplicate_calls",
        str(result["duplicate_calls"]),
        "",
        f"0 over {result['duplicate_deliveries']} deliveries after the start",
    )
    bench.summary.update(
        v2_start_rate_ratio=round(ratio, 3),
        v2_start_throttles=result["throttles"],
        v2_duplicate_calls=result["duplicate_calls"],
    )
    bench.verify(
        result["states"] == {"STARTED": targets} and result["created_once"] == targets,
        f"{result['states']} target records, {result['created_once']} of {targets} created once",
    )
    bench.verify(result["created_twice"] == 0, f"{result['created_twice']} targets deployed twice")
    bench.verify(result["duplicate_outcomes"] == ["duplicate"], f"duplicates: {result['duplicate_outcomes']}")
    bench.check(ratio >= 0.9, f"v2_start_rate_ratio {ratio:.3f} < 0.9")
    bench.check(result["duplicate_calls"] == 0, f"a duplicate event made {result['duplicate_calls']} calls")


def calls_step(bench: Bench, moto: MotoServer, scale: V2Scale) -> None:
    devices = scale.calls_devices
    bench.say(
        f"9. Greengrass V2 status passes over a {devices:,}-device group (calls counted at the emulator)"
    )
    # In this process: calls are counted, not memory (an interpreter less for `make test`).
    from benchmarks.v2_follow_bench import status_pass_calls  # noqa: PLC0415

    s3, dynamodb = (
        boto3.client(name, endpoint_url=moto.url, region_name="us-east-1", config=CLIENT_CONFIG)
        for name in ("s3", "dynamodb")
    )
    result = status_pass_calls(s3, dynamodb, devices)
    passes: list[int] = result["calls_per_pass"]
    per_device = max(passes) / devices
    bench.row(
        "v2_calls_per_device",
        f"{per_device:.4f}",
        "1 (a call per device)",
        f"<= 0.02; calls per pass {passes} (rolling out, every device done)",
    )
    bench.summary["v2_calls_per_device"] = round(per_device, 4)
    bench.verify(result["lifecycle"] == "succeeded", f"the V2 group ended {result['lifecycle']}")
    bench.check(per_device <= 0.02, f"v2_calls_per_device {per_device:.4f} > 0.02")
