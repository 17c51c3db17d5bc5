"""Per-device rows of a file's deployments, paged for the report, and per-target summaries.

Each settled target's rows were written once, when it settled (``devices/<index>.jsonl``); a
page reads them from a byte offset with a ranged GET, so a 100,000-device group is never held
in memory and paging costs no Greengrass or IoT call. The page token is ``<index>:<offset>``.
A target that has not settled gives one ACTIVE row of its own (one not started, NOT_STARTED);
a target the service refused at start gives one REFUSED row with the error as its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from bulk_deployer.deployers.base import TargetResult
from bulk_deployer.deployers.greengrass_v2 import report
from bulk_deployer.deployers.greengrass_v2.identity import FileKeys, parse_target, staged_object
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger, TargetRecord, TargetState
from bulk_deployer.timefmt import iso_utc

_SUMMARY_BATCH = 100


def _result(row: dict[str, Any]) -> TargetResult:
    target = parse_target(str(row["target"]))
    name = str(row["thing_name"])
    status = str(row["status"])
    return TargetResult(
        target=target.thing_arn(name) if name else target.arn,
        status=status,
        outcome=report.device_outcome(status),
        row={column: row.get(column) for column in report.REPORT_COLUMNS},
    )


class DeviceResults:
    def __init__(self, s3: Any, ledger: TargetLedger, reports_prefix: str) -> None:
        self._s3 = s3
        self._ledger = ledger
        self._prefix = reports_prefix

    def page(
        self, file_token: str, *, next_token: str | None, page_size: int
    ) -> tuple[list[TargetResult], str | None]:
        head = self._ledger.head(file_token)
        if head is None:
            raise KeyError(f"no Greengrass V2 deployment for token {file_token}")
        bucket, _ = staged_object(head.input_file_uri)
        keys = FileKeys(self._prefix, file_token)
        index, offset = (int(part) for part in (next_token or "0:0").split(":", 1))
        page: list[TargetResult] = []
        while index < head.count and len(page) < page_size:
            record = self._ledger.records(file_token, index + 1, first=index).get(index)
            if record is not None and record.state is TargetState.REFUSED:
                page.append(_refused(record))
                index, offset = index + 1, 0
                continue
            if record is None or not record.settled:
                page.append(_unsettled(index, record))
                index, offset = index + 1, 0
                continue
            rows, offset, done = self._rows(bucket, keys.devices(index), offset, page_size - len(page))
            page += [_result(row) for row in rows]
            if done:
                index, offset = index + 1, 0
        return page, (f"{index}:{offset}" if index < head.count else None)

    def _rows(self, bucket: str, key: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        """Up to ``limit`` rows from byte ``offset``: (rows, the offset after them, read to the end)."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if offset:
            kwargs["Range"] = f"bytes={offset}-"
        answer = self._s3.get_object(**kwargs)
        size = int(answer.get("ContentLength", 0))
        body = answer["Body"]
        rows: list[dict[str, Any]] = []
        consumed = 0
        try:
            for line in body.iter_lines(keepends=True):
                if len(rows) >= limit:
                    break
                consumed += len(line)
                if line.strip():
                    rows.append(orjson.loads(line))
        finally:
            body.close()
        return rows, offset + consumed, consumed >= size

    def summaries(self, file_token: str) -> Iterator[dict[str, Any]]:
        head = self._ledger.head(file_token)
        if head is None:
            return
        for first in range(0, head.count, _SUMMARY_BATCH):
            records = self._ledger.records(file_token, min(head.count, first + _SUMMARY_BATCH), first=first)
            for index in range(first, min(head.count, first + _SUMMARY_BATCH)):
                yield _summary(index, records.get(index))


def _unsettled(index: int, record: TargetRecord | None) -> TargetResult:
    """The one row of a target asked for before it settled (the core asks only after)."""
    if record is not None and record.state is TargetState.STARTED:
        return _result(report.device_row(record.target_arn, "", report.ACTIVE))
    row = dict.fromkeys(report.REPORT_COLUMNS)
    row.update(status=report.NOT_STARTED, reason=f"target {index + 1} of the file has not been started")
    target = record.target_arn if record is not None else ""
    row["target"] = target or None
    outcome = report.device_outcome(report.NOT_STARTED)
    return TargetResult(target=target, status=report.NOT_STARTED, outcome=outcome, row=row)


def _refused(record: TargetRecord) -> TargetResult:
    """A refused target's one row: the thing's name for a thing target, none for a group."""
    target = parse_target(record.target_arn)
    row = report.device_row(record.target_arn, "" if target.is_group else target.name, report.REFUSED)
    row["reason"] = report.refusal_reason(record.error_code, record.error_message)
    return _result(row)


def _summary(index: int, record: TargetRecord | None) -> dict[str, Any]:
    if record is None:
        return {"index": index, "state": None}
    return {
        "index": index,
        "target": record.target_arn,
        "state": record.state.value,
        "deployment_id": record.deployment_id,
        "iot_job_id": record.iot_job_id,
        "revision_id": record.revision_id,
        "update_mode": record.mode,
        "replaced_deployment_id": record.replaced_deployment_id,
        "removed_components": list(record.removed_components),
        "members_at_start": record.members,
        "counts": dict(record.counts),
        "started_at": iso_utc(record.started_at) if record.started_at else None,
        "ended_at": iso_utc(record.ended_at) if record.ended_at else None,
        "outcome": record.outcome,
        "error_code": record.error_code,
        "error_message": record.error_message,
    }
