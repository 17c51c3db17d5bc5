"""The tracker against moto (S3, DynamoDB) and the fake Greengrass API."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest
from bulk_deployer import report_writer
from bulk_deployer.dispatch import DispatchResult
from bulk_deployer.ledger_model import Arrival, FileState
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.reconcile import Reconciler, UnprocessedObject
from bulk_deployer.token import client_token_for
from moto.s3 import models as moto_s3_models

from tests.fakes.greengrass import client_error
from tests.integration.conftest import BUCKET, Pipeline, valid_file

FOREVER = lambda: 900.0  # noqa: E731 - a run with all the time in the world


def start_one(pipeline: Pipeline, name: str = "incoming/fleet.jsonl") -> tuple[str, str]:
    ref = pipeline.upload(name, valid_file())
    result = pipeline.deliver_ref(ref)
    assert result.dispatch is not None
    assert result.dispatch.result is DispatchResult.STARTED
    return client_token_for(ref), str(result.dispatch.bulk_deployment_id)


def read_json(pipeline: Pipeline, key: str) -> Any:
    return json.loads(pipeline.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def read_csv(pipeline: Pipeline, key: str) -> list[dict[str, str]]:
    text = pipeline.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_follows_a_bulk_deployment_through_settling_groups_to_the_final_report(pipeline: Pipeline) -> None:
    token, bulk_id = start_one(pipeline)
    tracker = pipeline.tracker(report_recheck_seconds=0)

    run = tracker.run(FOREVER)
    assert (run.followed, run.ended) == (1, [])
    pipeline.greengrass.set_status(bulk_id, "Running", metrics={"RecordsProcessed": 1})
    tracker.run(FOREVER)
    file = pipeline.ledger.get(token)
    assert file is not None
    assert file.state is FileState.STARTED
    assert file.deployment_status == "Running"
    assert pipeline.metrics["RecordsProcessed"] == 1

    # Completed means every record was submitted; group deployments are still going.
    pipeline.greengrass.set_status(bulk_id, "Completed", metrics={"RecordsProcessed": 2})
    pipeline.greengrass.set_groups(bulk_id, ["Success", "InProgress"])
    run = tracker.run(FOREVER)
    assert run.ended == [token]
    assert run.reports_interim == [token]
    assert pipeline.metrics["BulkDeploymentCompleted"] == 1
    assert pipeline.metrics["RecordsProcessed"] == 2
    assert pipeline.slot.get().holder is None, "the slot is free for the next file"
    interim = read_json(pipeline, f"reports/{token}/report.json")
    assert interim["final"] is False
    assert interim["counts"] == {"InProgress": 1, "Success": 1}
    assert interim["still_in_progress"] == [
        "arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g-00001"
    ]

    pipeline.greengrass.settle_groups(bulk_id, "Failure")
    run = tracker.run(FOREVER)
    assert run.reports_final == [token]
    file = pipeline.ledger.get(token)
    assert file is not None
    assert file.state is FileState.FINISHED
    report = read_json(pipeline, f"reports/{token}/report.json")
    assert report["final"] is True
    assert report["token"] == token
    assert report["bulk_deployment_id"] == bulk_id
    assert report["status"] == "Completed"
    assert report["input"]["key"] == "incoming/fleet.jsonl"
    assert report["metrics"] == {"RecordsProcessed": 2, "InvalidInputRecords": 0, "RetryAttempts": 0}
    assert report["counts"] == {"Failure": 1, "Success": 1}
    assert report["group_count"] == 2
    assert [g["status"] for g in report["groups"]] == ["Success", "Failure"]
    assert report["groups"][1]["error_message"] == "Greengrass core is offline"
    assert report["groups"][1]["error_details"] == [
        {"DetailedErrorCode": "GG-1", "DetailedErrorMessage": "core offline"}
    ]
    assert report["terminal_seen_at"] and report["report_written_at"]
    rows = read_csv(pipeline, f"reports/{token}/groups.csv")
    assert [(r["group_id"], r["status"]) for r in rows] == [("g-00000", "Success"), ("g-00001", "Failure")]
    assert json.loads(rows[1]["error_details"])[0]["DetailedErrorCode"] == "GG-1"
    assert pipeline.metrics["GroupDeploymentsFailed"] == 1
    assert pipeline.outcomes.kinds() == ["started", "finished"]
    finished = pipeline.outcomes.messages[-1][2]
    assert finished["counts"] == {"Failure": 1, "Success": 1}


@pytest.mark.parametrize(
    ("status", "metric"), [("Failed", "BulkDeploymentFailed"), ("Stopped", "BulkDeploymentStopped")]
)
def test_failed_and_stopped_bulk_deployments_are_reported_with_their_errors(
    pipeline: Pipeline, status: str, metric: str
) -> None:
    token, bulk_id = start_one(pipeline)
    details = [{"DetailedErrorCode": "InvalidInputFile", "DetailedErrorMessage": "line 3"}]
    pipeline.greengrass.set_status(
        bulk_id,
        status,
        error_message="InvalidInputFile: Missing GroupId at line number: 3",
        error_details=details,
    )
    run = pipeline.tracker().run(FOREVER)
    assert run.reports_final == [token]
    assert pipeline.metrics[metric] == 1
    report = read_json(pipeline, f"reports/{token}/report.json")
    assert report["status"] == status
    assert report["error_message"] == "InvalidInputFile: Missing GroupId at line number: 3"
    assert report["error_details"] == details
    assert report["groups"] == []
    assert report["group_count"] == 0


def test_the_next_queued_file_starts_in_the_run_that_sees_the_active_one_end(pipeline: Pipeline) -> None:
    first_token, first_id = start_one(pipeline, "incoming/a.jsonl")
    second = pipeline.upload("incoming/b.jsonl", valid_file())
    queued = pipeline.deliver_ref(second)
    assert queued.dispatch is not None
    assert queued.dispatch.result is DispatchResult.SLOT_TAKEN

    tracker = pipeline.tracker()
    run = tracker.run(FOREVER)
    assert run.dispatched is not None
    assert run.dispatched.result is DispatchResult.SLOT_TAKEN
    pipeline.greengrass.finish(first_id)
    run = tracker.run(FOREVER)
    assert run.ended == [first_token]
    assert run.dispatched is not None
    assert run.dispatched.result is DispatchResult.STARTED
    assert run.dispatched.token == client_token_for(second)
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 2


class FollowClock:
    """A tracker run's clock and sleep: each wait advances time and lets Greengrass work."""

    def __init__(self, pipeline: Pipeline, *, deployments_finish: bool) -> None:
        self.now = time.time()
        self.waits: list[float] = []
        self._pipeline = pipeline
        self._finish = deployments_finish

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        if self._finish:
            self._pipeline.greengrass.finish_all()


