"""Reconciliation: input object versions with no ledger entry — the last line of defence against a lost event.

An input file is one *version* of an object: the same bytes uploaded again to the same key are
a new version with the same ETag, a new client token, and a file of their own. So current
versions are compared with the ledger by their identity (bucket, key, version id and ETag: the
client token), never by ETag alone; for an unversioned object (version ``null``) that identity
is the ETag. Noncurrent versions are not reported: the starter would find them superseded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.token import client_token_for, normalize_etag


@dataclass(frozen=True)
class UnprocessedObject:
    bucket: str
    key: str
    etag: str
    # "null" for an object uploaded while the bucket was unversioned.
    version_id: str
    size: int
    last_modified: datetime

    @property
    def ref(self) -> ObjectRef:
        """This version as an S3 event names it."""
        return ObjectRef(self.bucket, self.key, etag=self.etag, version_id=self.version_id, size=self.size)


class Reconciler:
    """Lists the input object versions under the incoming prefix that have no ledger entry."""

    def __init__(
        self,
        s3: Any,
        ledger: BulkDeploymentLedger,
        *,
        bucket: str,
        prefix: str,
        lookback_days: int,
        min_age_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.s3: Final = s3
        self.ledger: Final = ledger
        self.bucket: Final = bucket
        self.prefix: Final = prefix
        self.lookback_days: Final = lookback_days
        self.min_age_seconds: Final = min_age_seconds
        self.clock: Final = clock

    def unprocessed(self) -> list[UnprocessedObject]:
        """Current versions under the prefix, modified in the lookback window and older than a few
        minutes, that the ledger has no entry for (by client token: the version's identity)."""
        return [obj for obj in self._candidates() if self.ledger.get(client_token_for(obj.ref)) is None]

    def _candidates(self) -> Iterator[UnprocessedObject]:
        now, lookback_seconds = self.clock(), self.lookback_days * 86_400
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            # Delete markers are listed apart (DeleteMarkers): a deleted key has no current version here.
            for entry in page.get("Versions", []):
                key = str(entry["Key"])
                modified: datetime = entry["LastModified"]
                age = now - modified.timestamp()
                if not entry.get("IsLatest") or key.endswith("/"):
                    continue
                if age < self.min_age_seconds or age > lookback_seconds:
                    continue
                yield UnprocessedObject(
                    self.bucket,
                    key,
                    normalize_etag(str(entry["ETag"])),
                    str(entry.get("VersionId") or "null"),
                    int(entry.get("Size", 0)),
                    modified,
                )
