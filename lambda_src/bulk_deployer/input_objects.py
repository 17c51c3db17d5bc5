"""S3 data access for input files: what is at a key now, its bytes, its tags, its staged copy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from bulk_deployer.objectref import ObjectRef
from bulk_deployer.token import normalize_etag, normalize_version_id

READ_CHUNK_BYTES = 1 << 20
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
# S3 answers 400 to a HEAD with a VersionId that cannot belong to the key.
_NOT_THIS_OBJECT = _NOT_FOUND | {"400", "InvalidArgument"}
_CHANGED = frozenset({"412", "PreconditionFailed"})


class ObjectChanged(Exception):
    """The version being read is no longer the one the event named (ETag mismatch or gone)."""


class ObjectUnreadable(Exception):
    """The object exists but this function may not read it (for example SSE-KMS without a grant)."""


class ObjectHead(NamedTuple):
    etag: str
    version_id: str | None
    size: int
    server_side_encryption: str | None

    def is_version_of(self, ref: ObjectRef) -> bool:
        if normalize_etag(self.etag) != normalize_etag(ref.etag):
            return False
        if ref.version_id is None:
            return True
        return normalize_version_id(self.version_id) == normalize_version_id(ref.version_id)

    def ref(self, bucket: str, key: str) -> ObjectRef:
        """This version as an S3 event names it (bare ETag), e.g. to redeliver its event."""
        etag = normalize_etag(self.etag)
        return ObjectRef(bucket, key, etag=etag, version_id=self.version_id, size=self.size)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class InputObjectStore:
    def __init__(self, client: Any) -> None:
        self._s3 = client

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectHead | None:
        """What is at the key (or that version of it) now; None when nothing is."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._s3.head_object(**kwargs)
        except ClientError as exc:
            if _code(exc) in (_NOT_THIS_OBJECT if version_id else _NOT_FOUND):
                return None
            raise
        if response.get("DeleteMarker"):
            return None
        return ObjectHead(
            etag=str(response["ETag"]),
            version_id=response.get("VersionId"),
            size=int(response.get("ContentLength", 0)),
            server_side_encryption=response.get("ServerSideEncryption"),
        )

    def chunks(self, ref: ObjectRef) -> Iterator[bytes]:
        """Exactly this version's bytes, streamed; ObjectChanged if it is not there any more."""
        kwargs: dict[str, Any] = {
            "Bucket": ref.bucket,
            "Key": ref.key,
            "IfMatch": f'"{normalize_etag(ref.etag)}"',
        }
        if ref.s3_version_id:
            kwargs["VersionId"] = ref.s3_version_id
        try:
            body = self._s3.get_object(**kwargs)["Body"]
        except ClientError as exc:
            self._raise_for(exc, ref)
            raise
        try:
            yield from body.iter_chunks(chunk_size=READ_CHUNK_BYTES)
        finally:
            body.close()

    def tags(self, ref: ObjectRef) -> dict[str, str]:
        kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.s3_version_id:
            kwargs["VersionId"] = ref.s3_version_id
        try:
            response = self._s3.get_object_tagging(**kwargs)
        except ClientError as exc:
            self._raise_for(exc, ref)
            raise
        return {str(t["Key"]): str(t["Value"]) for t in response.get("TagSet", [])}

    def stage(self, ref: ObjectRef, staged_key: str) -> None:
        """Server-side copy of exactly this version to an immutable key Greengrass will read.

        SSE-S3 is set explicitly (Greengrass cannot read SSE-KMS input files) and tags are
        not copied (the copy is an implementation detail, and copying them needs more IAM).
        """
        source: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.s3_version_id:
            source["VersionId"] = ref.s3_version_id
        try:
            self._s3.copy_object(
                Bucket=ref.bucket,
                Key=staged_key,
                CopySource=source,
                CopySourceIfMatch=f'"{normalize_etag(ref.etag)}"',
                ServerSideEncryption="AES256",
                MetadataDirective="REPLACE",
                ContentType="application/x-ndjson",
                TaggingDirective="REPLACE",
            )
        except ClientError as exc:
            self._raise_for(exc, ref)
            raise

    @staticmethod
    def _raise_for(exc: ClientError, ref: ObjectRef) -> None:
        code = _code(exc)
        if code in _CHANGED or code in _NOT_FOUND:
            raise ObjectChanged(f"s3://{ref.bucket}/{ref.key} changed while it was read ({code})") from exc
        if code in ("AccessDenied", "403", "KMS.DisabledException", "KMS.AccessDeniedException"):
            raise ObjectUnreadable(f"s3://{ref.bucket}/{ref.key} cannot be read: {exc}") from exc
