"""The typed ledger record: every attribute the ledger writes is a field of ``LedgerFile``.

Readers outside the ledger modules see only fields (``LedgerFile`` has no raw item), so the
record must carry everything the ledger stores: here a file goes through every transition
the table supports and each stored item must parse and write back to exactly itself, with no
attribute the typed record does not know.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from bulk_deployer.dynamo import from_item, to_item
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import (
    WAITING_PREFIX,
    Arrival,
    DeploymentStatusSnapshot,
    FileState,
    LedgerFile,
    ReportProgress,
    ReportSummary,
    StartRequest,
)
from bulk_deployer.ledger_records import Attr
from bulk_deployer.objectref import ObjectRef

from tests.integration.conftest import BUCKET, ROLE, TABLE, Pipeline

REF = ObjectRef(
    BUCKET, "incoming/a.jsonl", "etag-1", version_id="v1", size=42, event_time="2026-01-01T00:00:00Z"
)
SNAPSHOT = DeploymentStatusSnapshot(
    status="Running",
    metrics={"RecordsProcessed": 3, "InvalidInputRecords": 0, "RetryAttempts": 1},
    created_at="2026-01-01T00:00:05.000Z",
    error_message="one group failed",
    error_details=({"DetailedErrorCode": "GC-1", "DetailedErrorMessage": "bad"},),
)
SUMMARY = ReportSummary(
    final=True,
    rows=2,
    counts={"Failure": 1, "Success": 1},
    still_in_progress=("arn:a",),
    failed_sample=("arn:b",),
    settle_bound_passed=True,
)


def _assert_round_trip(pipeline: Pipeline, file: LedgerFile) -> None:
    """The stored item parses to the returned record, and the record writes back the same item."""
    response = pipeline.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"file#{file.token}"}})
    stored = response["Item"]
    assert set(stored) <= {a.value for a in Attr}, "an attribute the typed record does not know"
    assert LedgerFile.from_item(from_item(stored)) == file
    assert to_item(file.to_item()) == stored


def _get(ledger: BulkDeploymentLedger, token: str) -> LedgerFile:
    file = ledger.get(token)
    assert file is not None
    return file


@pytest.fixture
def ledger(pipeline: Pipeline) -> BulkDeploymentLedger:
    clock = iter(range(1_700_000_000, 1_700_001_000))
    return BulkDeploymentLedger(pipeline.dynamodb, TABLE, ttl_days=30, clock=lambda: float(next(clock)))


def test_every_transition_stores_only_what_the_typed_record_carries(
    pipeline: Pipeline, ledger: BulkDeploymentLedger
) -> None:
    registration = ledger.register("t1", REF, Arrival("7"), lease_seconds=60)
    file = registration.file
    _assert_round_trip(pipeline, file)
    assert file.registered_at.tzinfo is UTC and file.arrival == Arrival("7")
    assert ledger.get("t1") == file

    request = StartRequest(ROLE, "https://bucket/staged.jsonl", {"project": "fleet"})
    file = ledger.enqueue(file, request, records=2, staged_key="staged/t1.jsonl")
    _assert_round_trip(pipeline, file)
    assert file.start_request == request and file.records == 2 and file.on_work_list

    file = ledger.mark_starting("t1")
    _assert_round_trip(pipeline, file)
    file = ledger.record_start_error("t1", "Role is not authorized")
    _assert_round_trip(pipeline, file)
    assert (file.start_attempts, file.start_rejections) == (1, 1)

    assert pipeline.slot.acquire("holder", lease_seconds=60)
    file = ledger.mark_started(
        "t1",
        bulk_deployment_id="bd-1",
        arn="arn:bd-1",
        slot_hold=pipeline.slot.hold_item("holder", "t1", ["account"]),
    )
    _assert_round_trip(pipeline, file)
    assert file.started_at is not None and file.bulk_deployment_arn == "arn:bd-1"

    file = ledger.record_status("t1", SNAPSHOT)
    _assert_round_trip(pipeline, file)
    assert file.deployment == SNAPSHOT and file.deployment_status == "Running"

    file = ledger.mark_reporting("t1", SNAPSHOT._replace(status="Completed"))
    _assert_round_trip(pipeline, file)
    assert file.terminal_seen_at is not None

    progress = ReportProgress("2026-01-01T00:01:00.000000Z", json_upload_id="u1", next_token="n", rows=5)
    progress.json_parts.append({"PartNumber": 1, "ETag": "e"})
    progress.counts["Success"] = 5
    file = ledger.save_report_progress("t1", progress)
    _assert_round_trip(pipeline, file)
    assert file.report_progress == progress
    file = ledger.save_report_progress("t1", None, interim=SUMMARY._replace(final=False))
    _assert_round_trip(pipeline, file)
    assert file.report_progress is None and file.report_interim is not None

    file = ledger.mark_finished("t1", report_key="reports/t1/report.json", summary=SUMMARY)
    _assert_round_trip(pipeline, file)
    assert file.state is FileState.FINISHED and file.report_summary == SUMMARY and not file.on_work_list


def test_a_start_request_with_targets_round_trips_and_one_without_stores_none(
    pipeline: Pipeline, ledger: BulkDeploymentLedger
) -> None:
    targets = (
        "arn:aws:iot:us-east-1:123456789012:thinggroup/line-1",
        "arn:aws:iot:us-east-1:123456789012:thing/k",
    )
    for token, request in (
        ("v2", StartRequest("", "https://bucket/staged/v2.jsonl", {"a": "b"}, targets)),
        ("v1", StartRequest(ROLE, "https://bucket/staged/v1.jsonl", {})),
    ):
        registered = ledger.register(token, REF.with_key(token), Arrival(), lease_seconds=60).file
        file = ledger.enqueue(registered, request, records=len(request.targets), staged_key="s")
        _assert_round_trip(pipeline, file)
        assert file.start_request == request
        stored = pipeline.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"file#{token}"}})["Item"]
        assert ("targets" in stored["start_request"]["M"]) is bool(request.targets)


def test_operator_and_refusal_paths_round_trip(pipeline: Pipeline, ledger: BulkDeploymentLedger) -> None:
    request = StartRequest(ROLE, "https://bucket/staged.jsonl", {})
    for token in ("queued", "failed", "rejected", "superseded"):
        ledger.register(token, REF.with_key(token), Arrival(), lease_seconds=60)
    _assert_round_trip(pipeline, ledger.mark_rejected("rejected", report_key="r.json", error_count=3))
    _assert_round_trip(pipeline, ledger.mark_superseded("superseded", reason="a newer version"))

    queued = ledger.enqueue(_get(ledger, "queued"), request, records=1, staged_key="s")
    cancelled = ledger.cancel(queued.token, reason="operator")
    _assert_round_trip(pipeline, cancelled)
    assert cancelled.cancel_reason == "operator" and cancelled.cancelled_at is not None

    failed = ledger.enqueue(_get(ledger, "failed"), request, records=1, staged_key="s")
    ledger.mark_starting(failed.token)
    _assert_round_trip(pipeline, ledger.mark_start_failed(failed.token, "refused"))
    retried = ledger.retry_start_failed(failed.token)
    _assert_round_trip(pipeline, retried)
    assert retried.queue_sk == WAITING_PREFIX + retried.arrival_sk and retried.start_rejections == 0
    superseded = ledger.supersede_queued(failed.token, reason="newer", current_version_id="v2")
    _assert_round_trip(pipeline, superseded)
    assert superseded.superseded_by_version_id == "v2" and superseded.superseded_at is not None


def test_a_fully_populated_record_round_trips_through_the_item() -> None:
    """Every field set (none at its default): from_item(to_item(x)) == x, so no field is
    forgotten on either side, and every attribute name is written by some field."""
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    file = LedgerFile(
        token="t1",
        state=FileState.REPORTING,
        ref=ObjectRef(BUCKET, "k", "e", version_id="v", size=9),
        registered_at=at,
        arrival=Arrival("12"),
        arrival_sk="00012#t#t1",
        event_time="2026-01-01T00:00:00Z",
        updated_at=at,
        processing_until=7,
        expires_at=8,
        queue_sk="t#x#t1",
        start_request=StartRequest(ROLE, "uri", {"a": "b"}),
        records=3,
        staged_key="staged/t1",
        starting_since=9,
        start_attempts=2,
        start_rejections=1,
        last_start_error="refused",
        started_at=at,
        bulk_deployment_id="bd",
        bulk_deployment_arn="arn:bd",
        deployment=SNAPSHOT,
        last_checked_at=at,
        terminal_seen_at=at,
        report_progress=ReportProgress("p", rows=3, counts={"Success": 3}, failed=["arn:f"]),
        report_checked_at=at,
        report_interim=SUMMARY._replace(final=False),
        report_summary=SUMMARY,
        report_key="reports/t1/report.json",
        finished_at=at,
        error_count=4,
        reason="newer",
        superseded_by_version_id="v2",
        superseded_at=at,
        cancel_reason="operator",
        cancelled_at=at,
        retried_at=at,
    )
    defaults = LedgerFile._field_defaults
    assert all(name not in defaults or getattr(file, name) != defaults[name] for name in LedgerFile._fields)
    item = file.to_item()
    assert LedgerFile.from_item(item) == file
    assert set(item) == {a.value for a in Attr}


def test_the_record_is_frozen_and_exposes_no_raw_item(
    pipeline: Pipeline, ledger: BulkDeploymentLedger
) -> None:
    file = ledger.register("t1", REF, Arrival(), lease_seconds=60).file
    assert "item" not in LedgerFile._fields
    with pytest.raises(AttributeError):
        file.state = FileState.QUEUED  # type: ignore[misc]


def test_the_tracker_writes_a_status_only_when_it_changed() -> None:
    assert SNAPSHOT.same_as(SNAPSHOT._replace(created_at="later", error_details=()))
    assert not SNAPSHOT.same_as(None)
    assert not SNAPSHOT.same_as(SNAPSHOT._replace(metrics={"RecordsProcessed": 4}))
    assert not SNAPSHOT.same_as(SNAPSHOT._replace(status="Completed"))


def test_error_details_with_numbers_come_back_from_dynamodb_as_json_numbers() -> None:
    """A V2 file's failed targets carry device counts in the error details; DynamoDB gives numbers
    back as Decimal, which the report's json.dumps refused (the tracker failed every run)."""
    snapshot = DeploymentStatusSnapshot(
        status="FAILED",
        error_details=({"target": "arn:t", "outcome": "failed", "counts": {"FAILED": 1, "SUCCEEDED": 2}},),
    )
    stored = {key: _deserialized(value) for key, value in to_item(snapshot.to_values()).items()}
    read = DeploymentStatusSnapshot.from_values(stored)
    assert read == snapshot
    assert json.loads(json.dumps(read.error_details if read else None)) == [
        {"target": "arn:t", "outcome": "failed", "counts": {"FAILED": 1, "SUCCEEDED": 2}}
    ]


def _deserialized(value: Any) -> Any:
    return from_item({"v": value})["v"]
