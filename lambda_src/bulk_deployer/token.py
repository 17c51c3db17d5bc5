"""The client token: a stable, documented contract between S3 objects and bulk deployments.

``sha256(bucket "\\n" key "\\n" version_id "\\n" etag)`` in lowercase hex (64 ASCII
characters, the limit of ``X-Amzn-Client-Token``). The same object version always yields
the same token, so a duplicate or late event can never start a second bulk deployment.
"""

from __future__ import annotations

import hashlib

from bulk_deployer.objectref import ObjectRef


def normalize_etag(etag: str) -> str:
    """ETags are quoted in API responses and bare in events; compare them bare and lowercase."""
    return etag.strip().strip('"').lower()


def normalize_version_id(version_id: str | None) -> str:
    """An unversioned bucket reports no version or the literal "null": both mean the same."""
    if version_id is None or version_id == "null":
        return ""
    return version_id


def client_token_for(ref: ObjectRef) -> str:
    material = "\n".join(
        (ref.bucket, ref.key, normalize_version_id(ref.version_id), normalize_etag(ref.etag))
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
