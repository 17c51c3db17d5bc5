"""`make soak`: 1,000 uploads at once through the local pipeline, every file accounted for; then
the Greengrass V2 run (benchmarks/soak_v2.py: 1,000 targets across 50 files).

    python -m benchmarks.soak                 # 1,000 uploads (the issue's load run), then V2's
    python -m benchmarks.soak --uploads 60    # the size tests/e2e/test_load.py runs in `make test`
    python -m benchmarks.soak --greengrass v2 # the V2 run alone (--files N: N files of 20 targets)

The mix (of the N original uploads): 10% invalid, 5% overwritten by a second version before
anything is processed, 30% also delivered a second time as a late redelivery (a fresh
MessageDeduplicationId, sent once the originals have left the intake queue, so it meets its
file QUEUED, STARTED, REPORTING or FINISHED). Expected, exactly:

- FINISHED (one bulk deployment each): N - invalid - overwritten + overwritten (the new versions)
- REJECTED with a report: invalid;  SUPERSEDED: overwritten (the first versions)
- one StartBulkDeployment call and one bulk deployment per started file, none for any other
- bulk deployments created in the files' arrival order (the FIFO sequence numbers)
- every intake message consumed once (none failed, none dead-lettered)
- reconciliation: 0 input objects without a ledger entry

Prints a table and exits 1 when any count is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID
from bulk_deployer.ledger_model import FileState
from bulk_deployer.reconcile import Reconciler
from bulk_deployer.token import client_token_for

from benchmarks.events import eventbridge_body
from local.fleet import Group, input_file
from local.observe import Observer
from local.pipeline import LocalPipeline
from local.stack_config import LocalTiming

# One bulk deployment at a time: throughput is about one start per tracker run, so the tracker
# runs often (fast()'s period) and a bulk deployment of one record takes a few milliseconds.
SOAK_TIMING = LocalTiming.load()
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING"}
GROUP_POOL = 8


def result_table(
    rows: list[tuple[str, str, str]], seconds: dict[str, float], problems: list[str], *, value_width: int
) -> str:
    """A soak's rows (measure, value, note), its timings, and OK or what was wrong: both soaks'."""
    rows = rows + [(f"seconds: {name}", f"{value:.1f}", "") for name, value in seconds.items()]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  {'value':>{value_width}}  note", "-" * (width + 40)]
    lines += [f"{name:<{width}}  {value:>{value_width}}  {note}" for name, value, note in rows]
    lines.append("WRONG: " + "; ".join(problems) if problems else "OK")
    return "\n".join(lines)


@dataclass
class SoakResult:
    uploads: int
    invalid: int
    overwritten: int
    redelivered: int
    expected: dict[str, int]
    states: dict[str, int]
    bulk_deployments: int
    start_calls: int
    started_twice: int
    order_ok: bool
    messages: int
    failed_messages: int
    dead_letters: int
    unprocessed: int
    seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        rows = [
            ("uploads (versions)", f"{self.uploads} (+{self.overwritten} overwrites)", ""),
            ("late redeliveries", str(self.redelivered), ""),
        ]
        for state, want in self.expected.items():
            rows.append((f"files {state}", str(self.states.get(state, 0)), f"expected {want}"))
        others = {s: n for s, n in self.states.items() if s not in self.expected}
        rows.append(("files in any other state", str(sum(others.values())), f"expected 0 {others or ''}"))
        started = self.expected[FileState.FINISHED.value]
        rows += [
            ("bulk deployments created", str(self.bulk_deployments), f"expected {started}"),
            ("StartBulkDeployment calls", str(self.start_calls), f"expected {started}"),
            ("files started twice", str(self.started_twice), "expected 0"),
            ("starts in arrival order", str(self.order_ok).lower(), "expected true"),
            (
                "intake messages consumed",
                str(self.messages),
                f"expected {self.uploads + self.overwritten + self.redelivered}",
            ),
            (
                "failed / dead-lettered messages",
                f"{self.failed_messages} / {self.dead_letters}",
                "expected 0 / 0",
            ),
            ("reconciliation: unprocessed objects", str(self.unprocessed), "expected 0"),
        ]
        return result_table(rows, self.seconds, self.problems, value_width=22)

    def summary(self) -> dict[str, Any]:
        return {
            "uploads": self.uploads,
            "states": self.states,
            "bulk_deployments": self.bulk_deployments,
            "start_calls": self.start_calls,
            "order_ok": self.order_ok,
            "unprocessed": self.unprocessed,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "ok": self.ok,
        }


def _invalid_body(n: int, group: Group) -> bytes:
    variants = [
        json.dumps({"GroupId": group.group_id, "DeploymentType": "NewDeployment"}),
        "{not json",
        json.dumps(
            {"GroupId": group.group_id, "GroupVersionId": group.version_id, "DeploymentType": "Redeploy"}
        ),
    ]
    return (variants[n % len(variants)] + "\n").encode()


def _wait(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(interval)


def run_soak(
    pipeline: LocalPipeline, uploads: int = 1000, seed: int = 8, *, timeout: float = 900
) -> SoakResult:
    """Reset ``pipeline`` (keeping its timing) and run the load; the pipeline must be started."""
    rng = random.Random(seed)
    pipeline.reset(emulator_settings=SOAK_TIMING.emulator, environment_overrides=QUIET)
    # Every starter invocation is counted from the history: keep all of them (a 1,000-upload run
    # makes ~1,350 starter and a few thousand tracker invocations; the default keeps 2,000).
    pipeline.history.limit = max(pipeline.history.limit, 1_000_000)
    observer = Observer(pipeline)
    groups = pipeline.fleet().groups(*(f"soak-{n}" for n in range(GROUP_POOL)))
    indices = list(range(uploads))
    invalid = set(rng.sample(indices, round(uploads * 0.10)))
    overwritten = set(rng.sample([i for i in indices if i not in invalid], round(uploads * 0.05)))
    redelivered = sorted(rng.sample(indices, round(uploads * 0.30)))

    def body(i: int) -> bytes:
        return (
            _invalid_body(i, groups[i % GROUP_POOL]) if i in invalid else input_file([groups[i % GROUP_POOL]])
        )

    seconds: dict[str, float] = {}
    clock = time.monotonic()
    pipeline.runner.pause()  # everything arrives before anything is processed
    with ThreadPoolExecutor(max_workers=4) as pool:
        originals = list(pool.map(lambda i: observer.upload(f"soak/{i:05d}.jsonl", body(i)), indices))
    newer = [
        observer.upload(f"soak/{i:05d}.jsonl", input_file([groups[(i + 1) % GROUP_POOL]]))
        for i in sorted(overwritten)
    ]
    seconds["upload"] = time.monotonic() - clock
    clock = time.monotonic()
    pipeline.runner.resume()
    queue_url = pipeline.resources.intake_queue_url
    _wait(lambda: observer.queue_depth(queue_url) == 0, timeout, "the intake queue drained")
    seconds["intake (all originals consumed)"] = time.monotonic() - clock
    for i in redelivered:  # late: past FIFO's deduplication (fresh id), after the original
        observer.sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=eventbridge_body(originals[i].ref._replace(size=len(originals[i].body))),
            MessageGroupId=INTAKE_MESSAGE_GROUP_ID,
            MessageDeduplicationId=uuid.uuid4().hex,
        )
    final = {FileState.FINISHED, FileState.REJECTED, FileState.SUPERSEDED}
    every = [*originals, *newer]
    ledger = pipeline.ledger()

    pending = deque(u.token for u in every)  # about the order they finish in

    def settled() -> bool:
        # A final state is final, so each poll reads files only up to the first one not settled
        # yet (re-reading all 1,050 every poll took the pipeline's CPU); the counts below read
        # every file again.
        while pending:
            file = ledger.get(pending[0])
            if file is None or file.state not in final:
                return False
            pending.popleft()
        return True

    _wait(lambda: observer.queue_depth(queue_url) == 0 and settled(), timeout, "every file settled", 1.0)
    seconds["total (first upload to last report)"] = seconds["upload"] + time.monotonic() - clock
    time.sleep(5 * pipeline.timing.tracker_period_seconds)  # a wrong second start would show now
    pipeline.runner.pause()

    files = {u.token: ledger.get(u.token) for u in every}
    states = Counter(f.state.value if f else "MISSING" for f in files.values())
    expected = {
        FileState.FINISHED.value: uploads - len(invalid),
        FileState.REJECTED.value: len(invalid),
        FileState.SUPERSEDED.value: len(overwritten),
    }
    deployments = pipeline.emulator.deployments()
    tokens = [str(d["ClientToken"]) for d in deployments]
    counts = pipeline.emulator.start_counts()
    start_calls = sum(int(v) for v in counts["by_client_token"].values())
    by_arrival = sorted(
        (f for f in files.values() if f is not None and f.state is FileState.FINISHED),
        key=lambda f: f.arrival_sk,
    )
    order_ok = tokens == [f.token for f in by_arrival]
    history = pipeline.history.items("starter")
    messages = sum(len(i.message_ids) for i in history)
    failed = sum(len(i.failed) for i in history)
    reconciler = Reconciler(
        pipeline.aws_client("s3"),
        ledger,
        bucket=pipeline.bucket,
        prefix=pipeline.config.incoming_prefix,
        lookback_days=1,
        min_age_seconds=0,
    )
    unprocessed = len(reconciler.unprocessed())
    result = SoakResult(
        uploads=uploads,
        invalid=len(invalid),
        overwritten=len(overwritten),
        redelivered=len(redelivered),
        expected=expected,
        states=dict(states),
        bulk_deployments=len(deployments),
        start_calls=start_calls,
        started_twice=sum(1 for n in Counter(tokens).values() if n > 1),
        order_ok=order_ok,
        messages=messages,
        failed_messages=failed,
        dead_letters=observer.dead_letters(),
        unprocessed=unprocessed,
        seconds=seconds,
    )
    started = expected[FileState.FINISHED.value]
    checks = [
        (dict(states) == expected, f"states {dict(states)} != {expected}"),
        (len(deployments) == started, f"{len(deployments)} bulk deployments for {started} files"),
        (start_calls == started, f"{start_calls} start calls for {started} files"),
        (result.started_twice == 0, f"{result.started_twice} files started twice"),
        (set(tokens) == {f.token for f in by_arrival}, "bulk deployments for files that are not FINISHED"),
        (order_ok, "bulk deployments not in arrival order"),
        (messages == uploads + len(overwritten) + len(redelivered), f"{messages} intake messages consumed"),
        (failed == 0, f"{failed} failed messages"),
        (result.dead_letters == 0, f"{result.dead_letters} dead letters"),
        (unprocessed == 0, f"reconciliation found {unprocessed} unprocessed objects"),
        (
            all(
                observer.exists(observer.report_key(u, "rejected.json"))
                for i, u in enumerate(originals)
                if i in invalid
            ),
            "a rejected file without its report",
        ),
    ]
    result.problems = [message for ok, message in checks if not ok]
    # The client token of every upload is the one the pipeline used (sanity of the accounting).
    assert all(client_token_for(u.ref) == u.token for u in every)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--tracker-period",
        type=float,
        default=SOAK_TIMING.tracker_period_seconds,
        help="the tracker's schedule, seconds (default %(default)s)",
    )
    parser.add_argument("--greengrass", choices=("v1", "v2", "both"), default="both")
    parser.add_argument("--files", type=int, default=50, help="V2: files of 20 targets (default %(default)s)")
    args = parser.parse_args(argv)
    ok = True
    if args.greengrass in ("v1", "both"):
        ok = _soak_v1(args)
    if args.greengrass in ("v2", "both"):
        ok = _soak_v2(args.files, args.seed) and ok
    return 0 if ok else 1


def _soak_v2(files: int, seed: int) -> bool:
    from benchmarks import soak_v2  # noqa: PLC0415

    print(f"soak (Greengrass V2): {files} files of {soak_v2.TARGETS_PER_FILE} targets", flush=True)
    # The functions log to stdout, as in Lambda: kept in a file here.
    with (
        tempfile.NamedTemporaryFile(
            "w", prefix="soak-v2-functions-stdout-", suffix=".log", delete=False
        ) as sink,
        contextlib.redirect_stdout(sink),
    ):
        result = soak_v2.main(files, seed)
    print(f"(the functions' stdout: {sink.name})")
    print(result.table())
    print(json.dumps(result.summary()))
    return result.ok


def _soak_v1(args: argparse.Namespace) -> bool:
    timing = dataclasses.replace(SOAK_TIMING, tracker_period_seconds=args.tracker_period)
    print(
        f"soak: {args.uploads} uploads, tracker period {timing.tracker_period_seconds} s, "
        f"emulator {dict(timing.emulator)}",
        flush=True,
    )
    # The functions print their metrics (EMF) to stdout, as in Lambda: kept in a file here.
    with (
        tempfile.NamedTemporaryFile(
            "w", prefix="soak-functions-stdout-", suffix=".log", delete=False
        ) as sink,
        contextlib.redirect_stdout(sink),
        LocalPipeline(timing=timing, environment_overrides=QUIET) as pipeline,
    ):
        result = run_soak(pipeline, args.uploads, args.seed, timeout=args.timeout)
    print(f"(the functions' stdout: {sink.name})")
    print(result.table())
    print(json.dumps(result.summary()))
    return result.ok


if __name__ == "__main__":
    sys.exit(main())
