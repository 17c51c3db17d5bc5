"""The identity of one uploaded input file: one version of one S3 object."""

from __future__ import annotations

from typing import NamedTuple


class ObjectRef(NamedTuple):
    """A NamedTuple, like the other small records a cold start defines: creating the class costs
    a fifth of a frozen dataclass on Python 3.11 (docs/performance.md, "Cold start")."""

    bucket: str
    key: str
    etag: str
    version_id: str | None = None
    size: int | None = None
    # Where the event came from, kept for logs and arrival order; not part of the identity.
    event_time: str | None = None
    region: str | None = None

    def with_key(self, key: str) -> ObjectRef:
        return self._replace(key=key)

    @property
    def s3_version_id(self) -> str | None:
        """The VersionId to pass to S3, or None for an unversioned object."""
        if self.version_id in (None, "", "null"):
            return None
        return self.version_id

    def log_keys(self) -> dict[str, object]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
        }
