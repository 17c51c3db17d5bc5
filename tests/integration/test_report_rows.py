"""The report names its rows as the deployer does: V1's group deployments, or any other noun."""

from __future__ import annotations

import csv
import io
import json

import pytest
from bulk_deployer.contract import Metric
from bulk_deployer.deployers.base import Lifecycle, ReportRows, TargetOutcome, TargetResult
from bulk_deployer.deployers.greengrass_v1 import REPORT_ROWS, GreengrassV1Deployer
from bulk_deployer.ledger_records import ReportProgress, ReportSummary
from bulk_deployer.report_writer import ReportWriter

from tests.integration.conftest import BUCKET, Pipeline

DEVICES = ReportRows("device", Metric.GROUP_DEPLOYMENTS_FAILED)


def test_v1_rows_keep_the_names_of_the_first_reports() -> None:
    assert GreengrassV1Deployer.report_rows is REPORT_ROWS
    assert (REPORT_ROWS.member, REPORT_ROWS.csv_name) == ("groups", "groups.csv")
    assert (REPORT_ROWS.count_key, REPORT_ROWS.failed_sample_key) == ("group_count", "failed_groups_sample")


def test_a_summary_is_stored_under_the_ledgers_keys_and_reported_under_the_deployers() -> None:
    summary = ReportSummary(final=True, rows=3, counts={"FAILED": 1}, failed_sample=("thing-c",))
    stored = summary.as_dict()
    assert stored["group_count"] == 3 and stored["failed_groups_sample"] == ["thing-c"]
    assert ReportSummary.from_item(stored) == summary
    named = summary.as_dict(DEVICES.count_key, DEVICES.failed_sample_key)
    assert named["device_count"] == 3 and named["failed_devices_sample"] == ["thing-c"]
    assert "group_count" not in named


@pytest.mark.parametrize("rows", [REPORT_ROWS, DEVICES], ids=lambda r: r.noun)
def test_the_report_holds_its_rows_under_the_deployers_member(pipeline: Pipeline, rows: ReportRows) -> None:
    writer = ReportWriter(
        pipeline.s3,
        BUCKET,
        "reports/t/report.json",
        f"reports/t/{rows.csv_name}",
        ReportProgress("2026-11-29T00:00:00Z"),
        ("name", "status"),
        rows.member,
    )
    writer.begin({"token": "t"})
    results = [
        TargetResult(f"arn:{n}", status, outcome, {"name": n, "status": status})
        for n, status, outcome in (("a", "OK", TargetOutcome.SUCCEEDED), ("b", "BAD", TargetOutcome.FAILED))
    ]
    assert not writer.add_page(results, None)
    writer.complete({rows.count_key: 2})
    report = json.loads(pipeline.s3.get_object(Bucket=BUCKET, Key="reports/t/report.json")["Body"].read())
    assert [row["name"] for row in report[rows.member]] == ["a", "b"]
    assert report[rows.count_key] == 2 and report["token"] == "t"
    body = pipeline.s3.get_object(Bucket=BUCKET, Key=f"reports/t/{rows.csv_name}")["Body"].read().decode()
    assert list(csv.reader(io.StringIO(body))) == [["name", "status"], ["a", "OK"], ["b", "BAD"]]
    assert writer.progress.failed == ["arn:b"]


def test_a_deployment_that_ended_is_counted_under_the_deployers_metric_for_how_it_ended() -> None:
    metrics = GreengrassV1Deployer.lifecycle_metrics
    assert metrics.started is Metric.BULK_DEPLOYMENT_STARTED
    assert (metrics.overdue, metrics.waiting) == (
        Metric.BULK_DEPLOYMENT_OVERDUE,
        Metric.WAITING_FOR_PREVIOUS_BULK_DEPLOYMENT,
    )
    assert [metrics.ended(lifecycle) for lifecycle in Lifecycle] == [
        Metric.BULK_DEPLOYMENT_FAILED,  # RUNNING never ends a deployment: counted as failed if asked
        Metric.BULK_DEPLOYMENT_COMPLETED,
        Metric.BULK_DEPLOYMENT_FAILED,
        Metric.BULK_DEPLOYMENT_STOPPED,
    ]
