"""The starter's logic against moto's S3 and DynamoDB and the fake Greengrass API."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from bulk_deployer import wiring
from bulk_deployer.deployers.greengrass_v1 import V1FileValidator
from bulk_deployer.dispatch import DispatchResult
from bulk_deployer.intake import Outcome
from bulk_deployer.ledger_model import Arrival, FileState, StartRequest
from bulk_deployer.token import client_token_for

from tests.integration.conftest import BUCKET, ROLE, Pipeline, classic_body, eventbridge_body, valid_file


def test_a_valid_file_is_staged_queued_and_started_once(pipeline: Pipeline) -> None:
    body = valid_file("g-1", "g-2", "g-3")
    ref = pipeline.upload("incoming/fleet.jsonl", body, Tagging="team=blue&change=CHG%20042")
    result = pipeline.deliver_ref(ref)
    token = client_token_for(ref)

    assert result.outcome is Outcome.QUEUED
    assert result.dispatch is not None and result.dispatch.result is DispatchResult.STARTED
    file = pipeline.ledger.get(token)
    assert file is not None and file.state is FileState.STARTED
    assert file.bulk_deployment_id == result.dispatch.bulk_deployment_id
    assert file.records == 3

    staged = pipeline.s3.get_object(Bucket=BUCKET, Key=f"staged/{token}.jsonl")
    assert staged["Body"].read() == body
    assert staged["ServerSideEncryption"] == "AES256"

    (request,) = pipeline.greengrass.start_requests
    assert request == {
        "AmznClientToken": token,
        "ExecutionRoleArn": ROLE,
        "InputFileUri": f"https://{BUCKET}.s3.us-east-1.amazonaws.com/staged/{token}.jsonl",
        "tags": {"project": "fleet", "team": "blue", "change": "CHG 042", "bulk-deployer:token": token},
    }
    assert pipeline.metrics["InputFileQueued"] == 1
    assert pipeline.metrics["BulkDeploymentStarted"] == 1
    slot = pipeline.slot.get()
    assert (slot.state, slot.tokens, slot.holder) == ("active", [token], None)


def test_n_deliveries_of_one_upload_start_one_bulk_deployment_and_duplicates_read_nothing(
    pipeline: Pipeline,
) -> None:
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    # The same event twice in one message (classic batches can repeat a record) ...
    twice = json.loads(classic_body(ref))
    twice["Records"] *= 2
    first, second = pipeline.deliver(json.dumps(twice))
    assert first.outcome is Outcome.QUEUED
    assert second.outcome is Outcome.DUPLICATE

    # ... and again later, through both shapes, several times.
    for body in [eventbridge_body(ref), classic_body(ref), eventbridge_body(ref), eventbridge_body(ref)]:
        s3_before, gg_before = pipeline.s3_reads(), sum(pipeline.greengrass.calls.values())
        (result,) = pipeline.deliver(body)
        assert result.outcome is Outcome.DUPLICATE
        assert pipeline.s3_reads() == s3_before, "a duplicate must not read S3"
        assert sum(pipeline.greengrass.calls.values()) == gg_before, "a duplicate must not call Greengrass"

    assert pipeline.greengrass.calls["StartBulkDeployment"] == 1
    assert len(pipeline.greengrass.deployments) == 1
    assert pipeline.metrics["DuplicateEventIgnored"] == 5


def test_a_bad_file_is_rejected_with_a_report_and_left_untouched(pipeline: Pipeline) -> None:
    body = valid_file("g-1") + b'{"GroupId":"g-2","DeploymentType":"Redeployment"}\n\n{"GroupId":"g-1"'
    ref = pipeline.upload("incoming/bad.jsonl", body)
    result = pipeline.deliver_ref(ref)
    token = client_token_for(ref)

    assert result.outcome is Outcome.REJECTED
    report = json.loads(
        pipeline.s3.get_object(Bucket=BUCKET, Key=f"reports/{token}/rejected.json")["Body"].read()
    )
    assert report["token"] == token
    assert report["input"] == {
        "bucket": BUCKET,
        "key": "incoming/bad.jsonl",
        "version_id": ref.version_id,
        "etag": ref.etag,
        "size": len(body),
    }
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (2, "missing_group_version_id"),
        (2, "invalid_deployment_type"),
        (3, "blank_line"),
        (4, "invalid_json"),
    ]
    assert report["error_count"] == 4
    file = pipeline.ledger.get(token)
    assert file is not None and file.state is FileState.REJECTED
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 0
    assert pipeline.metrics["InputFileRejected"] == 1
    # Input objects are never deleted or modified; nothing was staged.
    head = pipeline.s3.head_object(Bucket=BUCKET, Key="incoming/bad.jsonl")
    assert head["ETag"].strip('"') == ref.etag
    assert "Contents" not in pipeline.s3.list_objects_v2(Bucket=BUCKET, Prefix="staged/")


def test_an_overwritten_key_deploys_only_its_newest_version(pipeline: Pipeline) -> None:
    old = pipeline.upload("incoming/fleet.jsonl", valid_file("g-old"))
    new = pipeline.upload("incoming/fleet.jsonl", valid_file("g-new"))

    stale = pipeline.deliver_ref(old)
    assert stale.outcome is Outcome.SUPERSEDED
    assert pipeline.s3_calls["GetObject"] == 0, "a superseded version is never read"
    fresh = pipeline.deliver_ref(new)
    assert fresh.outcome is Outcome.QUEUED

    (request,) = pipeline.greengrass.start_requests
    staged = pipeline.s3.get_object(Bucket=BUCKET, Key=f"staged/{client_token_for(new)}.jsonl")["Body"].read()
    assert b"g-new" in staged
    assert request["InputFileUri"].endswith(f"/staged/{client_token_for(new)}.jsonl")
    assert pipeline.metrics["InputFileSuperseded"] == 1


def test_a_deleted_file_is_superseded(pipeline: Pipeline) -> None:
    ref = pipeline.upload("incoming/gone.jsonl", valid_file())
    pipeline.s3.delete_object(Bucket=BUCKET, Key="incoming/gone.jsonl")
    assert pipeline.deliver_ref(ref).outcome is Outcome.SUPERSEDED


def test_a_file_uploaded_while_another_deployment_runs_is_queued_then_started(pipeline: Pipeline) -> None:
    foreign = pipeline.greengrass.run_foreign_deployment()
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    result = pipeline.deliver_ref(ref)

    assert result.outcome is Outcome.QUEUED
    assert result.dispatch is not None and result.dispatch.result is DispatchResult.BUSY
    file = pipeline.ledger.get(client_token_for(ref))
    assert file is not None and file.state is FileState.QUEUED
    assert pipeline.metrics["WaitingForPreviousBulkDeployment"] == 1
    assert pipeline.slot.get().holder is None, "a busy dispatcher gives the slot back"

    pipeline.greengrass.finish(foreign.id)
    outcome = pipeline.dispatcher().dispatch()
    assert outcome.result is DispatchResult.STARTED
    assert outcome.token == client_token_for(ref)
    assert pipeline.greengrass.started_per_token()[client_token_for(ref)] == 1


def test_files_queue_behind_our_running_deployment_and_start_in_arrival_order(pipeline: Pipeline) -> None:
    refs = [pipeline.upload(f"incoming/file-{i}.jsonl", valid_file(f"g-{i}")) for i in range(3)]
    results = [pipeline.deliver_ref(ref) for ref in refs]
    assert [r.dispatch.result for r in results if r.dispatch] == [
        DispatchResult.STARTED,
        DispatchResult.SLOT_TAKEN,
        DispatchResult.SLOT_TAKEN,
    ]
    started_order = [client_token_for(refs[0])]
    for _ in range(2):
        # What the tracker does at a terminal state: release the file's hold, then dispatch.
        running = pipeline.greengrass.deployments[-1]
        pipeline.greengrass.finish(running.id)
        slot = pipeline.slot.get()
        assert slot.holder is None and slot.tokens == [started_order[-1]]
        assert pipeline.slot.release_file(started_order[-1])
        outcome = pipeline.dispatcher().dispatch()
        assert outcome.result is DispatchResult.STARTED
        started_order.append(str(outcome.token))
    assert started_order == [client_token_for(r) for r in refs]
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 3


@pytest.mark.parametrize(
    "key",
    ["incoming/red flower.jsonl", "incoming/a+b.jsonl", "incoming/100%.jsonl", "incoming/für ü/ñ 💡.jsonl"],
)
@pytest.mark.parametrize("shape", ["classic", "eventbridge-raw", "eventbridge-encoded"])
def test_keys_with_special_characters_resolve_to_the_real_key(
    pipeline: Pipeline, key: str, shape: str
) -> None:
    from urllib.parse import quote_plus

    ref = pipeline.upload(key, valid_file())
    if shape == "classic":
        body = classic_body(ref)
    elif shape == "eventbridge-raw":
        body = eventbridge_body(ref)
    else:
        body = eventbridge_body(ref, key=quote_plus(key, safe="/"))
    (result,) = pipeline.deliver(body)
    assert result.outcome is Outcome.QUEUED
    assert result.token == client_token_for(ref)
    file = pipeline.ledger.get(client_token_for(ref))
    assert file is not None and file.ref.key == key


def test_multipart_upload_etag(pipeline: Pipeline) -> None:
    part = valid_file(*(f"group-{i:05d}" for i in range(80_000)))
    first, rest = part[: 5 * 1024 * 1024 + 100], part[5 * 1024 * 1024 + 100 :]
    upload = pipeline.s3.create_multipart_upload(Bucket=BUCKET, Key="incoming/big.jsonl")
    etags = [
        pipeline.s3.upload_part(
            Bucket=BUCKET, Key="incoming/big.jsonl", UploadId=upload["UploadId"], PartNumber=n, Body=chunk
        )["ETag"]
        for n, chunk in ((1, first), (2, rest))
    ]
    done = pipeline.s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="incoming/big.jsonl",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )
    assert done["ETag"].strip('"').endswith("-2")
    from bulk_deployer.objectref import ObjectRef

    ref = ObjectRef(
        BUCKET, "incoming/big.jsonl", etag=done["ETag"].strip('"'), version_id=done.get("VersionId")
    )
    result = pipeline.deliver_ref(ref)
    assert result.outcome is Outcome.QUEUED
    file = pipeline.ledger.get(client_token_for(ref))
    assert file is not None and file.records == 80_000


def test_unversioned_bucket_with_null_version_id(pipeline: Pipeline) -> None:
    pipeline.s3.create_bucket(Bucket="plain-bucket")
    response = pipeline.s3.put_object(Bucket="plain-bucket", Key="incoming/a.jsonl", Body=valid_file())
    from bulk_deployer.objectref import ObjectRef

    ref = ObjectRef("plain-bucket", "incoming/a.jsonl", etag=response["ETag"].strip('"'), version_id="null")
    assert pipeline.deliver_ref(ref).outcome is Outcome.QUEUED
    same = ObjectRef("plain-bucket", "incoming/a.jsonl", etag=response["ETag"], version_id=None)
    assert pipeline.deliver_ref(same, shape="classic").outcome is Outcome.DUPLICATE


def test_test_events_keys_outside_the_prefix_and_folder_markers_are_acknowledged(pipeline: Pipeline) -> None:
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert [r.outcome for r in pipeline.deliver(test_event)] == [Outcome.IGNORED]
    for key in ["elsewhere/a.jsonl", "incoming/", "incoming/folder/", f"reports/{'0' * 64}/rejected.json"]:
        ref = pipeline.upload(key, valid_file())
        assert pipeline.deliver_ref(ref).outcome is Outcome.IGNORED, key
    assert pipeline.ledger.waiting() == []
    assert sum(pipeline.greengrass.calls.values()) == 0


def test_a_file_of_100_mb_or_more_is_rejected_without_reading_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(V1FileValidator, "max_file_bytes", 100)
    ref = pipeline.upload("incoming/huge.jsonl", valid_file("a", "b", "c"))
    result = pipeline.deliver_ref(ref)
    assert result.outcome is Outcome.REJECTED
    assert pipeline.s3_calls["GetObject"] == 0
    report = json.loads(
        pipeline.s3.get_object(Bucket=BUCKET, Key=f"reports/{result.token}/rejected.json")["Body"].read()
    )
    assert [e["code"] for e in report["errors"]] == ["file_too_large"]


def test_a_file_encrypted_with_sse_kms_is_rejected_with_a_clear_reason(pipeline: Pipeline) -> None:
    ref = pipeline.upload("incoming/kms.jsonl", valid_file(), ServerSideEncryption="aws:kms")
    result = pipeline.deliver_ref(ref)
    assert result.outcome is Outcome.REJECTED
    report = json.loads(
        pipeline.s3.get_object(Bucket=BUCKET, Key=f"reports/{result.token}/rejected.json")["Body"].read()
    )
    assert report["errors"][0]["code"] == "unsupported_encryption"
    assert "SSE-KMS" in report["errors"][0]["message"]


def test_groups_outside_the_stacks_allow_list_reject_the_file_before_anything_starts(
    pipeline: Pipeline,
) -> None:
    from dataclasses import replace

    from tests.integration.conftest import make_intake

    settings = replace(pipeline.settings, deployable_group_ids=frozenset({"g-1"}))
    intake = make_intake(pipeline.s3, pipeline.ledger, pipeline.greengrass, settings, pipeline.metrics)
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file("g-1", "g-intruder"))
    (result,) = intake.handle_message(eventbridge_body(ref), Arrival("1"))
    assert result.outcome is Outcome.REJECTED
    report = json.loads(
        pipeline.s3.get_object(Bucket=BUCKET, Key=f"reports/{result.token}/rejected.json")["Body"].read()
    )
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "group_not_allowed")]
    assert pipeline.greengrass.calls["StartBulkDeployment"] == 0


def test_a_duplicate_of_a_key_with_one_spelling_is_one_dynamodb_write_and_nothing_else(
    pipeline: Pipeline,
) -> None:
    """The promise of the README: a duplicate costs one conditional write, no read."""
    ref = pipeline.upload("incoming/plain.jsonl", valid_file())
    pipeline.deliver_ref(ref)
    calls: list[str] = []
    pipeline.dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    s3_before = pipeline.s3_reads()
    assert pipeline.deliver_ref(ref).outcome is Outcome.DUPLICATE
    assert calls == ["PutItem"]
    assert pipeline.s3_reads() == s3_before


def test_intake_validates_with_the_deployers_file_validator_that_wiring_gives_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seam: intake knows only a FileValidator; which rules it holds is wiring's choice."""
    from tests.integration.conftest import make_intake
    from tests.unit.test_validation_framing import ToyValidator

    monkeypatch.setattr(wiring, "V1FileValidator", lambda _allowed: ToyValidator())
    intake = make_intake(
        pipeline.s3, pipeline.ledger, pipeline.greengrass, pipeline.settings, pipeline.metrics
    )
    ref = pipeline.upload(
        "incoming/fleet.jsonl", valid_file("g-1")
    )  # a valid V1 file, too long a line for the toy
    (result,) = intake.handle_message(eventbridge_body(ref), Arrival("1"))
    assert result.outcome is Outcome.REJECTED
    report = json.loads(
        pipeline.s3.get_object(Bucket=BUCKET, Key=f"reports/{result.token}/rejected.json")["Body"].read()
    )
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (None, "toy_summary"),
        (1, "line_too_long"),
    ]