def queue_files(pipeline: Pipeline, *names: str) -> list[str]:
    tokens = []
    for name in names:
        ref = pipeline.upload(name, valid_file())
        result = pipeline.deliver_ref(ref)
        assert result.dispatch is not None and result.dispatch.result is DispatchResult.SLOT_TAKEN
        tokens.append(client_token_for(ref))
    return tokens


def test_a_run_follows_through_a_backlog_of_quick_bulk_deployments(pipeline: Pipeline) -> None:
    first, _ = start_one(pipeline, "incoming/a.jsonl")
    queued = queue_files(pipeline, "incoming/b.jsonl", "incoming/c.jsonl", "incoming/d.jsonl")
    time_ = FollowClock(pipeline, deployments_finish=True)
    tracker = pipeline.tracker(
        clock=time_.clock, sleep=time_.sleep, tracker_follow_seconds=30, tracker_poll_seconds=5
    )
    run = tracker.run(FOREVER)
    # Each bulk deployment ended during a wait; the next file started at the following look.
    assert run.started == queued
    assert run.ended == [first, *queued[:2]]
    assert time_.waits == [5, 5, 5]  # stops once nothing waits behind the running one
    started = [d.token for d in pipeline.greengrass.deployments]
    assert started == [first, *queued]  # one start each, in arrival order
    assert pipeline.ledger.get(queued[-1]).state is FileState.STARTED  # type: ignore[union-attr]


