"""`make soak`'s Greengrass V2 run: 1,000 targets across 50 files, duplicates and shared targets,
every target of every file accounted for.

    python -m benchmarks.soak --greengrass v2               # 50 files of 20 targets
    python -m benchmarks.soak --greengrass v2 --files 10    # smaller

A V2 stack's two functions as wiring builds them (``V2Functions``: the intake, the dispatcher,
the V2 deployer, the tracker and its report pass), S3 and DynamoDB from moto in this process
(``mock_aws``: no HTTP, the hot paths bridged by local/moto_patches as for the V1 run), the V2
emulator in this process on a manual clock (the tracker's waits move it: devices pick up and
apply as time passes). The transport in front of the intake (S3 events, EventBridge, SQS, the
runner) is V1's and V2's alike and soaked by the V1 run; here each event is handed to the intake
in arrival order. The request budget and the quota are off: the budget is measured by
`make bench` (``v2_start_rate_ratio``), and here it would only stretch the run.

The mix: every file deploys to 20 targets drawn from a pool of 300 things and 100 two-device
thing groups, so each target is in several files (they must reach it one after the other, in
arrival order); 30% of the files' events are delivered a second time, half right after the
first (the file queued or running), half at the end (the file finished); one device in 50
fails. Expected, exactly:

- every file FINISHED with a final report; every one of its targets in exactly one final state
  (STARTED and settled with an outcome), once in ``report.json``'s targets, its devices once in
  ``devices.csv``, each with its device's outcome;
- one CreateDeployment per (file, target), each creating a deployment (1,000), none other;
- our deployments to one target created in the files' arrival order, each after the previous
  file's deployment to it settled;
- every duplicate event answered DUPLICATE at no Greengrass/IoT call.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from bulk_deployer.aws import CLIENT_CONFIG
from bulk_deployer.deployers.greengrass_v2 import target_token_for
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger, TargetState
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.intake import Outcome
from bulk_deployer.ledger_model import FileState
from bulk_deployer.observability import logger
from moto import mock_aws

from benchmarks.events import REGION
from benchmarks.soak import result_table
from benchmarks.v2_functions import V2Functions, thing_arn
from local import moto_patches
from local.fleet import v2_line
from local.greengrass_v2_emulator import EmulatorConfig, ManualClock
from local.greengrass_v2_emulator.service import EmulatorService
from local.stack_config import FAKE_CREDENTIALS

BUCKET, TABLE = "soak-v2-input", "soak-v2-ledger"
THINGS, GROUPS, GROUP_SIZE = 300, 100, 2
TARGETS_PER_FILE = 20
FAILING_EVERY = 50  # one device in 50 fails
TRACKER_PERIOD_SECONDS = 60.0  # the tracker's schedule (the stack's: a minute), on the manual clock


@dataclass
class SoakV2Result:
    files: int
    targets: int
    duplicates: int
    tracker_runs: int
    checks: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (found, expected)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return [
            f"{name}: {found} (expected {want})"
            for name, (found, want) in self.checks.items()
            if found != want
        ]

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        rows = [
            ("files", str(self.files), ""),
            ("targets (file, target pairs)", str(self.targets), ""),
            ("duplicate events", str(self.duplicates), ""),
            ("tracker runs", str(self.tracker_runs), ""),
        ]
        rows += [(name, str(found), f"expected {want}") for name, (found, want) in self.checks.items()]
        return result_table(rows, self.seconds, self.problems, value_width=12)

    def summary(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "targets": self.targets,
            "duplicates": self.duplicates,
            "tracker_runs": self.tracker_runs,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "ok": self.ok,
        }


def _fleet(service: EmulatorService, rng: random.Random) -> tuple[dict[str, list[str]], set[str]]:
    """Each target's devices (by thing or group ARN), and the devices set to fail."""
    devices: dict[str, list[str]] = {}
    failing: set[str] = set()
    for n in range(GROUPS):
        arn = service.populate_group(f"soak-group-{n:03d}", GROUP_SIZE, prefix=f"g{n:03d}-")
        devices[arn] = [f"g{n:03d}-{i:06d}" for i in range(GROUP_SIZE)]
    for n in range(THINGS):
        name = f"t{n:03d}"
        service.call("iot", "CreateThing", thingName=name)
        devices[thing_arn(name)] = [name]
    for names in devices.values():
        for name in names:
            if rng.randrange(FAILING_EVERY) == 0:
                service.set_device(name, "failing")
                failing.add(name)
    return devices, failing


