"""Why a finished file did not fully succeed, by line and group: failed group deployments, and
records Greengrass never deployed.

Why: a bulk deployment that ends ``Completed`` may still have left records undeployed — an
invalid record (a group that does not exist) counts only in ``InvalidInputRecords``, and a
stopped deployment leaves the rest of its file untouched — and its report then lists only the
groups it deployed. Comparing the file's lines with the report's rows names each of them, with
its line and group, for ``report`` and at the end of ``submit --wait``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.ledger_model import LedgerFile

from bulk_deployer_cli.rows import RowShape
from bulk_deployer_cli.stack import Target


@dataclass
class Problems:
    """The rows that did not succeed (a sample and the total) and the lines never deployed."""

    failed: list[dict[str, Any]] = field(default_factory=list)
    failed_total: int = 0
    not_deployed: list[dict[str, Any]] = field(default_factory=list)
    not_deployed_total: int = 0

    @property
    def any(self) -> bool:
        return bool(self.failed_total or self.not_deployed_total)

    def as_dict(self, member: str) -> dict[str, Any]:
        """For --json: ``member`` names the rows (``groups`` on V1, ``devices`` on V2)."""
        return {
            f"failed_{member}": self.failed,
            "failed_total": self.failed_total,
            "not_deployed": self.not_deployed,
            "not_deployed_total": self.not_deployed_total,
        }


def report_key(target: Target, file: LedgerFile, name: str) -> str:
    return f"{target.resources.reports_prefix}{file.token}/{name}"


def _report_rows(target: Target, file: LedgerFile, shape: RowShape) -> Iterator[dict[str, Any]] | None:
    """The report's CSV rows, streamed (a V2 report has a row per device: 100,000 of them)."""
    try:
        body = target.client("s3").get_object(
            Bucket=target.resources.bucket, Key=report_key(target, file, shape.rows.csv_name)
        )["Body"]
    except ClientError:
        return None
    return csv.DictReader(io.TextIOWrapper(body, encoding="utf-8"))


def _input_lines(target: Target, file: LedgerFile) -> list[tuple[int, dict[str, Any]]]:
    """The file's records with their line numbers: the staged copy, else the uploaded version."""
    s3 = target.client("s3")
    attempts: list[dict[str, Any]] = []
    if file.staged_key:
        attempts.append({"Bucket": file.ref.bucket, "Key": file.staged_key})
    original = {"Bucket": file.ref.bucket, "Key": file.ref.key}
    if file.ref.version_id:
        original["VersionId"] = file.ref.version_id
    attempts.append(original)
    for request in attempts:
        try:
            body = s3.get_object(**request)["Body"]
        except ClientError:
            continue
        return numbered_objects(io.TextIOWrapper(body, encoding="utf-8", errors="replace"))
    return []


def numbered_objects(lines: Iterable[str]) -> list[tuple[int, dict[str, Any]]]:
    """An input file's JSON-object lines with their numbers; other lines are the validator's to
    report, and are skipped here."""
    found = []
    for number, text in enumerate(lines, start=1):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append((number, value))
    return found


def _not_deployed_reason(file: LedgerFile, shape: RowShape) -> str:
    status = file.deployment_status or "?"
    metrics = dict(file.deployment.metrics) if file.deployment else {}
    invalid = int(metrics.get("InvalidInputRecords", 0))
    if status == shape.succeeded_status:
        return (
            f"not deployed: Greengrass counted {invalid} invalid input record(s) "
            "(a group or version that does not exist, or one the execution role may not deploy)"
        )
    return f"never deployed: the bulk deployment ended {status}"


def problems(target: Target, file: LedgerFile, shape: RowShape, limit: int) -> Problems:
    """What did not succeed in a finished file (``limit``: how many of each to name)."""
    found = Problems()
    rows = _report_rows(target, file, shape)
    if rows is None:
        return found
    failed: list[dict[str, Any]] = []  # the first ``limit``
    reported: set[str] = set()  # V1: every group the report has a row for
    for row in rows:
        if shape.failed(row):
            found.failed_total += 1
            if len(failed) < limit:
                failed.append(row)
        if shape.one_row_per_record:
            reported.add(str(row.get("group_id") or ""))
    if not shape.one_row_per_record:  # V2: devices, not lines
        found.failed = [shape.sample(row) for row in failed]
        return found
    lines = _input_lines(target, file)
    line_of = {str(record.get("GroupId")): number for number, record in lines}
    for row in failed:
        found.failed.append({"line": line_of.get(str(row.get("group_id") or "")), **shape.sample(row)})
    missing = [(n, r) for n, r in lines if str(r.get("GroupId")) not in reported]
    found.not_deployed_total = len(missing)
    reason = _not_deployed_reason(file, shape)
    found.not_deployed = [
        {"line": n, "group_id": r.get("GroupId"), "version_id": r.get("GroupVersionId"), "reason": reason}
        for n, r in missing[:limit]
    ]
    return found


def problem_lines(found: Problems, shape: RowShape) -> list[str]:
    """One line per problem, for people."""
    member = shape.rows.member
    lines: list[str] = []
    if found.failed_total:
        lines.append(f"failed {member} ({found.failed_total}):")
        for row in found.failed:
            where = f"line {row['line']}: " if row.get("line") else ""
            lines.append(f"  {where}{shape.line(row)}")
        if found.failed_total > len(found.failed):
            lines.append(f"  ... and {found.failed_total - len(found.failed)} more")
    if found.not_deployed_total:
        lines.append(f"records not deployed ({found.not_deployed_total}):")
        for row in found.not_deployed:
            lines.append(f"  line {row['line']}: group {row['group_id']}: {row['reason']}")
        if found.not_deployed_total > len(found.not_deployed):
            lines.append(f"  ... and {found.not_deployed_total - len(found.not_deployed)} more")
    return lines
