"""Starting a file's deployments: one CreateDeployment per target, each exactly once.

For each line of the staged file, in order: the target's current deployment is read and saved
(the report shows what was replaced; a rollback redeploys it), a thing group's members are
recorded, the target's record is written CREATING, and only then is CreateDeployment called
with the target's client token; the record becomes STARTED with the answer. A record found
CREATING on a later start means the call may have been made: the deployment is looked for by
its token tag first (the service forgets client tokens after 8 hours; tags stay), and only if
none is found is it created, with the same token and the same request.

Conflicts, requests already in progress and throttling (what botocore's own retries left) are
retried here with backoff for as long as the time budget allows; then ``StartIncomplete``. A
refusal no retry can fix is ``StartRejected``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.exceptions import ClientError

from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.base import StartIncomplete, StartRejected, StartRequest
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


@dataclass(frozen=True)
class StartSettings:
    """``time_left``: seconds left to the caller (Lambda's remaining time); a target is started
    only while more than ``margin_seconds`` are left."""

    time_left: Callable[[], float]
    margin_seconds: float = 30.0
    reports_prefix: str = "reports/"
    default_timeout_minutes: int = 60
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 10.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


class TargetStarter:
    def __init__(
        self, gg: Any, s3: Any, ledger: TargetLedger, members: GroupMembers, settings: StartSettings
    ) -> None:
        self._gg = gg
        self._s3 = s3
        self._ledger = ledger
        self._members = members
        self._settings = settings

    def start_all(self, file_token: str, request: StartRequest, count: int) -> None:
        """Start every target not STARTED yet; raises StartIncomplete when time runs out."""
        records = self._ledger.records(file_token, count)
        if len(records) == count and all(r.state is TargetState.STARTED for r in records.values()):
            return
        bucket, key = staged_object(request.input_file_uri)
        keys = FileKeys(self._settings.reports_prefix, file_token)
        lines = 0
        for index, line in enumerate(self._lines(bucket, key)):
            lines = index + 1
            record = records.get(index)
            if record is not None and record.state is TargetState.STARTED:
                continue
            self._check_time(f"{index} of {count} targets started")
            if index >= count or line.get("targetArn") != request.targets[index]:
                raise StartRejected(
                    "StagedFileChanged",
                    f"line {index + 1} of the staged file deploys to {line.get('targetArn')!r}; the "
                    f"start request names {count} targets, not this one",
                )
            self._start_target(file_token, index, line, record, bucket, keys, request.tags)
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
        self,
        file_token: str,
        index: int,
        line: Mapping[str, Any],
        record: TargetRecord | None,
        bucket: str,
        keys: FileKeys,
        file_tags: Mapping[str, str],
    ) -> None:
        target = parse_target(str(line["targetArn"]))
        target_token = target_token_for(file_token, target.arn)
        found: dict[str, Any] | None = None
        if record is None:
            replaced = self._current(target.arn)
            self._put_json(bucket, keys.replaced(index), replaced)
            members = self._members.record(target.name, bucket, keys.members(index)) if target.is_group else 1
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
        deployment = found or self._describe(self._create(plan.request)["deploymentId"])
        started_at = epoch_seconds(deployment.get("creationTimestamp")) or self._settings.clock()
        rollout_seconds = 60.0 * record.members / rollout_per_minute(line)
        timeout = job_timeout_minutes(line) or self._settings.default_timeout_minutes
        self._ledger.mark_started(
            file_token,
            index,
            {
                "deployment_id": deployment["deploymentId"],
                "iot_job_id": deployment.get("iotJobId"),
                "iot_job_arn": deployment.get("iotJobArn"),
                "revision_id": deployment.get("revisionId"),
                "started_at": started_at,
                "deadline_at": started_at + rollout_seconds + 60.0 * timeout,
            },
        )

    def _current(self, target_arn: str) -> dict[str, Any] | None:
        """The target's latest deployment (its whole spec), or None for a target never deployed."""
        listed = self._gg.list_deployments(targetArn=target_arn, historyFilter="LATEST_ONLY", maxResults=1)
        for summary in listed.get("deployments") or []:
            return self._describe(summary["deploymentId"])
        return None

    def _describe(self, deployment_id: str) -> dict[str, Any]:
        answer = dict(self._gg.get_deployment(deploymentId=deployment_id))
        answer.pop("ResponseMetadata", None)
        answer["deploymentId"] = deployment_id
        return answer

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
                deployment = self._describe(summary["deploymentId"])
                if (deployment.get("tags") or {}).get(TOKEN_TAG) == target_token:
                    return deployment
                looked += 1
                if looked >= _MAX_LOOKUPS:
                    return None
            if not answer.get("nextToken"):
                return None
            kwargs["nextToken"] = answer["nextToken"]
        return None

    def _create(self, request: Mapping[str, Any]) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return dict(self._gg.create_deployment(**request))
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = str(error.get("Code", ""))
                if code in REJECTION_CODES:
                    raise StartRejected(code, str(error.get("Message", ""))) from exc
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
