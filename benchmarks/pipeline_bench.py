"""Duplicate fast path and burst, through the local stand-ins (moto server, the emulator, the runner)."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.objectref import ObjectRef

from benchmarks.events import eventbridge_body
from local.fleet import input_file
from local.pipeline import LocalPipeline
from local.stack_config import LocalTiming

if TYPE_CHECKING:
    from benchmarks.run import Bench

# The burst's latency is measured in tracker periods, and a tracker run against the stand-ins takes
# ~0.3 s, more than load()'s 0.1 s period: a 1 s period keeps the measure about the dispatch.
BURST_TIMING = replace(LocalTiming.load(), tracker_period_seconds=1.0)
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING"}
_DONE_STATES = {"STARTED", "REPORTING", "FINISHED"}


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def current_version(s3: Any, bucket: str, key: str) -> ObjectRef:
    """The key's current version, as its event names it."""
    head = InputObjectStore(s3).head(bucket, key)
    assert head is not None, f"s3://{bucket}/{key} is not there"
    return head.ref(bucket, key)


def _sqs_event(body: str, sequence: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SequenceNumber": sequence},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
        ]
    }


def duplicate_step(bench: Bench, pipeline: LocalPipeline) -> None:
    bench.say("4. duplicate fast path (botocore event hooks count the starter's calls)")
    pipeline.reset(environment_overrides=QUIET)
    groups = pipeline.fleet().groups("dup-a", "dup-b")
    s3 = pipeline.aws_client("s3")
    key = "incoming/duplicate.jsonl"
    s3.put_object(Bucket=pipeline.bucket, Key=key, Body=input_file(groups))
    ledger = pipeline.ledger()
    _wait(
        lambda: any(f.state.value in _DONE_STATES for f in ledger.files_for_key(pipeline.bucket, key)),
        30,
        "the first delivery never started",
    )
    body = eventbridge_body(current_version(s3, pipeline.bucket, key))

    calls: Counter[str] = Counter()
    me = threading.get_ident()  # the starter is invoked on this thread; the emulator has its own

    def count(prefix: str) -> Callable[..., None]:
        def hook(model: Any, **_: Any) -> None:
            if threading.get_ident() == me:
                calls.update([f"{prefix}:{model.name}"])

        return hook

    session_events = boto3._get_default_session().events
    session_events.register("before-call.s3.*", count("s3"))
    session_events.register("before-call.greengrass.*", count("gg"))
    deliveries = 5
    starter = pipeline.starter
    assert starter is not None
    with pipeline.runner.paused():
        pipeline.cold_start()  # the starter builds its clients again, now with the hooks
        for n in range(deliveries):
            pipeline.invoker.invoke(starter, _sqs_event(body, str(10**6 + n)))
    s3_reads = sum(v for k, v in calls.items() if k.startswith("s3:"))
    gg_calls = sum(v for k, v in calls.items() if k.startswith("gg:"))
    starts = pipeline.emulator.start_calls()
    bench.row("duplicate_s3_reads", str(s3_reads), "", f"0 over {deliveries} redeliveries")
    bench.row("duplicate_gg_calls", str(gg_calls), "", "0")
    bench.summary.update(duplicate_s3_reads=s3_reads, duplicate_gg_calls=gg_calls)
    bench.verify(starts == 1, f"{starts} StartBulkDeployment calls for one file")
    bench.check(
        s3_reads == 0 and gg_calls == 0, f"a duplicate made {s3_reads} S3 and {gg_calls} Greengrass calls"
    )


def burst_step(bench: Bench, pipeline: LocalPipeline) -> None:
    files, twice = bench.scale.burst_files, bench.scale.burst_duplicates
    period = BURST_TIMING.tracker_period_seconds
    bench.say(f"5. burst: {files} files at once ({twice} also delivered twice), tracker period {period} s")
    pipeline.reset(emulator_settings=BURST_TIMING.emulator, environment_overrides=QUIET)
    groups = pipeline.fleet().groups("burst-a", "burst-b")
    s3, sqs = pipeline.aws_client("s3"), pipeline.aws_client("sqs")
    keys = [f"incoming/burst-{i:04d}.jsonl" for i in range(files)]
    started = time.perf_counter()
    for key in keys:
        s3.put_object(Bucket=pipeline.bucket, Key=key, Body=input_file(groups))
    for key in keys[:twice]:  # a late redelivery, past FIFO's five-minute deduplication window
        sqs.send_message(
            QueueUrl=pipeline.resources.intake_queue_url,
            MessageBody=eventbridge_body(current_version(s3, pipeline.bucket, key)),
            MessageGroupId=INTAKE_MESSAGE_GROUP_ID,
            MessageDeduplicationId=str(uuid.uuid4()),
        )
    _wait(
        lambda: len(pipeline.emulator.deployments()) >= files,
        60 + files * period * 3,
        f"not every one of {files} files started",
    )
    seconds = time.perf_counter() - started
    time.sleep(2 * period)  # any (wrong) second start would show up now
    deployments = pipeline.emulator.deployments()
    ledger = pipeline.ledger()
    tokens = [str(d["ClientToken"]) for d in deployments]
    started_keys = []
    for token in tokens:
        file = ledger.get(token)
        started_keys.append(file.ref.key if file else "?")
    order_ok = started_keys == keys
    latencies = [
        (nxt["CreatedAtSeconds"] - prev["EndedAtSeconds"]) / period
        for prev, nxt in itertools.pairwise(deployments)
        if prev.get("EndedAtSeconds") is not None
    ]
    latency = statistics.median(latencies) if latencies else float("nan")
    runs = [item.seconds for item in pipeline.history.items("tracker")]
    run_periods = statistics.median(runs) / period if runs else float("nan")
    unique_started = len(set(started_keys) & set(keys))
    started_twice = sum(1 for count in Counter(tokens).values() if count > 1)
    bench.row(
        "burst_files / burst_started", f"{files} / {unique_started}", "", f"all started in {seconds:.1f} s"
    )
    bench.row("burst_order_ok", str(order_ok).lower(), "", "starts in upload (arrival) order")
    bench.row("dispatch_latency_periods", f"{latency:.2f}", "", "<= 1.0 (median, terminal -> next start)")
    follow = BURST_TIMING.tracker_follow_seconds / period
    bench.row(
        "tracker run (median)",
        f"{run_periods:.2f} periods",
        "",
        f"following on for up to {follow:.2f} periods; moto over HTTP: ~10-20 ms per call",
    )
    bench.summary.update(
        burst_files=files,
        burst_started=unique_started,
        burst_order_ok=order_ok,
        dispatch_latency_periods=round(latency, 2),
    )
    bench.verify(len(deployments) == files, f"{len(deployments)} bulk deployments for {files} files")
    bench.verify(started_twice == 0, f"{started_twice} files started twice")
    bench.verify(unique_started == files, f"only {unique_started} of {files} files started")
    bench.verify(order_ok, "files did not start in arrival order")
    bench.check(latency <= 1.0, f"dispatch_latency_periods {latency:.2f} > 1.0")