def test_a_valid_files_targets_are_frozen_into_its_start_request(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a file of per-target deployments holds is known at dispatch without reading it again."""
    from bulk_deployer.deployers.greengrass_v2.validation import V2FileValidator

    from tests.deployers.greengrass_v2.lines import STACK, encoded, group_arn, minimal, thing_arn
    from tests.integration.conftest import make_intake

    class TargetRequests:
        def build(
            self, bucket: str, staged_key: str, tags: Mapping[str, str], targets: tuple[str, ...] = ()
        ) -> StartRequest:
            return StartRequest("", f"s3://{bucket}/{staged_key}", tags, targets)

    monkeypatch.setattr(wiring, "V1FileValidator", lambda _allowed: V2FileValidator(STACK))
    monkeypatch.setattr(wiring, "V1StartRequests", lambda _role, _region: TargetRequests())
    intake = make_intake(
        pipeline.s3, pipeline.ledger, pipeline.greengrass, pipeline.settings, pipeline.metrics
    )
    arns = (group_arn("fleet-eu"), thing_arn("core-7"))
    ref = pipeline.upload("incoming/v2.jsonl", encoded(*(minimal(arn) for arn in arns)))
    (result,) = intake.handle_message(eventbridge_body(ref), Arrival("1"))
    assert result.outcome is Outcome.QUEUED
    file = pipeline.ledger.get(result.token)
    assert file is not None and file.start_request is not None
    assert file.start_request.targets == arns
