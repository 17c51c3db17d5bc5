"""The bad-input corpus: every file in tests/data/input_files and every message in
tests/data/events against its expected outcome in the manifest next to it.

Input files go through ``bulk_deployer.deployers.greengrass_v1.validation.validate_path`` (and the independent
reference checker, and several chunk sizes); messages through
``bulk_deployer.events.parse_message_body`` and the starter's prefix rule; a few of each
through the CLI (``validate --json``, ``inspect-event``).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bulk_deployer.deployers.greengrass_v1.validation import MAX_FILE_BYTES, validate_bytes, validate_path
from bulk_deployer.events import EventObject, UnreadableMessage, parse_message_body
from bulk_deployer.intake import InputFileIntake, Outcome
from bulk_deployer.ledger_model import Arrival
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.token import client_token_for
from bulk_deployer.validation import ValidationResult
from bulk_deployer_cli.main import main

from tests.reference_checker import line_errors

DATA = Path(__file__).parent.parent / "data"
INPUTS = DATA / "input_files"
EVENTS = DATA / "events"
INPUT_MANIFEST: dict[str, dict[str, Any]] = json.loads(
    (INPUTS / "expected.json").read_text(encoding="utf-8")
)["files"]
EVENT_MANIFEST: dict[str, dict[str, Any]] = json.loads(
    (EVENTS / "expected.json").read_text(encoding="utf-8")
)["events"]


def _cases(manifest: dict[str, dict[str, Any]]) -> list[Any]:
    """One parameter per entry; an entry with a known disagreement is a strict expected failure."""
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=entry["known_disagreement"], strict=True))
        if "known_disagreement" in entry
        else name
        for name, entry in sorted(manifest.items())
    ]


# ---------------------------------------------------------------- input files


def _validate(name: str, **kwargs: Any) -> ValidationResult:
    allowed = INPUT_MANIFEST[name].get("allowed_groups")
    return validate_path(INPUTS / name, allowed_groups=frozenset(allowed) if allowed else None, **kwargs)


def _outcome(result: ValidationResult) -> Any:
    return "valid" if result.valid else [[e.line, e.code] for e in result.errors]


def test_every_input_file_has_an_expected_outcome_and_there_are_enough() -> None:
    files = {p.name for p in INPUTS.iterdir() if p.name != "expected.json"}
    assert files == set(INPUT_MANIFEST)
    assert len(files) >= 30
    assert sum(entry["outcome"] == "valid" for entry in INPUT_MANIFEST.values()) >= 10
    codes = {
        code
        for entry in INPUT_MANIFEST.values()
        if entry["outcome"] != "valid"
        for _, code in entry["outcome"]
    }
    # Every code the validator gives from the bytes alone (the other two come from S3 metadata,
    # and file_too_large from the size: test_a_file_of_100_mb_is_refused_unread).
    assert codes >= {
        "empty_file",
        "invalid_encoding",
        "line_too_long",
        "blank_line",
        "stray_carriage_return",
        "invalid_json",
        "missing_group_id",
        "missing_group_version_id",
        "invalid_deployment_type",
        "duplicate_group",
        "group_not_allowed",
    }


@pytest.mark.parametrize("name", _cases(INPUT_MANIFEST))
def test_input_file_gets_its_expected_outcome(name: str) -> None:
    expected = INPUT_MANIFEST[name]
    result = _validate(name)
    assert (_outcome(result), result.records) == (expected["outcome"], expected["records"])
    assert result.error_count == expected.get("error_count", len(result.errors))
    assert result.bytes_read == (INPUTS / name).stat().st_size


@pytest.mark.parametrize("name", sorted(INPUT_MANIFEST))
def test_input_file_outcome_does_not_depend_on_chunk_boundaries(name: str) -> None:
    whole = _validate(name)
    size = (INPUTS / name).stat().st_size
    for chunk_size in (1, 7, 255, 1024) if size <= 20_000 else (255, 1024, 4099):
        assert _validate(name, chunk_size=chunk_size) == whole, chunk_size
    if "allowed_groups" not in INPUT_MANIFEST[name]:
        assert validate_bytes((INPUTS / name).read_bytes()) == whole


@pytest.mark.parametrize("name", sorted(INPUT_MANIFEST))
def test_input_file_agrees_with_the_reference_checker(name: str) -> None:
    entry = INPUT_MANIFEST[name]
    if "allowed_groups" in entry or "error_count" in entry or "known_disagreement" in entry:
        pytest.skip("the reference checker knows no allow-list and reports every error")
    found: dict[int, set[str]] = {}
    for error in _validate(name).errors:
        found.setdefault(error.line or 0, set()).add(error.code)
    assert found == line_errors((INPUTS / name).read_bytes())


def test_a_file_of_100_mb_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES)  # sparse: no disk used, nothing read
    result = validate_path(path)
    assert (_outcome(result), result.records, result.bytes_read) == ([[None, "file_too_large"]], 0, 0)


@pytest.mark.parametrize(
    "name",
    [
        "valid-single-record.jsonl",
        "valid-line-255-chars-multibyte.jsonl",
        "valid-line-255-utf16-units-emoji.jsonl",
        "bom-utf8.jsonl",
        "stray-cr-as-whitespace.jsonl",
        "line-256-utf16-units-emoji.jsonl",
        "utf16-le-with-bom.jsonl",
        "duplicate-groups.jsonl",
        "only-newlines.jsonl",
        "many-errors.jsonl",
    ],
)
def test_cli_validate_json_agrees_with_the_manifest(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = INPUT_MANIFEST[name]
    code = main(["validate", str(INPUTS / name), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == (0 if expected["outcome"] == "valid" else 1)
    assert report["valid"] is (expected["outcome"] == "valid")
    assert report["records"] == expected["records"]
    assert report["error_count"] == expected.get("error_count", len(report["errors"]))
    outcome = [[e["line"], e["code"]] for e in report["errors"]]
    assert (outcome or "valid") == expected["outcome"]


# ---------------------------------------------------------------- events

# The starter's prefix rule, used as the starter uses it; no AWS client is touched for a key
# outside the prefix.
_NONE: Any = None  # the prefix rule touches none of the intake's collaborators
INTAKE = InputFileIntake(
    SimpleNamespace(incoming_prefix="incoming/"),  # type: ignore[arg-type]
    _NONE,
    _NONE,
    _NONE,
    _NONE,
    _NONE,
    start_requests=_NONE,
    file_validator=_NONE,
)


def _in_scope(obj: EventObject) -> bool:
    alternative = obj.alternative_key
    return INTAKE._in_scope(obj.ref.key) or bool(alternative and INTAKE._in_scope(alternative))


def _parsed(body: str) -> Any:
    try:
        parsed = parse_message_body(body)
    except UnreadableMessage:
        return "unrecognized"
    if parsed.kind in ("ignored", "test"):
        assert parsed.objects == [] and parsed.note
        return parsed.kind
    return {
        "kind": parsed.kind,
        "objects": [
            {
                "bucket": obj.ref.bucket,
                "key": obj.ref.key,
                "etag": obj.ref.etag,
                "version_id": obj.ref.version_id,
                "size": obj.ref.size,
                "region": obj.ref.region,
                "alternative_key": obj.alternative_key,
                "in_scope": _in_scope(obj),
                "token": client_token_for(obj.ref),
            }
            for obj in parsed.objects
        ],
    }


def test_every_event_has_an_expected_result_and_there_are_enough() -> None:
    files = {p.name for p in EVENTS.iterdir() if p.name != "expected.json"}
    assert files == set(EVENT_MANIFEST)
    assert len(files) >= 15
    results = [entry["result"] for entry in EVENT_MANIFEST.values()]
    assert {"unrecognized", "ignored", "test"} <= {r for r in results if isinstance(r, str)}
    objects = [o for r in results if isinstance(r, dict) for o in r["objects"]]
    assert {True, False} == {o["in_scope"] for o in objects}


@pytest.mark.parametrize("name", _cases(EVENT_MANIFEST))
def test_event_gets_its_expected_result(name: str) -> None:
    assert _parsed((EVENTS / name).read_text(encoding="utf-8")) == EVENT_MANIFEST[name]["result"]


def test_the_token_ignores_etag_quotes_and_case() -> None:
    (obj,) = EVENT_MANIFEST["eventbridge-unversioned-quoted-etag.json"]["result"]["objects"]
    plain = ObjectRef(obj["bucket"], obj["key"], etag=obj["etag"].strip('"').lower(), version_id="")
    assert obj["token"] == client_token_for(plain)


def test_the_long_key_is_1000_bytes() -> None:
    (obj,) = EVENT_MANIFEST["eventbridge-key-1000-bytes.json"]["result"]["objects"]
    assert len(obj["key"].encode("utf-8")) == 1000


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, entry in EVENT_MANIFEST.items()
        if isinstance(entry["result"], dict) and not all(o["in_scope"] for o in entry["result"]["objects"])
    ),
)
def test_the_starter_ignores_objects_outside_the_prefix(name: str) -> None:
    parsed = parse_message_body((EVENTS / name).read_text(encoding="utf-8"))
    for obj in parsed.objects:
        if not _in_scope(obj):
            # No ledger, S3 or Greengrass is touched (INTAKE has none).
            assert INTAKE.handle_object(obj, Arrival("1")).outcome == Outcome.IGNORED


def _inspect(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = main(["inspect-event", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


@pytest.mark.parametrize(
    "name",
    [
        "eventbridge-key-unicode.json",
        "eventbridge-key-plus-and-percent-encoded.json",
        "s3-notification-key-form-encoded.json",
        "s3-notification-two-records-one-delete.json",
        "eventbridge-unversioned-quoted-etag.json",
    ],
)
def test_cli_inspect_event_names_the_same_objects_bare_and_sqs_wrapped(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    expected = [
        {key: o[key] for key in ("bucket", "key", "etag", "version_id", "size", "token")}
        for o in EVENT_MANIFEST[name]["result"]["objects"]
    ]
    body = (EVENTS / name).read_text(encoding="utf-8")
    wrapped = tmp_path / "sqs.json"
    wrapped.write_text(json.dumps({"Records": [{"eventSource": "aws:sqs", "body": body, "messageId": "1"}]}))
    alternatives = [o["alternative_key"] for o in EVENT_MANIFEST[name]["result"]["objects"]]
    for path in (EVENTS / name, wrapped):
        code, items, _ = _inspect([str(path)], capsys)
        assert code == 0
        answers = []
        for item, alternative in zip(items, alternatives, strict=True):
            # A key that may be form-encoded has no single answer offline: both candidates, marked.
            candidates = item.get("candidates") or [item]
            assert [c["key"] for c in candidates[1:]] == ([alternative] if alternative else [])
            assert all(c["input_file_uri"].endswith(f"/staged/{c['token']}.jsonl") for c in candidates)
            answers.append(item | {k: candidates[0][k] for k in ("key", "token")})
        assert [{key: item[key] for key in expected[0]} for item in answers] == expected


@pytest.mark.parametrize("name", ["eventbridge-object-deleted.json", "s3-notification-empty-records.json"])
def test_cli_inspect_event_prints_nothing_for_non_uploads(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _inspect([str(EVENTS / name)], capsys)[:2] == (0, [])


@pytest.mark.parametrize(
    "name", ["body-not-json.txt", "body-empty-object.json", "eventbridge-missing-etag.json"]
)
def test_cli_inspect_event_refuses_what_the_starter_cannot_parse(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _inspect([str(EVENTS / name)], capsys)
    assert code == 2
    assert err.startswith("bulk-deployer: ") and err.count("\n") == 1
