"""`make demo`: the whole pipeline on loopback stand-ins, narrated.

Starts moto and the Greengrass bulk emulator in this process, creates the stack's resources
(configuration from cdk.json), creates Greengrass groups, uploads input files to the incoming
prefix and follows them through EventBridge, the FIFO intake, the starter, "Greengrass" and the
tracker to their final reports. Shows a duplicate delivery being ignored, a bad file rejected
and a second file queued behind the first. Then the same stand-ins as a Greengrass V2 stack
(``-c greengrass=v2``): a V2 file to a thing group of devices (one offline, one failing) and a
thing, followed to its per-device report. The functions' own JSON logs go to
local/.state/demo.log. Exit status 0 when every step behaved as expected.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import ClassVar, TextIO

from bulk_deployer.ledger_model import FileState, LedgerFile
from bulk_deployer.timefmt import iso_of

from local.fleet import Group, input_file, v2_input_file, v2_line
from local.observe import Observer, Timeout, Upload, wait_for
from local.pipeline import LocalPipeline
from local.stack_config import REPO_ROOT, V2_CONTEXT, LocalTiming, load_deploy_config

STATE_DIR = REPO_ROOT / "local" / ".state"
TERMINAL_FILE_STATES = (FileState.FINISHED, FileState.REJECTED, FileState.SUPERSEDED, FileState.START_FAILED)


class DemoFailed(Exception):
    """A step did not behave as the demo expects."""


class Narrator:
    """Human-readable output with elapsed time; the only thing that writes to the terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._out = stream
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def say(self, text: str = "") -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def step(self, text: str) -> None:
        self.say(f"[{self.elapsed():5.1f}s] {text}")

    def heading(self, text: str) -> None:
        self.say()
        self.say(f"== {text}")


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


