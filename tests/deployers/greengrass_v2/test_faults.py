"""Greengrass V2 faults the e2e tests do not play (docs/reliability.md, "Greengrass V2 faults"):
each against the V2 emulator and moto, each file accounted for: every target in exactly one
state, one deployment of ours per target, every device in the report once.

Cheap on purpose (the in-process stand-ins, the emulator's manual clock, no sleeps): the
HTTP pipeline's faults are tests/e2e/test_faults_v2.py.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from bulk_deployer import report_writer
from bulk_deployer.deployers.base import Lifecycle
from bulk_deployer.deployers.greengrass_v2 import target_token_for
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger
from bulk_deployer.ledger_model import FileState
from moto.s3 import models as moto_s3_models

from benchmarks.v2_functions import V2Functions
from local.greengrass_v2_emulator import ManualClock
from tests.deployers.greengrass_v2.world import World, aws, group_arn, line, thing_arn
from tests.e2e.faults import SimulatedCrash

TOKEN = "d" * 64
DEPLOYMENT = f"gg2-{TOKEN}"
OLD = {"com.example.Old": {"componentVersion": "0.9.0"}}


def _rows(world: World) -> list[dict[str, Any]]:
    page, next_token = world.deployer.target_results(DEPLOYMENT, next_token=None, page_size=1000)
    assert next_token is None
    return [dict(r.row) | {"status": r.status} for r in page]


def _states(world: World) -> list[str]:
    return [s["state"] for s in world.deployer.target_summaries(DEPLOYMENT)]


def test_already_in_progress_answered_after_the_work_is_retried_into_the_same_deployment(
    world: World,
) -> None:
    """The service did the work, then answered RequestAlreadyInProgressException: the starter's
    retry carries the same client token and gets that deployment back, not a second one."""
    a, b = world.things("a", "b")
    world.emulator.already_in_progress(times=1, after_work=True)
    world.deployer.start(TOKEN, world.request(TOKEN, [line(a), line(b)]))
    to_a = world.emulator.calls(operation="CreateDeployment", target_arn=a)
    assert [(c.outcome, c.created) for c in to_a] == [
        ("RequestAlreadyInProgressException", True),
        ("ok", False),  # the token's replay
    ]
    assert world.created() == {a: 1, b: 1} and _states(world) == ["STARTED", "STARTED"]
    (summary, _) = world.deployer.target_summaries(DEPLOYMENT)
    assert summary["deployment_id"] == to_a[0].deployment_id


@pytest.mark.parametrize("crash", ["after the replaced deployment is saved", "after CREATING is written"])
def test_a_start_that_died_between_recording_the_replaced_deployment_and_creating_resumes_with_it(
    world: World, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    """Our deployment replaces someone else's: what it replaces is saved (a rollback redeploys
    it), the target's record written CREATING, then CreateDeployment. A start that dies between
    those steps resumes to one deployment per target, and the replaced one recorded is the
    other's, not ours."""
    a, b = world.things("a", "b")
    gg = aws("greengrassv2", world.emulator.url)
    theirs = gg.create_deployment(targetArn=a, components=OLD)["deploymentId"]
    request = world.request(TOKEN, [line(a), line(b)])
    original = TargetLedger.put_creating

    def dies(self: TargetLedger, file_token: str, record: Any) -> None:
        if crash == "after CREATING is written":
            original(self, file_token, record)
        raise SimulatedCrash(crash)

    with monkeypatch.context() as patched:
        patched.setattr(TargetLedger, "put_creating", dies)
        with pytest.raises(SimulatedCrash):
            world.deployer.start(TOKEN, request)
    assert world.created() == {a: 1}  # theirs only
    assert json.loads(world.object_text(f"reports/{TOKEN}/replaced/00000.json"))["deploymentId"] == theirs

    world.advance(60)
    world.deployer.start(TOKEN, request)

    assert world.created() == {a: 2, b: 1}  # theirs and ours to a, ours to b
    summaries = list(world.deployer.target_summaries(DEPLOYMENT))
    assert [s["state"] for s in summaries] == ["STARTED", "STARTED"]
    assert (summaries[0]["replaced_deployment_id"], summaries[0]["removed_components"]) == (
        theirs,
        ["com.example.Old"],
    )
    assert summaries[0]["deployment_id"] != theirs
    assert json.loads(world.object_text(f"reports/{TOKEN}/replaced/00000.json"))["deploymentId"] == theirs
    world.advance(5)
    assert world.deployer.status(DEPLOYMENT).lifecycle is Lifecycle.SUCCEEDED


def test_targets_and_devices_that_leave_mid_way_are_each_in_exactly_one_state(world: World) -> None:
    """A thing deleted since validation (refused when its turn comes, after an earlier target
    started), and a member that leaves its group after the start (its execution REMOVED):
    no target or device lost, none counted twice, nothing deployed twice."""
    (a,) = world.things("a")
    fleet = world.group("fleet", "m1", "m2", "m3")
    gone = thing_arn("deleted-since-validation")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(a), line(gone), line(fleet)]))
    world.advance(0.5)  # the rollout reached every member; none picked it up yet
    world.iot.remove_thing_from_thing_group(thingGroupName="fleet", thingName="m2")
    world.advance(5)

    done = world.deployer.status(DEPLOYMENT)

    assert done.lifecycle is Lifecycle.FAILED
    assert world.created() == {a: 1, fleet: 1}
    summaries = {s["target"]: s for s in world.deployer.target_summaries(DEPLOYMENT)}
    assert {t: (s["state"], s["outcome"]) for t, s in summaries.items()} == {
        a: ("STARTED", "succeeded"),
        gone: ("REFUSED", "refused"),
        fleet: ("STARTED", "failed"),
    }
    rows = [(r["target"], r["thing_name"], r["status"]) for r in _rows(world)]
    assert rows == [
        (a, "a", "SUCCEEDED"),
        (gone, "deleted-since-validation", "REFUSED"),
        (fleet, "m1", "SUCCEEDED"),
        (fleet, "m2", "REMOVED"),
        (fleet, "m3", "SUCCEEDED"),
    ]


