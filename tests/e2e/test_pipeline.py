"""The whole pipeline over HTTP: S3 → EventBridge → SQS FIFO → starter → Greengrass → tracker → report.

Every assertion is made from outside, as an operator would: S3 objects, ledger items, outcome
notifications, and the Greengrass emulator's record of what it was asked to do.
"""

from __future__ import annotations

import json
from functools import partial

import pytest
from bulk_deployer.ledger_model import FileState
from bulk_deployer.timefmt import iso_of

from local.fleet import input_file
from local.observe import Observer, wait_for
from tests.e2e.conftest import E2EFactory
from tests.e2e.faults import CrashAfterCall

pytestmark = pytest.mark.e2e


def consumed(e2e: Observer, message_id: str) -> bool:
    """The runner invoked the starter with this message and deleted it (the handler succeeded)."""
    return any(message_id in i.deleted for i in e2e.pipeline.history.items("starter"))


def test_happy_path_reaches_a_final_report(e2e: Observer) -> None:
    outcomes = e2e.tap_outcomes()
    groups = e2e.pipeline.fleet().groups("north", "south", "east")
    upload = e2e.upload("fleet.jsonl", input_file(groups))

    file = e2e.wait_state(upload, FileState.FINISHED)

    report = e2e.read_json(e2e.report_key(upload))
    assert report["final"] is True
    assert report["status"] == "Completed"
    assert report["token"] == upload.token
    assert report["input"]["key"] == upload.key
    assert report["bulk_deployment_id"] == file.bulk_deployment_id
    assert report["metrics"]["RecordsProcessed"] == 3
    assert report["metrics"]["InvalidInputRecords"] == 0
    assert {g["group_id"]: g["status"] for g in report["groups"]} == {g.group_id: "Success" for g in groups}
    assert len(e2e.read_text(e2e.report_key(upload, "groups.csv")).strip().splitlines()) == 1 + 3
    # Greengrass read exactly the validated bytes, from the staged copy, once.
    staged = e2e.s3.get_object(Bucket=e2e.bucket, Key=e2e.staged_key(upload))["Body"].read()
    assert staged == upload.body
    (deployment,) = e2e.bulk_deployments(upload)
    assert deployment["BulkDeploymentId"] == file.bulk_deployment_id
    assert deployment["ClientToken"] == upload.token
    assert deployment["tags"]["bulk-deployer:token"] == upload.token
    assert e2e.start_calls(upload) == 1
    # Every group deployment exists in the AWS stand-in's Greengrass.
    moto_gg = e2e.pipeline.aws_client("greengrass")
    for group in groups:
        assert len(moto_gg.list_deployments(GroupId=group.group_id)["Deployments"]) == 1
    assert "finished" in wait_for(
        lambda: outcomes.outcomes(upload.key) if "finished" in outcomes.outcomes(upload.key) else None,
        timeout=5,
    )
    assert outcomes.outcomes(upload.key)[0] == "started"
    assert e2e.dead_letters() == 0


def test_a_duplicate_delivery_is_ignored(e2e: Observer) -> None:
    groups = e2e.pipeline.fleet().groups("one", "two")
    upload = e2e.upload("dup.jsonl", input_file(groups))
    started = e2e.wait_state(upload, FileState.STARTED, FileState.REPORTING, FileState.FINISHED)
    (body,) = wait_for(lambda: e2e.intake_bodies(upload.key), timeout=5)

    # Late redelivery while the bulk deployment is running (or reporting) ...
    first = e2e.redeliver(body)
    wait_for(lambda: consumed(e2e, first), timeout=5, what="duplicate consumed")
    finished = e2e.wait_state(upload, FileState.FINISHED)
    # ... and after everything is finished.
    second = e2e.redeliver(body)
    wait_for(lambda: consumed(e2e, second), timeout=5, what="second duplicate consumed")

    assert e2e.start_calls(upload) == 1
    assert len(e2e.bulk_deployments(upload)) == 1
    assert started.bulk_deployment_id == finished.bulk_deployment_id
    after = e2e.file(upload)
    assert after is not None and after.state is FileState.FINISHED
    assert after.report_key == finished.report_key
    assert e2e.dead_letters() == 0


def test_a_bad_file_is_rejected_with_a_report(e2e: Observer) -> None:
    outcomes = e2e.tap_outcomes()
    (group,) = e2e.pipeline.fleet().groups("good")
    body = "\n".join(
        [
            group.record(),
            json.dumps({"GroupId": "g-2", "DeploymentType": "NewDeployment"}),
            json.dumps({"GroupId": "g-3", "GroupVersionId": "v-3", "DeploymentType": "Redeployment"}),
            "{not json",
        ]
    )
    upload = e2e.upload("bad.jsonl", body + "\n")

    file = e2e.wait_state(upload, FileState.REJECTED)

    report = e2e.read_json(e2e.report_key(upload, "rejected.json"))
    assert file.report_key == e2e.report_key(upload, "rejected.json")
    assert report["outcome"] == "rejected"
    assert report["token"] == upload.token
    assert report["error_count"] == 3
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (2, "missing_group_version_id"),
        (3, "invalid_deployment_type"),
        (4, "invalid_json"),
    ]
    assert not e2e.exists(e2e.staged_key(upload))
    assert e2e.pipeline.emulator.start_calls() == 0
    assert wait_for(lambda: outcomes.outcomes(upload.key), timeout=5) == ["rejected"]


