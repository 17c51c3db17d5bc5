"""`make bench`: every measurement beside its baseline, in one run; a table, then one machine-readable line.

python -m benchmarks.run            # the full run (about 100 MB of data, 700,000-group report,
                                    # a 100,000-device Greengrass V2 group followed and reported
                                    # across tracker runs, a 1,000-target V2 start)
python -m benchmarks.run --smoke    # a tiny run of every step (part of `make test`)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from benchmarks import data
from benchmarks.cold_start import cold_start
from benchmarks.v2_steps import v2_steps
from benchmarks.validator import throughput
from infra.config import DeployConfig
from local.moto_server import MotoServer
from local.stack_config import FAKE_CREDENTIALS, REGION

LAMBDA_FULL_CPU_MB = 1769  # at this memory a Lambda function has one full vCPU
FAKE_AWS = {
    **FAKE_CREDENTIALS,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Scale:
    input_bytes: int
    throughput_rounds: int
    cold_start_runs: int
    report_records: int
    report_rows_per_run: int  # the simulated Lambda clock of a tracker run runs out after these
    burst_files: int
    burst_duplicates: int
    v2_devices: int  # the Greengrass V2 thing group followed to its end and reported
    # Step 3b's ratio also in instructions (callgrind; about half a minute): the full bench only.
    count_instructions: bool = False


FULL = Scale(data.TARGET_BYTES, 5, 21, 700_000, 250_000, 300, 60, 100_000, count_instructions=True)
# A run must read past one report part (5 MiB of CSV, about 15,000 rows) to reach a checkpoint.
SMOKE = Scale(2_000_000, 1, 1, 40_000, 20_000, 6, 2, 2_000)


@dataclass
class Bench:
    scale: Scale
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # measure, value, baseline, goal
    summary: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # goals missed
    errors: list[str] = field(default_factory=list)  # wrong results, at any scale
    # Where progress goes: the terminal, also while the functions' stdout (EMF) goes to a file.
    out: TextIO = field(default_factory=lambda: sys.stdout)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def row(self, measure: str, value: str, baseline: str = "", goal: str = "") -> None:
        self.rows.append((measure, value, baseline, goal))
        self.say(f"  {measure}: {value}" + (f"  (baseline {baseline})" if baseline else ""))

    def check(self, ok: bool, what: str) -> None:
        """A goal (judged at full scale)."""
        if not ok:
            self.failures.append(what)

    def verify(self, ok: bool, what: str) -> None:
        """A correctness condition (judged at every scale)."""
        if not ok:
            self.errors.append(what)


def _subprocess_json(module: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, **FAKE_AWS}
    result = subprocess.run(
        [sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{result.stderr[-3000:]}")
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def validator_throughput(bench: Bench, payload: bytes) -> None:
    bench.say("1. validator throughput")
    result = throughput(payload, rounds=bench.scale.throughput_rounds)
    bench.row(
        "validator MB/s",
        f"{result.validator_mb_s:.1f}",
        f"{result.baseline_mb_s:.1f} (json.loads per line)",
    )
    bench.row("validator_ratio", f"{result.ratio:.2f}", "", ">= 3.0")
    bench.summary.update(
        validator_ratio=round(result.ratio, 2), validator_mb_s=round(result.validator_mb_s, 1)
    )
    bench.check(result.ratio >= 3.0, f"validator_ratio {result.ratio:.2f} < 3.0")


def validator_memory(bench: Bench, payload: bytes, moto: MotoServer, config: DeployConfig) -> None:
    bench.say("2. validator memory (streamed from moto's S3 over HTTP, then staged)")
    import boto3  # noqa: PLC0415 - only the orchestrator talks to moto directly

    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    s3.create_bucket(Bucket="bench-input")
    s3.put_object(Bucket="bench-input", Key="incoming/big.jsonl", Body=payload)
    result = _subprocess_json("benchmarks.validator_memory", moto.url, "bench-input", "incoming/big.jsonl")
    seconds = float(result["seconds"])
    at_lambda = seconds * max(1.0, LAMBDA_FULL_CPU_MB / config.starter_memory_mb)
    headroom = config.starter_timeout_seconds / at_lambda
    bench.row("validator_rss_mb (peak growth)", f"{result['rss_growth_mb']:.1f}", "", "<= 32")
    bench.row(
        f"validate + stage at {config.starter_memory_mb} MB Lambda",
        f"{at_lambda:.1f} s (measured {seconds:.1f} s here)",
        "",
        f">= 3x under the {config.starter_timeout_seconds} s timeout: {headroom:.1f}x",
    )
    bench.summary["validator_rss_mb"] = round(float(result["rss_growth_mb"]), 1)
    bench.verify(result["valid"] is True, "the generated file did not validate")
    bench.check(float(result["rss_growth_mb"]) <= 32, f"validator_rss_mb {result['rss_growth_mb']:.1f} > 32")
    bench.check(headroom >= 3.0, f"validation headroom {headroom:.1f}x < 3x")


def cold_start_step(bench: Bench) -> None:
    bench.say("3. cold start in this virtual environment (the starter handler's import, a fresh interpreter)")
    result = cold_start(runs=bench.scale.cold_start_runs)
    bench.row(
        "import starter handler", f"{result.starter_ms:.0f} ms", f"{result.boto3_ms:.0f} ms (import boto3)"
    )
    bench.row("import_ratio", f"{result.ratio:.2f}", "", "<= 1.5")
    bench.summary.update(import_ratio=round(result.ratio, 2), import_ms=round(result.starter_ms))
    bench.check(result.ratio <= 1.5, f"import_ratio {result.ratio:.2f} > 1.5")


def report_step(bench: Bench, moto: MotoServer, config: DeployConfig) -> None:
    records, rows_per_run = bench.scale.report_records, bench.scale.report_rows_per_run
    bench.say(
        f"6. report of a {records:,}-group bulk deployment (each run cut off after {rows_per_run:,} rows "
        f"by a simulated {config.tracker_timeout_seconds} s Lambda clock)"
    )
    result = _subprocess_json(
        "benchmarks.report_bench",
        moto.url,
        str(records),
        str(rows_per_run),
        str(config.report_page_size),
        str(config.tracker_timeout_seconds),
    )
    runs: list[dict[str, Any]] = result["run_log"]
    for number, run in enumerate(runs, start=1):
        first_row = "none" if run["first_page"] is None else f"{run['first_page']:,}"
        bench.say(
            f"  run {number}: checkpoint at row {run['checkpoint_rows']:,}, first row read {first_row}, "
            f"{run['rows_read']:,} rows read in {run['seconds']:.1f} s, "
            + ("cut off" if run["cut_off"] else "report final")
        )
    bench.row(
        "report_records_s",
        f"{result['records_per_second']:.0f}",
        "",
        f"{records:,} rows in {result['seconds']:.1f} s, {result['runs']} run(s), "
        f"{result['runs_cut_off']} cut off and resumed, {result['rows_read'] - records:,} rows re-read",
    )
    bench.row("report_rss_mb (peak growth)", f"{result['rss_growth_mb']:.1f}", "", "<= 64")
    bench.summary.update(
        report_records_s=round(float(result["records_per_second"])),
        report_rss_mb=round(float(result["rss_growth_mb"]), 1),
    )
    bench.verify(
        result["rows_in_csv"] == records, f"groups.csv has {result['rows_in_csv']} rows, not {records}"
    )
    bench.verify(
        result["csv_first_wrong_row"] is None,
        f"groups.csv: row {result['csv_first_wrong_row']} is missing, repeated or out of order",
    )
    bench.verify(result["group_count_in_json"] == records, "report.json counts the wrong number of groups")
    bench.verify(result["runs_cut_off"] >= 1, "the report run was never cut off: resume not shown")
    bench.verify(
        all(run["resumed_at_checkpoint"] and run["checkpoint_rows"] > 0 for run in runs[1:]),
        "a run after a cut-off did not resume from its checkpoint",
    )
    bench.check(float(result["rss_growth_mb"]) <= 64, f"report_rss_mb {result['rss_growth_mb']:.1f} > 64")


def run(scale: Scale, steps: list[Callable[[Bench], None]] | None = None) -> Bench:
    os.environ.update(FAKE_AWS)
    bench = Bench(scale)
    config = DeployConfig.from_context({})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bench.say(f"generating a {scale.input_bytes / 1e6:.0f} MB input file ...")
        payload = data.write_input_file(Path(tmp) / "input.jsonl", scale.input_bytes).read_bytes()
        validator_throughput(bench, payload)
        with MotoServer() as moto:
            validator_memory(bench, payload, moto, config)
            del payload
            cold_start_step(bench)
            # Imported here, as the pipeline's steps below: the asset's build loads the CDK (and Node.js).
            from benchmarks.asset_cold_start import asset_cold_start_step  # noqa: PLC0415

            asset_cold_start_step(bench)
            from benchmarks.pipeline_bench import BURST_TIMING, burst_step, duplicate_step  # noqa: PLC0415
            from local.pipeline import LocalPipeline  # noqa: PLC0415

            quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING"}
            # The functions print their metrics (EMF) to stdout, as in Lambda: kept in a file here.
            functions_stdout = Path(tmp) / "functions-stdout.log"
            with (
                functions_stdout.open("w") as sink,
                contextlib.redirect_stdout(sink),
                LocalPipeline(timing=BURST_TIMING, environment_overrides=quiet) as pipeline,
            ):
                duplicate_step(bench, pipeline)
                burst_step(bench, pipeline)
            moto.reset()
            report_step(bench, moto, config)
            v2_steps(bench, moto)
    bench.summary["total_seconds"] = round(time.perf_counter() - started)
    return bench


def print_table(bench: Bench) -> None:
    headers = ("measure", "value", "baseline", "goal / note")
    widths = [max(len(h), *(len(r[i]) for r in bench.rows)) for i, h in enumerate(headers)]
    print()
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in bench.rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print()
    for failure in bench.failures:
        print(f"GOAL MISSED: {failure}")
    for error in bench.errors:
        print(f"WRONG RESULT: {error}")


_SUMMARY_KEYS = (
    "validator_ratio",
    "validator_mb_s",
    "validator_rss_mb",
    "import_ratio",
    "import_ms",
    "asset_import_ms",
    "asset_import_ratio",
    "asset_import_no_bytecode_ms",
    "asset_first_invoke_ms",
    "duplicate_s3_reads",
    "duplicate_gg_calls",
    "burst_files",
    "burst_started",
    "burst_order_ok",
    "dispatch_latency_periods",
    "report_records_s",
    "report_rss_mb",
    "v2_report_rss_mb",
    "v2_report_runs",
    "v2_start_rate_ratio",
    "v2_start_throttles",
    "v2_calls_per_device",
    "v2_duplicate_calls",
)


def summary_line(bench: Bench) -> str:
    def text(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    return "bench: " + " ".join(f"{k}={text(bench.summary.get(k, 'NA'))}" for k in _SUMMARY_KEYS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny run of every step")
    args = parser.parse_args(argv)
    bench = run(SMOKE if args.smoke else FULL)
    print_table(bench)
    print(f"total {bench.summary['total_seconds']} s")
    print(summary_line(bench))
    if bench.errors:
        return 1
    if args.smoke:
        return 0  # the smoke run proves the machinery and the results; goals are judged at full scale
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
