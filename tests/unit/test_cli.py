from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.token import client_token_for
from bulk_deployer_cli import cli
from bulk_deployer_cli.commands import HIDDEN
from bulk_deployer_cli.main import main
from click.testing import CliRunner

EVENTS = Path(__file__).parent.parent / "data" / "events"
GOOD = b'{"GroupId":"g1","GroupVersionId":"v1","DeploymentType":"NewDeployment"}\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_json_for_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(GOOD)
    code, out, _ = run(capsys, "validate", str(path), "--json")
    assert code == 0
    assert json.loads(out) == {"valid": True, "records": 1, "error_count": 0, "errors": []}


def test_validate_json_for_an_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(GOOD + b"\n" + GOOD)
    code, out, _ = run(capsys, "validate", str(path), "--json")
    assert code == 1
    assert json.loads(out) == {
        "valid": False,
        "records": 2,
        "error_count": 2,
        "errors": [
            {"line": 2, "code": "blank_line", "message": json.loads(out)["errors"][0]["message"]},
            {"line": 3, "code": "duplicate_group", "message": "the GroupId is already listed on line 1"},
        ],
    }


def test_validate_human_summary_names_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(b"nope" for _ in range(120)))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert "INVALID, 120 error(s)" in out
    assert "line 1: invalid_json" in out
    assert "... and 20 more" in out


def test_validate_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert err.startswith("bulk-deployer: cannot read") and err.count("\n") == 1


def test_inspect_event_eventbridge(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect-event", str(EVENTS / "eventbridge-object-created-aws-docs.json"))
    assert code == 0
    (item,) = json.loads(out)
    ref = ObjectRef(
        "example-bucket",
        "example-key",
        etag="b1946ac92492d2347c6235b4d2611184",
        version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    )
    token = client_token_for(ref)
    assert item == {
        "bucket": "example-bucket",
        "key": "example-key",
        "etag": "b1946ac92492d2347c6235b4d2611184",
        "version_id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        "size": 5,
        "token": token,
        "input_file_uri": f"https://example-bucket.s3.ca-central-1.amazonaws.com/staged/{token}.jsonl",
    }


def test_inspect_event_sqs_wrapped_classic_with_encoded_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inner = json.loads((EVENTS / "s3-notification-put-aws-docs.json").read_text())
    inner["Records"][0]["s3"]["object"]["key"] = "incoming/red+flower%21.jsonl"
    del inner["Records"][0]["awsRegion"]
    batch = {"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": json.dumps(inner)}]}
    path = tmp_path / "sqs.json"
    path.write_text(json.dumps(batch))
    code, out, _ = run(capsys, "inspect-event", str(path), "--region", "cn-north-1", "--staged-prefix", "s/")
    assert code == 0
    (item,) = json.loads(out)
    assert item["key"] == "incoming/red flower!.jsonl"
    assert (
        item["input_file_uri"]
        == f"https://amzn-s3-demo-bucket.s3.cn-north-1.amazonaws.com.cn/s/{item['token']}.jsonl"
    )


def test_inspect_event_non_creations_give_an_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("s3-test-event-aws-docs.json", "s3-notification-delete.json"):
        code, out, _ = run(capsys, "inspect-event", str(EVENTS / name))
        assert (code, json.loads(out)) == (0, [])


