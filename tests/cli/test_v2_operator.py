"""The operator's V2 commands against moto and the V2 emulator: make-input, plan, submit --wait,
rollback-input and cancel on a Greengrass V2 stack, with the stack's functions run in-process
(conftest's Runner, on the emulator) where a file must really start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from bulk_deployer.contract import FILE_TOKEN_TAG, TOKEN_TAG
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetRecord, TargetState
from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.v2_authoring import ComponentEdits, RolledTarget, line_from_deployment, rollback_lines
from bulk_deployer_cli.v2_follow import LIVE_TARGETS, device_tally, progress_lines
from bulk_deployer_cli.v2_plan import DeviceLook, offline_reason

from local.emulator_kit.clock import LaggingClock
from local.fleet import V2Fleet
from local.greengrass_v2_emulator import GreengrassV2Emulator
from local.provision import provision as provision_stack
from local.stack_config import REGION, load_deploy_config
from tests.cli.conftest import ACCOUNT, TABLE, TRACKER_FUNCTION, Runner, Stack, tracker_environment
from tests.cli.test_greengrass_v2 import STARTER_FUNCTION, V2_CONTEXT, write_v2_env

PACE = {"pickup_seconds": 0.05, "apply_seconds": 0.1, "tick_seconds": 0.01}
GROUP = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/line-2"
OTHER_GROUP = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/line-3"
THING = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/press-1"
BEFORE = {
    "com.example.App": {"componentVersion": "1.2.0", "configurationUpdate": {"merge": '{"rate": 5}'}},
    "com.example.Log": {"componentVersion": "2.0.0"},
}


class Clock(LaggingClock):
    """The emulator's clock: now, or a day and more ago while a test registers a silent device."""


@pytest.fixture(scope="module")
def emulator() -> Iterator[GreengrassV2Emulator]:
    with GreengrassV2Emulator(clock=Clock(), region=REGION, **PACE) as started:
        yield started


@pytest.fixture
def v2(stack: Stack, emulator: GreengrassV2Emulator) -> Iterator[Stack]:
    emulator.reset()
    emulator.configure(region=REGION, account_id=ACCOUNT, **PACE)
    write_v2_env(stack, emulator.url)
    document = json.loads(stack.env_file.read_text())
    document["environment"]["AWS_ENDPOINT_URL_IOT"] = emulator.url
    stack.env_file.write_text(json.dumps(document))
    yield stack
    emulator.clock.behind_seconds = 0  # type: ignore[attr-defined]


def clients(emulator: GreengrassV2Emulator) -> tuple[Any, Any]:
    return tuple(
        boto3.client(n, endpoint_url=emulator.url, region_name=REGION) for n in ("greengrassv2", "iot")
    )  # type: ignore[return-value]


def deploy(emulator: GreengrassV2Emulator, target: str, components: dict[str, Any], **extra: Any) -> str:
    gg, _ = clients(emulator)
    return str(gg.create_deployment(targetArn=target, components=components, **extra)["deploymentId"])


def fleet(emulator: GreengrassV2Emulator) -> V2Fleet:
    return V2Fleet(clients(emulator)[1], emulator)


def reached(emulator: GreengrassV2Emulator, thing: str, target: str) -> None:
    """Wait (a second at most) until the target's deployment reached the device."""
    gg, _ = clients(emulator)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        listed = gg.list_effective_deployments(coreDeviceThingName=thing)["effectiveDeployments"]
        if any(d["targetArn"] == target for d in listed):
            return
        time.sleep(0.01)
    raise AssertionError(f"{target}'s deployment did not reach {thing}")


