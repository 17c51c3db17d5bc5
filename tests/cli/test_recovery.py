"""redrive (with its ordering guard) and reconcile."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.conftest import BUCKET, Runner, Stack, line

STARTED = ("STARTED", "REPORTING", "FINISHED")  # the tracker in runner.step() may get further


def test_redrive_refuses_to_deploy_an_older_file_after_a_newer_one(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    group, (version,) = stack.group()
    stack.client("s3").put_object(Bucket=BUCKET, Key="incoming/old.jsonl", Body=line(group, version) + "\n")
    (lost,) = stack.take_intake_messages()
    stack.dead_letter(lost["Body"])  # the older file's message failed and was dead-lettered
    time.sleep(0.01)
    newer = tmp_path / "new.jsonl"
    stack.input_file(newer, [(group, version)])
    assert stack.cli("submit", str(newer), "--key", "new.jsonl")[0] == 0
    runner.step()  # the newer file starts

    code, data = stack.cli_json("redrive")
    assert code == 1 and data["refused"] and data["redriven"] == 0
    (message,) = data["messages"]
    assert message["needs_force"] and message["files"][0]["key"] == "incoming/old.jsonl"
    assert message["files"][0]["ledger_state"] is None and message["files"][0]["would_deploy"]
    assert [s["key"] for s in message["started_since"]] == ["incoming/new.jsonl"]
    code, text, _ = stack.cli("redrive", "--dry-run")
    assert code == 0 and "started since: incoming/new.jsonl" in text and "nothing moved" in text

    code, data = stack.cli_json("redrive", "--force")
    assert code == 0 and data["redriven"] == 1
    assert stack.cli_json("redrive")[1]["messages"] == []
    assert runner.intake_step() == 1
    assert stack.cli_json("status", "old.jsonl")[1]["file"]["state"] in ("QUEUED", *STARTED)


def test_redrive_without_newer_starts_needs_no_force(stack: Stack, runner: Runner, tmp_path: Path) -> None:
    group, (version,) = stack.group()
    path = stack.input_file(tmp_path / "a.jsonl", [(group, version)])
    assert stack.cli("submit", str(path), "--key", "a.jsonl")[0] == 0
    (message,) = stack.take_intake_messages()
    stack.dead_letter(message["Body"])
    code, out, _ = stack.cli("redrive")
    assert code == 0 and "redriven: 1 message(s)" in out
    runner.step()
    assert stack.cli_json("status", "a.jsonl")[1]["file"]["state"] in STARTED


def test_reconcile_finds_and_submits_objects_the_ledger_never_saw(stack: Stack, runner: Runner) -> None:
    group, (version,) = stack.group()
    stack.client("s3").put_object(Bucket=BUCKET, Key="incoming/lost.jsonl", Body=line(group, version) + "\n")
    stack.take_intake_messages()  # the event is lost
    code, data = stack.cli_json("reconcile", "--min-age-seconds", "0")
    assert code == 1 and [row["key"] for row in data["unprocessed"]] == ["incoming/lost.jsonl"]
    code, out, _ = stack.cli("reconcile")  # younger than the default minimum age: not reported yet
    assert code == 0 and "every input object is in the ledger" in out
    code, data = stack.cli_json("reconcile", "--min-age-seconds", "0", "--submit")
    assert code == 0 and data["submitted"] == 1
    runner.step()
    assert stack.cli_json("status", "lost.jsonl")[1]["file"]["state"] in STARTED
    assert stack.cli_json("reconcile", "--min-age-seconds", "0")[0] == 0


def test_reconcile_finds_identical_bytes_uploaded_again_by_their_version(
    stack: Stack, runner: Runner
) -> None:
    group, (version,) = stack.group()
    body = line(group, version) + "\n"
    s3 = stack.client("s3")
    s3.put_object(Bucket=BUCKET, Key="incoming/same.jsonl", Body=body)
    runner.step()  # the first version's event arrives and it starts
    again = s3.put_object(Bucket=BUCKET, Key="incoming/same.jsonl", Body=body)
    stack.take_intake_messages()  # the second version's event is lost
    code, data = stack.cli_json("reconcile", "--min-age-seconds", "0")
    assert code == 1
    assert [(r["key"], r["version_id"]) for r in data["unprocessed"]] == [
        ("incoming/same.jsonl", again["VersionId"])
    ]
    code, data = stack.cli_json("reconcile", "--min-age-seconds", "0", "--submit")
    assert code == 0 and data["submitted"] == 1
    runner.step()
    assert stack.cli_json("reconcile", "--min-age-seconds", "0")[0] == 0  # that version has a state now
