"""submit (refusal, upload, --wait to Completed / Failed / timeout), status, list, report, rollback-input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.cli.conftest import BUCKET, Runner, Stack


def test_submit_refuses_an_invalid_file_and_uploads_nothing(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"GroupId":"g"}\nnot json\n')
    code, out, _ = stack.cli("submit", str(bad))
    assert code == 1
    assert "INVALID, 3 error(s)" in out and "line 2: invalid_json" in out and "nothing uploaded" in out
    code, data = stack.cli_json("submit", str(bad))
    assert code == 1 and data["submitted"] is False and data["validation"]["error_count"] == 3
    assert "Contents" not in stack.client("s3").list_objects_v2(Bucket=BUCKET)


def test_submit_prints_where_the_file_went(stack: Stack, tmp_path: Path) -> None:
    group, (version,) = stack.group()
    path = stack.input_file(tmp_path / "fleet.jsonl", [(group, version)])
    code, data = stack.cli_json("submit", str(path), "--key", "named.jsonl")
    assert code == 0
    assert data["key"] == "incoming/named.jsonl" and data["bucket"] == BUCKET
    head = stack.client("s3").head_object(Bucket=BUCKET, Key="incoming/named.jsonl")
    assert data["version_id"] == head["VersionId"] and len(data["token"]) == 64
    code, out, _ = stack.cli("submit", str(path))
    assert code == 0 and "uploaded s3://clitest-input/incoming/fleet-" in out and "client token:" in out


def test_submit_wait_to_completed_then_status_list_report_rollback(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    groups = [stack.group(versions=2) for _ in range(3)]
    for group_id, (old, _new) in groups:
        stack.deploy(group_id, old)  # what each group ran before
    path = stack.input_file(tmp_path / "fleet.jsonl", [(g, new) for g, (_old, new) in groups])
    with runner:
        code, out, err = stack.cli("submit", str(path), "--wait", "--poll-seconds", "0.05", "--timeout", "20")
    assert code == 0, err
    assert "registered" in err or "queued" in err or "started" in err
    assert "finished: Completed; groups: Success 3" in err
    token = next(line.split()[-1] for line in out.splitlines() if "client token" in line)

    code, status = stack.cli_json("status", "fleet.jsonl", "--token", token)
    assert code == 0 and status["file"]["state"] == "FINISHED" and status["live"]["status"] == "Completed"
    bulk_id = status["file"]["bulk_deployment_id"]
    code, by_id = stack.cli_json("status", "--bulk-deployment-id", bulk_id)
    assert code == 0 and by_id["file"]["token"] == token
    code, waited = stack.cli_json("status", "--token", token, "--wait", "--timeout", "1")
    assert code == 0 and waited["outcome"] == "succeeded"
    code, text, _ = stack.cli("status", "--token", token)
    assert code == 0 and "state:        FINISHED" in text and f"bulk deployment {bulk_id}: Completed" in text

    code, listed = stack.cli_json("list")
    assert code == 0 and [f["token"] for f in listed] == [token]
    code, text, _ = stack.cli("list", "--limit", "5")
    assert code == 0 and "FINISHED" in text and "Success 3" in text

    code, report = stack.cli_json("report", token)
    assert code == 0 and report["final"] and report["group_counts"] == {"Success": 3}
    assert report["failed_total"] == 0
    saved = tmp_path / "groups.csv"
    code, _, _ = stack.cli("report", token, "--save", str(saved))
    assert code == 0 and len(list(csv.DictReader(saved.open()))) == 3

    rollback = tmp_path / "rollback.jsonl"
    code, data = stack.cli_json("rollback-input", token, "--save", str(rollback))
    assert code == 0 and data["records"] == 3
    assert {json.loads(line)["GroupVersionId"] for line in rollback.read_text().splitlines()} == {
        old for _g, (old, _new) in groups
    }
    assert stack.cli("validate", str(rollback))[0] == 0


def test_submit_wait_to_failed_groups(stack: Stack, runner: Runner, tmp_path: Path) -> None:
    (good, (good_v,)), (bad, (bad_v,)) = stack.group(), stack.group()
    stack.emulator.configure(failing_groups={bad})
    path = stack.input_file(tmp_path / "f.jsonl", [(good, good_v), (bad, bad_v)])
    with runner:
        code, data = stack.cli_json(
            "submit", str(path), "--wait", "--poll-seconds", "0.05", "--timeout", "20"
        )
    assert code == 1
    assert data["outcome"] == "failed" and data["file"]["group_counts"] == {"Failure": 1, "Success": 1}
    code, report = stack.cli_json("report", data["token"])
    assert code == 1 and report["failed_total"] == 1 and report["failed_groups"][0]["group_id"] == bad
    assert report["failed_groups"][0]["line"] == 2
    code, text, _ = stack.cli("report", data["token"])
    assert code == 1 and "failed groups (1):" in text and f"line 2: {bad}:" in text


def test_submit_wait_times_out_with_exit_3(stack: Stack, tmp_path: Path) -> None:
    group, (version,) = stack.group()
    path = stack.input_file(tmp_path / "f.jsonl", [(group, version)])
    code, _, err = stack.cli("submit", str(path), "--wait", "--poll-seconds", "0.05", "--timeout", "0.2")
    assert code == 3 and "timed out" in err


def test_report_of_a_rejected_file(stack: Stack, runner: Runner) -> None:
    stack.client("s3").put_object(Bucket=BUCKET, Key="incoming/bad.jsonl", Body=b"nope\n")
    runner.step()
    code, data = stack.cli_json("report", "bad.jsonl")
    assert code == 1 and data["outcome"] == "rejected" and data["errors"][0]["code"] == "invalid_json"
    code, _, err = stack.cli("rollback-input", "bad.jsonl")
    assert code == 2 and "REJECTED" in err