def test_a_second_file_waits_for_the_first(make_e2e: E2EFactory) -> None:
    # Slow records: the first bulk deployment runs for about a second.
    e2e = make_e2e(emulator_settings={"record_seconds": 0.3})
    fleet = e2e.pipeline.fleet()
    first = e2e.upload("first.jsonl", input_file(fleet.groups("a1", "a2", "a3")))
    second = e2e.upload("second.jsonl", input_file(fleet.groups("b1", "b2")))

    queued = e2e.wait_state(second, FileState.QUEUED)
    running = e2e.file(first)
    assert running is not None and running.state is FileState.STARTED
    assert queued.bulk_deployment_id is None

    done_first = e2e.wait_state(first, FileState.FINISHED)
    done_second = e2e.wait_state(second, FileState.FINISHED)

    # The second started only after the tracker saw the first one terminal.
    assert done_second.started_at and done_first.terminal_seen_at
    assert done_second.started_at > done_first.terminal_seen_at
    (a,) = e2e.bulk_deployments(first)
    (b,) = e2e.bulk_deployments(second)
    assert a["BulkDeploymentStatus"] == b["BulkDeploymentStatus"] == "Completed"
    assert b["CreatedAt"] > iso_of(done_first.terminal_seen_at)
    # Never refused for concurrency: the dispatcher waited instead of trying.
    assert e2e.pipeline.emulator.calls(operation="StartBulkDeployment", outcome="BadRequest") == []
    # Arrival order came from the FIFO sequence numbers.
    assert done_first.arrival_sk < done_second.arrival_sk
    assert int(str(done_first.arrival.sequence_number)) < int(str(done_second.arrival.sequence_number))


def test_an_overwrite_before_processing_is_superseded(e2e: Observer) -> None:
    outcomes = e2e.tap_outcomes()
    fleet = e2e.pipeline.fleet()
    with e2e.pipeline.runner.paused():
        older = e2e.upload("fleet.jsonl", input_file(fleet.groups("old")))
        newer = e2e.upload("fleet.jsonl", input_file(fleet.groups("new-1", "new-2")))
    assert older.version_id != newer.version_id

    superseded = e2e.wait_state(older, FileState.SUPERSEDED)
    e2e.wait_state(newer, FileState.FINISHED)

    assert superseded.bulk_deployment_id is None
    assert e2e.bulk_deployments(older) == []
    assert not e2e.exists(e2e.staged_key(older))
    assert len(e2e.bulk_deployments(newer)) == 1
    assert e2e.pipeline.emulator.start_calls() == 1
    assert wait_for(lambda: outcomes.outcomes(older.key)[:1], timeout=5) == ["superseded"]


def test_an_overwrite_while_queued_supersedes_the_queued_version_when_its_turn_comes(
    make_e2e: E2EFactory,
) -> None:
    """The older version was valid and queued; the newer one arrived before its turn. Only the
    newer one starts: deploying both would deploy every group twice, first with the stale file."""
    e2e = make_e2e(emulator_settings={"record_seconds": 0.3})
    outcomes = e2e.tap_outcomes()
    fleet = e2e.pipeline.fleet()
    running = e2e.upload("running.jsonl", input_file(fleet.groups("r1", "r2", "r3")))
    older = e2e.upload("fleet.jsonl", input_file(fleet.groups("old")))
    e2e.wait_state(older, FileState.QUEUED)  # behind the running one
    newer = e2e.upload("fleet.jsonl", input_file(fleet.groups("new-1", "new-2")))

    superseded = e2e.wait_state(older, FileState.SUPERSEDED, timeout=15)
    e2e.wait_state(newer, FileState.FINISHED, timeout=15)
    e2e.wait_state(running, FileState.FINISHED)

    assert superseded.superseded_by_version_id == newer.version_id
    assert e2e.bulk_deployments(older) == [] and e2e.start_calls(older) == 0
    assert len(e2e.bulk_deployments(newer)) == 1
    assert e2e.pipeline.emulator.start_calls() == 2  # the running file and the newer version
    assert wait_for(lambda: outcomes.outcomes(older.key)[:1], timeout=5) == ["superseded"]


