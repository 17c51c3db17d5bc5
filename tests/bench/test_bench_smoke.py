"""`make bench` at a tiny scale: every step runs, every result is right (goals are judged by `make bench`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.report_bench import measure
from local.moto_server import MotoServer

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
        r"import_ms=\d+ asset_import_ms=\d+ asset_import_ratio=[\d.]+ asset_import_no_bytecode_ms=\d+ "
        r"asset_first_invoke_ms=\d+ duplicate_s3_reads=0 duplicate_gg_calls=0 burst_files=(\d+) burst_started=\1 "
        r"burst_order_ok=true dispatch_latency_periods=[\d.]+ report_records_s=\d+ report_rss_mb=[\d.]+ "
        r"v2_report_rss_mb=[\d.]+ v2_report_runs=\d+ v2_start_rate_ratio=[\d.]+ v2_start_throttles=\d+ "
        r"v2_calls_per_device=[\d.]+ v2_duplicate_calls=0",
        last,
    ), last
    assert "WRONG RESULT" not in result.stdout
    # The report step shows, at this scale too, a run cut off and the next one resuming at its checkpoint.
    cut_off = re.search(r"(\d+) cut off and resumed", result.stdout)
    assert cut_off and int(cut_off[1]) >= 1, result.stdout[-3000:]
    assert re.search(r"run 2: checkpoint at row ([1-9][\d,]*), first row read \1,", result.stdout)


def test_the_report_is_cut_off_and_resumed_even_on_a_machine_where_nothing_takes_time() -> None:
    """The cut-off comes from rows read: a wall clock that never moves (an infinitely fast machine) changes nothing."""
    with MotoServer() as moto:
        result = measure(moto.url, 20_000, 16_000, 100, 300, wall_clock=lambda: 0.0)
    runs = result["run_log"]
    assert [run["cut_off"] for run in runs] == [True, False]
    # The first run reads 16,000 rows and the page that starts past them; the second starts reading
    # where the first one's last checkpoint (one 5 MiB part of CSV, about 15,000 rows) stood.
    checkpoint = runs[1]["checkpoint_rows"]
    assert 0 < checkpoint <= 16_000
    assert runs[1]["first_page"] == checkpoint and runs[1]["resumed_at_checkpoint"]
    assert [run["rows_read"] for run in runs] == [16_100, 20_000 - checkpoint]
    assert result["rows_in_csv"] == result["group_count_in_json"] == 20_000
    assert result["csv_first_wrong_row"] is None
