"""Reconciliation: input objects with no ledger entry — the last line of defence against a lost event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.token import normalize_etag


@dataclass(frozen=True)
class UnprocessedObject:
    bucket: str
    key: str
    etag: str
    size: int
    last_modified: datetime


class Reconciler:
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
        self._s3 = s3
        self._ledger = ledger
        self._bucket = bucket
        self._prefix = prefix
        self._lookback_seconds = lookback_days * 86_400
        self._min_age_seconds = min_age_seconds
        self._clock = clock

    def unprocessed(self) -> list[UnprocessedObject]:
        """Current objects under the prefix, modified in the lookback window and older than a few
        minutes, whose key has no ledger entry with the same ETag."""
        return [obj for obj in self._candidates() if not self._known(obj)]

    def _candidates(self) -> Iterator[UnprocessedObject]:
        now = self._clock()
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
            for entry in page.get("Contents", []):
                key = str(entry["Key"])
                modified: datetime = entry["LastModified"]
                age = now - modified.timestamp()
                if key.endswith("/") or age < self._min_age_seconds or age > self._lookback_seconds:
                    continue
                yield UnprocessedObject(
                    self._bucket, key, normalize_etag(str(entry["ETag"])), int(entry.get("Size", 0)), modified
                )

    def _known(self, obj: UnprocessedObject) -> bool:
        return any(
            normalize_etag(f.ref.etag) == obj.etag for f in self._ledger.files_for_key(obj.bucket, obj.key)
        )
