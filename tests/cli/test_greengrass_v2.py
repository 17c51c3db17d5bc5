"""The CLI on a Greengrass V2 stack (no execution role, GREENGRASS=v2), and doctor's advice for a
V1 stack in an account where Greengrass V1 no longer answers.

The V2 stack is the stand-in stack with a V2 stack's outputs and functions' settings, and the V2
emulator for ``greengrassv2``. Its files are put in the ledger and its reports in S3 as the V2
deployer writes them (the pipeline's V2 wiring is not the CLI's to test): the CLI only reads them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from bulk_deployer.contract import ReportFile
from bulk_deployer.deployers.base import Lifecycle
from bulk_deployer.deployers.greengrass_v1.report import REPORT_COLUMNS as V1_COLUMNS
from bulk_deployer.deployers.greengrass_v1.report import REPORT_ROWS as V1_ROWS
from bulk_deployer.deployers.greengrass_v2.identity import composite_id
from bulk_deployer.deployers.greengrass_v2.report import REPORT_COLUMNS, REPORT_ROWS, STATUS_WORDS
from bulk_deployer.ledger_model import Arrival, FileState, LedgerFile, ReportSummary, StartRequest
from bulk_deployer.ledger_records import DeploymentStatusSnapshot
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.token import client_token_for
from bulk_deployer_cli.rows import SHAPES

from local.greengrass_emulator import Fault
from local.greengrass_v2_emulator import GreengrassV2Emulator
from local.stack_config import REGION, load_deploy_config
from tests.cli.conftest import ACCOUNT, BUCKET, STACK, TABLE, TRACKER_FUNCTION, Stack, tracker_environment

STARTER_FUNCTION = f"{STACK}-starter"
THING = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/press-1"
GROUP = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/line-2"
V2_CONTEXT = {"greengrass": "v2"}


@pytest.fixture(scope="module")
def v2_emulator() -> Iterator[GreengrassV2Emulator]:
    with GreengrassV2Emulator(tick_seconds=0) as emulator:
        yield emulator


def write_v2_env(stack: Stack, v2_url: str, *, functions: dict[str, dict[str, str]] | None = None) -> None:
    """The env file of a V2 stack: no ExecutionRoleArn, GreengrassVersion v2, both functions V2."""
    outputs = {k: v for k, v in stack.outputs.items() if k != "ExecutionRoleArn"}
    outputs |= {"GreengrassVersion": "v2", "StarterFunctionName": STARTER_FUNCTION}
    config = load_deploy_config(V2_CONTEXT)
    document = json.loads(stack.env_file.read_text())
    document["outputs"] = outputs
    document["functions"] = functions or {
        TRACKER_FUNCTION: tracker_environment(**V2_CONTEXT),
        STARTER_FUNCTION: config.starter_environment(
            ledger_table_name=TABLE, stack_account_id="123456789012"
        ),
    }
    document["environment"]["AWS_ENDPOINT_URL_GREENGRASSV2"] = v2_url
    stack.env_file.write_text(json.dumps(document))


@pytest.fixture
def v2_stack(stack: Stack, v2_emulator: GreengrassV2Emulator) -> Stack:
    v2_emulator.reset()
    write_v2_env(stack, v2_emulator.url)
    return stack


# -- the ledger and reports of a V2 stack, as its functions leave them ------------------------------


def _queued(stack: Stack, name: str, sequence: int) -> LedgerFile:
    ref = ObjectRef(BUCKET, f"incoming/{name}", etag=f"{sequence:032x}", version_id=f"v{sequence}")
    token = client_token_for(ref)
    ledger = stack.ledger()
    file = ledger.register(token, ref, Arrival(str(sequence)), lease_seconds=60).file
    request = StartRequest("", f"s3://{BUCKET}/staged/{token}.jsonl", {}, targets=(THING, GROUP))
    return ledger.enqueue(file, request, records=2, staged_key=f"staged/{token}.jsonl")


def _finished(stack: Stack, name: str, sequence: int, devices: list[dict[str, str]]) -> LedgerFile:
    """A file whose deployments ended and whose report (report.json, devices.csv) is written."""
    file = _queued(stack, name, sequence)
    ledger, token = stack.ledger(), file.token
    slot = DeploymentSlot(stack.client("dynamodb"), TABLE, capacity=4)
    assert slot.acquire("test", lease_seconds=60)
    ledger.mark_starting(token)
    deployment_id = composite_id(token)
    ledger.mark_started(
        token,
        bulk_deployment_id=deployment_id,
        arn=f"s3://{BUCKET}/staged/{token}.jsonl",
        slot_hold=slot.hold_item("test", token, (THING, GROUP)),
    )
    slot.release("test")
    slot.release_file(token)
    counts: dict[str, int] = {}
    for device in devices:
        counts[device["status"]] = counts.get(device["status"], 0) + 1
    ended = Lifecycle.SUCCEEDED if set(counts) == {"SUCCEEDED"} else Lifecycle.FAILED
    ledger.mark_reporting(token, DeploymentStatusSnapshot(STATUS_WORDS[ended], metrics=counts))
    rows = io.StringIO()
    writer = csv.DictWriter(rows, REPORT_COLUMNS)
    writer.writeheader()
    writer.writerows({column: device.get(column, "") for column in REPORT_COLUMNS} for device in devices)
    prefix = f"reports/{token}/"
    s3 = stack.client("s3")
    s3.put_object(Bucket=BUCKET, Key=prefix + REPORT_ROWS.csv_name, Body=rows.getvalue().encode())
    failed = tuple(d["target"] for d in devices if d["status"] != "SUCCEEDED")
    summary = ReportSummary(final=True, rows=len(devices), counts=counts, failed_sample=failed)
    report = {"token": token, REPORT_ROWS.member: devices, **summary.as_dict(REPORT_ROWS.count_key)}
    s3.put_object(Bucket=BUCKET, Key=prefix + ReportFile.REPORT, Body=json.dumps(report).encode())
    return ledger.mark_finished(token, report_key=prefix + ReportFile.REPORT, summary=summary)


def _device(thing: str, status: str, reason: str = "") -> dict[str, str]:
    return {"target": GROUP, "thing_name": thing, "status": status, "reason": reason}


FLEET = [
    _device("press-7", "SUCCEEDED"),
    _device("press-8", "FAILED", "COMPONENT_BROKEN: com.example.Hello errored"),
    _device("press-9", "PENDING", "still QUEUED at the deadline (offline)"),
    {"target": THING, "thing_name": "press-1", "status": "SUCCEEDED", "reason": ""},
]


# -- discovery ----------------------------------------------------------------------------------


def test_a_v2_stack_is_found_without_an_execution_role(v2_stack: Stack) -> None:
    code, data = v2_stack.cli_json("queue")
    assert code == 0, data
    assert data["queued"] == [] and data["paused"] is None


def test_a_v2_stack_deployed_before_the_version_output_is_told_by_its_tracker(
    v2_stack: Stack, v2_emulator: GreengrassV2Emulator
) -> None:
    document = json.loads(v2_stack.env_file.read_text())
    del document["outputs"]["GreengrassVersion"]
    v2_stack.env_file.write_text(json.dumps(document))
    code, _, err = v2_stack.cli("stop", "some-bulk-deployment-id", "--yes")
    assert code == 2 and err.count("\n") == 1
    assert err.endswith("deploys with Greengrass v2\n")
    code, data = v2_stack.cli_json("doctor")
    assert code == 0, data


def test_a_v2_stack_on_cloudformation(v2_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = json.loads(v2_stack.env_file.read_text())["outputs"]
    v2_stack.outputs = outputs
    v2_stack.deploy_to_cloudformation("Fleet-V2")
    monkeypatch.setenv("AWS_ENDPOINT_URL", v2_stack.moto_url)
    code, out, err = v2_stack.cli("list", "--json", "--stack", "Fleet-V2", "--region", REGION, local=False)
    assert code == 0, err
    assert json.loads(out) == []


# -- list, queue, status, report ------------------------------------------------------------------


def test_list_queue_and_status_of_v2_files(v2_stack: Stack) -> None:
    finished = _finished(v2_stack, "fleet-a.jsonl", 1, FLEET)
    queued = _queued(v2_stack, "fleet-b.jsonl", 2)

    code, rows = v2_stack.cli_json("list")
    assert code == 0
    by_key = {row["key"]: row for row in rows}
    done = by_key["incoming/fleet-a.jsonl"]
    assert done["state"] == FileState.FINISHED.value
    assert done["bulk_deployment_id"] == composite_id(finished.token)
    assert done["device_counts"] == {"SUCCEEDED": 2, "FAILED": 1, "PENDING": 1}
    assert done["devices"] == "FAILED 1, PENDING 1, SUCCEEDED 2"
    assert "group_counts" not in done and "groups" not in done
    code, text, _ = v2_stack.cli("list")
    assert text.splitlines()[0].split()[-1] == "DEVICES"

    code, data = v2_stack.cli_json("queue")
    assert code == 0
    assert [(row["key"], row["token"]) for row in data["queued"]] == [
        ("incoming/fleet-b.jsonl", queued.token)
    ]

    code, data = v2_stack.cli_json("status", "fleet-a.jsonl")
    assert code == 0, data
    assert data["live"] is None  # a V2 file's deployments are followed by the tracker only
    assert data["file"]["bulk_status"] == STATUS_WORDS[Lifecycle.FAILED]
    code, text, _ = v2_stack.cli("status", "--bulk-deployment-id", composite_id(finished.token))
    assert code == 0
    assert "  devices:      FAILED 1, PENDING 1, SUCCEEDED 2" in text
    assert f"deployment {composite_id(finished.token)}: FAILED (as the tracker last saw it)" in text

    code, data = v2_stack.cli_json("status", "fleet-b.jsonl")
    assert code == 0 and data["queue_position"] == 1


def test_a_v2_report_lists_devices(v2_stack: Stack, tmp_path: Any) -> None:
    file = _finished(v2_stack, "fleet-a.jsonl", 1, FLEET)
    code, data = v2_stack.cli_json("report", "fleet-a.jsonl")
    assert code == 1, data  # a device failed: a negative answer
    # FAILED and PENDING did not succeed; SUCCEEDED did
    assert data["succeeded"] is False and data["failed_total"] == 2
    assert [d["thing_name"] for d in data[f"failed_{REPORT_ROWS.member}"]] == ["press-8", "press-9"]
    assert data[f"failed_{REPORT_ROWS.member}"][0] == {
        "thing_name": "press-8",
        "target": GROUP,
        "status": "FAILED",
        "reason": "COMPONENT_BROKEN: com.example.Hello errored",
        "error_types": "",
    }
    assert data[f"{REPORT_ROWS.member}_csv"] == f"s3://{BUCKET}/reports/{file.token}/{REPORT_ROWS.csv_name}"
    assert f"failed_{V1_ROWS.member}" not in data and f"{V1_ROWS.member}_csv" not in data
    code, text, _ = v2_stack.cli("report", "fleet-a.jsonl")
    assert "  devices:  FAILED 1, PENDING 1, SUCCEEDED 2" in text
    assert "  failed devices (2):" in text
    assert "    press-8: COMPONENT_BROKEN: com.example.Hello errored" in text
    saved = tmp_path / "out.csv"
    code, _, _ = v2_stack.cli("report", "fleet-a.jsonl", "--save", str(saved))
    assert code == 1
    assert [row["thing_name"] for row in csv.DictReader(saved.open())] == [d["thing_name"] for d in FLEET]


def test_status_wait_on_v2_files_exits_by_their_devices(v2_stack: Stack) -> None:
    everywhere = [_device("press-7", "SUCCEEDED"), {**FLEET[3]}]
    _finished(v2_stack, "fleet-ok.jsonl", 1, everywhere)
    _finished(v2_stack, "fleet-a.jsonl", 2, FLEET)
    code, data = v2_stack.cli_json("status", "fleet-ok.jsonl", "--wait", "--timeout", "5")
    assert (code, data["outcome"]) == (0, "succeeded")
    code, data = v2_stack.cli_json("status", "fleet-a.jsonl", "--wait", "--timeout", "5")
    assert (code, data["outcome"]) == (1, "failed")
    assert v2_stack.emulator.calls() == []


# -- steering the queue -----------------------------------------------------------------------------


def test_pause_resume_and_cancel_on_a_v2_stack(v2_stack: Stack) -> None:
    queued = _queued(v2_stack, "fleet-b.jsonl", 2)
    assert v2_stack.cli("pause", "--reason", "change freeze")[0] == 0
    code, data = v2_stack.cli_json("resume")
    assert code == 0, data
    assert data["was_paused"] == "paused by an operator: change freeze"
    # The CLI starts no V2 deployment: the tracker does, at its next run.
    assert data["dispatch"]["result"] == "left_to_the_tracker"
    assert v2_stack.emulator.calls() == []  # and no Greengrass V1 call was made
    code, data = v2_stack.cli_json("cancel", "fleet-b.jsonl")
    assert code == 0 and data["cancelled"] is True and data["file"]["token"] == queued.token


# -- V1-only commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [("stop", "some-bulk-deployment-id", "--yes")],
)
def test_v1_only_commands_are_refused_on_a_v2_stack(v2_stack: Stack, argv: tuple[str, ...]) -> None:
    code, out, err = v2_stack.cli(*argv)
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert err == (
        f"bulk-deployer: {argv[0]} is for Greengrass V1 stacks only: {STACK} deploys with Greengrass v2\n"
    )
    assert v2_stack.emulator.calls() == []


# -- doctor -----------------------------------------------------------------------------------------


def test_doctor_on_a_v2_stack(v2_stack: Stack, v2_emulator: GreengrassV2Emulator) -> None:
    code, data = v2_stack.cli_json("doctor")
    checks = {c["name"]: c for c in data["checks"]}
    assert code == 0, data
    for v1_only in ("Greengrass V1", "Greengrass service role", "execution role", "bulk deployment slot"):
        assert v1_only not in checks
    functions = checks["Greengrass V2 functions"]
    assert functions["ok"] is True
    assert functions["detail"].startswith(
        f"{STARTER_FUNCTION} and {TRACKER_FUNCTION} deploy with Greengrass V2"
    )
    assert checks["Greengrass V2 API"] == {
        "name": "Greengrass V2 API",
        "ok": True,
        "detail": "answers (ListDeployments)",
        "fix": "",
    }
    assert v2_emulator.calls(operation="ListDeployments")
    assert v2_stack.emulator.calls() == []


def test_doctor_finds_a_v2_stack_whose_tracker_deploys_with_v1(
    v2_stack: Stack, v2_emulator: GreengrassV2Emulator
) -> None:
    # A V1 tracker (GREENGRASS unset) behind a V2 stack's outputs, beside a V2 starter.
    starter = load_deploy_config(V2_CONTEXT).starter_environment(
        ledger_table_name=TABLE, stack_account_id="123456789012"
    )
    functions = {TRACKER_FUNCTION: tracker_environment(), STARTER_FUNCTION: starter}
    write_v2_env(v2_stack, v2_emulator.url, functions=functions)
    code, text, _ = v2_stack.cli("doctor")
    assert code == 1
    assert f"✗ Greengrass V2 functions: {TRACKER_FUNCTION} deploys with Greengrass v1 (GREENGRASS)" in text


@pytest.fixture
def v1_gone(stack: Stack) -> Iterator[Stack]:
    yield stack
    stack.emulator.service.clear_faults()


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "AccessDeniedException"), (404, "ResourceNotFoundException"), (404, "UnknownOperationException")],
)
def test_doctor_advises_v2_where_greengrass_v1_is_no_longer_reachable(
    v1_gone: Stack, status: int, code: str
) -> None:
    v1_gone.emulator.service.add_fault(Fault("*", "error", times=None, status=status, code=code))
    exit_code, data = v1_gone.cli_json("doctor")
    assert exit_code == 1
    checks = {c["name"]: c for c in data["checks"]}
    reachable = checks["Greengrass V1"]
    assert reachable["ok"] is False
    assert reachable["detail"].startswith(
        "Greengrass V1 is no longer reachable in this account and region (AWS ended V1 on 2026-10-07): "
    )
    assert "ListBulkDeployments" in reachable["detail"]
    assert reachable["fix"].startswith(
        "redeploy the stack with `cdk deploy -c greengrass=v2` (docs/deployment.md"
    )
    # The checks that call V1 would only say it again; the execution role is IAM's.
    assert "bulk deployment slot" not in checks and "Greengrass service role" not in checks
    assert checks["execution role"]["ok"] is True
    assert data["failed"] == 1
    exit_code, text, _ = v1_gone.cli("doctor")
    assert "✗ Greengrass V1: Greengrass V1 is no longer reachable in this account and region" in text
    assert "    → redeploy the stack with `cdk deploy -c greengrass=v2`" in text


def test_doctor_advises_v2_where_the_greengrass_v1_endpoint_is_gone(stack: Stack) -> None:
    document = json.loads(stack.env_file.read_text())
    document["environment"]["AWS_ENDPOINT_URL_GREENGRASS"] = "http://127.0.0.1:9"
    stack.env_file.write_text(json.dumps(document))
    code, data = stack.cli_json("doctor")
    assert code == 1
    (reachable,) = [c for c in data["checks"] if c["name"] == "Greengrass V1"]
    assert reachable["ok"] is False and "cannot reach the endpoint" in reachable["detail"]
    assert "-c greengrass=v2" in reachable["fix"]


def test_doctor_on_a_v1_stack_where_v1_answers(stack: Stack) -> None:
    code, data = stack.cli_json("doctor")
    assert code == 0, data
    checks = [c["name"] for c in data["checks"]]
    assert checks.index("Greengrass V1") < checks.index("Greengrass service role")
    assert {"Greengrass V1": True}.items() <= {c["name"]: c["ok"] for c in data["checks"]}.items()
    assert "Greengrass V2 functions" not in checks


def test_what_report_shows_of_a_failed_row_are_columns_of_the_deployers_report() -> None:
    for version, columns, rows in (("v1", V1_COLUMNS, V1_ROWS), ("v2", REPORT_COLUMNS, REPORT_ROWS)):
        shape = SHAPES[version]
        assert shape.rows is rows
        assert set(shape.failed_columns) <= set(columns), version
        assert shape.reason_column in shape.failed_columns
