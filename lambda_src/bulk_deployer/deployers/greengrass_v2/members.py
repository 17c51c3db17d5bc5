"""A thing group's members at start, and its deployment's job executions, read a page at a time.

A thing-group deployment never finishes by itself (it stays ACTIVE: devices that join later get
it too), so "done" is decided against the members recorded when it started. Members are listed
recursively (ListThingsInThingGroup, 250 a page) into ``members/<index>.txt``, one thing name a
line; executions come from ListJobExecutionsForJob, 250 a page: about 1/250 of a call per
device, never one call per device.

Neither list is held in memory. The member list is read back from S3 line by line; a job's
executions are written a page at a time to an ``ExecutionIndex``, a SQLite file in the
function's local disk (/tmp), and looked up by thing name as the members stream by: a
100,000-device group costs a few MB of disk, not tens of MB of a 512 MB function.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bulk_deployer.deployers.greengrass_v2.line_upload import LineUpload
from bulk_deployer.timefmt import iso_of, iso_utc

PAGE = 250  # the most both IoT list operations return


_CACHE_KIB = 1024  # SQLite's page cache: the index's memory, whatever the group's size


@dataclass(frozen=True)
class ExecutionSummary:
    thing_name: str
    status: str
    last_update: str | None


class ExecutionIndex:
    """A job's executions and a target's members at start, joined on local disk.

    Why SQLite: a join of two unordered lists of 100,000 names (members, executions) needs one
    of them indexed; in memory that is tens of MB, on disk a bounded page cache, and the join
    runs in C. The file is deleted when the index is closed. ``with ExecutionIndex() as index:``
    Only plain SQL: Lambda's older Python runtimes linked SQLite 3.7 (no upsert, no JSON).
    """

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="executions-")
        self._db = sqlite3.connect(Path(self._directory.name) / "executions.db")
        self._db.executescript(
            f"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -{_CACHE_KIB};
            CREATE TABLE executions (thing TEXT PRIMARY KEY, status TEXT NOT NULL, last_update TEXT);
            CREATE TABLE members (thing TEXT NOT NULL);
            CREATE TABLE statuses (status TEXT PRIMARY KEY);
            """
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()

    def add_executions(self, page: list[ExecutionSummary]) -> None:
        """A page of executions; a thing listed again keeps its place and takes the later answer."""
        rows = [(e.status, e.last_update, e.thing_name) for e in page]
        # Not an upsert (SQLite 3.24) nor INSERT OR REPLACE (a new rowid: a new place).
        self._db.executemany("UPDATE executions SET status = ?, last_update = ? WHERE thing = ?", rows)
        self._db.executemany(
            "INSERT OR IGNORE INTO executions (status, last_update, thing) VALUES (?, ?, ?)", rows
        )

    def add_members(self, names: Iterable[str]) -> None:
        """The members recorded at start, in their order, ``PAGE`` names at a time."""
        batch = iter(names)
        while chunk := [(name,) for name in itertools.islice(batch, PAGE)]:
            self._db.executemany("INSERT INTO members (thing) VALUES (?)", chunk)
        self._db.execute("CREATE INDEX member_things ON members (thing)")

    def members_not_in(self, statuses: Collection[str]) -> int:
        """How many members have no execution, or one whose status is not one of ``statuses``."""
        self._db.execute("DELETE FROM statuses")
        self._db.executemany("INSERT OR IGNORE INTO statuses (status) VALUES (?)", [(s,) for s in statuses])
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM members LEFT JOIN executions USING (thing) WHERE executions.status "
            "IS NULL OR executions.status NOT IN (SELECT status FROM statuses)"
        ).fetchone()
        return int(count)

    def members(self) -> Iterator[tuple[str, ExecutionSummary | None]]:
        """Each member in recorded order with its execution (None: it has none)."""
        for thing, status, last_update in self._db.execute(
            "SELECT thing, executions.status, executions.last_update "
            "FROM members LEFT JOIN executions USING (thing) ORDER BY members.rowid"
        ):
            yield thing, (None if status is None else ExecutionSummary(thing, status, last_update))

    def joined_later(self) -> Iterator[ExecutionSummary]:
        """Executions of things that were not members, in the order they were listed."""
        for thing, status, last_update in self._db.execute(
            "SELECT thing, status, last_update FROM executions "
            "WHERE thing NOT IN (SELECT thing FROM members) ORDER BY rowid"
        ):
            yield ExecutionSummary(thing, status, last_update)


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
        self.pages_listed = 0  # ListJobExecutionsForJob calls made, for a caller's budget

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

    def index(self, job_id: str, members: Iterable[str]) -> ExecutionIndex:
        """A new index of every execution of the job (a page at a time) and of the target's
        members (streamed); the caller closes it."""
        index = ExecutionIndex()
        try:
            for page in self._execution_pages(job_id):
                index.add_executions(page)
            index.add_members(members)
        except BaseException:
            index.close()
            raise
        return index

    def _execution_pages(self, job_id: str) -> Iterator[list[ExecutionSummary]]:
        kwargs: dict[str, Any] = {"jobId": job_id, "maxResults": PAGE}
        while True:
            answer = self._iot.list_job_executions_for_job(**kwargs)
            self.pages_listed += 1
            yield [_summary(entry) for entry in answer.get("executionSummaries") or []]
            token = answer.get("nextToken")
            if not token:
                return
            kwargs["nextToken"] = token


def _summary(entry: dict[str, Any]) -> ExecutionSummary:
    """One entry of ListJobExecutionsForJob."""
    summary = entry.get("jobExecutionSummary") or {}
    return ExecutionSummary(
        thing_name=str(entry.get("thingArn", "")).rsplit("/", 1)[-1],
        status=str(summary.get("status", "")),
        last_update=iso_time(summary.get("lastUpdatedAt")),
    )
