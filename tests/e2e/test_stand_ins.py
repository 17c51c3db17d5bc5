"""The stand-ins themselves: same configuration as the stack, the moto bridge, the runner's SQS semantics."""

from __future__ import annotations

import json
import os
from itertools import pairwise
from types import ModuleType
from typing import Any

import pytest
from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID

from local import moto_patches
from local.fleet import input_file
from local.functions import Function, Invoker, restore_process_environment
from local.observe import Observer, wait_for
from local.runner import History, SqsEventSource
from local.stack_config import REGION, load_deploy_config
from tests.e2e.conftest import E2EFactory

pytestmark = pytest.mark.e2e


def test_the_stand_ins_use_the_stacks_configuration(e2e: Observer) -> None:
    config = load_deploy_config()
    pipeline = e2e.pipeline
    assert pipeline.config == config
    attributes = e2e.sqs.get_queue_attributes(
        QueueUrl=pipeline.resources.intake_queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert int(attributes["VisibilityTimeout"]) == config.intake_visibility_timeout_seconds
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == config.max_receive_count
    assert redrive["deadLetterTargetArn"].endswith(pipeline.resources.names.intake_dead_letter_queue)
    # Each function gets exactly what infra gives the starter (plus what is documented as local).
    assert pipeline.starter is not None and pipeline.tracker is not None
    expected = config.starter_environment(
        ledger_table_name=pipeline.resources.names.ledger_table,
        execution_role_arn=pipeline.resources.execution_role_arn,
        intake_dead_letter_queue_url=pipeline.resources.intake_dead_letter_queue_url,
    )
    assert expected.items() <= pipeline.starter.environment.items()
    # The tracker: the starter's dispatch settings, without what only the starter reads (parking in
    # the dead-letter queue, staging, the processing lease).
    starter = dict(pipeline.starter.environment)
    assert starter.pop("INTAKE_DEAD_LETTER_QUEUE_URL") == pipeline.resources.intake_dead_letter_queue_url
    starter_only = ("EXECUTION_ROLE_ARN", "DEFAULT_TAGS", "PROCESSING_LEASE_SECONDS")
    for name in starter_only:
        del starter[name]
    assert starter.items() <= pipeline.tracker.environment.items()
    for name in ("INTAKE_DEAD_LETTER_QUEUE_URL", *starter_only):
        assert name not in pipeline.tracker.environment
    assert pipeline.tracker.environment["INPUT_BUCKET_NAME"] == pipeline.bucket


def test_s3_events_reach_the_fifo_queue_with_increasing_sequence_numbers(make_e2e: E2EFactory) -> None:
    e2e = make_e2e(run=False)
    assert moto_patches.installed()
    for n in range(3):
        e2e.upload(f"seq-{n}.jsonl", "{}\n")
    e2e.s3.put_object(Bucket=e2e.bucket, Key="elsewhere/ignored.jsonl", Body=b"{}\n")  # not incoming/

    received = e2e.sqs.receive_message(
        QueueUrl=e2e.pipeline.resources.intake_queue_url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
    )["Messages"]

    keys = [json.loads(m["Body"])["detail"]["object"]["key"] for m in received]
    assert keys == [f"incoming/seq-{n}.jsonl" for n in range(3)]
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {INTAKE_MESSAGE_GROUP_ID}
    numbers = [int(m["Attributes"]["SequenceNumber"]) for m in received]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    event = json.loads(received[0]["Body"])
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["bucket"]["name"] == e2e.bucket


def test_a_message_that_keeps_failing_moves_to_the_dead_letter_queue(make_e2e: E2EFactory) -> None:
    e2e = make_e2e(run=False)
    config = e2e.pipeline.config
    resources = e2e.pipeline.resources
    upload = e2e.upload("poison.jsonl", "{}\n")
    wait_for(lambda: e2e.queue_depth(resources.intake_queue_url), timeout=5)
    events: list[dict[str, Any]] = []

    def failing(event: dict[str, Any]) -> Any:
        events.append(event)
        raise RuntimeError("transient failure that never ends")

    source = SqsEventSource(
        e2e.sqs,
        resources.intake_queue_url,
        resources.intake_queue_arn,
        REGION,
        failing,
        History(),
        failed_visibility_seconds=0,
    )
    for _ in range(config.max_receive_count + 2):
        source.poll_once()

    assert len(events) == config.max_receive_count
    counts = [int(e["Records"][0]["attributes"]["ApproximateReceiveCount"]) for e in events]
    assert counts == list(range(1, config.max_receive_count + 1))
    record = events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == resources.intake_queue_arn
    assert record["attributes"]["MessageGroupId"] == INTAKE_MESSAGE_GROUP_ID
    assert json.loads(record["body"])["detail"]["object"]["key"] == upload.key
    assert e2e.queue_depth(resources.intake_queue_url) == 0
    assert e2e.dead_letters() == 1


def test_a_partial_batch_failure_keeps_only_the_failed_message(make_e2e: E2EFactory) -> None:
    e2e = make_e2e(run=False)
    resources = e2e.pipeline.resources
    e2e.upload("a.jsonl", "{}\n")
    wait_for(lambda: e2e.queue_depth(resources.intake_queue_url), timeout=5)
    history = History()
    source = SqsEventSource(
        e2e.sqs,
        resources.intake_queue_url,
        resources.intake_queue_arn,
        REGION,
        lambda event: {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]},
        history,
        failed_visibility_seconds=None,  # as Lambda: invisible for the visibility timeout
    )
    assert source.poll_once() == 1
    assert source.poll_once() == 0  # in flight, and it blocks its FIFO message group
    (invocation,) = history.items()
    assert invocation.failed == invocation.message_ids and invocation.deleted == ()
    assert e2e.queue_depth(resources.intake_queue_url) == 1


