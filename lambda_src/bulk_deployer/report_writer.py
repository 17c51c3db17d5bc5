"""A deployment's report, written across as many runs as it takes.

A 700,000-group V1 deployment yields ~200 MB of report: it is streamed into two S3 multipart
uploads (``report.json`` and the rows' CSV, ``groups.csv`` for V1) and never held in memory.
After each uploaded pair of parts the position (the next page token, the part list, the counts
so far) is checkpointed in the ledger, so a run cut off by Lambda's time limit loses at most the
pages since the last checkpoint, and the next run continues from there.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from typing import Any

import orjson

from bulk_deployer.deployers.base import TargetOutcome, TargetResult
from bulk_deployer.ledger_records import ReportProgress

PART_MIN_BYTES = 5 * 1024 * 1024  # S3's minimum size of every part but the last
SAMPLE_LIMIT = 100


class _Utf8Buffer:
    """A write(str) target for csv.writer that keeps UTF-8 bytes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, text: str) -> int:
        self.data += text.encode("utf-8")
        return len(text)


def _csv_cell(value: Any) -> Any:
    """Empty for nothing; lists and objects (error details) as JSON."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value) if value else ""
    return value


class ReportWriter:
    """Appends target results to the two multipart uploads; flushes both at the same page."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        json_key: str,
        csv_key: str,
        progress: ReportProgress,
        columns: tuple[str, ...],
        member: str,  # report.json's member holding the rows ("groups" for V1)
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.json_key = json_key
        self.csv_key = csv_key
        self.progress = progress
        self.columns = columns
        self.member = member
        # Bytes, not io.StringIO: a rewound StringIO keeps 4 bytes per character.
        self._json = bytearray()
        self._csv = _Utf8Buffer()
        self._csv_writer = csv.writer(self._csv, lineterminator="\n")
        self._pending_rows = 0
        self._pending_counts: dict[str, int] = {}
        self._pending_in_progress: list[str] = []
        self._pending_failed: list[str] = []
        self.read_all = False  # every page is in; complete() or abort() must follow in this run

    def begin(self, header: Mapping[str, Any]) -> None:
        """Open the uploads on a new pass; on a resumed pass, carry on where the last part ended."""
        if self.progress.json_upload_id is None:
            self.progress.json_upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket,
                Key=self.json_key,
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )["UploadId"]
            self.progress.csv_upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.csv_key, ContentType="text/csv", ServerSideEncryption="AES256"
            )["UploadId"]
            opening = json.dumps(dict(header), ensure_ascii=False)[:-1]
            self._json += f"{opening}, {json.dumps(self.member)}: [".encode()
            self._csv_writer.writerow(self.columns)

    def add_page(self, results: list[TargetResult], next_token: str | None) -> bool:
        """Add one page; returns True when the pending bytes were uploaded (a checkpoint is due)."""
        for result in results:
            self._json += b",\n" if self.progress.rows + self._pending_rows else b"\n"
            self._json += orjson.dumps(dict(result.row))
            self._csv_writer.writerow([_csv_cell(result.row.get(c)) for c in self.columns])
            self._pending_rows += 1
            self._pending_counts[result.status] = self._pending_counts.get(result.status, 0) + 1
            if result.outcome is TargetOutcome.PENDING:
                self._pending_in_progress.append(result.target)
            elif result.outcome is TargetOutcome.FAILED:
                self._pending_failed.append(result.target)
        if next_token is None:
            self._absorb(next_token)
            self.read_all = True
            return False
        if min(len(self._json), len(self._csv.data)) < PART_MIN_BYTES:
            return False
        self._upload_parts()
        self._absorb(next_token)
        return True

    def complete(self, footer: Mapping[str, Any]) -> None:
        closing = json.dumps(dict(footer), ensure_ascii=False)[1:]
        self._json += (f"\n], {closing}\n" if closing != "}" else "\n]}\n").encode()
        self._upload_parts()
        for key, upload_id, parts in (
            (self.json_key, self.progress.json_upload_id, self.progress.json_parts),
            (self.csv_key, self.progress.csv_upload_id, self.progress.csv_parts),
        ):
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )

    def abort(self) -> None:
        for key, upload_id in (
            (self.json_key, self.progress.json_upload_id),
            (self.csv_key, self.progress.csv_upload_id),
        ):
            if upload_id:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _upload_parts(self) -> None:
        for key, upload_id, parts, buffer in (
            (self.json_key, self.progress.json_upload_id, self.progress.json_parts, self._json),
            (self.csv_key, self.progress.csv_upload_id, self.progress.csv_parts, self._csv.data),
        ):
            number = len(parts) + 1
            response = self.s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=bytes(buffer),
            )
            parts.append({"PartNumber": number, "ETag": response["ETag"]})
            del buffer[:]

    def _absorb(self, next_token: str | None) -> None:
        """Move what is now uploaded (or read to the end) into the checkpointable progress."""
        progress = self.progress
        progress.next_token = next_token
        progress.rows += self._pending_rows
        for status, n in self._pending_counts.items():
            progress.counts[status] = progress.counts.get(status, 0) + n
        progress.in_progress = (progress.in_progress + self._pending_in_progress)[:SAMPLE_LIMIT]
        progress.failed = (progress.failed + self._pending_failed)[:SAMPLE_LIMIT]
        self._pending_rows = 0
        self._pending_counts = {}
        self._pending_in_progress = []
        self._pending_failed = []
