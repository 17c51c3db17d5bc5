"""The tracker writing the report of a 700,000-group bulk deployment, cut off and resumed across runs.

Run as its own process (python -m benchmarks.report_bench ENDPOINT RECORDS ROWS_PER_RUN PAGE_SIZE
TIMEOUT_SECONDS) so that ru_maxrss measures the tracker alone; moto (S3, DynamoDB) runs in
another process. Greengrass is a synthetic, deterministic source of detailed-report pages: the
emulator would have to create 700,000 group deployments in moto first, which measures moto, not
the tracker.

Each run's remaining time is a simulated Lambda clock that runs out after ROWS_PER_RUN rows
read, not after wall-clock seconds: with a wall-clock budget a fast machine writes the whole
report in one run, and the cut-off and resume this step exists to show never happen. The clock
goes in where the handler passes ``context.get_remaining_time_in_millis``, so the cut-offs are
the production ones, at the same rows on every machine. The figure (rows/s) is the wall-clock
time of all the runs, the pages re-read after each cut-off included.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import boto3
from bulk_deployer.aws import CLIENT_CONFIG
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import Arrival, ReportProgress, StartRequest
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.report_pass import REPORT_TIME_MARGIN_SECONDS
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.token import client_token_for
from bulk_deployer.tracker import BulkDeploymentTracker
from bulk_deployer.tracker_config import TrackerSettings
from bulk_deployer.wiring import Clients, Effects, build_tracker

from benchmarks.rss import PeakGrowth
from local.provision import create_input_bucket, create_ledger_table

BUCKET = "bench-reports"
TABLE = "bench-ledger"
ROLE = "arn:aws:iam::123456789012:role/bench"
BULK_ID = "bench-bulk-deployment"


class SyntheticGreengrass:
    """Pages of group results generated from their index: the same rows on every request."""

    def __init__(self, records: int) -> None:
        self.records = records
        self.pages: list[int] = []  # the first row of every page served, in order
        self.rows_served = 0

    def get_bulk_deployment_status(self, **_: Any) -> dict[str, Any]:
        return {
            "BulkDeploymentStatus": "Completed",
            "BulkDeploymentMetrics": {"RecordsProcessed": self.records},
        }

    def list_bulk_deployment_detailed_reports(self, **params: Any) -> dict[str, Any]:
        start = int(params.get("NextToken") or 0)
        end = min(start + int(params["MaxResults"]), self.records)
        self.pages.append(start)
        self.rows_served += end - start
        groups = "arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups"
        rows = [
            {
                "GroupArn": f"{groups}/{i:08d}-6f6b-4d70-9c3e-7a8f0c6e2b11",
                "DeploymentId": f"{i:08d}-5b1d-4c9f-8a7e-2d3c4b5a6f70",
                "DeploymentArn": f"{groups}/{i:08d}-6f6b-4d70-9c3e-7a8f0c6e2b11/deployments/{i:08d}",
                "DeploymentStatus": "Failure" if i % 1000 == 999 else "Success",
                "DeploymentType": "NewDeployment",
                "CreatedAt": "2026-11-27T12:00:00.000Z",
                **({"ErrorMessage": "core offline"} if i % 1000 == 999 else {}),
            }
            for i in range(start, end)
        ]
        response: dict[str, Any] = {"Deployments": rows}
        if end < self.records:
            response["NextToken"] = str(end)
        return response


def simulated_lambda_clock(
    rows_read: Callable[[], int], timeout_seconds: float, rows_per_run: int
) -> Callable[[], float]:
    """A run's remaining seconds if every row read took the same time: rows_per_run of them fill the run.

    Once rows_per_run rows are read (``rows_read``: rows read so far, in all runs) only the report
    pass's margin is left, so the pass stops at its next page check: the cut-off depends on rows
    read, never on the machine's speed.
    """
    seconds_per_row = (timeout_seconds - REPORT_TIME_MARGIN_SECONDS) / rows_per_run
    rows_before = rows_read()
    return lambda: REPORT_TIME_MARGIN_SECONDS + (rows_per_run - (rows_read() - rows_before)) * seconds_per_row


class RowSource(Protocol):
    """Where a report pass reads rows from, counted: how many it served, and the page each
    request asked for (V1 here: the page's first row; V2: its page token)."""

    rows_served: int
    pages: list[Any]


@dataclass(frozen=True)
class RunRecord:
    """One tracker run of the report: where its checkpoint stood, where it started reading, what it did."""

    checkpoint_rows: int  # rows the ledger's checkpoint held when the run began
    first_page: Any  # the first page the run asked for (None: it read none)
    resumed_at_checkpoint: bool  # that page was the checkpoint's
    rows_read: int
    seconds: float
    cut_off: bool


def write_report(
    tracker: BulkDeploymentTracker,
    source: RowSource,
    token: str,
    *,
    checkpoint_page: Callable[[ReportProgress | None], Any],
    rows_per_run: int,
    timeout_seconds: float,
    wall_clock: Callable[[], float] = time.perf_counter,
) -> list[RunRecord]:
    """Run the tracker, each run on a fresh simulated clock, until the report is final; both
    report benchmarks (V1 groups, V2 devices). ``checkpoint_page``: the page a checkpoint says to
    read next, in ``source.pages``' terms."""
    log: list[RunRecord] = []
    while True:
        file = tracker.ledger.get(token)
        progress = file.report_progress if file else None
        checkpoint = progress.rows if progress else 0
        if log and log[-1].cut_off and checkpoint <= log[-1].checkpoint_rows:
            raise RuntimeError(
                f"run {len(log)} was cut off before its first checkpoint: {rows_per_run} rows per "
                "run is less than one report part (5 MiB of CSV, about 15,000 rows)"
            )
        pages_before, rows_before = len(source.pages), source.rows_served
        started = wall_clock()
        run = tracker.run(simulated_lambda_clock(lambda: source.rows_served, timeout_seconds, rows_per_run))
        seconds = wall_clock() - started
        first = source.pages[pages_before] if len(source.pages) > pages_before else None
        cut_off = token in run.reports_continuing
        resumed = len(source.pages) > pages_before and first == checkpoint_page(progress)
        log.append(RunRecord(checkpoint, first, resumed, source.rows_served - rows_before, seconds, cut_off))
        if token in run.reports_final:
            return log
        if not cut_off:
            raise RuntimeError(f"run {len(log)} neither finished the report nor was cut off: {run}")


def read_back(
    s3: Any, bucket: str, prefix: str, csv_name: str, row_ok: Callable[[int, bytes], bool], count_member: str
) -> dict[str, Any]:
    """The report read back: the CSV's rows (``row_ok(index, line)``: the row expected there) and
    the row count in report.json's footer (its last 64 KB: the file is large)."""
    rows = 0
    first_wrong_row: int | None = None
    body = s3.get_object(Bucket=bucket, Key=prefix + csv_name)["Body"]
    for index, line in enumerate(body.iter_lines()):
        if index == 0:
            continue
        if first_wrong_row is None and not row_ok(rows, line):
            first_wrong_row = rows  # a row missing, repeated, out of order or not as expected
        rows += 1
    size = s3.head_object(Bucket=bucket, Key=prefix + "report.json")["ContentLength"]
    tail = s3.get_object(Bucket=bucket, Key=prefix + "report.json", Range=f"bytes={max(0, size - 65536)}-")
    footer = tail["Body"].read().decode()
    return {
        "rows_in_csv": rows,
        "csv_first_wrong_row": first_wrong_row,
        f"{count_member}_in_json": int(footer.split(f'"{count_member}": ')[1].split(",")[0]),
        "final_in_json": '"final": true' in footer,
        "report_json_mb": size / 1e6,
    }


def _group_row_ok(index: int, line: bytes) -> bool:
    return line.startswith(f"{index:08d}".encode())


def measure(
    endpoint: str,
    records: int,
    rows_per_run: int,
    page_size: int,
    timeout_seconds: float,
    *,
    wall_clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Write the report of a records-group bulk deployment through the tracker; its figures and proof."""
    session = boto3.session.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=endpoint, config=CLIENT_CONFIG)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint, config=CLIENT_CONFIG)
    create_input_bucket(s3, BUCKET)
    create_ledger_table(dynamodb, TABLE)
    settings = TrackerSettings(
        ledger_table_name=TABLE,
        region="us-east-1",
        input_bucket=BUCKET,
        report_page_size=page_size,
    )
    ledger = BulkDeploymentLedger(dynamodb, TABLE, ttl_days=400)
    slot = DeploymentSlot(dynamodb, TABLE)
    ref = ObjectRef(BUCKET, "incoming/fleet.jsonl", etag="0" * 32, version_id="v1", size=1)
    token = client_token_for(ref)
    file = ledger.register(token, ref, Arrival("1"), lease_seconds=60).file
    ledger.enqueue(file, StartRequest(ROLE, "https://x/staged.jsonl", {}), records=records, staged_key="s")
    ledger.mark_starting(token)
    if not slot.acquire("bench", lease_seconds=60):
        raise RuntimeError("the deployment slot of a fresh table is taken")
    ledger.mark_started(
        token,
        bulk_deployment_id=BULK_ID,
        arn="arn",
        slot_hold=slot.hold_item("bench", token, ["greengrass-v1:bulk-deployments"]),
    )
    slot.release("bench")

    greengrass = SyntheticGreengrass(records)
    clients = Clients(s3=s3, dynamodb=dynamodb, greengrass=greengrass, sns=None)
    quiet = Effects(count=lambda name, value: None, seconds=lambda name, value: None)
    tracker = build_tracker(settings, clients, quiet)
    peak = PeakGrowth()
    runs = write_report(
        tracker,
        greengrass,
        token,
        checkpoint_page=lambda progress: progress.rows if progress else 0,
        rows_per_run=rows_per_run,
        timeout_seconds=timeout_seconds,
        wall_clock=wall_clock,
    )
    growth = peak.growth_mb()
    seconds = sum(run.seconds for run in runs)
    return {
        "records": records,
        **read_back(
            s3,
            BUCKET,
            f"reports/{token}/",
            "groups.csv",
            lambda i, line: line.startswith(f"{i:08d}".encode()),
            "group_count",
        ),
        "rows_per_run": rows_per_run,
        "runs": len(runs),
        "runs_cut_off": sum(run.cut_off for run in runs),
        "run_log": [asdict(run) for run in runs],
        "rows_read": greengrass.rows_served,
        "seconds": seconds,
        "longest_run_seconds": max(run.seconds for run in runs),
        "records_per_second": records / seconds if seconds > 0 else float("inf"),
        "pages": len(greengrass.pages),
        "rss_growth_mb": growth,
    }


def main(argv: list[str]) -> None:
    endpoint, records, rows_per_run, page_size, timeout_seconds = argv
    print(
        json.dumps(measure(endpoint, int(records), int(rows_per_run), int(page_size), float(timeout_seconds)))
    )


if __name__ == "__main__":
    main(sys.argv[1:])
