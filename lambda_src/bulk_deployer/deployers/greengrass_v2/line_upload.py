"""Lines written to one S3 object as they come, in bounded memory.

A 100,000-device group's member list and device rows are several MB: they are written as a
multipart upload, a part whenever ``part_bytes`` have gathered (S3's minimum is 5 MiB), and as
one PutObject when they never reach it (the common case: one request).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

PART_BYTES = 8 * 1024 * 1024


class LineUpload:
    """``with LineUpload(s3, bucket, key) as out: out.write(b"...")``; aborted on an exception."""

    def __init__(
        self, s3: Any, bucket: str, key: str, *, content_type: str, part_bytes: int = PART_BYTES
    ) -> None:
        self._s3 = s3
        self._object = {"Bucket": bucket, "Key": key}
        self._content_type = content_type
        self._part_bytes = part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def __enter__(self) -> Self:
        return self

    def write(self, line: bytes) -> None:
        self._buffer += line
        if len(self._buffer) >= self._part_bytes:
            self._upload_part()

    def _upload_part(self) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(**self._object, ContentType=self._content_type)
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        answer = self._s3.upload_part(
            **self._object, UploadId=self._upload_id, PartNumber=number, Body=self._buffer
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        del self._buffer[:]

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            if self._upload_id is not None:
                self._s3.abort_multipart_upload(**self._object, UploadId=self._upload_id)
            return
        if self._upload_id is None:
            self._s3.put_object(**self._object, Body=self._buffer, ContentType=self._content_type)
            return
        if self._buffer:
            self._upload_part()
        self._s3.complete_multipart_upload(
            **self._object, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )
