from __future__ import annotations

import hashlib
import re

from bulk_deployer.objectref import ObjectRef
from bulk_deployer.token import client_token_for
from hypothesis import given
from hypothesis import strategies as st


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_token_is_sha256_of_bucket_key_version_etag_joined_by_newlines() -> None:
    ref = ObjectRef("my-bucket", "incoming/fleet a.jsonl", etag="abc123", version_id="v1")
    assert client_token_for(ref) == sha("my-bucket\nincoming/fleet a.jsonl\nv1\nabc123")


def test_known_vector_is_stable_across_releases() -> None:
    # A fixed value: tokens already in ledgers and in Greengrass must never change meaning.
    ref = ObjectRef("b", "incoming/x.jsonl", etag="D41D8CD98F00B204E9800998ECF8427E", version_id=None)
    assert client_token_for(ref) == "96395e206548b214fcceeee19a6ee68454d48a052503b00782085f4a939b091d"


def test_missing_and_null_version_ids_are_the_same_empty_version() -> None:
    base = ObjectRef("b", "k", etag="e")
    assert client_token_for(base) == client_token_for(ObjectRef("b", "k", etag="e", version_id="null"))
    assert client_token_for(base) == sha("b\nk\n\ne")


def test_etag_quotes_and_case_do_not_matter() -> None:
    plain = ObjectRef("b", "k", etag="abcdef0123-4", version_id="v")
    quoted = ObjectRef("b", "k", etag='"ABCDEF0123-4"', version_id="v")
    assert client_token_for(plain) == client_token_for(quoted)


def test_every_part_of_the_identity_changes_the_token() -> None:
    base = ObjectRef("b", "k", etag="e", version_id="v")
    variants = [
        ObjectRef("b2", "k", etag="e", version_id="v"),
        ObjectRef("b", "k2", etag="e", version_id="v"),
        ObjectRef("b", "k", etag="e2", version_id="v"),
        ObjectRef("b", "k", etag="e", version_id="v2"),
    ]
    tokens = {client_token_for(base), *(client_token_for(v) for v in variants)}
    assert len(tokens) == 5


@given(
    bucket=st.text(min_size=1, max_size=63),
    key=st.text(min_size=1, max_size=300),
    etag=st.text(alphabet='0123456789abcdefABCDEF-"', min_size=1, max_size=40),
    version=st.none() | st.text(max_size=40),
)
def test_token_is_64_lowercase_hex_and_stable(bucket: str, key: str, etag: str, version: str | None) -> None:
    ref = ObjectRef(bucket, key, etag=etag, version_id=version)
    token = client_token_for(ref)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert token == client_token_for(ObjectRef(bucket, key, etag=etag, version_id=version))


def test_a_head_gives_the_reference_and_token_its_event_would() -> None:
    """HEAD answers a quoted ETag, events carry it bare: a redelivered event must keep the token."""
    from bulk_deployer.input_objects import ObjectHead

    head = ObjectHead(etag='"ABC123"', version_id="v1", size=42, server_side_encryption=None)
    from_event = ObjectRef("my-bucket", "incoming/a.jsonl", etag="abc123", version_id="v1", size=42)
    ref = head.ref("my-bucket", "incoming/a.jsonl")
    assert ref == from_event
    assert client_token_for(ref) == client_token_for(from_event)
    assert head.is_version_of(ref)
