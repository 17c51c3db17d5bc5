"""`make bench` at a tiny scale: every step runs, every result is right (goals are judged by `make bench`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_every_step_and_ends_with_its_summary_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"bench: validator_ratio=[\d.]+ validator_mb_s=[\d.]+ validator_rss_mb=[\d.]+ import_ratio=[\d.]+ "
        r"import_ms=\d+ duplicate_s3_reads=0 duplicate_gg_calls=0 burst_files=(\d+) burst_started=\1 "
        r"burst_order_ok=true dispatch_latency_periods=[\d.]+ report_records_s=\d+ report_rss_mb=[\d.]+",
        last,
    ), last
    assert "WRONG RESULT" not in result.stdout
