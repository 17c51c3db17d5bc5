"""queue, pause, resume (retrying a START_FAILED file first), cancel, stop."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import (
    ACCOUNT,
    STACK,
    TRACKER_FUNCTION,
    Runner,
    Stack,
    execution_role_documents,
    tracker_environment,
    write_env_file,
)


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
    trust, permissions = execution_role_documents()
    iam.create_role(RoleName="late-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="late-role", PolicyName="p", PolicyDocument=json.dumps(permissions))
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


def _deploy_tracker(stack: Stack, *, outcomes: bool = False, **context: Any) -> Any:
    """Deploy the stand-in tracker with these settings (cdk.json context keys); with ``outcomes``,
    the stack's outcomes topic too, and a queue subscribed to it (returned)."""
    topic = queue = None
    if outcomes:
        sns, sqs = stack.client("sns"), stack.client("sqs")
        topic = sns.create_topic(Name=f"{STACK}-outcomes")["TopicArn"]
        queue = sqs.create_queue(QueueName="outcomes-subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        stack.outputs["OutcomesTopicArn"] = topic
    environment = tracker_environment(outcomes_topic_arn=topic, **context)
    functions = {TRACKER_FUNCTION: environment}
    write_env_file(stack.env_file, stack.moto_url, stack.emulator.url, stack.outputs, functions)
    return queue


def _outcomes(stack: Stack, queue: str) -> list[dict[str, Any]]:
    messages = stack.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def _metric_sum(stack: Stack, namespace: str, name: str) -> float:
    now = datetime.now(UTC)
    points = stack.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "service", "Value": "bulk-deployer"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in points))


def test_resume_starts_a_file_as_the_deployed_tracker_does_outcome_and_metric(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    subscriber = _deploy_tracker(stack, outcomes=True, metricsNamespace="CliTest/Deployed")
    stack.cli("pause")
    token = _upload(stack, tmp_path, "a.jsonl")
    runner.step()  # registered and queued by the starter; paused: not started
    code, resumed = stack.cli_json("resume")
    assert code == 0 and resumed["dispatch"]["result"] == "started" and resumed["dispatch"]["token"] == token
    bulk_id = resumed["dispatch"]["bulk_deployment_id"]

    (started,) = [m for m in _outcomes(stack, subscriber) if m["outcome"] == "started"]
    assert started["key"] == "incoming/a.jsonl" and started["token"] == token
    assert started["bulk_deployment_id"] == bulk_id
    assert _metric_sum(stack, "CliTest/Deployed", "BulkDeploymentStarted") == 1


def test_resume_refuses_a_start_as_often_as_the_deployed_limit_says(stack: Stack, tmp_path: Path) -> None:
    """startMaxRefusals is 2 in the deployed tracker (3 is the default)."""
    subscriber = _deploy_tracker(stack, outcomes=True, startMaxRefusals=2)
    late_role = f"arn:aws:iam::{ACCOUNT}:role/late-role"  # does not exist: every start is refused
    token = _upload(stack, tmp_path, "a.jsonl")
    Runner(stack, execution_role_arn=late_role).step()
    file = stack.ledger().get(token)
    assert file is not None and file.state.value == "START_FAILED"

    code, resumed = stack.cli_json("resume")  # the role is still missing
    assert code == 0 and resumed["retried"] == [token]
    assert resumed["dispatch"]["result"] == "start_failed"
    file = stack.ledger().get(token)
    assert file is not None and file.state.value == "START_FAILED" and file.start_rejections == 2
    assert [m["token"] for m in _outcomes(stack, subscriber) if m["outcome"] == "start_failed"] == [token]
    assert _metric_sum(stack, "BulkDeployer", "StartFailed") == 2


def _create_tracker_function(stack: Stack, environment: dict[str, str]) -> None:
    lambda_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = stack.client("iam").create_role(
        RoleName="tracker-role", AssumeRolePolicyDocument=json.dumps(lambda_trust)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    stack.client("lambda").create_function(
        FunctionName=TRACKER_FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": environment},
    )


def test_resume_reads_the_deployed_trackers_settings_from_lambda(
    stack: Stack, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployed stack (not --local): GetFunctionConfiguration on the TrackerFunctionName output."""
    stack.deploy_to_cloudformation("Fleet-Prod")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_GREENGRASS", stack.emulator.url)
    deployed = ("--stack", "Fleet-Prod", "--region", "us-east-1")
    stack.cli("pause")
    token = _upload(stack, tmp_path, "a.jsonl")
    runner.step()

    code, out, err = stack.cli("resume", "--json", *deployed, local=False)  # no such function yet
    dispatch = json.loads(out)["dispatch"]
    assert code == 0 and dispatch["result"] == "error", err
    assert "cannot read the deployed settings" in dispatch["detail"]
    assert "GetFunctionConfiguration" in dispatch["detail"]
    assert stack.ledger().get(token).state.value == "QUEUED"  # type: ignore[union-attr]

    environment = tracker_environment(metricsNamespace="Prod/Deployer")
    _create_tracker_function(stack, environment)
    stack.cli("pause")
    code, out, err = stack.cli("resume", "--json", *deployed, local=False)
    assert code == 0 and json.loads(out)["dispatch"]["token"] == token, err
    assert _metric_sum(stack, "Prod/Deployer", "BulkDeploymentStarted") == 1


def test_resume_in_process_leaves_the_functions_logger_as_its_caller_set_it(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    """No logger surgery: in-process (tests, the local tools) the functions' logger is shared,
    and the dispatch `resume` runs logs as the caller configured it."""
    from bulk_deployer.observability import SERVICE, logger

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.setLevel("INFO")  # this suite quiets it for every test (conftest); put back after
    logging.getLogger(SERVICE).addHandler(handler)
    try:
        stack.cli("pause")
        _upload(stack, tmp_path, "a.jsonl")
        runner.step()
        records.clear()
        code, resumed = stack.cli_json("resume")
    finally:
        logging.getLogger(SERVICE).removeHandler(handler)
    assert code == 0 and resumed["dispatch"]["result"] == "started"
    assert "bulk deployment started" in [r.getMessage() for r in records]
    assert logger.log_level == logging.INFO


def test_the_console_script_keeps_the_functions_logs_off_its_stdout(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    """The console entry point quiets the functions' logger for its own process: stdout is the
    CLI's one JSON document, though the dispatcher logs at INFO."""
    stack.cli("pause")
    token = _upload(stack, tmp_path, "a.jsonl")
    runner.step()
    result = subprocess.run(
        [sys.executable, "-m", "bulk_deployer_cli", "--local", "--json", "resume"],
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dispatch"]["token"] == token