def test_inspect_event_rejects_what_is_not_an_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    code, out, err = run(capsys, "inspect-event", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "not an S3 event" in err
    path.write_text("not json")
    assert run(capsys, "inspect-event", str(path))[0] == 2


def test_inspect_event_needs_a_region_from_somewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    event = json.loads((EVENTS / "eventbridge-object-created-aws-docs.json").read_text())
    del event["region"]
    path = tmp_path / "e.json"
    path.write_text(json.dumps(event))
    code, _, err = run(capsys, "inspect-event", str(path))
    assert code == 2 and "--region" in err
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    code, out, _ = run(capsys, "inspect-event", str(path))
    assert code == 0 and ".s3.eu-central-1." in json.loads(out)[0]["input_file_uri"]


def test_the_installed_console_script_prints_help() -> None:
    script = Path(sys.executable).parent / "bulk-deployer"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "validate" in result.stdout and "inspect-event" in result.stdout and "Exit codes" in result.stdout


def test_every_command_and_each_of_its_arguments_has_help_with_an_example() -> None:
    """``bulk-deployer COMMAND --help`` says what the command does and what each argument is, with
    an example; a command's help is its function's docstring (first paragraph: the line in the
    command list). The global options are in the top-level help only."""
    group = cli.group()
    runner = CliRunner()
    missing = []
    for module in cli.MODULES:
        for command in module.COMMANDS:
            shown = group.commands[command.name]
            if not shown.short_help or not shown.help:
                missing.append(command.name)
            text = runner.invoke(group, [command.name, "--help"]).output
            for row in command.options:
                help_text = str(row.parsing.get("help") or "")
                if help_text == HIDDEN:
                    continue
                if "e.g." not in help_text or " ".join(help_text.split()[:3]) not in " ".join(text.split()):
                    missing.append(f"{command.name} {row.names[0]}: {help_text!r}")
            for global_option in ("--stack", "--region", "--profile", "--endpoint-url", "--query"):
                if re.search(rf"^\s*{global_option} [A-Z]", text, re.MULTILINE):
                    missing.append(f"{command.name} repeats {global_option}")
            if not command.needs_target and "--stack" in text:  # offline: no connection at all
                missing.append(f"{command.name} names --stack")
    for row in cli.GLOBAL_OPTIONS:
        if "e.g." not in str(row.parsing.get("help")):
            missing.append(f"global {row.names[0]}")
    top = runner.invoke(group, ["--help"]).output
    assert "Global options: connection" in top and top.count("--stack NAME") == 1
    assert missing == []
    assert group.commands["rollback-input"].short_help == (
        "from a finished file, write the file that redeploys what it replaced"
    )


def _eventbridge_with_key(tmp_path: Path, key: str) -> Path:
    event = json.loads((EVENTS / "eventbridge-object-created-aws-docs.json").read_text())
    event["detail"]["object"]["key"] = key
    path = tmp_path / "e.json"
    path.write_text(json.dumps(event))
    return path


def test_inspect_event_prints_both_candidates_of_a_key_that_may_be_form_encoded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline, nothing tells whether `a%2Bb` is the object's key or the encoding of `a+b`: the
    starter asks S3. One printed token could be the wrong one, so both are printed, marked."""
    code, out, _ = run(capsys, "inspect-event", str(_eventbridge_with_key(tmp_path, "incoming/a%2Bb.jsonl")))
    assert code == 0
    (item,) = json.loads(out)
    assert item["ambiguous_key"] is True and "S3" in item["note"]
    assert "token" not in item and "key" not in item  # no single answer that may be wrong
    base = ObjectRef(
        "example-bucket",
        "",
        etag="b1946ac92492d2347c6235b4d2611184",
        version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    )
    expected = [
        ("incoming/a%2Bb.jsonl", "as delivered"),
        ("incoming/a+b.jsonl", "form-decoded"),
    ]
    assert [(c["key"], c["spelling"]) for c in item["candidates"]] == expected
    for candidate in item["candidates"]:
        token = client_token_for(base.with_key(candidate["key"]))
        assert candidate["token"] == token
        assert candidate["input_file_uri"].endswith(f"/staged/{token}.jsonl")


def test_inspect_event_of_a_plain_key_stays_one_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "inspect-event", str(_eventbridge_with_key(tmp_path, "incoming/plain-name.jsonl"))
    )
    (item,) = json.loads(out)
    assert code == 0 and item["key"] == "incoming/plain-name.jsonl" and "candidates" not in item


@pytest.mark.parametrize("wrapped", [False, True])
def test_inspect_event_with_a_lone_surrogate_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wrapped: bool
) -> None:
    text = (
        _eventbridge_with_key(tmp_path, "incoming/x.jsonl")
        .read_text()
        .replace("incoming/x", "incoming/x\\udc80")
    )
    if wrapped:
        text = json.dumps({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": text}]})
    path = tmp_path / "surrogate.json"
    path.write_text(text)
    code, out, err = run(capsys, "inspect-event", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "UnicodeEncodeError" in err and "Traceback" not in err


class _CloudWatch:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def put_metric_data(self, **request: Any) -> None:
        self.requests.append(request)


def test_resumes_metrics_are_put_once_at_the_end_in_requests_cloudwatch_accepts() -> None:
    from bulk_deployer_cli.deployed import CloudWatchMetrics

    cloudwatch = _CloudWatch()
    metrics = CloudWatchMetrics(cloudwatch, "Ops/BulkDeployer")
    for _ in range(1001):
        metrics.count("StartFailed", 1)
    metrics.seconds("Waited", 7)
    assert cloudwatch.requests == []  # nothing before dispatch has returned
    metrics.publish()
    assert [len(r["MetricData"]) for r in cloudwatch.requests] == [1000, 2]
    assert {r["Namespace"] for r in cloudwatch.requests} == {"Ops/BulkDeployer"}
    assert cloudwatch.requests[1]["MetricData"][1] == {
        "MetricName": "Waited",
        "Value": 7,
        "Unit": "Seconds",
        "Dimensions": [{"Name": "service", "Value": "bulk-deployer"}],
    }
    metrics.publish()
    assert len(cloudwatch.requests) == 2  # published once


def test_the_deployed_settings_name_the_function_when_they_cannot_be_used() -> None:
    from bulk_deployer_cli.deployed import settings_from_environment
    from bulk_deployer_cli.output import CliError

    environment = {
        "LEDGER_TABLE_NAME": "t",
        "INPUT_BUCKET_NAME": "b",
        "START_MAX_REFUSALS": "5",
        "POWERTOOLS_METRICS_NAMESPACE": "Ops",
        "AWS_REGION": "us-west-2",  # not in a function's configuration; the stack's region wins
    }
    deployed = settings_from_environment(environment, region="eu-west-1", source="Prod-tracker")
    assert (deployed.settings.start_max_refusals, deployed.settings.region) == (5, "eu-west-1")
    assert deployed.metrics_namespace == "Ops"
    with pytest.raises(CliError, match=r"Prod-tracker: .*START_MAX_REFUSALS"):
        settings_from_environment(
            {**environment, "START_MAX_REFUSALS": "0"}, region="eu-west-1", source="Prod-tracker"
        )
    with pytest.raises(CliError, match="POWERTOOLS_METRICS_NAMESPACE is not set"):
        settings_from_environment(
            {k: v for k, v in environment.items() if not k.startswith("POWERTOOLS")},
            region="eu-west-1",
            source="Prod-tracker",
        )


def test_the_cli_builds_its_deployer_through_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    """One way to build the deployer: the CLI's ``status``, ``--wait`` and ``doctor`` use the one
    ``wiring.build_deployer`` builds, from the functions' clients on the CLI's connection."""
    from bulk_deployer import wiring
    from bulk_deployer.aws import START_CLIENT_CONFIG
    from bulk_deployer_cli.stack import Target

    built: list[wiring.Clients] = []
    deployer = object()

    def build_deployer(clients: wiring.Clients, effects: wiring.Effects = wiring.LAMBDA) -> Any:
        built.append(clients)
        return deployer

    monkeypatch.setattr(wiring, "build_deployer", build_deployer)
    target = Target("Fleet", region="eu-west-1")
    target.__dict__["greengrass"] = "v1"  # the stack's version, as discovery would find it
    assert target.deployer is deployer
    assert target.deployer is deployer  # built once per command
    (clients,) = built
    assert clients is target.function_clients
    assert clients.greengrass is target.client("greengrass")
    assert clients.greengrass_start is target.client("greengrass", config=START_CLIENT_CONFIG)


def test_the_cli_never_hands_out_a_v1_deployer_for_a_v2_stack() -> None:
    """wiring builds V1's without a stack's settings: a V2 stack's CLI must not ask it."""
    from types import SimpleNamespace

    from bulk_deployer_cli.output import CliError
    from bulk_deployer_cli.stack import Target

    target = Target("Fleet", region="eu-west-1")
    target.__dict__["greengrass"] = "v2"
    target.__dict__["resources"] = SimpleNamespace(stack_name="Fleet")
    with pytest.raises(CliError, match="Greengrass V1 stacks only"):
        _ = target.deployer


def test_the_clis_libraries_stay_out_of_the_lambda_asset() -> None:
    """requirements.txt is bundled into the functions' asset: Click and Rich are the CLI's alone."""
    root = Path(__file__).resolve().parents[2]
    cli_only = {
        line.split("==")[0].strip().lower()
        for line in (root / "requirements-cli.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    bundled = (root / "requirements.txt").read_text().lower()
    assert {"click", "rich"} <= cli_only
    assert not [name for name in cli_only - {"jmespath"} if re.search(rf"^{name}\b", bundled, re.M)]
    functions = root / "lambda_src" / "bulk_deployer"
    importing = [
        str(path)
        for path in functions.rglob("*.py")
        if re.search(r"^\s*(import|from)\s+(click|rich)\b", path.read_text(), re.M)
    ]
    assert importing == []
