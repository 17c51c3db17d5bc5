"""Reports the operator reads in S3, next to the input: one prefix per token."""

from __future__ import annotations

import json
from typing import Any

from bulk_deployer.contract import FileOutcome, ReportFile
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.validation import ValidationResult


def rejection_report(ref: ObjectRef, token: str, result: ValidationResult) -> dict[str, Any]:
    return {
        "outcome": FileOutcome.REJECTED.value,
        "input": {
            "bucket": ref.bucket,
            "key": ref.key,
            "version_id": ref.version_id,
            "etag": ref.etag,
            "size": ref.size,
        },
        "token": token,
        "records": result.records,
        "error_count": result.error_count,
        "errors_shown": len(result.errors),
        "errors": [e.as_dict() for e in result.errors],
    }


class ReportStore:
    def __init__(self, client: Any, bucket_prefix: str) -> None:
        self._s3 = client
        self._prefix = bucket_prefix

    def key_for(self, token: str, name: ReportFile | str) -> str:
        """``name``: one of the files every report has, or a deployer's own (its rows' CSV)."""
        return f"{self._prefix}{token}/{name}"

    def put_json(self, bucket: str, token: str, name: ReportFile, document: dict[str, Any]) -> str:
        key = self.key_for(token, name)
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        return key
