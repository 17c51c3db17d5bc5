"""A thing group's members at start, and its deployment's job executions, read a page at a time.

A thing-group deployment never finishes by itself (it stays ACTIVE: devices that join later get
it too), so "done" is decided against the members recorded when it started. Members are listed
recursively (ListThingsInThingGroup, 250 a page) into ``members/<index>.txt``, one thing name a
line; executions come from ListJobExecutionsForJob, 250 a page: about 1/250 of a call per
device, never one call per device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bulk_deployer.deployers.greengrass_v2.line_upload import LineUpload
from bulk_deployer.timefmt import iso_of, iso_utc

PAGE = 250  # the most both IoT list operations return


@dataclass(frozen=True)
class ExecutionSummary:
    thing_name: str
    status: str
    last_update: str | None


def iso_time(value: Any) -> str | None:
    """A timestamp of an answer in the ledger's spelling (botocore parses them to datetimes)."""
    if value is None:
        return None
    return iso_of(value) if isinstance(value, datetime) else iso_utc(float(value))


def epoch_seconds(value: Any) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def json_default(value: Any) -> str:
    """For json.dumps of answers: their timestamps in the ledger's spelling."""
    if isinstance(value, datetime):
        return iso_of(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class GroupMembers:
    """Records and reads members (S3) and lists a job's executions (IoT)."""

    def __init__(self, iot: Any, s3: Any) -> None:
        self._iot = iot
        self._s3 = s3

    def record(self, group_name: str, bucket: str, key: str) -> int:
        """List the group's members recursively into ``key``, streamed; returns how many there are."""
        count = 0
        kwargs: dict[str, Any] = {"thingGroupName": group_name, "recursive": True, "maxResults": PAGE}
        with LineUpload(self._s3, bucket, key, content_type="text/plain") as out:
            while True:
                answer = self._iot.list_things_in_thing_group(**kwargs)
                for name in answer.get("things") or []:
                    out.write(name.encode() + b"\n")
                    count += 1
                token = answer.get("nextToken")
                if not token:
                    return count
                kwargs["nextToken"] = token

    def read(self, bucket: str, key: str) -> Iterator[str]:
        """The recorded member names, streamed line by line."""
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        for line in body.iter_lines():
            if line:
                yield line.decode()

    def executions(self, job_id: str) -> Iterator[ExecutionSummary]:
        kwargs: dict[str, Any] = {"jobId": job_id, "maxResults": PAGE}
        while True:
            answer = self._iot.list_job_executions_for_job(**kwargs)
            for entry in answer.get("executionSummaries") or []:
                summary = entry.get("jobExecutionSummary") or {}
                yield ExecutionSummary(
                    thing_name=str(entry.get("thingArn", "")).rsplit("/", 1)[-1],
                    status=str(summary.get("status", "")),
                    last_update=iso_time(summary.get("lastUpdatedAt")),
                )
            token = answer.get("nextToken")
            if not token:
                return
            kwargs["nextToken"] = token