class Demo:
    def __init__(self, pipeline: LocalPipeline, narrator: Narrator, timeout: float) -> None:
        self.pipeline = pipeline
        self.observer = Observer(pipeline)
        self.say = narrator
        self.timeout = timeout
        self.names: dict[str, str] = {}  # group id -> name
        self.greengrass = pipeline.greengrass()

    # ------------------------------------------------------------------ the story
    def run(self) -> None:
        pipeline, say = self.pipeline, self.say
        resources = pipeline.resources
        config = pipeline.config
        say.step(f"moto (AWS stand-in)            {pipeline.moto.url}")
        say.step(f"Greengrass V1 bulk emulator    {pipeline.emulator.url}")
        say.step(
            f"stack resources (cdk.json, stack {config.stack_name}): bucket {resources.names.bucket} "
            f"(versioned, S3 -> EventBridge), rule {resources.names.rule} -> FIFO queue "
            f"{resources.names.intake_queue} (DLQ after {config.max_receive_count} receives), "
            f"ledger {resources.names.ledger_table}, topic {resources.names.outcomes_topic}"
        )
        fleet = pipeline.fleet()
        first_groups = fleet.groups("plant-a-line-1", "plant-a-line-2", "plant-a-line-3")
        second_groups = fleet.groups("plant-b-line-1", "plant-b-line-2")
        for group in first_groups + second_groups:
            self.names[group.group_id] = group.name
        say.step(
            f"Greengrass groups with versions: {', '.join(g.name for g in first_groups + second_groups)}"
        )

        say.heading("1. Upload a fleet file")
        first = self.upload("fleet-a.jsonl", first_groups)
        started = self.follow(first, (FileState.STARTED, FileState.REPORTING, FileState.FINISHED))
        expect(started.bulk_deployment_id is not None, "fleet-a.jsonl did not start")

        say.heading("2. A second file, uploaded while the first is running, waits its turn")
        second = self.upload("fleet-b.jsonl", second_groups)
        queued = self.follow(second, (FileState.QUEUED, FileState.STARTED, FileState.FINISHED))
        running = self.observer.file(first)
        expect(
            queued.state is FileState.QUEUED and running is not None and running.state is FileState.STARTED,
            "fleet-b.jsonl was expected to wait in QUEUED while fleet-a.jsonl runs",
        )
        say.step(
            f"fleet-b.jsonl is QUEUED behind fleet-a.jsonl (bulk deployment {started.bulk_deployment_id} "
            "is still running; Greengrass runs one at a time)"
        )

        say.heading("3. The same event delivered again (EventBridge/SQS deliver at least once)")
        self.duplicate(first)

        say.heading("4. A bad file is rejected, with a report naming each bad line")
        self.bad_file(first_groups[0])

        say.heading("5. Following fleet-a.jsonl to its final report")
        finished_first = self.follow(first, (FileState.FINISHED,), progress=True)
        self.result(first, finished_first)

        say.heading("6. fleet-b.jsonl started after fleet-a.jsonl ended")
        left_queue = self.observer.wait_state(
            second, FileState.STARTED, FileState.REPORTING, FileState.FINISHED, timeout=self.timeout
        )
        started_at, ended_at = left_queue.started_at, finished_first.terminal_seen_at
        expect(
            started_at is not None and ended_at is not None and started_at > ended_at,
            "fleet-b.jsonl started before fleet-a.jsonl ended",
        )
        ended_text, started_text = (iso_of(t) if t else None for t in (ended_at, started_at))
        say.step(
            f"the tracker saw fleet-a's bulk deployment end at {ended_text} "
            f"and started fleet-b's ({left_queue.bulk_deployment_id}) at {started_text}"
        )
        finished_second = self.follow(second, (FileState.FINISHED,), progress=True)
        self.result(second, finished_second)

        counts = pipeline.emulator.start_counts()["created_by_input_uri"]
        say.heading("Summary")
        say.say(f"  bulk deployments created: {sum(counts.values())} (one per valid file)")
        for upload in (first, second):
            file = self.observer.file(upload)
            state = file.state.value if file else "?"
            say.say(
                f"  {upload.key:<24} {state:<9} bulk deployment {file.bulk_deployment_id if file else '-'}"
            )
        expect(sum(counts.values()) == 2, f"expected 2 bulk deployments, Greengrass created {counts}")

    # ------------------------------------------------------------------ steps
    def upload(self, name: str, groups: list[Group]) -> Upload:
        upload = self.observer.upload(name, input_file(groups))
        self.say.step(
            f"uploaded s3://{upload.bucket}/{upload.key} ({len(groups)} groups, version {upload.version_id})"
        )
        self.say.say(f"         token {upload.token}")
        return upload

    def follow(self, upload: Upload, until: tuple[FileState, ...], *, progress: bool = False) -> LedgerFile:
        """Print every change of the file's state (and, with progress, of its bulk deployment)."""
        seen: list[str] = []

        def describe(file: LedgerFile | None) -> str:
            if file is None:
                return "not in the ledger yet (S3 -> EventBridge -> SQS -> starter)"
            text = file.state.value
            if file.bulk_deployment_id:
                text += f"  bulk deployment {file.bulk_deployment_id}"
                if progress:
                    text += "  " + self.bulk_progress(file.bulk_deployment_id)
            if file.state is FileState.REPORTING:
                text += "  (waiting for group deployments to settle)"
            return text

        def reached() -> LedgerFile | None:
            file = self.observer.file(upload)
            line = describe(file)
            if not seen or seen[-1] != line:
                seen.append(line)
                self.say.step(f"{upload.key.rsplit('/', 1)[-1]}: {line}")
            if file is not None and file.state in until:
                return file
            if file is not None and file.state in TERMINAL_FILE_STATES:
                raise DemoFailed(f"{upload.key} ended {file.state.value}, expected {until}")
            return None

        try:
            return wait_for(reached, timeout=self.timeout, interval=0.1, what=f"{upload.key} state")
        except Timeout as exc:
            raise DemoFailed(str(exc)) from None

    def bulk_progress(self, bulk_id: str) -> str:
        status = self.greengrass.get_bulk_deployment_status(BulkDeploymentId=bulk_id)
        metrics = status.get("BulkDeploymentMetrics") or {}
        return f"({status['BulkDeploymentStatus']}, {metrics.get('RecordsProcessed', 0)} records processed)"

    def duplicate(self, upload: Upload) -> None:
        bodies = wait_for(lambda: self.observer.intake_bodies(upload.key), timeout=self.timeout)
        before = self.observer.file(upload)
        message_id = self.observer.redeliver(bodies[0])
        self.say.step(f"sent fleet-a.jsonl's event to the intake queue again (message {message_id})")
        wait_for(
            lambda: any(message_id in i.deleted for i in self.pipeline.history.items("starter")),
            timeout=self.timeout,
            what="duplicate consumed",
        )
        after = self.observer.file(upload)
        calls = self.observer.start_calls(upload)
        expect(calls == 1, f"the duplicate caused {calls} StartBulkDeployment calls")
        expect(
            before is not None
            and after is not None
            and before.bulk_deployment_id == after.bulk_deployment_id,
            "the duplicate changed the ledger",
        )
        self.say.step(
            "duplicate ignored: token already registered; still 1 StartBulkDeployment call and "
            f"bulk deployment {after.bulk_deployment_id if after else '-'}"
        )

    def bad_file(self, group: Group) -> None:
        body = (
            group.record() + "\n"
            '{"GroupId":"4fd4c5a8-6f6b-4d70-9c3e-7a8f0c6e2b11","DeploymentType":"NewDeployment"}\n'
            '{"GroupId":"9a1b2c3d","GroupVersionId":"0f1e2d3c","DeploymentType":"Redeployment"}\n'
        )
        upload = self.observer.upload("fleet-broken.jsonl", body)
        self.say.step(f"uploaded s3://{upload.bucket}/{upload.key} (3 lines, 2 of them bad)")
        self.say.say(f"         token {upload.token}")
        file = self.follow(upload, (FileState.REJECTED,))
        report_key = str(file.report_key)
        report = self.observer.read_json(report_key)
        self.say.say(f"         report s3://{upload.bucket}/{report_key}")
        for error in report["errors"]:
            self.say.say(f"           line {error['line']}: {error['code']} - {error['message']}")
        expect(report["error_count"] == 2, f"expected 2 errors, the report says {report['error_count']}")
        expect(self.observer.start_calls(upload) == 0, "a rejected file reached Greengrass")

    def result(self, upload: Upload, file: LedgerFile) -> None:
        report_key = str(file.report_key)
        report = self.observer.read_json(report_key)
        metrics = report.get("metrics") or {}
        say = self.say.say
        say(f"  file                 s3://{upload.bucket}/{upload.key}")
        say(f"  token                {upload.token}")
        say(f"  bulk deployment id   {report['bulk_deployment_id']}")
        say(f"  status               {report['status']}")
        say(
            f"  records processed    {metrics.get('RecordsProcessed')} "
            f"(invalid {metrics.get('InvalidInputRecords')}, retries {metrics.get('RetryAttempts')})"
        )
        say("  groups:")
        for group in report.get("groups") or []:
            name = self.names.get(str(group["group_id"]), str(group["group_id"]))
            say(f"    {name:<16} {group['status']:<8} deployment {group.get('deployment_id')}")
        say(f"  report               s3://{upload.bucket}/{report_key} (+ groups.csv)")
        expect(report["status"] == "Completed", f"{upload.key}: bulk deployment {report['status']}")
        expect(report.get("final") is True, f"{upload.key}: the report is not final")
        expect(
            all(g["status"] == "Success" for g in report.get("groups") or []), f"{upload.key}: a group failed"
        )


