"""queue, pause, resume (retrying a START_FAILED file first), cancel, stop."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.cli.conftest import ACCOUNT, BUCKET, TRUST, Runner, Stack, role_policy


def _upload(stack: Stack, tmp_path: Path, name: str) -> str:
    group, (version,) = stack.group()
    path = stack.input_file(tmp_path / name, [(group, version)])
    code, data = stack.cli_json("submit", str(path), "--key", name)
    assert code == 0
    return str(data["token"])


def test_pause_queue_cancel_resume(stack: Stack, runner: Runner, tmp_path: Path) -> None:
    code, out, _ = stack.cli("pause", "--reason", "maintenance window")
    assert code == 0 and "paused" in out
    first, second = _upload(stack, tmp_path, "a.jsonl"), _upload(stack, tmp_path, "b.jsonl")
    runner.step()
    code, queue = stack.cli_json("queue")
    assert code == 0
    assert queue["paused"] == "paused by an operator: maintenance window"
    assert [row["token"] for row in queue["queued"]] == [first, second]
    code, text, _ = stack.cli("queue")
    assert "PAUSED" in text and "incoming/a.jsonl" in text.splitlines()[2]

    code, cancelled = stack.cli_json("cancel", "a.jsonl")
    assert code == 0 and cancelled["cancelled"] and cancelled["file"]["state"] == "CANCELLED"
    code, _, err = stack.cli("cancel", "a.jsonl")
    assert code == 1 and "CANCELLED, not QUEUED" in err
    assert [row["token"] for row in stack.cli_json("queue")[1]["queued"]] == [second]

    code, resumed = stack.cli_json("resume")
    assert code == 0 and resumed["dispatch"]["result"] == "started" and resumed["dispatch"]["token"] == second
    code, status = stack.cli_json("status", "b.jsonl")
    assert status["file"]["state"] == "STARTED"
    code, queue = stack.cli_json("queue")
    assert queue["paused"] is None and queue["queued"] == [] and queue["slot"]["state"] == "active"
    code, _, err = stack.cli("cancel", "b.jsonl")
    assert code == 1 and "use `stop`" in err


def test_resume_retries_a_start_failed_file_first(stack: Stack, tmp_path: Path) -> None:
    late_role = f"arn:aws:iam::{ACCOUNT}:role/late-role"  # does not exist yet: every start is refused
    runner = Runner(stack, execution_role_arn=late_role)
    token = _upload(stack, tmp_path, "a.jsonl")
    runner.step()
    code, status = stack.cli_json("status", "a.jsonl")
    assert status["file"]["state"] == "START_FAILED"
    code, doctor = stack.cli_json("doctor")
    assert code == 1 and any(c["name"] == "dispatching" and c["ok"] is False for c in doctor["checks"])

    iam = stack.client("iam")  # the operator fixes the cause ...
    iam.create_role(RoleName="late-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="late-role", PolicyName="p", PolicyDocument=json.dumps(role_policy(BUCKET)))
    code, out, _ = stack.cli("resume")  # ... and resumes
    assert (
        code == 0
        and f"retrying START_FAILED file {token}" in out
        and "dispatch: started bulk deployment" in out
    )
    assert stack.cli_json("status", "--token", token)[1]["file"]["state"] == "STARTED"


def test_stop_needs_confirmation_and_notes_the_queue(stack: Stack, runner: Runner, tmp_path: Path) -> None:
    stack.emulator.configure(record_seconds=5.0)
    _upload(stack, tmp_path, "slow.jsonl")
    runner.step()
    bulk_id = stack.cli_json("status", "slow.jsonl")[1]["file"]["bulk_deployment_id"]
    code, _, err = stack.cli("stop", bulk_id)
    assert code == 2 and "--yes" in err
    code, data = stack.cli_json("stop", bulk_id, "--yes")
    assert code == 0 and data["stopped"] and "start next unless you `pause`" in data["note"]
    live = stack.cli_json("status", "--bulk-deployment-id", bulk_id)[1]["live"]
    assert live["status"] in ("Stopping", "Stopped")
    code, _, err = stack.cli("stop", "no-such-id", "--yes")
    assert code == 2 and err.count("\n") == 1 and "refused to stop" in err


class _BrokenSlot:
    def acquire(self, holder: str, *, lease_seconds: int) -> bool:
        raise RuntimeError("the ledger went away")


class _Target:
    """What resume's dispatch reads from the deployment; building the Greengrass client fails."""

    ledger = control = object()
    slot = _BrokenSlot()

    def __init__(self, *, deployer_fails: bool) -> None:
        self._deployer_fails = deployer_fails

    @property
    def deployer(self) -> object:
        if self._deployer_fails:
            raise KeyError("AWS_ENDPOINT_URL")
        return object()

    def client(self, service: str) -> object:
        return object()


@pytest.mark.parametrize("deployer_fails", [True, False], ids=["connecting fails", "dispatch fails"])
def test_resume_leaves_the_process_logger_at_its_level_whatever_fails(deployer_fails: bool) -> None:
    """The CLI silences the functions' logger while it dispatches. In-process (the local stand-ins,
    tests) that logger is shared: an error must not leave it silenced for everyone else."""
    from bulk_deployer.observability import logger
    from bulk_deployer_cli.queue import _dispatch

    logger.setLevel("INFO")  # this suite silences it for every test (conftest); put back after
    with pytest.raises((KeyError, RuntimeError)):
        _dispatch(_Target(deployer_fails=deployer_fails))  # type: ignore[arg-type]
    assert logger.log_level == logging.INFO