def run_soak_v2(
    s3: Any, dynamodb: Any, files: int = 50, seed: int = 16, max_tracker_runs: int = 2_000
) -> SoakV2Result:
    rng = random.Random(seed)  # a reproducible mix, nothing secret
    clock = ManualClock(1_800_000_000.0)
    service = EmulatorService(EmulatorConfig(enforce_quotas=False, tick_seconds=0), clock)
    functions = V2Functions.in_process(s3, dynamodb, service, clock, BUCKET, TABLE)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    devices, failing = _fleet(service, rng)
    plans = [rng.sample(list(devices), TARGETS_PER_FILE) for _ in range(files)]
    twice = sorted(rng.sample(range(files), round(files * 0.3)))
    early, late = twice[: len(twice) // 2], twice[len(twice) // 2 :]
    refs = [
        functions.upload(f"incoming/soak-{i:03d}.jsonl", [v2_line(t) for t in plan])
        for i, plan in enumerate(plans)
    ]

    sequence = 0
    duplicate_outcomes: Counter[str] = Counter()
    duplicate_calls = 0

    def deliver(i: int, *, duplicate: bool) -> str:
        nonlocal sequence, duplicate_calls
        sequence += 1
        before = len(service.calls())
        result = functions.deliver(refs[i], sequence)
        if duplicate:
            duplicate_outcomes[result.outcome.value] += 1
            duplicate_calls += len(service.calls()) - before
        return str(result.token)

    tokens: list[str] = []
    for i in range(files):  # arrival order; an early duplicate right after its original
        tokens.append(deliver(i, duplicate=False))
        if i in early:
            deliver(i, duplicate=True)
    seconds["intake"] = time.monotonic() - started
    ledger = functions.intake.ledger
    tracker = functions.tracker()
    runs = 0
    pending = list(tokens)
    while pending and runs < max_tracker_runs:
        clock.advance(TRACKER_PERIOD_SECONDS)
        tracker.run(lambda: 900.0)
        runs += 1
        pending = [t for t in pending if (f := ledger.get(t)) is None or f.state is not FileState.FINISHED]
    for i in late:
        deliver(i, duplicate=True)
    seconds["total"] = time.monotonic() - started

    result = SoakV2Result(files, files * TARGETS_PER_FILE, len(twice), runs, seconds=seconds)
    _account(result, functions, service, tokens, plans, devices, failing)
    result.checks["duplicate events answered DUPLICATE"] = (
        duplicate_outcomes[Outcome.DUPLICATE.value],
        len(twice),
    )
    result.checks["Greengrass/IoT calls of the duplicates"] = (duplicate_calls, 0)
    return result


def _account(
    result: SoakV2Result,
    functions: V2Functions,
    service: EmulatorService,
    tokens: list[str],
    plans: list[list[str]],
    devices: dict[str, list[str]],
    failing: set[str],
) -> None:
    """Every count the run must have exactly (``result.checks``)."""
    ledger = functions.intake.ledger
    targets = TargetLedger(TableAccess(functions.dynamodb, TABLE))
    files = [ledger.get(token) for token in tokens]
    states = Counter(f.state.value if f else "MISSING" for f in files)
    result.checks["files FINISHED"] = (states.get(FileState.FINISHED.value, 0), len(tokens))
    creates = service.calls(operation="CreateDeployment")
    created = [c for c in creates if c.created]
    by_token = Counter(str(c.client_token) for c in creates)
    expected_pairs = sum(len(plan) for plan in plans)
    result.checks["CreateDeployment calls"] = (len(creates), expected_pairs)
    result.checks["deployments created"] = (len(created), expected_pairs)
    wrong_targets = wrong_rows = unsettled = twice = 0
    records_of = {token: targets.records(token, len(plan)) for token, plan in zip(tokens, plans, strict=True)}
    for token, plan in zip(tokens, plans, strict=True):
        records = records_of[token]
        for index, target in enumerate(plan):
            record = records.get(index)
            if by_token[target_token_for(token, target)] != 1:
                twice += 1
            final = (
                record is not None
                and record.target_arn == target
                and record.state is TargetState.STARTED
                and record.settled
                and record.outcome in ("succeeded", "failed")
            )
            unsettled += not final
        report_body = _report_object(functions.s3, f"reports/{token}/report.json")
        report: dict[str, Any] = json.loads(report_body) if report_body is not None else {}
        if [t["target"] for t in report.get("targets", [])] != plan or report.get("final") is not True:
            wrong_targets += 1
        body = _report_object(functions.s3, f"reports/{token}/devices.csv") or b""
        rows = [
            (r["target"], r["thing_name"], r["status"]) for r in csv.DictReader(io.StringIO(body.decode()))
        ]
        want = [
            (target, name, "FAILED" if name in failing else "SUCCEEDED")
            for target in plan
            for name in devices[target]
        ]
        if rows != want:
            wrong_rows += 1
    result.checks["(file, target) pairs not in exactly one final state"] = (unsettled, 0)
    result.checks["(file, target) pairs without exactly one CreateDeployment"] = (twice, 0)
    result.checks["reports whose targets differ from the file's"] = (wrong_targets, 0)
    result.checks["reports whose device rows are not each device once"] = (wrong_rows, 0)
    result.checks["targets reached out of arrival order or overlapping"] = (
        _out_of_order(tokens, plans, records_of, created),
        0,
    )


def _report_object(s3: Any, key: str) -> bytes | None:
    """The report object's bytes; None when there is none (a file that never finished: the
    counts then say so, where raising would hide every other count)."""
    try:
        body: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return body


def _out_of_order(
    tokens: list[str], plans: list[list[str]], records_of: dict[str, Any], created: list[Any]
) -> int:
    """Targets whose deployments of ours were not created in the files' arrival order, or one
    before the previous file's deployment to the target settled."""
    created_at = {str(c.client_token): c.at for c in created}
    visits: dict[str, list[tuple[float, float | None]]] = {}  # target: (created, settled) by arrival
    wrong = 0
    for token, plan in zip(tokens, plans, strict=True):
        records = records_of[token]
        for index, target in enumerate(plan):
            record = records.get(index)
            if record is None:  # never started: counted here, not raised
                wrong += 1
                continue
            visits.setdefault(target, []).append(
                (created_at.get(target_token_for(token, target), float("nan")), record.ended_at)
            )
    for visited in visits.values():
        for (made, settled), (next_made, _) in itertools.pairwise(visited):
            if not (made < next_made and settled is not None and settled <= next_made):
                wrong += 1
    return wrong


def main(files: int, seed: int) -> SoakV2Result:
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION})
    logger.setLevel(logging.WARNING)  # the functions' logger was made at import, at INFO
    # moto in this process (no HTTP: a call costs a third), its hot paths bridged as for the V1
    # run's pipeline (local/moto_patches: the same answers, less work as the ledger grows).
    with moto_patches.applied(), mock_aws():
        session = boto3.session.Session(region_name=REGION)
        s3 = session.client("s3", config=CLIENT_CONFIG)
        dynamodb = session.client("dynamodb", config=CLIENT_CONFIG)
        return run_soak_v2(s3, dynamodb, files, seed)