def test_a_group_deployment_replaced_by_someone_elses_ends_at_once_with_every_device_accounted_for(
    world: World,
) -> None:
    """Someone else deploys to our group while devices are still on ours: our target ends as
    replaced at the next look; a device the replaced job never reached is CANCELED (IoT cancels
    the job's queued executions), one still applying ours is REPLACED; we create nothing more."""
    fleet = world.group("fleet", "m1", "m2", "m3")
    world.emulator.set_device("m2", "offline")
    world.emulator.set_device("m3", "slow")
    world.deployer.start(TOKEN, world.request(TOKEN, [line(fleet)]))
    world.advance(5)
    assert world.deployer.status(DEPLOYMENT).lifecycle is Lifecycle.RUNNING
    aws("greengrassv2", world.emulator.url).create_deployment(targetArn=fleet, components=OLD)

    done = world.deployer.status(DEPLOYMENT)

    assert done.lifecycle is Lifecycle.FAILED
    assert [(s["state"], s["outcome"]) for s in world.deployer.target_summaries(DEPLOYMENT)] == [
        ("STARTED", "replaced")
    ]
    assert [(r["thing_name"], r["status"]) for r in _rows(world)] == [
        ("m1", "SUCCEEDED"),
        ("m2", "CANCELED"),
        ("m3", "REPLACED"),
    ]
    ours = world.emulator.calls(operation="CreateDeployment", client_token=target_token_for(TOKEN, fleet))
    assert [c.created for c in ours] == [True] and world.created() == {fleet: 2}  # ours once, and theirs


# ---------------------------------------------------------------------------- the tracker dying
DEVICES = 120
PAGE = 10
PART_BYTES = 2_000  # a report part every ~15 device rows: several checkpoints in 120 rows


def test_the_tracker_dying_mid_report_resumes_from_its_checkpoint_and_reports_every_device_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tracker's report pass dies after it checkpointed part of the report; the next run
    resumes at the checkpoint (not from the first row) and the final report holds every device
    once, in order."""
    monkeypatch.setattr(report_writer, "PART_MIN_BYTES", PART_BYTES)
    monkeypatch.setattr(moto_s3_models, "S3_UPLOAD_PART_MIN_SIZE", PART_BYTES)
    clock = world.emulator.clock
    assert isinstance(clock, ManualClock)
    functions = V2Functions(
        world.s3,
        world.db,
        aws("greengrassv2", world.emulator.url),
        world.iot,
        clock.now,
        clock.advance,
        "faults-input",
        "faults-ledger",
        settings={"report_page_size": PAGE},
    )
    fleet = world.emulator.populate_group("fleet", DEVICES)
    started = functions.deliver(functions.upload("incoming/fleet.jsonl", [line(fleet)]), 1)
    token = started.token
    world.advance(30)
    tracker = functions.tracker()
    deployer: Any = tracker.deployer
    results = deployer.target_results
    asked: list[str | None] = []

    def dies_on_the_eighth_page(deployment_id: str, *, next_token: str | None, page_size: int) -> Any:
        asked.append(next_token)
        if len(asked) == 8:
            raise SimulatedCrash("the tracker died mid-report")
        return results(deployment_id, next_token=next_token, page_size=page_size)

    deployer.target_results = dies_on_the_eighth_page
    with pytest.raises(SimulatedCrash):
        tracker.run(lambda: 600.0)
    file = functions.intake.ledger.get(token)
    assert file is not None and file.state is FileState.REPORTING
    progress = file.report_progress
    assert progress is not None and 0 < progress.rows < 7 * PAGE and progress.csv_parts
    first_run_pages = len(asked)

    run = tracker.run(lambda: 600.0)

    assert run.reports_final == [token]
    assert asked[first_run_pages] == progress.next_token  # resumed at the checkpoint
    assert len(asked) - first_run_pages == -(-(DEVICES - progress.rows) // PAGE)
    file = functions.intake.ledger.get(token)
    assert file is not None and file.state is FileState.FINISHED
    body = world.s3.get_object(Bucket="faults-input", Key=f"reports/{token}/devices.csv")["Body"].read()
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [(r["thing_name"], r["status"]) for r in rows] == [
        (f"device-{i:06d}", "SUCCEEDED") for i in range(DEVICES)
    ]
    report = json.loads(
        world.s3.get_object(Bucket="faults-input", Key=f"reports/{token}/report.json")["Body"].read()
    )
    assert report["device_count"] == DEVICES and report["final"] is True
    assert [d["thing_name"] for d in report["devices"]] == [f"device-{i:06d}" for i in range(DEVICES)]
    assert world.created() == {fleet: 1}
    assert group_arn("fleet") == fleet
