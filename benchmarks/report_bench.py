"""The tracker writing the report of a 700,000-group bulk deployment, under a per-run time budget.

Run as its own process (python -m benchmarks.report_bench ENDPOINT RECORDS BUDGET PAGE_SIZE) so
that ru_maxrss measures the tracker alone; moto (S3, DynamoDB) runs in another process.
Greengrass is a synthetic, deterministic source of detailed-report pages: the emulator would
have to create 700,000 group deployments in moto first, which measures moto, not the tracker.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from bulk_deployer.aws import CLIENT_CONFIG
from bulk_deployer.config import Settings
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import Arrival, StartRequest, table_definition
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.token import client_token_for
from bulk_deployer.wiring import Clients, Effects, build_tracker

from benchmarks.rss import PeakGrowth

BUCKET = "bench-reports"
TABLE = "bench-ledger"
ROLE = "arn:aws:iam::123456789012:role/bench"
BULK_ID = "bench-bulk-deployment"


class SyntheticGreengrass:
    """Pages of group results generated from their index: the same rows on every request."""

    def __init__(self, records: int) -> None:
        self.records = records
        self.pages = 0

    def get_bulk_deployment_status(self, **_: Any) -> dict[str, Any]:
        return {
            "BulkDeploymentStatus": "Completed",
            "BulkDeploymentMetrics": {"RecordsProcessed": self.records},
        }

    def list_bulk_deployment_detailed_reports(self, **params: Any) -> dict[str, Any]:
        self.pages += 1
        start = int(params.get("NextToken") or 0)
        end = min(start + int(params["MaxResults"]), self.records)
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


def _budget(seconds: float) -> Callable[[], float]:
    """What Lambda's context.get_remaining_time_in_millis() tells a run of that length."""
    started = time.perf_counter()
    return lambda: seconds - (time.perf_counter() - started)


def main(endpoint: str, records: int, budget_seconds: float, page_size: int) -> None:
    session = boto3.session.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=endpoint, config=CLIENT_CONFIG)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint, config=CLIENT_CONFIG)
    s3.create_bucket(Bucket=BUCKET)
    dynamodb.create_table(**table_definition(TABLE))
    settings = Settings(
        ledger_table_name=TABLE,
        execution_role_arn=ROLE,
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
    assert slot.acquire("bench", lease_seconds=60)
    ledger.mark_started(
        token,
        bulk_deployment_id=BULK_ID,
        arn="arn",
        slot_handover=slot.handover_item("bench", token, BULK_ID),
    )

    greengrass = SyntheticGreengrass(records)
    clients = Clients(s3=s3, dynamodb=dynamodb, greengrass=greengrass, sns=None)
    quiet = Effects(count=lambda name, value: None, seconds=lambda name, value: None)
    tracker = build_tracker(settings, clients, quiet)
    peak = PeakGrowth()
    started = time.perf_counter()
    runs = 0
    cut_off = 0
    while True:
        runs += 1
        run = tracker.run(_budget(budget_seconds))
        cut_off += len(run.reports_continuing)
        if run.reports_final:
            break
        if runs > 1000:
            raise RuntimeError("the report never finished")
    seconds = time.perf_counter() - started
    growth = peak.growth_mb()

    # Proof: every row is there once, in order; the JSON's footer counts them all.
    rows = 0
    body = s3.get_object(Bucket=BUCKET, Key=f"reports/{token}/groups.csv")["Body"]
    expected_prefix = 0
    for index, line in enumerate(body.iter_lines()):
        if index == 0:
            continue
        if not line.startswith(f"{expected_prefix:08d}".encode()):
            raise AssertionError(f"row {index} out of order: {line[:40]!r}")
        expected_prefix += 1
        rows += 1
    size = s3.head_object(Bucket=BUCKET, Key=f"reports/{token}/report.json")["ContentLength"]
    tail = s3.get_object(
        Bucket=BUCKET, Key=f"reports/{token}/report.json", Range=f"bytes={max(0, size - 65536)}-"
    )["Body"].read()
    footer_count = int(tail.split(b'"group_count": ')[1].split(b",")[0])
    print(
        json.dumps(
            {
                "records": records,
                "rows_in_csv": rows,
                "group_count_in_json": footer_count,
                "runs": runs,
                "runs_cut_off": cut_off,
                "seconds": seconds,
                "records_per_second": records / seconds,
                "pages": greengrass.pages,
                "rss_growth_mb": growth,
                "report_json_mb": size / 1e6,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