def started(stack: Stack, token: str) -> None:
    """Wait (10 s at most) until the file's deployments started."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        file = stack.ledger().get(token)
        if file is not None and file.state.value == "STARTED":
            return
        time.sleep(0.02)
    raise AssertionError(f"{token} did not start")


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(text) for text in path.read_text().splitlines()]


# -- make-input -----------------------------------------------------------------------------------


def test_make_input_starts_from_each_targets_current_deployment(
    v2: Stack, emulator: GreengrassV2Emulator, tmp_path: Path
) -> None:
    fleet(emulator).group("line-2", {"press-7": "healthy"})
    fleet(emulator).thing("press-1")
    deploy(emulator, GROUP, BEFORE, tags={"team": "blue", TOKEN_TAG: "x" * 64, FILE_TOKEN_TAG: "y" * 64})
    deploy(emulator, THING, {"com.example.Log": {"componentVersion": "2.0.0"}})
    out = tmp_path / "fleet.jsonl"
    code, _, err = v2.cli(
        "make-input", "--thing-group", "line-2", "--set", "com.example.App=1.3.0",
        "--add", "com.example.Metrics=0.4.0", "--remove", "com.example.Log", "--save", str(out),
    )  # fmt: skip
    assert code == 0, err
    (line,) = lines_of(out)
    assert line["targetArn"] == GROUP
    assert line["components"] == {
        "com.example.App": {"componentVersion": "1.3.0", "configurationUpdate": {"merge": '{"rate": 5}'}},
        "com.example.Metrics": {"componentVersion": "0.4.0"},
    }
    assert line["tags"] == {"team": "blue"}  # our token tags are each start's own
    assert "updateMode" not in line  # REPLACE: the line restates the whole deployment

    code, data = v2.cli_json("make-input", "--all", "--set", "com.example.Log=2.1.0", "--save", str(out))
    assert code == 0, data
    assert {t["target"]: t["changes"] for t in data["targets"]} == {
        GROUP: ["com.example.Log 2.0.0 → 2.1.0"],
        THING: ["com.example.Log 2.0.0 → 2.1.0"],
    }
    assert [line["targetArn"] for line in lines_of(out)] == [THING, GROUP]  # newest deployment first

    code, _, err = v2.cli("make-input", "--all", "--set", "com.example.Typo=1.0.0", "--save", str(out))
    assert code == 2 and "no chosen target deploys com.example.Typo" in err
    code, _, err = v2.cli("make-input", "--thing-group", "line-9", "--save", str(out))
    assert code == 2 and "no thing group 'line-9'" in err


# -- plan -------------------------------------------------------------------------------------------


def test_plan_shows_changes_removals_refused_targets_offline_and_shared_devices(
    v2: Stack, emulator: GreengrassV2Emulator, tmp_path: Path
) -> None:
    # The stack may deploy to line-2 and press-1 only.
    starter = load_deploy_config(V2_CONTEXT).starter_environment(
        ledger_table_name=TABLE, stack_account_id=ACCOUNT
    )
    starter["DEPLOYABLE_TARGET_ARNS"] = json.dumps([GROUP, THING])
    write_v2_env(
        v2,
        emulator.url,
        functions={TRACKER_FUNCTION: tracker_environment(**V2_CONTEXT), STARTER_FUNCTION: starter},
    )
    document = json.loads(v2.env_file.read_text())
    document["environment"]["AWS_ENDPOINT_URL_IOT"] = emulator.url
    v2.env_file.write_text(json.dumps(document))
    emulator.clock.behind_seconds = 30 * 3600  # type: ignore[attr-defined]
    fleet(emulator).thing("press-9", "offline")  # registered 30 h ago, silent since
    emulator.clock.behind_seconds = 0  # type: ignore[attr-defined]
    fleet(emulator).group("line-2", {"press-7": "healthy", "press-9": "offline"})
    fleet(emulator).group("line-3", {"press-8": "healthy"})
    _, iot = clients(emulator)
    iot.add_thing_to_thing_group(thingGroupName="line-3", thingName="press-7")
    deploy(emulator, GROUP, BEFORE)
    deploy(emulator, OTHER_GROUP, {"com.example.Other": {"componentVersion": "1.0.0"}})
    reached(emulator, "press-7", OTHER_GROUP)  # IoT Jobs rolls it out: not at once
    path = tmp_path / "plan.jsonl"
    path.write_text(
        json.dumps({"targetArn": GROUP, "components": {
            "com.example.App": {"componentVersion": "1.3.0"},
            "com.example.New": {"componentVersion": "0.1.0"}}}) + "\n"
        + json.dumps({"targetArn": OTHER_GROUP, "components": {}}) + "\n"
    )  # fmt: skip
    code, data = v2.cli_json("plan", str(path))
    assert code == 1, data  # line-3 is not one of the stack's targets: the starter would reject the file
    first, second = data["targets"]
    assert first["added"] == [{"name": "com.example.New", "version": "0.1.0"}]
    assert first["changed"] == [
        {"name": "com.example.App", "from": "1.2.0", "to": "1.3.0", "configuration_changed": True}
    ]
    assert first["removed"] == [{"name": "com.example.Log", "version": "2.0.0"}]
    assert first["problems"] == [] and first["devices"] == 2
    assert first["offline"] == [{"thing_name": "press-9", "reason": "no status for 30 h (probably offline)"}]
    assert first["overlapping"] == [{"thing_name": "press-7", "also": [{"target": OTHER_GROUP, "line": 2}]}]
    assert [p.split(":")[0] for p in second["problems"]] == ["target_not_allowed"]
    assert (data["problems"], data["removals"]) == (1, 1)

    code, text, _ = v2.cli("plan", str(path))
    assert "  - com.example.Log 2.0.0  REMOVED" in text
    assert "  ! REMOVES com.example.Log 2.0.0: REPLACE uninstalls every component the line omits" in text
    assert "  ~ com.example.App 1.2.0 → 1.3.0 (configuration changed)" in text

    # MERGE keeps what the line omits: no removal, nothing refused, exit 0.
    path.write_text(json.dumps({"targetArn": GROUP, "updateMode": "MERGE", "components": {
        "com.example.App": {"componentVersion": "1.2.0", "configurationUpdate": {"merge": {"rate": 5}}}}}) + "\n")  # fmt: skip
    code, data = v2.cli_json("plan", str(path))
    assert code == 0, data
    (row,) = data["targets"]
    assert (row["added"], row["changed"], row["removed"], row["unchanged"]) == ([], [], [], 2)


def test_plan_asks_about_each_device_once_and_at_most_max_devices(
    v2: Stack, emulator: GreengrassV2Emulator, tmp_path: Path
) -> None:
    """A device in two targets of the file is looked up once; a thing target past the budget is
    not looked up at all, and its row says so."""
    fleet(emulator).group("line-2", {"press-7": "healthy", "press-8": "healthy"})
    fleet(emulator).thing("press-1")
    press_7 = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/press-7"
    path = tmp_path / "plan.jsonl"
    path.write_text(
        "".join(json.dumps({"targetArn": t, "components": BEFORE}) + "\n" for t in (GROUP, press_7, THING))
    )
    before = len(emulator.calls(operation="GetCoreDevice"))
    code, data = v2.cli_json("plan", str(path), "--max-devices", "3")
    assert code == 0, data
    group, thing_in_group, past_budget = data["targets"]
    assert (group["devices"], thing_in_group["devices"], past_budget["devices"]) == (2, 1, 0)
    assert thing_in_group["overlapping"] == [
        {"thing_name": "press-7", "also": [{"target": GROUP, "line": 1}]}
    ]
    assert "devices: only the first 0 checked (--max-devices)" in past_budget["warnings"]
    assert len(emulator.calls(operation="GetCoreDevice")) - before == 2  # press-7 and press-8, once each


# -- submit --wait, report, rollback-input ----------------------------------------------------------


def test_submit_wait_report_and_rollback(v2: Stack, emulator: GreengrassV2Emulator, tmp_path: Path) -> None:
    fleet(emulator).group("line-2", {"press-7": "healthy", "press-8": "healthy"})
    fleet(emulator).thing("press-1")
    before = deploy(emulator, GROUP, BEFORE)
    edited = tmp_path / "edited.jsonl"
    code, _, err = v2.cli(
        "make-input", "--thing-group", "line-2", "--thing", "press-1",
        "--add", "com.example.New=0.1.0", "--remove", "com.example.Log", "--save", str(edited),
    )  # fmt: skip
    assert code == 0, err
    assert "left out" not in err
    with Runner(v2, greengrass_v2_url=emulator.url):
        code, out, err = v2.cli("submit", str(edited), "--wait", "--timeout", "30", "--poll-seconds", "0.05")
    assert code == 0, err
    assert "] thinggroup/line-2: succeeded (2 succeeded, 0 failed, 0 pending of 2)" in err
    assert "] thing/press-1: succeeded (1 succeeded, 0 failed, 0 pending of 1)" in err
    assert "] devices: 3 succeeded, 0 failed, 0 pending of 3" in err
    assert err.count("started: deployment gg2-") == 1 and "bulk deployment" not in err
    # Each target's last line (with the time since the wait began), then the outcome.
    assert err.index("] thinggroup/line-2: succeeded") < err.index("finished: COMPLETED")
    assert "finished: COMPLETED; devices: SUCCEEDED 3; report s3://" in err
    key = out.split()[1].split("/", 3)[3]

    code, data = v2.cli_json("report", key)
    assert code == 0 and data["device_counts"] == {"SUCCEEDED": 3}
    assert [(t["target"], t["replaced_deployment_id"], t["removed_components"]) for t in data["targets"]] == [
        (GROUP, before, ["com.example.Log"]),
        (THING, None, []),
    ]
    code, text, _ = v2.cli("report", key)
    assert (
        f"  target thinggroup/line-2: succeeded, deployment {data['targets'][0]['deployment_id']}, " in text
    )
    assert f"replaced {before}, removed com.example.Log" in text
    saved = tmp_path / "devices.csv"
    assert v2.cli("report", key, "--save", str(saved))[0] == 0
    assert sorted(row.split(",")[1] for row in saved.read_text().splitlines()[1:]) == [
        "press-1",
        "press-7",
        "press-8",
    ]

    back = tmp_path / "rollback.jsonl"
    code, data = v2.cli_json("rollback-input", key, "--save", str(back))
    assert code == 0, data
    assert [t["redeploys"] for t in data["targets"]] == [before]
    # press-1 had no deployment before the file: left out, with the reason.
    assert [(e["target"], e["reason"].split(":")[0]) for e in data["left_out"]] == [
        (THING, "it had no deployment before this file")
    ]
    (line,) = lines_of(back)
    assert (line["targetArn"], line["components"]) == (GROUP, BEFORE)
    with Runner(v2, greengrass_v2_url=emulator.url):
        code, _, err = v2.cli("submit", str(back), "--wait", "--timeout", "30", "--poll-seconds", "0.05")
    assert code == 0, err
    gg, _ = clients(emulator)
    (latest,) = gg.list_deployments(targetArn=GROUP, historyFilter="LATEST_ONLY")["deployments"]
    assert gg.get_deployment(deploymentId=latest["deploymentId"])["components"] == BEFORE


def test_submit_wait_names_the_devices_that_failed(
    v2: Stack, emulator: GreengrassV2Emulator, tmp_path: Path
) -> None:
    fleet(emulator).group("line-2", {"press-7": "healthy", "press-8": "failing"})
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps({"targetArn": GROUP, "components": BEFORE}) + "\n")
    with Runner(v2, greengrass_v2_url=emulator.url):
        code, out, err = v2.cli("submit", str(path), "--wait", "--timeout", "30", "--poll-seconds", "0.05")
    assert code == 1, err
    assert "  FAILED press-8 (thinggroup/line-2): " in err
    after = err.split("finished:")[1]
    assert "press-7" not in after and after.count("press-8") == 1  # named once, not again from the report
    key = out.split()[1].split("/", 3)[3]
    code, data = v2.cli_json("status", key, "--wait")
    assert (code, data["outcome"]) == (1, "failed")
    assert [(d["thing_name"], d["status"]) for d in data["file"]["devices_not_succeeded"]] == [
        ("press-8", "FAILED")
    ]


def test_submit_wait_times_out_naming_pending_devices_and_cancel_stops_the_file(
    v2: Stack, emulator: GreengrassV2Emulator, tmp_path: Path
) -> None:
    fleet(emulator).group("line-2", {"press-7": "healthy", "press-9": "offline"})
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps({"targetArn": GROUP, "components": BEFORE}) + "\n")
    runner = Runner(v2, greengrass_v2_url=emulator.url)
    with runner:
        code, data = v2.cli_json("submit", str(path))
        key = data["key"]
        started(v2, data["token"])
        # What submit --wait says at its deadline (status --wait follows the same way).
        code, _, err = v2.cli("status", key, "--wait", "--timeout", "0.5", "--poll-seconds", "0.05")
    assert code == 3, err
    assert "timed out after 0.5s (the file is STARTED)" in err
    assert "  QUEUED press-9 (thinggroup/line-2)" in err
    assert "press-7" not in err.split("timed out")[1]

    code, text, err = v2.cli("cancel", key)
    assert code == 0, err
    assert "cancelled 1 deployment(s) of" in text and "devices that already applied it keep it" in text
    assert [c.deployment_id for c in emulator.calls(operation="CancelDeployment")] != []
    runner.step()
    runner.step()
    code, data = v2.cli_json("status", key)
    assert data["file"]["state"] == "FINISHED" and data["file"]["bulk_status"] == "CANCELED"


def test_submit_refuses_a_file_the_v2_starter_would_reject(v2: Stack, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.jsonl"
    path.write_text(
        json.dumps({"targetArn": GROUP.replace(ACCOUNT, "999999999999"), "components": {}}) + "\n"
    )
    code, out, _ = v2.cli("submit", str(path))
    assert code == 1
    assert "target_outside_stack" in out and "nothing uploaded" in out
    assert (
        v2.client("s3").list_objects_v2(Bucket=v2.outputs["BucketName"], Prefix="incoming/")["KeyCount"] == 0
    )


def test_the_local_stand_ins_outputs_say_which_greengrass_as_infras_do(stack: Stack) -> None:
    """`python -m local up --greengrass v2` writes these outputs for `--local`: without them the
    CLI took a local V2 stack for a V1 one (it has an execution role, provisioned either way)."""
    for context, version in (({}, "v1"), (V2_CONTEXT, "v2")):
        config = load_deploy_config({**context, "stackName": f"Local{version}"})
        outputs = provision_stack(stack.client, config).outputs(config)
        assert outputs["GreengrassVersion"] == version
        assert ("ExecutionRoleArn" in outputs) is (version == "v1")


# -- the pure parts -----------------------------------------------------------------------------


def test_component_edits_set_add_and_remove_and_say_what_changed() -> None:
    edits = ComponentEdits.parse(["com.example.App=1.3.0"], ["com.example.New=0.1.0"], ["com.example.Log"])
    edited, changes = edits.apply(BEFORE)
    assert edited == {
        "com.example.App": {"componentVersion": "1.3.0", "configurationUpdate": {"merge": '{"rate": 5}'}},
        "com.example.New": {"componentVersion": "0.1.0"},
    }
    assert changes == ["com.example.App 1.2.0 → 1.3.0", "+ com.example.New 0.1.0", "- com.example.Log 2.0.0"]
    assert BEFORE["com.example.App"]["componentVersion"] == "1.2.0"  # the deployment read is not changed
    assert edits.unused([{"com.example.App": {}}]) == ["com.example.Log"]
    with pytest.raises(CliError, match="expected COMPONENT=VERSION"):
        ComponentEdits.parse(["com.example.App"], [], [])
    with pytest.raises(CliError, match="named by more than one"):
        ComponentEdits.parse(["com.example.App=1"], [], ["com.example.App"])
    with pytest.raises(CliError, match=r"--set com.example.App: given twice \(1 and 2\)"):
        ComponentEdits.parse(["com.example.App=1", "com.example.App=2"], [], [])


def test_a_line_from_a_deployment_keeps_its_spec_but_not_our_tags() -> None:
    deployment = {
        "deploymentId": "d-1",
        "deploymentStatus": "ACTIVE",
        "components": BEFORE,
        "deploymentPolicies": {"failureHandlingPolicy": "DO_NOTHING"},
        "iotJobConfiguration": {},
        "deploymentName": "line-2 rollout",
        "tags": {"team": "blue", TOKEN_TAG: "t", FILE_TOKEN_TAG: "f", "aws:cloudformation:stack-name": "x"},
    }
    assert line_from_deployment(GROUP, deployment) == {
        "targetArn": GROUP,
        "components": BEFORE,
        "deploymentPolicies": {"failureHandlingPolicy": "DO_NOTHING"},
        "deploymentName": "line-2 rollout",
        "tags": {"team": "blue"},
    }


def test_a_device_is_probably_offline_when_silent_longer_than_the_hours_given() -> None:
    now = 1_000_000.0
    assert offline_reason(DeviceLook("d", "HEALTHY", now - 3600, set()), now, 25) is None
    assert offline_reason(DeviceLook("d", "HEALTHY", now - 26 * 3600, set()), now, 25) == (
        "no status for 26 h (probably offline)"
    )
    assert (
        offline_reason(DeviceLook("d", "UNHEALTHY", now, set()), now, 25)
        == "UNHEALTHY (a component is broken)"
    )
    assert offline_reason(DeviceLook("d", None, None, set()), now, 25) == (
        "not a Greengrass core device (never connected)"
    )


def test_rollback_leaves_out_refused_targets_and_targets_with_nothing_before() -> None:
    def record(index: int, arn: str, state: TargetState, deployment: str | None) -> TargetRecord:
        return TargetRecord(
            index, arn, "t" * 64, state, 0.0, deployment_id=deployment, error_code="ValidationException"
        )

    lines, rolled, left_out = rollback_lines(
        [
            RolledTarget(
                record(0, GROUP, TargetState.STARTED, "d-2"),
                {"deploymentId": "d-1", "components": BEFORE},
                "d-3",
            ),
            RolledTarget(record(1, THING, TargetState.STARTED, "d-4"), None, "d-4"),
            RolledTarget(record(2, OTHER_GROUP, TargetState.REFUSED, None), None, None),
        ]
    )
    assert lines == [{"targetArn": GROUP, "components": BEFORE}]
    assert rolled[0]["redeploys"] == "d-1" and rolled[0]["deployed_since"] is True
    assert [(e["target"], e["reason"].split(" (")[0].split(":")[0]) for e in left_out] == [
        (THING, "it had no deployment before this file"),
        (OTHER_GROUP, "refused at start"),
    ]


def test_device_tally_counts_queued_and_in_progress_as_pending() -> None:
    counts = {"SUCCEEDED": 3, "QUEUED": 1, "IN_PROGRESS": 1, "PENDING": 1, "FAILED": 1, "TIMED_OUT": 1}
    assert device_tally(counts) == {"succeeded": 3, "failed": 2, "pending": 3}


def test_wait_shows_a_line_per_target_of_a_small_file_and_one_line_for_a_big_one() -> None:
    def record(index: int, outcome: str | None) -> TargetRecord:
        arn = f"{GROUP}-{index}"
        return TargetRecord(
            index, arn, "t" * 64, TargetState.STARTED, 0.0, deployment_id=f"d-{index}",
            settled=outcome is not None, outcome=outcome,
        )  # fmt: skip

    small = [record(0, "succeeded"), record(1, None)]
    counts = {0: {"SUCCEEDED": 2}, 1: {"QUEUED": 1}}
    assert progress_lines(small, counts) == [
        ("0", "thinggroup/line-2-0: succeeded (2 succeeded, 0 failed, 0 pending of 2)"),
        ("1", "thinggroup/line-2-1: running, deployment d-1 (0 succeeded, 0 failed, 1 pending of 1)"),
        ("devices", "devices: 2 succeeded, 0 failed, 1 pending of 3"),
    ]
    big = [record(i, "succeeded" if i < 8 else "failed" if i < 10 else None) for i in range(LIVE_TARGETS + 2)]
    lines = progress_lines(big, {r.index: {"SUCCEEDED": 1} for r in big})
    assert lines == [
        ("targets", f"targets: 10 of {LIVE_TARGETS + 2} settled (2 failed, 8 succeeded)"),
        ("devices", f"devices: {LIVE_TARGETS + 2} succeeded, 0 failed, 0 pending of {LIVE_TARGETS + 2}"),
    ]
