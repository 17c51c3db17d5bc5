"""Deployment configuration, read from the CDK context (``cdk.json`` or ``cdk deploy -c key=value``).

This module is pure Python: it imports no CDK, so the local stand-ins can build the same
configuration (and the same Lambda environment) without constructing a stack, and local and
deployed settings cannot drift. Every error names the context key that caused it. The
settings themselves are declared in ``bulk_deployer.settings_schema``; how one value is read and
checked is in ``infra.context_values``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from bulk_deployer.config import TRACKER_FOLLOW_MARGIN_SECONDS, ConfigurationError
from bulk_deployer.settings_schema import (
    BY_ENV,
    BY_KEY,
    EXECUTION_ROLE_ARN,
    GREENGRASS_V1,
    INPUT_BUCKET_NAME,
    INTAKE_DEAD_LETTER_QUEUE_URL,
    LEDGER_TABLE_NAME,
    OUTCOMES_TOPIC_ARN,
    RENAMED_KEYS,
    SERVICE_NAME,
    SETTINGS,
    STACK_ACCOUNT_ID,
    Reader,
    Setting,
    applies_to,
    default_of,
    deprecation_message,
)

from infra.context_values import (
    check_context_prefixes,
    context_error,
    group_ids_json,
    number_text,
    parser_for,
)

__all__ = ["CONTEXT_SETTINGS", "ConfigurationError", "DeployConfig"]

# The settings a cdk.json context key sets, in cdk.json's order.
CONTEXT_SETTINGS: Final[tuple[Setting, ...]] = tuple(entry for entry in SETTINGS if entry.key is not None)
# What the app reads from its context: every key, and the old names of renamed ones.
CONTEXT_KEY_NAMES: Final[tuple[str, ...]] = (*BY_KEY, *RENAMED_KEYS)
# AWS recommends an SQS event source's visibility timeout of at least 6 x the function timeout.
VISIBILITY_TIMEOUT_FACTOR: Final = 6
# CloudWatch evaluates an alarm over at most seven days (Period x EvaluationPeriods, PutMetricAlarm).
MAX_ALARM_EVALUATION_SECONDS: Final = 7 * 86_400

_DEFAULTS: Final = {name: default_of(name) for name in BY_KEY}


@dataclass(frozen=True)
class DeployConfig:
    """The validated configuration of one deployment. Build it with :meth:`from_context`."""

    stack_name: str = _DEFAULTS["stackName"]
    greengrass: str = _DEFAULTS["greengrass"]
    incoming_prefix: str = _DEFAULTS["incomingPrefix"]
    staged_prefix: str = _DEFAULTS["stagedPrefix"]
    reports_prefix: str = _DEFAULTS["reportsPrefix"]
    default_tags: Mapping[str, str] = field(default_factory=dict)
    noncurrent_version_expiration_days: int = _DEFAULTS["noncurrentVersionExpirationDays"]
    staged_expiration_days: int = _DEFAULTS["stagedExpirationDays"]
    access_log_expiration_days: int = _DEFAULTS["accessLogExpirationDays"]
    log_retention_days: int = _DEFAULTS["logRetentionDays"]
    starter_memory_mb: int = _DEFAULTS["starterMemoryMb"]
    starter_timeout_seconds: int = _DEFAULTS["starterTimeoutSeconds"]
    intake_visibility_timeout_seconds: int = VISIBILITY_TIMEOUT_FACTOR * _DEFAULTS["starterTimeoutSeconds"]
    max_receive_count: int = _DEFAULTS["maxReceiveCount"]
    bucket_removal_policy: str = _DEFAULTS["bucketRemovalPolicy"]
    execution_role_source_account_condition: bool = _DEFAULTS["executionRoleSourceAccountCondition"]
    uploader_principal_arns: tuple[str, ...] = ()
    deployable_group_ids: tuple[str, ...] = ()
    # (tag key, tag value) the groups must carry, or None.
    deployable_group_tag: tuple[str, str] | None = None
    deployable_target_arns: tuple[str, ...] = ()
    v2_files_in_flight: int = _DEFAULTS["v2FilesInFlight"]
    greengrass_requests_per_second: int = _DEFAULTS["greengrassRequestsPerSecond"]
    thing_group_deadline_minutes: int = _DEFAULTS["thingGroupDeadlineMinutes"]
    allow_large_deployment_documents: bool = _DEFAULTS["allowLargeDeploymentDocuments"]
    alarm_email: str | None = None
    metrics_namespace: str = _DEFAULTS["metricsNamespace"]
    log_level: str = _DEFAULTS["logLevel"]
    ledger_ttl_days: int = _DEFAULTS["ledgerTtlDays"]
    start_max_refusals: int = _DEFAULTS["startMaxRefusals"]
    start_retry_base_seconds: float = _DEFAULTS["startRetryBaseSeconds"]
    slot_lease_seconds: int = _DEFAULTS["slotLeaseSeconds"]
    bundle_dependencies: bool = _DEFAULTS["bundleDependencies"]
    tracker_schedule_minutes: int = _DEFAULTS["trackerScheduleMinutes"]
    tracker_memory_mb: int = _DEFAULTS["trackerMemoryMb"]
    tracker_timeout_seconds: int = _DEFAULTS["trackerTimeoutSeconds"]
    tracker_follow_seconds: float = _DEFAULTS["trackerFollowSeconds"]
    tracker_poll_seconds: float = _DEFAULTS["trackerPollSeconds"]
    overdue_after_seconds: int = _DEFAULTS["overdueAfterSeconds"]
    report_settle_bound_seconds: int = _DEFAULTS["reportSettleBoundSeconds"]
    report_recheck_seconds: int = _DEFAULTS["reportRecheckSeconds"]
    report_page_size: int = _DEFAULTS["reportPageSize"]
    reconcile_every_seconds: int = _DEFAULTS["reconcileEverySeconds"]
    reconcile_lookback_days: int = _DEFAULTS["reconcileLookbackDays"]
    reconcile_min_age_seconds: int = _DEFAULTS["reconcileMinAgeSeconds"]
    oldest_queued_file_alarm_seconds: int = _DEFAULTS["oldestQueuedFileAlarmSeconds"]
    # What the context said in an old, deprecated way (the stack shows each as a synth warning).
    deprecations: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # The invariants that tie settings together hold however the object is built.
        check_context_prefixes(self.incoming_prefix, self.staged_prefix, self.reports_prefix)
        minimum_visibility = VISIBILITY_TIMEOUT_FACTOR * self.starter_timeout_seconds
        if self.intake_visibility_timeout_seconds < minimum_visibility:
            raise context_error(
                "intakeVisibilityTimeoutSeconds",
                f"{self.intake_visibility_timeout_seconds} is less than {VISIBILITY_TIMEOUT_FACTOR} x "
                f"starterTimeoutSeconds ({minimum_visibility})",
            )
        if self.tracker_follow_seconds >= 60 * self.tracker_schedule_minutes:
            raise context_error(
                "trackerFollowSeconds",
                f"{number_text(self.tracker_follow_seconds)} is not less than one tracker period "
                f"({60 * self.tracker_schedule_minutes} s, trackerScheduleMinutes)",
            )
        if self.tracker_follow_seconds + TRACKER_FOLLOW_MARGIN_SECONDS > self.tracker_timeout_seconds:
            raise context_error(
                "trackerFollowSeconds",
                f"{number_text(self.tracker_follow_seconds)} leaves less than "
                f"{TRACKER_FOLLOW_MARGIN_SECONDS} s of a tracker run (trackerTimeoutSeconds "
                f"{self.tracker_timeout_seconds}) for its reports: lower it (0 switches following "
                "off) or raise trackerTimeoutSeconds",
            )

        if self.reconciliation_alarm_period_seconds > MAX_ALARM_EVALUATION_SECONDS:
            raise context_error(
                "reconcileEverySeconds",
                f"{self.reconcile_every_seconds} plus one tracker period and one tracker run "
                f"({self.reconciliation_alarm_period_seconds} s, the UnprocessedInputFiles alarm's period) "
                f"is more than CloudWatch evaluates an alarm over ({MAX_ALARM_EVALUATION_SECONDS} s)",
            )
        if self.deployable_group_tag is not None:
            tag_key, tag_value = self.deployable_group_tag
            if self.default_tags.get(tag_key) == tag_value:
                raise context_error(
                    "defaultTags",
                    f"{tag_key}={tag_value} is the deployableGroupTag: the functions may not put it on "
                    "anything (it would let them widen the groups the execution role may deploy), so "
                    "every start would be refused",
                )

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None = None) -> DeployConfig:
        """Validate the context values (missing or null keys take their defaults).

        Keys that are not configuration keys (CDK feature flags, for instance) are ignored. A
        renamed key's old name is still read, unless the new one is given, and noted in
        ``deprecations``.
        """
        given = {k: v for k, v in (context or {}).items() if v is not None}
        ctx = {k: v for k, v in given.items() if k in BY_KEY}
        deprecations = []
        for old, entry in RENAMED_KEYS.items():
            if old in given:
                assert entry.key is not None
                deprecations.append(deprecation_message(old, entry))
                ctx.setdefault(entry.key, given[old])

        def get(name: str) -> Any:
            if name not in ctx:
                return _DEFAULTS[name]
            return parser_for(BY_KEY[name])(name, ctx[name])

        incoming, staged, reports = get("incomingPrefix"), get("stagedPrefix"), get("reportsPrefix")
        check_context_prefixes(incoming, staged, reports)

        values = {field_for_key(name): get(name) for name in BY_KEY}
        if values["intake_visibility_timeout_seconds"] is None:
            # Checked against the timeout in __post_init__.
            values["intake_visibility_timeout_seconds"] = (
                VISIBILITY_TIMEOUT_FACTOR * values["starter_timeout_seconds"]
            )
        values["uploader_principal_arns"] = tuple(values["uploader_principal_arns"])
        values["deployable_group_ids"] = tuple(values["deployable_group_ids"])
        values["deployable_target_arns"] = tuple(values["deployable_target_arns"])
        values["alarm_email"] = values["alarm_email"] or None
        return cls(**values, deprecations=tuple(deprecations))

    @property
    def reconciliation_alarm_period_seconds(self) -> int:
        """The longest a healthy tracker goes between two reconciliations, in whole minutes.

        The interval, plus up to one schedule period until the next run, plus up to one run's
        length before that run reaches reconciliation (its last step). UnprocessedInputFiles is
        emitted once per reconciliation: with this as its alarm period every period holds an
        emission, so the alarm cannot go OK between two of them while the problem persists.
        """
        gap = self.reconcile_every_seconds + 60 * self.tracker_schedule_minutes + self.tracker_timeout_seconds
        return -(-gap // 60) * 60

    @property
    def is_v1(self) -> bool:
        return self.greengrass == GREENGRASS_V1

    def settings_of_the_other_version(self) -> list[Setting]:
        """The settings of the other Greengrass version that are set away from their defaults:
        the stack ignores them (synthesis warns), and the functions do not get them."""
        ignored = []
        for entry in CONTEXT_SETTINGS:
            if applies_to(entry, self.greengrass):
                continue
            value = self.value_of(entry)
            if (list(value) if entry.type is list else value) != default_of(entry.key or ""):
                ignored.append(entry)
        return ignored

    def value_of(self, entry: Setting) -> Any:
        """A setting's value in this configuration; a derived one takes its source's value
        (the processing lease is the starter's timeout, the tracker's run lease its timeout)."""
        key = entry.derived_from or entry.key
        if key is None:
            raise KeyError(entry.env)
        return getattr(self, field_for_key(key))

    @property
    def processing_lease_seconds(self) -> int:
        """How long a file being processed is leased: never shorter than one starter run."""
        return int(self.value_of(BY_ENV["PROCESSING_LEASE_SECONDS"]))

    @property
    def tracker_lease_seconds(self) -> int:
        """How long one tracker run holds its lease: never shorter than one tracker run."""
        return int(self.value_of(BY_ENV["TRACKER_LEASE_SECONDS"]))

    def environment(self, reader: Reader, wiring: Mapping[str, str | None]) -> dict[str, str]:
        """Every environment variable one function reads: the settings ``reader`` reads (the
        schema's ``readers``) plus the resource ids the stack wires in (None: left unset).

        AWS_REGION is set by Lambda itself (and by the local stand-ins).
        """
        environment = {name: value for name, value in wiring.items() if value}
        environment[SERVICE_NAME.env] = str(SERVICE_NAME.value)
        for entry in SETTINGS:
            if entry.env is None or reader not in entry.readers or not applies_to(entry, self.greengrass):
                continue
            value = self.value_of(entry)
            if value is None or (entry.type is list and not value):
                # An empty allow-list is no allow-list: unset (the starter refuses "[]").
                continue
            environment[entry.env] = _env_text(entry, value)
        return environment

    def starter_environment(
        self,
        *,
        ledger_table_name: str,
        execution_role_arn: str | None = None,
        outcomes_topic_arn: str | None = None,
        intake_dead_letter_queue_url: str | None = None,
        stack_account_id: str | None = None,
    ) -> dict[str, str]:
        """The starter's environment (bulk_deployer.config.StarterSettings.from_env). Without
        ``outcomes_topic_arn`` the functions publish no outcome notifications. The execution
        role is a V1 stack's only: V2 passes none (its starter refuses one), and the account
        (``Aws.ACCOUNT_ID``) a V2 stack's only."""
        return self.environment(
            Reader.STARTER,
            {
                LEDGER_TABLE_NAME.env: ledger_table_name,
                EXECUTION_ROLE_ARN.env: execution_role_arn if self.is_v1 else None,
                OUTCOMES_TOPIC_ARN.env: outcomes_topic_arn,
                INTAKE_DEAD_LETTER_QUEUE_URL.env: intake_dead_letter_queue_url,
                STACK_ACCOUNT_ID.env: None if self.is_v1 else stack_account_id,
            },
        )

    def tracker_environment(
        self,
        *,
        ledger_table_name: str,
        input_bucket_name: str,
        outcomes_topic_arn: str | None = None,
    ) -> dict[str, str]:
        """The tracker's environment (bulk_deployer.tracker_config.TrackerSettings.from_env)."""
        return self.environment(
            Reader.TRACKER,
            {
                LEDGER_TABLE_NAME.env: ledger_table_name,
                INPUT_BUCKET_NAME.env: input_bucket_name,
                OUTCOMES_TOPIC_ARN.env: outcomes_topic_arn,
            },
        )


def _env_text(entry: Setting, value: Any) -> str:
    if entry.type is dict:
        return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))
    if entry.type is list:
        return group_ids_json(value)
    if entry.type is bool:
        return "true" if value else "false"
    if entry.type is float:
        return number_text(value)
    return str(value)


def field_for_key(key: str) -> str:
    """The DeployConfig attribute a context key sets (for docs and tests)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
    names = {f.name for f in fields(DeployConfig)}
    if snake not in names:
        raise KeyError(key)
    return snake
