"""A Greengrass V2 stack through the stand-ins over HTTP: S3 → EventBridge → SQS FIFO → starter →
the V2 emulator (greengrassv2 + iot) → tracker → per-device report.

Assertions are made from outside: S3 reports, ledger states, and the V2 emulator's log of the
calls it was asked (CreateDeployment per target, on the emulator's clock) and of its devices'
job executions. The thing-group deadline is the stack's shortest (one minute) compressed by
LocalTiming.fast() to seconds (the emulator's clock runs behind the functions').
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from local.fleet import v2_input_file, v2_line
from local.observe import Observer, Upload, wait_for
from local.stack_config import V2_CONTEXT, load_deploy_config
from tests.e2e.conftest import E2EFactory
from tests.e2e.v2 import creates, finished, upload_targets

pytestmark = pytest.mark.e2e


def _devices(e2e: Observer, upload: Upload) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(e2e.read_text(e2e.report_key(upload, "devices.csv"))))
    return {row["thing_name"]: row for row in rows}


def test_n_deliveries_of_one_event_make_one_create_deployment_per_target(v2: Observer) -> None:
    fleet = v2.pipeline.v2_fleet()
    targets = [fleet.group("line-1", {"dev-a": "healthy", "dev-b": "healthy"}), fleet.thing("core-1")]
    upload = upload_targets(v2, "fleet.jsonl", targets)
    (body,) = wait_for(lambda: v2.intake_bodies(upload.key), timeout=5)
    redelivered = [v2.redeliver(body) for _ in range(3)]
    wait_for(
        lambda: all(any(m in i.deleted for i in v2.pipeline.history.items("starter")) for m in redelivered),
        timeout=5,
        what="every redelivery consumed",
    )

    report = finished(v2, upload)

    calls = v2.pipeline.v2_emulator.calls(operation="CreateDeployment")
    assert sorted(str(c.target_arn) for c in calls) == sorted(targets)  # one call per target, no retry
    assert all(c.created for c in calls)
    assert report["status"] == "COMPLETED"
    assert {d["thing_name"]: d["status"] for d in report["devices"]} == dict.fromkeys(
        ("dev-a", "dev-b", "core-1"), "SUCCEEDED"
    )
    assert v2.dead_letters() == 0


def test_the_second_files_deployment_to_a_shared_target_starts_after_the_first_settled(v2: Observer) -> None:
    fleet = v2.pipeline.v2_fleet()
    shared, first_only = fleet.thing("shared"), fleet.thing("first-only")
    first = upload_targets(v2, "first.jsonl", [first_only, shared])
    second = upload_targets(v2, "second.jsonl", [shared])

    finished(v2, first)
    finished(v2, second)

    to_shared = [c for c in creates(v2) if c.target_arn == shared]
    assert len(to_shared) == 2
    first_settled = v2.read_json(v2.report_key(first))
    (shared_row,) = [d for d in first_settled["devices"] if d["thing_name"] == "shared"]
    assert shared_row["status"] == "SUCCEEDED"
    # The emulator's log and the device's last update are both on the emulator's clock.
    device_done = _epoch(shared_row["last_update"])
    assert to_shared[1].at > device_done, (to_shared[1].at, device_done)


def test_a_later_files_deployment_to_a_settled_target_starts_before_the_earlier_file_ends(
    v2: Observer,
) -> None:
    """Each target is held until it settles, not until its whole file has."""
    fleet = v2.pipeline.v2_fleet()
    quick, slow = fleet.thing("quick"), fleet.thing("slow")
    # The slow device takes 5 s; its line's job timeout (2 minutes, not the stack's compressed
    # one) keeps the deadline from settling it first.
    v2.pipeline.v2_emulator.set_device("slow", "healthy", apply_seconds=5.0)
    timeout = {"timeoutConfig": {"inProgressTimeoutInMinutes": 2}}
    lines = [v2_line(quick), v2_line(slow, iotJobConfiguration=timeout)]
    first = v2.upload("first.jsonl", v2_input_file(lines))
    second = upload_targets(v2, "second.jsonl", [quick])

    finished(v2, first)
    finished(v2, second)

    devices = v2.read_json(v2.report_key(first))["devices"]
    assert {d["thing_name"]: d["status"] for d in devices} == {"quick": "SUCCEEDED", "slow": "SUCCEEDED"}
    # The emulator's log and the devices' last updates are both on the emulator's clock.
    done = {d["thing_name"]: _epoch(d["last_update"]) for d in devices}
    to_quick = [c.at for c in creates(v2) if c.target_arn == quick]
    assert len(to_quick) == 2
    assert done["quick"] < to_quick[1] < done["slow"], (done, to_quick)


def test_files_with_disjoint_targets_run_side_by_side(make_e2e: E2EFactory) -> None:
    v2 = make_e2e(config=load_deploy_config(V2_CONTEXT))
    fleet = v2.pipeline.v2_fleet()
    one, two = fleet.thing("core-1"), fleet.thing("core-2")
    # The first file's device takes 6 s to apply its deployment: the second file's intake (one
    # message after the other) fits in that also on a loaded machine, so a second file waiting for
    # the first would show. (The stand-ins' default pace left a fraction of a second: flaky in CI.)
    v2.pipeline.v2_emulator.set_device("core-1", "healthy", apply_seconds=6.0)
    first = upload_targets(v2, "one.jsonl", [one])
    second = upload_targets(v2, "two.jsonl", [two])

    finished(v2, first)
    finished(v2, second)

    # Both times from the ledger (the functions' clock; the emulator's runs behind it).
    ledger = v2.pipeline.ledger()
    one_file, two_file = ledger.get(first.token), ledger.get(second.token)
    assert one_file is not None and two_file is not None
    assert one_file.terminal_seen_at is not None and two_file.started_at is not None
    assert two_file.started_at < one_file.terminal_seen_at, "the second file waited for the first"
    assert [c.target_arn for c in creates(v2)] == [one, two]


def test_a_group_with_an_offline_device_is_done_at_the_deadline_with_it_pending(v2: Observer) -> None:
    fleet = v2.pipeline.v2_fleet()
    group = fleet.group("plant", {"on-1": "healthy", "off-1": "offline"})
    upload = upload_targets(v2, "offline.jsonl", [group])

    report = finished(v2, upload)

    assert {d["thing_name"]: d["status"] for d in report["devices"]} == {
        "on-1": "SUCCEEDED",
        "off-1": "PENDING",
    }
    assert report["metrics"]["DevicesPendingAtDeadline"] == 1
    assert report["status"] == "FAILED"
    (target,) = report["error_details"]
    assert target == {"target": group, "outcome": "failed", "counts": {"SUCCEEDED": 1, "PENDING": 1}}
    # Done at the deadline: the stack's one minute after the deployment's creation (on the
    # service's clock, which LocalTiming.fast() runs behind the functions'), not before, not long after.
    (create,) = creates(v2)
    deadline = create.at + 60.0 * v2.pipeline.config.thing_group_deadline_minutes
    assert deadline <= _epoch(report["terminal_seen_at"]) < deadline + 3.0


def test_a_failing_device_is_failed_with_its_error_types_in_devices_csv(v2: Observer) -> None:
    fleet = v2.pipeline.v2_fleet()
    group = fleet.group("line-2", {"good": "healthy", "bad": "failing"})
    upload = upload_targets(v2, "failing.jsonl", [group])

    report = finished(v2, upload)

    rows = _devices(v2, upload)
    assert rows["good"]["status"] == "SUCCEEDED"
    assert rows["bad"]["status"] == "FAILED"
    assert "COMPONENT_ERROR" in rows["bad"]["error_types"]
    assert rows["bad"]["reason"]
    assert report["metrics"]["DevicesPendingAtDeadline"] == 0


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_target_refused_part_way_is_reported_and_the_files_other_targets_run_to_their_end(
    v2: Observer,
) -> None:
    outcomes = v2.tap_outcomes()
    fleet = v2.pipeline.v2_fleet()
    first, refused, last = fleet.thing("core-1"), fleet.thing("core-2"), fleet.thing("core-3")
    v2.pipeline.v2_emulator.refuse(refused)  # ValidationException for core-2, whatever is asked
    upload = upload_targets(v2, "refused.jsonl", [first, refused, last])

    report = finished(v2, upload)

    assert [c.target_arn for c in creates(v2)] == [first, last]  # core-3 still started after core-2
    assert len(v2.pipeline.v2_emulator.calls(operation="CreateDeployment", target_arn=refused)) == 1
    assert report["status"] == "FAILED" and report["metrics"]["TargetsRefused"] == 1
    summaries = {t["target"]: t for t in report["targets"]}
    assert (summaries[refused]["state"], summaries[refused]["outcome"]) == ("REFUSED", "refused")
    assert summaries[refused]["error_code"] == "ValidationException"
    assert [summaries[t]["outcome"] for t in (first, last)] == ["succeeded", "succeeded"]
    rows = _devices(v2, upload)
    assert {name: row["status"] for name, row in rows.items()} == {
        "core-1": "SUCCEEDED",
        "core-2": "REFUSED",
        "core-3": "SUCCEEDED",
    }
    assert rows["core-2"]["reason"].startswith("ValidationException: ")
    assert outcomes.outcomes(upload.key) == ["started", "finished"]  # never start_failed
    (started,) = [m for m in outcomes.messages if m["outcome"] == "started"]
    assert [t["target"] for t in started["refused_targets"]] == [refused]