def test_following_stops_at_the_end_of_the_window(pipeline: Pipeline) -> None:
    start_one(pipeline, "incoming/a.jsonl")
    queue_files(pipeline, "incoming/b.jsonl")
    time_ = FollowClock(pipeline, deployments_finish=False)
    queries: list[int] = []  # Limit of each ledger query: 200 for the work list, 100 for tracked files
    pipeline.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params.get("Limit"))
    )
    run = pipeline.tracker(
        clock=time_.clock, sleep=time_.sleep, tracker_follow_seconds=30, tracker_poll_seconds=4
    ).run(FOREVER)
    assert time_.waits == [4] * 7  # 28 s: another look would end after the 30 s window
    assert queries.count(200) == 1  # while it runs, a look reads the tracked files, not the work list
    assert run.started == []
    assert run.dispatched is not None and run.dispatched.result is DispatchResult.SLOT_TAKEN
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 1


def test_an_error_while_following_on_ends_the_wait_not_the_run(pipeline: Pipeline) -> None:
    start_one(pipeline, "incoming/a.jsonl")
    queue_files(pipeline, "incoming/b.jsonl")
    time_ = FollowClock(pipeline, deployments_finish=False)

    def sleep_then_throttled(seconds: float) -> None:
        time_.sleep(seconds)
        throttled = client_error("ThrottlingException", "Rate exceeded", "GetBulkDeploymentStatus")
        pipeline.greengrass.fail_next["GetBulkDeploymentStatus"] = [throttled]

    tracker = pipeline.tracker(
        clock=time_.clock, sleep=sleep_then_throttled, tracker_follow_seconds=30, tracker_poll_seconds=5
    )
    run = tracker.run(FOREVER)  # the look after the first wait fails: the run still ends normally
    assert run.ran and time_.waits == [5]
    assert run.dispatched is not None and run.dispatched.result is DispatchResult.SLOT_TAKEN
    assert pipeline.metrics["QueuedFiles"] == 1  # the rest of the run (queue health) happened


@pytest.mark.parametrize(
    ("situation", "remaining", "follow_seconds"),
    [
        ("the reports need the rest of the run", 64.0, 30.0),
        ("following is switched off", 900.0, 0.0),
        ("nothing waits behind the running file", 900.0, 30.0),
        ("dispatching is paused", 900.0, 30.0),
    ],
)
def test_a_run_does_not_wait_when(
    pipeline: Pipeline, situation: str, remaining: float, follow_seconds: float
) -> None:
    start_one(pipeline, "incoming/a.jsonl")
    if situation != "nothing waits behind the running file":
        queue_files(pipeline, "incoming/b.jsonl")
    if situation == "dispatching is paused":
        pipeline.control.pause("operator: maintenance window")
    time_ = FollowClock(pipeline, deployments_finish=True)
    tracker = pipeline.tracker(
        clock=time_.clock, sleep=time_.sleep, tracker_follow_seconds=follow_seconds, tracker_poll_seconds=5
    )
    run = tracker.run(lambda: remaining)
    assert time_.waits == []
    assert run.started == []


def test_2500_group_results_across_pages(pipeline: Pipeline) -> None:
    token, bulk_id = start_one(pipeline)
    statuses = ["Success"] * 2400 + ["Failure"] * 100
    pipeline.greengrass.set_groups(bulk_id, statuses)
    pipeline.greengrass.finish(bulk_id)
    pipeline.tracker(report_page_size=100).run(FOREVER)
    assert pipeline.greengrass.calls["ListBulkDeploymentDetailedReports"] == 25
    report = read_json(pipeline, f"reports/{token}/report.json")
    assert report["group_count"] == 2500
    assert len(report["groups"]) == 2500
    assert report["counts"] == {"Failure": 100, "Success": 2400}
    assert len({g["group_id"] for g in report["groups"]}) == 2500
    assert len(read_csv(pipeline, f"reports/{token}/groups.csv")) == 2500
    assert pipeline.metrics["GroupDeploymentsFailed"] == 100


