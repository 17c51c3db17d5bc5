"""Stack discovery (DescribeStacks outputs), --local, doctor, and errors as one line with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from bulk_deployer_cli.errors import describe
from bulk_deployer_cli.stack import default_stack_name

from tests.cli.conftest import CONFIG, Stack

REPO = Path(__file__).resolve().parents[2]


def test_resources_come_from_the_stack_outputs(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.deploy_to_cloudformation("Fleet-Prod")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_GREENGRASS", stack.emulator.url)
    code, out, err = stack.cli(
        "queue", "--json", "--stack", "Fleet-Prod", "--region", "us-east-1", local=False
    )
    assert code == 0, err
    assert json.loads(out) == {
        "paused": None,
        "slot": {"state": None, "token": None, "bulk_deployment_id": None, "held_by": []},
        "queued": [],
    }
    code, out, err = stack.cli("--stack", "Nope", "queue", local=False)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "Stack with id Nope does not exist" in err and "--stack" in err
    code, out, err = stack.cli("--stack", "Fleet-Prod", "doctor", local=False)
    assert "✓ stack: Fleet-Prod (region us-east-1)" in out


def test_the_stand_in_stack_is_the_one_the_local_pipeline_provisions(stack: Stack) -> None:
    """Configured like the deployed stack (cdk.json), with every output the stack has."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["IntakeQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert int(attributes["VisibilityTimeout"]) == CONFIG.intake_visibility_timeout_seconds
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == CONFIG.max_receive_count
    assert {"OutcomesTopicArn", "AlarmTopicArn"} <= stack.outputs.keys()
    assert stack.client("sns").get_topic_attributes(TopicArn=stack.outputs["OutcomesTopicArn"])


def test_doctor_on_the_local_stand_ins(stack: Stack) -> None:
    code, data = stack.cli_json("doctor")
    assert code == 0, data
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["execution role"]["ok"] is True and checks["bulk deployment slot"]["ok"] is True
    assert checks["Greengrass service role"]["ok"] is None  # moto does not implement it
    assert "one per account and region" in checks["bulk deployment slot"]["detail"]
    stack.dead_letter("{}")
    code, text, _ = stack.cli("doctor")
    assert code == 1 and "✗ intake dead-letter queue: 1 dead-lettered message(s)" in text
    assert "→ bulk-deployer redrive --from intake" in text


def test_errors_are_one_line_with_exit_2(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = stack.cli("status", "no-such-key.jsonl")
    assert (code, out, err.count("\n")) == (2, "", 1) and "no ledger entry" in err
    code, _, err = stack.cli("report", "f" * 64)
    assert code == 2 and "no ledger entry" in err
    code, _, err = stack.cli("status", "--bulk-deployment-id", "nope")
    assert code == 2 and "no bulk deployment nope" in err and err.count("\n") == 1

    unreachable = json.loads(stack.env_file.read_text())
    unreachable["environment"]["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    path = tmp_path / "down.json"
    path.write_text(json.dumps(unreachable))
    monkeypatch.setenv("BULK_DEPLOYER_LOCAL_ENV", str(path))
    code, _, err = stack.cli("queue")
    assert (
        code == 2
        and err.startswith("bulk-deployer: cannot reach the endpoint http://127.0.0.1:9")
        and err.count("\n") == 1
    )
    monkeypatch.setenv("BULK_DEPLOYER_LOCAL_ENV", str(tmp_path / "missing.json"))
    code, _, err = stack.cli("queue")
    assert code == 2 and "make local-up" in err

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, _, err = stack.cli("queue", local=False)
    assert code == 2 and "no AWS credentials found" in err and err.count("\n") == 1
    code, _, err = stack.cli("queue", "--profile", "ghost", local=False)
    assert code == 2 and "ghost" in err and err.count("\n") == 1


def test_describe_names_what_to_do() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")
    assert describe(denied) == "access denied calling PutObject: no (check the caller's IAM permissions)"
    assert "no AWS credentials" in describe(NoCredentialsError())
    assert "cannot reach" in describe(EndpointConnectionError(endpoint_url="https://x"))


def test_default_stack_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BULK_DEPLOYER_STACK", raising=False)
    assert default_stack_name(tmp_path) == "BulkDeployer"
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"stackName": "Fleet"}}))
    assert default_stack_name(tmp_path) == "Fleet"
    monkeypatch.setenv("BULK_DEPLOYER_STACK", "Other")
    assert default_stack_name(tmp_path) == "Other"


def test_handlers_do_not_load_the_cli() -> None:
    # In a fresh interpreter: what loading both handlers loads, directly or not.
    program = (
        "import sys\n"
        "import bulk_deployer.handlers.starter, bulk_deployer.handlers.tracker\n"
        "print(sorted(name for name in sys.modules if name.startswith('bulk_deployer_cli')))\n"
    )
    env = os.environ | {"PYTHONPATH": str(REPO / "lambda_src")}
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