@pytest.mark.parametrize("forget_tokens", [False, True], ids=["tokens-kept", "tokens-forgotten"])
def test_a_crash_after_the_start_call_does_not_start_twice(make_e2e: E2EFactory, forget_tokens: bool) -> None:
    """The starter dies after StartBulkDeployment returned, before the ledger says STARTED.

    With forgotten tokens a repeated start would create a second bulk deployment, so only the
    recovery by the token tag can keep it to one.
    """
    e2e = make_e2e(emulator_settings={"token_ttl_seconds": 0} if forget_tokens else None)
    groups = e2e.pipeline.fleet().groups("c1", "c2")
    with CrashAfterCall(e2e.pipeline, "greengrass", "StartBulkDeployment") as crash:
        upload = e2e.upload("crash.jsonl", input_file(groups))
        file = e2e.wait_state(upload, FileState.FINISHED)

    assert crash.crashes == 1
    assert len(e2e.bulk_deployments(upload)) == 1
    assert e2e.start_calls(upload) == 1
    assert file.bulk_deployment_id == e2e.bulk_deployments(upload)[0]["BulkDeploymentId"]
    # The crashed invocation's message failed and came back; the redelivery or the tracker
    # found the bulk deployment by its token tag instead of starting it again.
    assert any(i.failed for i in e2e.pipeline.history.items("starter"))
    assert e2e.read_json(e2e.report_key(upload))["status"] == "Completed"


def test_a_lost_start_response_is_found_by_its_token_tag_not_repeated(make_e2e: E2EFactory) -> None:
    e2e = make_e2e()
    e2e.pipeline.emulator.lose_response("StartBulkDeployment", times=1)
    upload = e2e.upload("lost.jsonl", input_file(e2e.pipeline.fleet().groups("l1")))

    e2e.wait_state(upload, FileState.FINISHED, timeout=15)

    assert e2e.start_calls(upload) == 1  # the lost one; the tracker then finds it by its tag
    assert len(e2e.bulk_deployments(upload)) == 1


def test_a_lost_start_response_with_forgotten_tokens_still_starts_once(make_e2e: E2EFactory) -> None:
    e2e = make_e2e(emulator_settings={"token_ttl_seconds": 0})
    e2e.pipeline.emulator.lose_response("StartBulkDeployment", times=1)
    upload = e2e.upload("lost.jsonl", input_file(e2e.pipeline.fleet().groups("l1")))

    e2e.wait_state(upload, FileState.FINISHED, timeout=15)

    assert len(e2e.bulk_deployments(upload)) == 1


def test_forgotten_tokens_still_give_one_deployment_per_file(make_e2e: E2EFactory) -> None:
    e2e = make_e2e(emulator_settings={"token_ttl_seconds": 0})
    fleet = e2e.pipeline.fleet()
    uploads = [e2e.upload(f"f{n}.jsonl", input_file(fleet.groups(f"f{n}-a", f"f{n}-b"))) for n in range(3)]
    e2e.wait_state(uploads[0], FileState.STARTED, FileState.REPORTING, FileState.FINISHED)
    for upload in uploads:  # duplicates of every event, while the queue is busy
        for body in wait_for(partial(e2e.intake_bodies, upload.key), timeout=5):
            e2e.redeliver(body)

    for upload in uploads:
        e2e.wait_state(upload, FileState.FINISHED)

    for upload in uploads:
        assert len(e2e.bulk_deployments(upload)) == 1, upload.key
        assert e2e.start_calls(upload) == 1, upload.key
    assert e2e.dead_letters() == 0


def test_the_report_waits_for_group_deployments_that_settle_after_completion(
    make_e2e: E2EFactory,
) -> None:
    e2e = make_e2e(
        emulator_settings={"settle_seconds": 1.5},
        environment_overrides={"REPORT_PAGE_SIZE": "2"},  # five groups: three pages
    )
    groups = e2e.pipeline.fleet().groups(*(f"s{n}" for n in range(5)))
    e2e.pipeline.emulator.configure(failing_groups=[groups[1].group_id])
    upload = e2e.upload("settle.jsonl", input_file(groups))

    reporting = e2e.wait_state(upload, FileState.REPORTING)
    assert reporting.deployment_status == "Completed"
    wait_for(lambda: e2e.exists(e2e.report_key(upload)), timeout=5, what="interim report")
    interim = e2e.read_json(e2e.report_key(upload))
    assert interim["final"] is False
    assert interim["status"] == "Completed"
    assert interim["still_in_progress"]

    e2e.wait_state(upload, FileState.FINISHED)
    report = e2e.read_json(e2e.report_key(upload))
    assert report["final"] is True
    assert report["counts"] == {"Failure": 1, "Success": 4}
    assert report["still_in_progress"] == []
    statuses = {g["group_id"]: g["status"] for g in report["groups"]}
    assert statuses == {g.group_id: "Failure" if g is groups[1] else "Success" for g in groups}
    interim_runs = [
        i
        for i in e2e.pipeline.history.items("tracker")
        if upload.token in (i.result or {}).get("reports_interim", [])
    ]
    assert interim_runs, "the tracker wrote at least one interim report"