class V2Demo(Demo):
    """The same stand-ins as a Greengrass V2 stack: one file, a thing group and a thing."""

    # Each device's behaviour in the V2 emulator, and the status the report must give it.
    DEVICES: ClassVar[dict[str, str]] = {
        "press-1": "healthy",
        "press-2": "healthy",
        "press-3": "offline",
        "press-4": "failing",
    }
    EXPECTED: ClassVar[dict[str, str]] = {"healthy": "SUCCEEDED", "offline": "PENDING", "failing": "FAILED"}

    def run(self) -> None:
        pipeline, say = self.pipeline, self.say
        say.heading("7. The same pipeline as a Greengrass V2 stack (cdk deploy -c greengrass=v2)")
        pipeline.reset(config=load_deploy_config(V2_CONTEXT))
        deadline = pipeline.timing.thing_group_deadline_seconds
        say.step(f"Greengrass V2 + IoT emulator   {pipeline.v2_emulator.url}")
        say.step(
            f"the functions' environment is a V2 stack's: GREENGRASS=v2, STACK_ACCOUNT_ID="
            f"{pipeline.resources.account_id}, no execution role; thing-group deadline "
            f"{pipeline.config.thing_group_deadline_minutes} min (compressed here to {deadline:g} s)"
        )
        fleet = pipeline.v2_fleet()
        group = fleet.group("plant-c-presses", self.DEVICES)
        thing = fleet.thing("plant-c-gateway")
        behaviours = {**self.DEVICES, "plant-c-gateway": "healthy"}
        say.step(
            "thing group plant-c-presses: "
            + ", ".join(f"{name} ({kind})" for name, kind in self.DEVICES.items())
            + "; thing plant-c-gateway (healthy)"
        )
        body = v2_input_file([v2_line(group), v2_line(thing)])
        upload = self.observer.upload("fleet-v2.jsonl", body)
        say.step(f"uploaded s3://{upload.bucket}/{upload.key} (2 lines: the group and the thing)")
        say.say(f"         token {upload.token}")
        file = self.follow(upload, (FileState.FINISHED,))
        self.v2_result(upload, str(file.report_key), {thing, group}, behaviours)

    def v2_result(
        self, upload: Upload, report_key: str, targets: set[str], behaviours: dict[str, str]
    ) -> None:
        report = self.observer.read_json(report_key)
        say = self.say.say
        creates = self.pipeline.v2_emulator.create_counts()["created_by_target"]
        say(f"  file                 s3://{upload.bucket}/{upload.key}")
        say(f"  status               {report['status']}  ({report.get('error_message') or 'every device'})")
        say(f"  deployments created  {sum(creates.values())} (one CreateDeployment per target)")
        say("  devices:")
        outcomes: dict[str, str] = {}
        for device in report.get("devices") or []:
            name, status = str(device["thing_name"]), str(device["status"])
            outcomes[name] = status
            errors = ",".join(device.get("error_types") or [])
            why = f"  {errors}" if errors else ""
            if status == "PENDING":
                why = "  (offline: still queued at the deadline)"
            target = str(device["target"]).rsplit(":", 1)[-1]
            say(f"    {name:<16} {status:<10} {target}{why}")
        say(f"  report               s3://{upload.bucket}/{report_key} (+ devices.csv)")
        expect(report.get("final") is True, f"{upload.key}: the report is not final")
        expect(creates == dict.fromkeys(targets, 1), f"expected one deployment per target, got {creates}")
        expected = {name: self.EXPECTED[kind] for name, kind in behaviours.items()}
        expect(outcomes == expected, f"devices ended {outcomes}, expected {expected}")
        failing = [d for d in report["devices"] if d["status"] == "FAILED"]
        expect(
            all(d.get("error_types") for d in failing), "a failed device's error types are not in the report"
        )
        expect(
            report["status"] == "FAILED",
            f"expected the file FAILED (one device failed), got {report['status']}",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=45.0, help="seconds to wait for any one step")
    parser.add_argument("--log", type=Path, default=STATE_DIR / "demo.log", help="the functions' logs")
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stdout
    narrator = Narrator(terminal)
    narrator.say("bulk-deployer demo: the whole pipeline on loopback stand-ins (no AWS account needed)")
    narrator.say("(Greengrass V1 is emulated: AWS ended V1 support on 2026-10-07; see docs/local.md;")
    narrator.say(" then the same stand-ins run a Greengrass V2 stack)")
    narrator.say(f"(the functions' JSON logs and metrics go to {_relative(args.log)})")
    with args.log.open("w", encoding="utf-8") as log_file:
        return _run(narrator, log_file, args.timeout, args.log)


def _run(narrator: Narrator, log_file: TextIO, timeout: float, log_path: Path) -> int:
    _quiet(log_file)
    started = time.monotonic()
    try:
        # Powertools writes logs and EMF metrics to stdout: into the log file, not the story.
        with contextlib.redirect_stdout(log_file), LocalPipeline(timing=LocalTiming.demo()) as pipeline:
            Demo(pipeline, narrator, timeout).run()
            V2Demo(pipeline, narrator, timeout).run()
    except DemoFailed as exc:
        narrator.say()
        narrator.say(f"DEMO FAILED: {exc}  (see {_relative(log_path)})")
        return 1
    narrator.say()
    narrator.say(f"Demo finished in {time.monotonic() - started:.1f}s: every step behaved as expected.")
    return 0


def _quiet(log_file: TextIO) -> None:
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.captureWarnings(True)


def _relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