def test_a_run_cut_off_mid_report_resumes_from_its_checkpoint(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small parts so that a 3,000-group report checkpoints several times.
    monkeypatch.setattr(report_writer, "PART_MIN_BYTES", 40_000)
    monkeypatch.setattr(moto_s3_models, "S3_UPLOAD_PART_MIN_SIZE", 40_000)
    token, bulk_id = start_one(pipeline)
    pipeline.greengrass.set_groups(bulk_id, ["Success"] * 2990 + ["Failure"] * 10)
    pipeline.greengrass.finish(bulk_id)
    tracker = pipeline.tracker(report_page_size=100)

    budget = {"pages": 12}

    def remaining() -> float:
        budget["pages"] -= 1
        return 900.0 if budget["pages"] > 0 else 0.0

    pipeline.greengrass.calls.clear()
    run = tracker.run(remaining)  # the first run ends (time is up) after 11 pages
    assert run.reports_continuing == [token]
    file = pipeline.ledger.get(token)
    assert file is not None
    progress = file.report_progress
    assert progress is not None and 0 < progress.rows < 1100
    assert progress.json_parts and progress.csv_parts
    pages_in_first_run = pipeline.greengrass.calls["ListBulkDeploymentDetailedReports"]

    run = tracker.run(FOREVER)
    assert run.reports_final == [token]
    total_pages = pipeline.greengrass.calls["ListBulkDeploymentDetailedReports"]
    resumed_at = progress.rows // 100
    assert total_pages == pages_in_first_run + (30 - resumed_at), "resumed, not restarted"
    report = read_json(pipeline, f"reports/{token}/report.json")
    assert report["group_count"] == 3000
    assert [g["group_id"] for g in report["groups"]] == [f"g-{i:05d}" for i in range(3000)]
    assert report["counts"] == {"Failure": 10, "Success": 2990}
    rows = read_csv(pipeline, f"reports/{token}/groups.csv")
    assert [r["group_id"] for r in rows] == [f"g-{i:05d}" for i in range(3000)]


def test_a_rerun_after_the_final_report_changes_nothing(pipeline: Pipeline) -> None:
    token, bulk_id = start_one(pipeline)
    pipeline.greengrass.set_groups(bulk_id, ["Success"])
    pipeline.greengrass.finish(bulk_id)
    tracker = pipeline.tracker()
    tracker.run(FOREVER)
    versions = pipeline.s3.list_object_versions(Bucket=BUCKET, Prefix=f"reports/{token}/")["Versions"]
    before = pipeline.ledger.get(token)
    pipeline.greengrass.calls.clear()

    run = tracker.run(FOREVER)
    assert (run.followed, run.ended, run.reports_final, run.reports_interim) == (0, [], [], [])
    assert sum(pipeline.greengrass.calls.values()) == 0
    assert pipeline.s3.list_object_versions(Bucket=BUCKET, Prefix=f"reports/{token}/")["Versions"] == versions
    after = pipeline.ledger.get(token)
    assert before is not None and after is not None
    assert after == before


def test_a_crash_before_the_ledger_records_the_final_report_finishes_on_the_next_run(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulk_deployer.ledger import BulkDeploymentLedger

    token, bulk_id = start_one(pipeline)
    pipeline.greengrass.set_groups(bulk_id, ["Success", "Success"])
    pipeline.greengrass.finish(bulk_id)
    original = BulkDeploymentLedger.mark_finished
    calls = {"n": 0}

    def crash_first(self: BulkDeploymentLedger, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the run died here")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BulkDeploymentLedger, "mark_finished", crash_first)
    tracker = pipeline.tracker()
    with pytest.raises(RuntimeError):
        tracker.run(FOREVER)
    run = tracker.run(FOREVER)
    assert run.reports_final == [token]
    file = pipeline.ledger.get(token)
    assert file is not None
    assert file.state is FileState.FINISHED
    assert read_json(pipeline, f"reports/{token}/report.json")["group_count"] == 2


def test_groups_that_never_settle_are_named_once_the_bound_passes(pipeline: Pipeline) -> None:
    token, bulk_id = start_one(pipeline)
    pipeline.greengrass.set_groups(bulk_id, ["Success", "InProgress", "Building"])
    pipeline.greengrass.finish(bulk_id)
    clock = {"now": time.time()}
    tracker = pipeline.tracker(
        clock=lambda: clock["now"], report_recheck_seconds=60, report_settle_bound_seconds=3600
    )
    assert tracker.run(FOREVER).reports_interim == [token]
    clock["now"] += 30
    assert tracker.run(FOREVER).reports_interim == [], "rechecked only every report_recheck_seconds"
    clock["now"] += 3600
    run = tracker.run(FOREVER)
    assert run.reports_final == [token]
    report = read_json(pipeline, f"reports/{token}/report.json")
    assert report["final"] is True
    assert report["settle_bound_passed"] is True
    assert len(report["still_in_progress"]) == 2


def test_an_idle_run_reads_the_ledger_twice_and_never_calls_greengrass(pipeline: Pipeline) -> None:
    tracker = pipeline.tracker()
    tracker.run(FOREVER)  # the first run also reconciles (hourly)
    reads: list[str] = []
    pipeline.dynamodb.meta.events.register(
        "before-call.dynamodb.*",
        lambda model, **_: (
            reads.append(model.name) if model.name in {"GetItem", "Query", "BatchGetItem", "Scan"} else None
        ),
    )
    run = tracker.run(FOREVER)
    assert run.ran
    assert len(reads) <= 2, reads
    assert sum(pipeline.greengrass.calls.values()) == 0
    assert pipeline.metrics["QueuedFiles"] == 0
    assert pipeline.gauges["OldestQueuedFileAgeSeconds"] == 0


def test_only_one_run_at_a_time(pipeline: Pipeline) -> None:
    from bulk_deployer.control import RunLease

    assert RunLease(pipeline.dynamodb, "ledger", "tracker").acquire("someone-else", seconds=600)
    assert pipeline.tracker().run(FOREVER).ran is False


def test_a_run_lease_is_released_only_by_its_holder_and_taken_over_once_expired(pipeline: Pipeline) -> None:
    from bulk_deployer.control import RunLease

    clock = {"now": 1_000_000.0}
    lease = RunLease(pipeline.dynamodb, "ledger", "tracker", clock=lambda: clock["now"])
    assert lease.acquire("first", seconds=60)
    assert not lease.acquire("second", seconds=60)
    clock["now"] += 61
    assert lease.acquire("second", seconds=60)
    lease.release("first")  # it expired and is the second run's now: left as it is
    assert not lease.acquire("third", seconds=60)
    lease.release("second")
    assert lease.acquire("third", seconds=60)


def test_the_tracker_and_its_dispatcher_share_one_graph(pipeline: Pipeline) -> None:
    """wiring builds each collaborator once: the slot the tracker frees, the pause it reads, the
    deployer it follows and the sink it reports to are the ones its dispatcher uses."""
    tracker = pipeline.tracker()
    dispatcher = tracker.dispatcher
    assert tracker.ledger is dispatcher.ledger
    assert tracker.slot is dispatcher.slot
    assert tracker.control is dispatcher.control
    assert tracker.deployer is dispatcher.deployer
    assert tracker.outcomes is dispatcher.outcomes is pipeline.outcomes
    intake = pipeline.intake
    assert intake.ledger is intake.dispatcher.ledger
    assert intake.objects is intake.dispatcher.objects
    assert intake.outcomes is intake.dispatcher.outcomes


def test_queue_health_and_paused_metrics(pipeline: Pipeline) -> None:
    start_one(pipeline, "incoming/a.jsonl")
    for name in ("incoming/b.jsonl", "incoming/c.jsonl"):
        pipeline.deliver_ref(pipeline.upload(name, valid_file()))
    pipeline.control.pause("operator: maintenance window")
    clock = {"now": time.time() + 120}
    pipeline.tracker(clock=lambda: clock["now"]).run(FOREVER)
    assert pipeline.metrics["QueuedFiles"] == 2
    assert pipeline.gauges["OldestQueuedFileAgeSeconds"] >= 119
    assert pipeline.metrics["DispatchPaused"] == 1


def test_an_overdue_bulk_deployment_is_flagged(pipeline: Pipeline) -> None:
    start_one(pipeline)
    clock = {"now": time.time() + 7200}
    pipeline.tracker(clock=lambda: clock["now"], overdue_after_seconds=3600).run(FOREVER)
    assert pipeline.metrics["BulkDeploymentOverdue"] == 1


def test_a_slot_left_held_by_an_ended_bulk_deployment_is_freed(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulk_deployer.slot import DeploymentSlot

    first_token, first_id = start_one(pipeline, "incoming/a.jsonl")
    pipeline.deliver_ref(pipeline.upload("incoming/b.jsonl", valid_file()))
    pipeline.greengrass.finish(first_id)
    # The run that saw it end died before releasing the slot.
    monkeypatch.setattr(DeploymentSlot, "release_file", lambda self, token: True)
    pipeline.tracker().run(FOREVER)
    monkeypatch.undo()
    assert pipeline.slot.get().tokens == [first_token]
    run = pipeline.tracker().run(FOREVER)
    assert run.dispatched is not None
    assert run.dispatched.result is DispatchResult.STARTED


def test_reconciliation_finds_an_input_file_whose_event_was_lost(pipeline: Pipeline) -> None:
    start_one(pipeline, "incoming/seen.jsonl")
    pipeline.upload("incoming/lost.jsonl", valid_file("g-lost"))  # no event delivered
    pipeline.upload("incoming/folder/", b"")
    clock = {"now": time.time() + 600}
    run = pipeline.tracker(clock=lambda: clock["now"]).run(FOREVER)
    assert run.unprocessed == 1
    assert pipeline.metrics["UnprocessedInputFiles"] == 1
    # Hourly, not every run.
    assert pipeline.tracker(clock=lambda: clock["now"] + 60).run(FOREVER).unprocessed is None


def test_reconciliation_compares_versions_so_identical_bytes_uploaded_again_are_found(
    pipeline: Pipeline,
) -> None:
    """The same bytes uploaded again are a new version (same ETag, new token): if its event is
    lost, the ledger's entry for the first version must not hide it."""
    token, _ = start_one(pipeline, "incoming/again.jsonl")
    again = pipeline.upload("incoming/again.jsonl", valid_file())  # identical bytes; event lost
    first = pipeline.ledger.get(token)
    assert first is not None and again.etag == first.ref.etag and again.version_id != first.ref.version_id
    run = pipeline.tracker(clock=lambda: time.time() + 600).run(FOREVER)
    assert run.unprocessed == 1
    (obj,) = _unprocessed(pipeline)
    assert (obj.key, obj.version_id, obj.etag) == ("incoming/again.jsonl", again.version_id, again.etag)
    # Once its event arrives, the version has its own state and reconciliation is quiet.
    pipeline.deliver_ref(again)
    assert _unprocessed(pipeline) == []


def test_reconciliation_of_an_unversioned_bucket_compares_etags(pipeline: Pipeline) -> None:
    pipeline.s3.create_bucket(Bucket="plain-input")
    pipeline.s3.put_object(Bucket="plain-input", Key="incoming/a.jsonl", Body=valid_file())
    pipeline.s3.put_object(Bucket="plain-input", Key="incoming/b.jsonl", Body=valid_file("g-b"))
    head = pipeline.s3.head_object(Bucket="plain-input", Key="incoming/a.jsonl")
    # An unversioned object's event carries no version id (or "null"): the ledger knows a.jsonl.
    ref = ObjectRef(
        "plain-input", "incoming/a.jsonl", etag=head["ETag"].strip('"'), size=head["ContentLength"]
    )
    pipeline.ledger.register(client_token_for(ref), ref, Arrival("1"), lease_seconds=60)
    found = _unprocessed(pipeline, bucket="plain-input")
    assert [(o.key, o.version_id) for o in found] == [("incoming/b.jsonl", "null")]


def _unprocessed(pipeline: Pipeline, *, bucket: str = BUCKET) -> list[UnprocessedObject]:
    reconciler = Reconciler(
        pipeline.s3,
        pipeline.ledger,
        bucket=bucket,
        prefix="incoming/",
        lookback_days=3,
        min_age_seconds=300,
        clock=lambda: time.time() + 600,
    )
    return reconciler.unprocessed()
