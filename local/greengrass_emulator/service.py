"""The bulk deployment service: the documented behaviour, as a state machine driven by time.

Why lazy, time-based: every status is computed from the clock (`advance(now)` performs whatever
was due since the last call), so it does not matter whether a background ticker, a request or a
test moved time forward; with a ManualClock a run is fully deterministic.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..emulator_kit.clock import Clock
from ..emulator_kit.service import EmulatedService
from .aws import AwsError, AwsStandIn
from .config import EmulatorConfig, Fault
from .input_file import InputFileError, check_line
from .loading import ROLE_ARN, LoadFailed, load_input_file, partition
from .model import NON_TERMINAL, BadRequest, BulkDeployment, Call, GroupDeployment, TokenEntry, iso
from .paging import page
from .policy import GREENGRASS_PRINCIPAL, is_allowed, trusts_service
from .s3_uri import InvalidUri, parse_input_file_uri

log = logging.getLogger(__name__)

MAX_RETRIES_PER_GROUP = 5  # "each group retried up to five times"
DEFAULT_ACCOUNT = "123456789012"  # moto's default account, when there is no AWS stand-in


class BulkDeploymentService(EmulatedService[EmulatorConfig, Fault, Call]):
    """All state behind one re-entrant lock; every public method first advances time."""

    def __init__(self, config: EmulatorConfig, clock: Clock, aws: AwsStandIn | None) -> None:
        super().__init__(config, clock)
        self.aws = aws
        self._account: str | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._bulk: dict[str, BulkDeployment] = {}
        self._tokens: dict[str, TokenEntry] = {}
        self._role_policies: dict[str, list[Any]] = {}
        self._by_deployment_id: dict[str, GroupDeployment] = {}
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._sequence = itertools.count(1)
        self._concurrency_rejections = 0

    # ------------------------------------------------------------------ identity
    @property
    def account_id(self) -> str:
        if self.config.account_id:
            return self.config.account_id
        if self._account is None:
            self._account = self.aws.account_id() if self.aws else DEFAULT_ACCOUNT
        return self._account

    def _arn_prefix(self) -> str:
        region = self.config.region
        return f"arn:{partition(region)}:greengrass:{region}:{self.account_id}:"

    # ------------------------------------------------------------------ StartBulkDeployment
    def start(
        self, token: str | None, role_arn: Any, input_uri: Any, tags: Any
    ) -> tuple[dict[str, str], BulkDeployment, bool]:
        """Returns (response, bulk deployment, created?)."""
        with self.lock:
            now = self.clock.now()
            self.advance(now)
            _check_start_input(token, role_arn, input_uri, tags)
            tags = dict(tags or {})
            params = (role_arn, input_uri, tuple(sorted(tags.items())))
            if token is not None:
                known = self._remembered(token, now)
                if known is not None:
                    if known.params != params:
                        raise BadRequest(
                            "The client token has already been used in a request with different parameters."
                        )
                    existing = self._bulk[known.bulk_id]
                    return _start_response(existing), existing, False
            try:
                location = parse_input_file_uri(input_uri)
            except InvalidUri as exc:
                raise BadRequest(str(exc)) from None
            bulk_id = str(uuid.uuid4())
            arn = f"{self._arn_prefix()}/greengrass/bulk/deployments/{bulk_id}"
            self._check_role(role_arn, arn)
            if any(b.status in NON_TERMINAL for b in self._bulk.values()):
                messages = self.config.concurrency_messages
                message = messages[self._concurrency_rejections % len(messages)]
                self._concurrency_rejections += 1
                raise BadRequest(message)
            bulk = BulkDeployment(
                bulk_id=bulk_id,
                arn=arn,
                token=token,
                role_arn=role_arn,
                input_uri=input_uri,
                bucket=location.bucket,
                key=location.key,
                tags=tags,
                created_at=now,
                sequence=next(self._sequence),
            )
            self._bulk[bulk_id] = bulk
            if token is not None:
                self._tokens[token] = TokenEntry(bulk_id, params, now)
            return _start_response(bulk), bulk, True

    def _remembered(self, token: str, now: float) -> TokenEntry | None:
        entry = self._tokens.get(token)
        ttl = self.config.token_ttl_seconds
        if entry is not None and ttl is not None and now - entry.remembered_at >= ttl:
            del self._tokens[token]
            return None
        return entry

    def _check_role(self, role_arn: str, bulk_arn: str) -> None:
        """The role must exist and trust greengrass.amazonaws.com (checked at start)."""
        match = ROLE_ARN.match(role_arn)
        if match is None:
            raise BadRequest(f"ExecutionRoleArn is not a valid IAM role ARN: {role_arn}")
        if self.aws is None:
            return
        cannot = f"Greengrass cannot assume the execution role {role_arn}"
        try:
            role = self.aws.get_role(match.group("name"), with_policies=False)
        except AwsError as exc:
            raise BadRequest(f"{cannot}: {exc.message}") from None
        if role.arn != role_arn:
            raise BadRequest(f"{cannot}: no such role")
        context = (
            {"aws:SourceAccount": self.account_id, "aws:SourceArn": bulk_arn}
            if self.config.trust_source_context
            else {}
        )
        if not trusts_service(role.trust_policy, GREENGRASS_PRINCIPAL, context):
            raise BadRequest(f"{cannot}: its trust policy does not allow {GREENGRASS_PRINCIPAL}")

    # ------------------------------------------------------------------ time
    def advance(self, now: float | None = None) -> None:
        """Perform everything that became due up to `now`."""
        with self.lock:
            now = self.clock.now() if now is None else now
            for bulk in sorted(self._bulk.values(), key=lambda b: b.sequence):
                if bulk.status in NON_TERMINAL:
                    self._advance_one(bulk, now)

    def _advance_one(self, bulk: BulkDeployment, now: float) -> None:
        cfg = self.config
        while True:
            if bulk.status == "Initializing":
                due = bulk.created_at + cfg.init_seconds
                if now < due:
                    return
                self._load(bulk, due)
            elif bulk.status == "Running":
                if not self._process_due(bulk, now):
                    return
            elif bulk.status == "Stopping":
                assert bulk.stop_requested_at is not None
                due = bulk.stop_requested_at + cfg.stop_seconds
                if now >= due:
                    self._end(bulk, "Stopped", due)
                return
            else:
                return

    def _load(self, bulk: BulkDeployment, at: float) -> None:
        """Initializing -> Running (file read and, by default, fully checked) or Failed."""
        try:
            loaded = load_input_file(self.config, self.aws, bulk)
        except LoadFailed as exc:
            self._end(bulk, "Failed", at, exc.message)
            return
        self._role_policies[bulk.bulk_id] = loaded.role_policies
        bulk.pending = loaded.lines
        bulk.status = "Running"
        bulk.run_started_at = at

    def _process_due(self, bulk: BulkDeployment, now: float) -> bool:
        """Process the records due by `now`; True when the status changed."""
        assert bulk.run_started_at is not None
        step = self.config.record_seconds
        while bulk.next_index < len(bulk.pending):
            due = bulk.run_started_at + (bulk.next_index + 1) * step
            if now < due:
                return False
            number, body = bulk.pending[bulk.next_index]
            bulk.next_index += 1
            try:
                record = check_line(number, body)
            except InputFileError as exc:  # only when lines are checked as they come
                self._end(bulk, "Failed", due, exc.message)
                return True
            self._deploy(bulk, record.line_number, record.group_id, record.group_version_id, due)
        done = bulk.run_started_at + len(bulk.pending) * step
        if now < done:
            return False
        self._end(bulk, "Completed", done)
        return True

    def _deploy(self, bulk: BulkDeployment, line: int, group_id: str, version_id: str, at: float) -> None:
        cfg = self.config
        bulk.records_processed += 1
        group_arn = f"{self._arn_prefix()}/greengrass/groups/{group_id}"
        entry = GroupDeployment(
            line_number=line,
            group_id=group_id,
            group_version_id=version_id,
            group_arn=group_arn,
            created_at=at,
            settle_at=at + cfg.settle_seconds,
            fails=group_id in cfg.failing_groups,
        )
        bulk.group_deployments.append(entry)
        throttles = cfg.retry_groups.get(group_id, 0)
        bulk.retry_attempts += min(throttles, MAX_RETRIES_PER_GROUP)
        error: str | None = None
        if throttles > MAX_RETRIES_PER_GROUP:
            error = f"TooManyRequestsException: gave up after {MAX_RETRIES_PER_GROUP} retries"
        elif cfg.check_role_permissions and not is_allowed(
            self._role_policies.get(bulk.bulk_id, []), "greengrass:CreateDeployment", group_arn
        ):
            error = f"The execution role may not greengrass:CreateDeployment on {group_arn}"
        elif self.aws is not None:
            try:
                created = self.aws.create_deployment(group_id, version_id)
            except AwsError as exc:
                error = f"{exc.code}: {exc.message}"
            else:
                entry.deployment_id = created.deployment_id
                entry.deployment_arn = created.deployment_arn
                self._by_deployment_id[created.deployment_id] = entry
        else:
            error = "No AWS stand-in configured"
        if error is not None:
            entry.error_message = error
            bulk.invalid_input_records += 1

    def _end(self, bulk: BulkDeployment, status: str, at: float, message: str | None = None) -> None:
        bulk.status = status
        bulk.ended_at = at
        if message is not None:
            bulk.error_message = message

    # ------------------------------------------------------------------ reads and stop
    def get(self, bulk_id: str) -> BulkDeployment:
        with self.lock:
            self.advance()
            bulk = self._bulk.get(bulk_id)
            if bulk is None:
                raise BadRequest(f"Bulk deployment {bulk_id} does not exist.")
            return bulk

    def status(self, bulk_id: str) -> dict[str, Any]:
        with self.lock:
            return self.get(bulk_id).status_response()

    def detailed_reports(
        self, bulk_id: str, max_results: str | None, next_token: str | None
    ) -> dict[str, Any]:
        with self.lock:
            bulk = self.get(bulk_id)
            now = self.clock.now()
            entries = [
                g for g in bulk.group_deployments if g.deployment_id or self.config.report_invalid_records
            ]
            page, token = self._page(entries, bulk_id, max_results, next_token)
            body: dict[str, Any] = {"Deployments": [g.report(now) for g in page]}
            if token:
                body["NextToken"] = token
            return body

    def list_bulk(self, max_results: str | None, next_token: str | None) -> dict[str, Any]:
        with self.lock:
            self.advance()
            newest_first = sorted(self._bulk.values(), key=lambda b: b.sequence, reverse=True)
            page, token = self._page(newest_first, "*", max_results, next_token)
            body: dict[str, Any] = {"BulkDeployments": [b.summary() for b in page]}
            if token:
                body["NextToken"] = token
            return body

    def stop(self, bulk_id: str) -> None:
        with self.lock:
            bulk = self.get(bulk_id)
            if bulk.status in ("Initializing", "Running"):
                bulk.status = "Stopping"
                bulk.stop_requested_at = self.clock.now()
            elif bulk.status != "Stopping":
                raise BadRequest(f"Bulk deployment {bulk_id} is {bulk.status} and cannot be stopped.")

    def group_deployment_status(self, group_id: str, deployment_id: str) -> dict[str, Any] | None:
        """GetDeploymentStatus for a deployment this emulator made; None: not ours (ask moto)."""
        with self.lock:
            self.advance()
            entry = self._by_deployment_id.get(deployment_id)
            if entry is None or entry.group_id != group_id:
                return None
            now = self.clock.now()
            status = entry.status(now)
            body: dict[str, Any] = {
                "DeploymentStatus": status,
                "DeploymentType": "NewDeployment",
                "UpdatedAt": iso(entry.created_at if status == "InProgress" else entry.settle_at),
            }
            message = entry.error(now)
            if message:
                body["ErrorMessage"] = message
                body["ErrorDetails"] = [{"DetailedErrorCode": "GG-EMULATOR", "DetailedErrorMessage": message}]
            return body

    def tags_for(self, arn: str) -> dict[str, Any] | None:
        with self.lock:
            for bulk in self._bulk.values():
                if bulk.arn == arn:
                    return {"tags": dict(bulk.tags)}
            return None

    def _page(
        self, items: list[Any], scope: str, max_results: str | None, next_token: str | None
    ) -> tuple[list[Any], str | None]:
        return page(
            items, scope, max_results, next_token, self.config.default_page_size, self.config.max_page_size
        )

    # ------------------------------------------------------------------ control surface
    def take_faults(self, operation: str) -> list[Fault]:
        """The faults that apply to this call (consumed): delays, then at most one failure."""
        with self.lock:
            chosen: list[Fault] = []
            failing = False
            for fault in self._faults:
                if not fault.matches(operation):
                    continue
                if fault.kind != "delay":
                    if failing:
                        continue
                    failing = True
                fault.consume()
                chosen.append(fault)
            self._drop_spent_faults()
            return chosen

    def record(self, call: Call) -> None:
        with self.lock:
            self._calls.append(call)

    def start_counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            starts = [c for c in self._calls if c.operation == "StartBulkDeployment"]
            return {
                "by_client_token": dict(Counter(c.client_token or "" for c in starts)),
                "by_input_uri": dict(Counter(c.input_uri or "" for c in starts)),
                "created_by_input_uri": dict(Counter(c.input_uri or "" for c in starts if c.created)),
            }

    def snapshots(
        self, input_uri: str | None = None, client_token: str | None = None
    ) -> list[dict[str, Any]]:
        with self.lock:
            self.advance()
            now = self.clock.now()
            return [
                b.snapshot(now)
                for b in sorted(self._bulk.values(), key=lambda b: b.sequence)
                if (input_uri is None or b.input_uri == input_uri)
                and (client_token is None or b.token == client_token)
            ]

    def forget_tokens(self) -> None:
        with self.lock:
            self._tokens.clear()

    def reset(self) -> None:
        with self.lock:
            self._reset_state()


def _check_start_input(token: str | None, role_arn: Any, input_uri: Any, tags: Any) -> None:
    if not isinstance(role_arn, str) or not role_arn:
        raise BadRequest("ExecutionRoleArn is required.")
    if not isinstance(input_uri, str) or not input_uri:
        raise BadRequest("InputFileUri is required.")
    if token is not None and (not token or len(token) > 64 or not token.isascii()):
        raise BadRequest("X-Amzn-Client-Token must be 1 to 64 ASCII characters.")
    if tags is not None and (
        not isinstance(tags, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
    ):
        raise BadRequest("tags must map strings to strings.")


def _start_response(bulk: BulkDeployment) -> dict[str, str]:
    return {"BulkDeploymentArn": bulk.arn, "BulkDeploymentId": bulk.bulk_id}
