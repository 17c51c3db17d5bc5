"""Starting a file's deployments: one CreateDeployment per target, each exactly once.

For each line of the staged file, in order: the target's current deployment is read and saved
(the report shows what was replaced; a rollback redeploys it), a thing group's members are
recorded, the target's record is written CREATING, and only then is CreateDeployment called
with the target's client token; the record becomes STARTED with the answer. A record found
CREATING on a later start means the call may have been made: the deployment is looked for by
its token tag first (the service forgets client tokens after 8 hours; tags stay), and only if
none is found is it created, with the same token and the same request.

Conflicts, requests already in progress and throttling (what botocore's own retries left) are
retried here with backoff for as long as the time budget allows; then ``StartIncomplete``, and
the next start resumes. A refusal no retry can fix (``REJECTION_CODES``, a thing group gone
since validation, a conflict still there ``conflict_refusal_seconds`` after the target's first
attempt, too many tags) is one target's: it is recorded REFUSED with its error and the file goes
on with its other targets, since those are independent deployments and the ones already started
run anyway. A REFUSED target is never asked again, by a resumed start either. Only a file whose
every target was refused is ``StartRejected``; its records are then dropped, so that a retry of
the refused file (the dispatch's, or the operator's resume once the cause is fixed) asks again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import orjson
from botocore.exceptions import ClientError

from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.base import StartIncomplete, StartRejected, StartRequest
from bulk_deployer.deployers.greengrass_v2 import report
from bulk_deployer.deployers.greengrass_v2.identity import (
    FileKeys,
    parse_target,
    staged_object,
    target_token_for,
)
from bulk_deployer.deployers.greengrass_v2.members import GroupMembers, epoch_seconds, json_default
from bulk_deployer.deployers.greengrass_v2.plan import job_timeout_minutes, plan_target, rollout_per_minute
from bulk_deployer.deployers.greengrass_v2.target_ledger import TargetLedger, TargetRecord, TargetState
from bulk_deployer.request_budget import THROTTLING_CODES

REJECTION_CODES = frozenset({"ValidationException", "AccessDeniedException", "ResourceNotFoundException"})
RETRIED_CODES = THROTTLING_CODES | {"ConflictException", "RequestAlreadyInProgressException"}
# A CREATING record's deployment is looked for among the target's deployments created since the
# record was written, less this margin (clocks differ), and among at most _MAX_LOOKUPS of them.
_LOOKUP_MARGIN_SECONDS = 300.0
_MAX_LOOKUPS = 50
_SHOWN_REFUSALS = 5  # refused targets named in the message of a file whose every target was refused


@dataclass(frozen=True)
class StartSettings:
    """``time_left``: seconds left to the caller (Lambda's remaining time); a target is started
    only while more than ``margin_seconds`` are left. ``conflict_refusal_seconds``: a target
    whose CreateDeployment still answers ConflictException this long after its first attempt
    (across resumed starts) is refused: a conflict that outlasts it is not another request's
    passing one, and retrying it for ever would hold the file STARTING."""

    time_left: Callable[[], float]
    margin_seconds: float = 30.0
    reports_prefix: str = "reports/"
    default_timeout_minutes: int = 60
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 10.0
    conflict_refusal_seconds: float = 900.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


class _FileStart(NamedTuple):
    """What every target's start of one file shares: the file, where its staged copy and its
    records in S3 are, and the tags every deployment of it carries."""

    token: str
    bucket: str
    keys: FileKeys
    tags: Mapping[str, str]


class TargetStarter:
    def __init__(
        self, gg: Any, s3: Any, ledger: TargetLedger, members: GroupMembers, settings: StartSettings
    ) -> None:
        self._gg = gg
        self._s3 = s3
        self._ledger = ledger
        self._members = members
        self._settings = settings

    def start_all(self, file_token: str, request: StartRequest, count: int) -> list[TargetRecord]:
        """Start every target not STARTED or REFUSED yet; the file's refused targets, in order.

        Raises StartIncomplete when time runs out, StartRejected when every target was refused.
        """
        records = self._ledger.records(file_token, count)
        done = {i: r for i, r in records.items() if r.state is not TargetState.CREATING}
        if len(done) < count:
            self._start_rest(file_token, request, count, records, done)
        refused = [done[i] for i in sorted(done) if done[i].state is TargetState.REFUSED]
        if len(refused) == count:
            self._ledger.forget_refused(file_token, [r.index for r in refused])
            raise _every_target_refused(refused)
        return refused

    def _start_rest(
        self,
        file_token: str,
        request: StartRequest,
        count: int,
        records: Mapping[int, TargetRecord],
        done: dict[int, TargetRecord],
    ) -> None:
        """Start the targets not in ``done``, adding each to it as it is STARTED or REFUSED."""
        bucket, key = staged_object(request.input_file_uri)
        keys = FileKeys(self._settings.reports_prefix, file_token)
        staging = _FileStart(file_token, bucket, keys, request.tags)
        lines = 0
        for index, line in enumerate(self._lines(bucket, key)):
            lines = index + 1
            if index in done:
                continue
            self._check_time(f"{index} of {count} targets started")
            if index >= count or line.get("targetArn") != request.targets[index]:
                raise StartRejected(
                    "StagedFileChanged",
                    f"line {index + 1} of the staged file deploys to {line.get('targetArn')!r}; the "
                    f"start request names {count} targets, not this one",
                )
            done[index] = self._start_target(staging, index, line, records.get(index))
        if lines != count:
            raise StartRejected(
                "StagedFileChanged",
                f"the staged file has {lines} lines; the start request names {count} targets",
            )

    def _lines(self, bucket: str, key: str) -> Iterator[dict[str, Any]]:
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StartRejected("StagedFileMissing", f"s3://{bucket}/{key} does not exist") from exc
            raise
        for raw in body.iter_lines():
            if raw.strip():
                yield orjson.loads(raw)

    def _check_time(self, progress: str) -> None:
        if self._settings.time_left() <= self._settings.margin_seconds:
            raise StartIncomplete(f"out of time: {progress}; the next start resumes")

    def _start_target(
        self, file: _FileStart, index: int, line: Mapping[str, Any], record: TargetRecord | None
    ) -> TargetRecord:
        """The target STARTED, or REFUSED with the error no retry fixes (recorded either way)."""
        file_token = file.token
        target = parse_target(str(line["targetArn"]))
        creating_at = record.creating_at if record is not None else self._settings.clock()
        try:
            return self._create_target(file, index, line, record)
        except StartRejected as refusal:
            refused = TargetRecord(
                index=index,
                target_arn=target.arn,
                target_token=target_token_for(file_token, target.arn),
                state=TargetState.REFUSED,
                creating_at=creating_at,
                error_code=refusal.code,
                error_message=refusal.message,
            )
            if not self._ledger.mark_refused(file_token, refused, report.TARGET_REFUSED):
                # Another start of this file STARTED it meanwhile: started it is.
                return replace(refused, state=TargetState.STARTED)
            return refused

    def _create_target(
        self, file: _FileStart, index: int, line: Mapping[str, Any], record: TargetRecord | None
    ) -> TargetRecord:
        file_token, bucket, keys, file_tags = file
        target = parse_target(str(line["targetArn"]))
        target_token = target_token_for(file_token, target.arn)
        found: dict[str, Any] | None = None
        if record is None:
            replaced = current_deployment(self._gg, target.arn)
            self._put_json(bucket, keys.replaced(index), replaced)
            members = self._group_members(target.name, bucket, keys.members(index)) if target.is_group else 1
            plan = plan_target(
                line, replaced, file_token=file_token, target_token=target_token, file_tags=file_tags
            )
            record = TargetRecord(
                index=index,
                target_arn=target.arn,
                target_token=target_token,
                state=TargetState.CREATING,
                creating_at=self._settings.clock(),
                replaced_deployment_id=(replaced or {}).get("deploymentId"),
                removed_components=plan.removed_components,
                mode=plan.mode.value,
                members=members,
            )
            self._ledger.put_creating(file_token, record)
        else:
            replaced = self._get_json(bucket, keys.replaced(index))
            plan = plan_target(
                line, replaced, file_token=file_token, target_token=target_token, file_tags=file_tags
            )
            found = self._find_by_tag(target.arn, target_token, since=record.creating_at)
        deployment = found or describe_deployment(
            self._gg, self._create(plan.request, record.creating_at)["deploymentId"]
        )
        started_at = epoch_seconds(deployment.get("creationTimestamp")) or self._settings.clock()
        rollout_seconds = 60.0 * record.members / rollout_per_minute(line)
        timeout = job_timeout_minutes(line) or self._settings.default_timeout_minutes
        started = {
            "deployment_id": deployment["deploymentId"],
            "iot_job_id": deployment.get("iotJobId"),
            "iot_job_arn": deployment.get("iotJobArn"),
            "revision_id": deployment.get("revisionId"),
            "started_at": started_at,
            "deadline_at": started_at + rollout_seconds + 60.0 * timeout,
        }
        self._ledger.mark_started(file_token, index, started)
        return replace(record, state=TargetState.STARTED, deployment_id=deployment["deploymentId"])

    def _group_members(self, group_name: str, bucket: str, key: str) -> int:
        """The group's members, recorded; a group deleted since validation refuses its target."""
        try:
            return self._members.record(group_name, bucket, key)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") != "ResourceNotFoundException":
                raise
            raise StartRejected(
                "ResourceNotFoundException", f"thing group {group_name}: {error.get('Message', '')}"
            ) from exc

    def _find_by_tag(self, target_arn: str, target_token: str, *, since: float) -> dict[str, Any] | None:
        """The target's deployment tagged with this token, newest first, back to ``since``."""
        kwargs: dict[str, Any] = {"targetArn": target_arn, "historyFilter": "ALL", "maxResults": 100}
        looked = 0
        while looked < _MAX_LOOKUPS:
            answer = self._gg.list_deployments(**kwargs)
            for summary in answer.get("deployments") or []:
                created = epoch_seconds(summary.get("creationTimestamp"))
                if created is not None and created < since - _LOOKUP_MARGIN_SECONDS:
                    return None
                deployment = describe_deployment(self._gg, summary["deploymentId"])
                if (deployment.get("tags") or {}).get(TOKEN_TAG) == target_token:
                    return deployment
                looked += 1
                if looked >= _MAX_LOOKUPS:
                    return None
            if not answer.get("nextToken"):
                return None
            kwargs["nextToken"] = answer["nextToken"]
        return None

    def _create(self, request: Mapping[str, Any], first_attempt_at: float) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return dict(self._gg.create_deployment(**request))
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = str(error.get("Code", ""))
                message = str(error.get("Message", ""))
                if code in REJECTION_CODES:
                    raise StartRejected(code, message) from exc
                conflicting = self._settings.clock() - first_attempt_at
                if code == "ConflictException" and conflicting >= self._settings.conflict_refusal_seconds:
                    raise StartRejected(
                        code, f"{message} (still conflicting {conflicting:.0f} s after the first attempt)"
                    ) from exc
                if code not in RETRIED_CODES:
                    raise
            wait = min(self._settings.backoff_base_seconds * 2**attempt, self._settings.backoff_max_seconds)
            attempt += 1
            if self._settings.time_left() - wait <= self._settings.margin_seconds:
                raise StartIncomplete(f"out of time retrying CreateDeployment for {request['targetArn']}")
            self._settings.sleep(wait)

    def _put_json(self, bucket: str, key: str, document: Any) -> None:
        body = json.dumps(document, default=json_default, sort_keys=True).encode()
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")

    def _get_json(self, bucket: str, key: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = json.loads(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return found


def current_deployment(gg: Any, target_arn: str) -> dict[str, Any] | None:
    """The target's latest deployment (its whole spec), or None for a target never deployed: what
    a start replaces, and what the CLI's make-input and plan start from."""
    deployment_id = latest_deployment_id(gg, target_arn)
    return None if deployment_id is None else describe_deployment(gg, deployment_id)


def latest_deployment_id(gg: Any, target_arn: str) -> str | None:
    """The id of the target's latest deployment (one ListDeployments call), None if never deployed."""
    listed = gg.list_deployments(targetArn=target_arn, historyFilter="LATEST_ONLY", maxResults=1)
    for summary in listed.get("deployments") or []:
        return str(summary["deploymentId"])
    return None


def describe_deployment(gg: Any, deployment_id: str) -> dict[str, Any]:
    """GetDeployment's answer, without botocore's metadata, with its id."""
    answer = dict(gg.get_deployment(deploymentId=deployment_id))
    answer.pop("ResponseMetadata", None)
    answer["deploymentId"] = deployment_id
    return answer


def _every_target_refused(refused: list[TargetRecord]) -> StartRejected:
    """The file's refusal when no target started: the service's own code when all share one."""
    codes = {str(r.error_code) for r in refused}
    code = codes.pop() if len(codes) == 1 else "TargetsRefused"
    if len(refused) == 1:
        return StartRejected(code, str(refused[0].error_message))
    shown = "; ".join(f"{r.target_arn}: {r.error_code}: {r.error_message}" for r in refused[:_SHOWN_REFUSALS])
    more = f"; and {len(refused) - _SHOWN_REFUSALS} more" if len(refused) > _SHOWN_REFUSALS else ""
    return StartRejected(code, f"every one of the {len(refused)} targets was refused: {shown}{more}")