def test_the_fleet_helper_makes_deployable_groups(e2e: Observer) -> None:
    groups = e2e.pipeline.fleet().groups("x", "y")
    body = input_file(groups).decode()
    assert [json.loads(line)["GroupId"] for line in body.splitlines()] == [g.group_id for g in groups]


def test_invocations_only_add_variables_and_stopping_the_functions_puts_the_environment_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Removing a variable while another thread iterates os.environ (every boto3 client creation
    does) raises KeyError there, so invocations never remove one; stop_functions restores."""
    monkeypatch.setenv("PROBE_SHARED", "before")
    monkeypatch.delenv("PROBE_A_ONLY", raising=False)
    monkeypatch.delenv("PROBE_B_ONLY", raising=False)
    seen: list[dict[str, str]] = []
    probe = ModuleType("probe")
    probe.handler = lambda event, context: seen.append(dict(os.environ))  # type: ignore[attr-defined]
    a = Function("a", "probe.handler", {"PROBE_SHARED": "a", "PROBE_A_ONLY": "1"}, 3, _module=probe)
    b = Function("b", "probe.handler", {"PROBE_SHARED": "b", "PROBE_B_ONLY": "2"}, 3, _module=probe)
    invoker = Invoker()
    before = dict(os.environ)
    names = [set(os.environ)]
    for function in (a, b, a):
        invoker.invoke(function, {})
        names.append(set(os.environ))

    assert all(earlier <= later for earlier, later in pairwise(names))
    assert [env["PROBE_SHARED"] for env in seen] == ["a", "b", "a"]
    assert seen[0]["PROBE_A_ONLY"] == "1" and seen[1]["PROBE_B_ONLY"] == "2"
    restore_process_environment()
    assert dict(os.environ) == before


def test_the_shell_exports_name_every_variable_local_up_documents(e2e: Observer) -> None:
    """`python -m local sample` and env.sh read these; the tracker's own environment no longer
    carries the execution role, so the exports must name it themselves."""
    from local.daemon import SHELL_VARIABLES  # what env.sh writes (docs/local.md)

    exports = e2e.pipeline.exports()
    missing = [name for name in SHELL_VARIABLES if name not in exports]
    assert missing == []
    assert exports["EXECUTION_ROLE_ARN"] == e2e.pipeline.resources.execution_role_arn
