"""Deployment configuration, read from the CDK context (``cdk.json`` or ``cdk deploy -c key=value``).

This module is pure Python: it imports no CDK, so the local stand-ins can build the same
configuration (and the same Lambda environment) without constructing a stack, and local and
deployed settings cannot drift. Every error names the context key that caused it.

Values given with ``-c`` on the command line arrive as strings; values in ``cdk.json`` keep
their JSON type. Both are accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from bulk_deployer.config import (
    DEFAULT_INCOMING_PREFIX,
    DEFAULT_LEDGER_TTL_DAYS,
    DEFAULT_OVERDUE_AFTER_SECONDS,
    DEFAULT_RECONCILE_EVERY_SECONDS,
    DEFAULT_RECONCILE_LOOKBACK_DAYS,
    DEFAULT_RECONCILE_MIN_AGE_SECONDS,
    DEFAULT_REPORT_PAGE_SIZE,
    DEFAULT_REPORT_RECHECK_SECONDS,
    DEFAULT_REPORT_SETTLE_BOUND_SECONDS,
    DEFAULT_REPORTS_PREFIX,
    DEFAULT_SLOT_LEASE_SECONDS,
    DEFAULT_STAGED_PREFIX,
    DEFAULT_START_MAX_ATTEMPTS,
    DEFAULT_START_RETRY_BASE_SECONDS,
    DEFAULT_TRACKER_FOLLOW_SECONDS,
    DEFAULT_TRACKER_POLL_SECONDS,
    TRACKER_FOLLOW_MARGIN_SECONDS,
    ConfigurationError,
    check_prefixes,
)

__all__ = ["CONTEXT_KEYS", "ConfigurationError", "ContextKey", "DeployConfig"]

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REMOVAL_POLICIES: Final = ("retain", "destroy")
# AWS allows 50 tags per resource; the starter adds its own (the file's token) on top of these.
MAX_DEFAULT_TAGS: Final = 45
MAX_QUEUE_VISIBILITY_SECONDS: Final = 12 * 60 * 60
MAX_LAMBDA_TIMEOUT_SECONDS: Final = 15 * 60
# AWS recommends an SQS event source's visibility timeout of at least 6 x the function timeout.
VISIBILITY_TIMEOUT_FACTOR: Final = 6
# The tracker stops a report pass 30 s before its timeout (bulk_deployer.report_pass): a run
# needs time for real work before that margin.
MIN_TRACKER_TIMEOUT_SECONDS: Final = 60
# The tracker alarm counts failed runs over three schedule periods; CloudWatch evaluates an
# alarm over at most one day, and an hourly run is the slowest schedule that still frees the
# slot and starts the next file in reasonable time.
MAX_TRACKER_SCHEDULE_MINUTES: Final = 60
# ListBulkDeploymentDetailedReports pages: MaxResults is a string in the API with no documented
# upper bound; keep pages small enough for one report part.
MAX_REPORT_PAGE_SIZE: Final = 1000
# Both functions receive the deployable GroupIds as one JSON environment variable, and Lambda
# allows 4 KB of environment in total (the other variables take about 1 KB): about 50 GroupIds
# (UUIDs). The same ids become the execution role's CreateDeployment resources (an inline
# policy, at most 10,240 characters). Larger fleets use deployableGroupTag.
MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS: Final = 2000
# A bucket policy may be 20 KB; each principal ARN is one entry of one condition.
MAX_UPLOADER_PRINCIPALS: Final = 100
# CloudWatch evaluates an alarm over at most seven days (Period x EvaluationPeriods, PutMetricAlarm).
MAX_ALARM_EVALUATION_SECONDS: Final = 7 * 86_400

_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_NAMESPACE = re.compile(r"^[0-9A-Za-z.\-_/#:]{1,255}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
# IAM role or user ARNs as aws:PrincipalArn reports them (a role session reports its role's ARN,
# with the role's path). ArnNotLike allows * and ? wildcards in the name.
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/*?-]{1,512}$")
_SESSION_ARN = re.compile(r"^arn:aws[a-z-]*:sts::")
# Greengrass GroupIds are UUIDs; allow any id the service could plausibly return, but nothing
# that would act as a wildcard or break the ARN or the Fn::Sub it is written into.
_GROUP_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class ContextKey:
    """One documented context key: its name, default (as written in cdk.json) and meaning."""

    name: str
    default: Any
    meaning: str


CONTEXT_KEYS: Final[tuple[ContextKey, ...]] = (
    ContextKey("stackName", "BulkDeployer", "Name of the CloudFormation stack."),
    ContextKey(
        "incomingPrefix",
        DEFAULT_INCOMING_PREFIX,
        "Key prefix operators upload input files to; only objects created here start work.",
    ),
    ContextKey(
        "stagedPrefix",
        DEFAULT_STAGED_PREFIX,
        "Key prefix of the validated, immutable copies Greengrass reads.",
    ),
    ContextKey("reportsPrefix", DEFAULT_REPORTS_PREFIX, "Key prefix of rejection and deployment reports."),
    ContextKey(
        "defaultTags",
        {},
        "Tags (object of string to string) put on every bulk deployment the stack starts.",
    ),
    ContextKey(
        "noncurrentVersionExpirationDays",
        30,
        "Days after which noncurrent (overwritten or deleted) object versions are removed.",
    ),
    ContextKey(
        "stagedExpirationDays",
        90,
        "Days after which staged copies expire; must be longer than any bulk deployment runs.",
    ),
    ContextKey("accessLogExpirationDays", 365, "Days the S3 server access logs are kept."),
    ContextKey("logRetentionDays", 90, "Retention of the Lambda log groups (a CloudWatch Logs value)."),
    ContextKey("starterMemoryMb", 1024, "Memory (MB) of the starter function; CPU grows with it."),
    ContextKey("starterTimeoutSeconds", 300, "Timeout of the starter function (seconds, at most 900)."),
    ContextKey(
        "intakeVisibilityTimeoutSeconds",
        None,
        "Visibility timeout of the intake queue (seconds); null means 6 x starterTimeoutSeconds, "
        "the minimum allowed.",
    ),
    ContextKey(
        "maxReceiveCount",
        5,
        "Receives of an intake message before it moves to the intake dead-letter queue.",
    ),
    ContextKey(
        "bucketRemovalPolicy",
        "retain",
        "'retain' keeps the buckets when the stack is deleted; 'destroy' deletes them "
        "(they must be emptied first).",
    ),
    ContextKey(
        "executionRoleSourceAccountCondition",
        True,
        "Whether the Greengrass execution role's trust policy requires aws:SourceAccount (this account) "
        "and aws:SourceArn (a Greengrass resource of this account and region), as the Greengrass V1 "
        "guide recommends for bulk deployment execution roles (confused-deputy prevention).",
    ),
    ContextKey(
        "uploaderPrincipalArns",
        [],
        "IAM role or user ARNs allowed to write under the incoming prefix; when set, the bucket "
        "policy denies uploads there to every other principal (aws:PrincipalArn).",
    ),
    ContextKey(
        "deployableGroupIds",
        [],
        "Greengrass GroupIds the stack may deploy; when set, the execution role may create "
        "deployments of exactly these groups and the starter rejects files naming others.",
    ),
    ContextKey(
        "deployableGroupTag",
        None,
        "key=value: the execution role may create deployments only of groups with this tag "
        "(aws:ResourceTag condition); null for no condition.",
    ),
    ContextKey(
        "alarmEmail",
        None,
        "E-mail address subscribed to the alarm topic; null for none (synthesis then warns: the "
        "alarms reach nobody until someone subscribes to the topic).",
    ),
    ContextKey("metricsNamespace", "BulkDeployer", "CloudWatch namespace of the EMF metrics."),
    ContextKey("logLevel", "INFO", "Log level of the functions (POWERTOOLS_LOG_LEVEL)."),
    ContextKey(
        "ledgerTtlDays",
        DEFAULT_LEDGER_TTL_DAYS,
        "Days a finished file's ledger entry is kept (DynamoDB TTL).",
    ),
    ContextKey(
        "startMaxAttempts",
        DEFAULT_START_MAX_ATTEMPTS,
        "Attempts of a StartBulkDeployment call that fails transiently.",
    ),
    ContextKey(
        "startRetryBaseSeconds",
        DEFAULT_START_RETRY_BASE_SECONDS,
        "Base of the exponential backoff between start attempts (seconds, 0-60).",
    ),
    ContextKey(
        "slotLeaseSeconds",
        DEFAULT_SLOT_LEASE_SECONDS,
        "Lease of the dispatch slot, after which a crashed holder's slot can be taken over.",
    ),
    ContextKey(
        "trackerScheduleMinutes",
        1,
        "The tracker runs every this many minutes (1-60); a finished bulk deployment frees the "
        "slot for the next file within one period.",
    ),
    ContextKey("trackerMemoryMb", 1024, "Memory (MB) of the tracker function."),
    ContextKey(
        "trackerTimeoutSeconds",
        300,
        "Timeout of the tracker function (seconds, 60-900); also its run lease (TRACKER_LEASE_SECONDS).",
    ),
    ContextKey(
        "trackerFollowSeconds",
        DEFAULT_TRACKER_FOLLOW_SECONDS,
        "After a tracker run starts a file while more wait, it keeps following the new bulk "
        "deployment this long (0-60 s, less than a schedule period; 0: one look per run).",
    ),
    ContextKey(
        "trackerPollSeconds",
        DEFAULT_TRACKER_POLL_SECONDS,
        "Seconds between two looks while a tracker run follows on (0.1-60).",
    ),
    ContextKey(
        "overdueAfterSeconds",
        DEFAULT_OVERDUE_AFTER_SECONDS,
        "A bulk deployment still running after this long is overdue (WARNING log, BulkDeploymentOverdue).",
    ),
    ContextKey(
        "reportSettleBoundSeconds",
        DEFAULT_REPORT_SETTLE_BOUND_SECONDS,
        "How long after a bulk deployment ended the tracker waits for every group deployment to "
        "end before it writes the final report anyway.",
    ),
    ContextKey(
        "reportRecheckSeconds",
        DEFAULT_REPORT_RECHECK_SECONDS,
        "Seconds between two looks at the group deployments of a report that is not final yet.",
    ),
    ContextKey(
        "reportPageSize",
        DEFAULT_REPORT_PAGE_SIZE,
        "Group deployment results per ListBulkDeploymentDetailedReports page.",
    ),
    ContextKey(
        "reconcileEverySeconds",
        DEFAULT_RECONCILE_EVERY_SECONDS,
        "Seconds between two reconciliations of the incoming prefix against the ledger.",
    ),
    ContextKey(
        "reconcileLookbackDays",
        DEFAULT_RECONCILE_LOOKBACK_DAYS,
        "Reconciliation looks at incoming objects modified in the last this many days.",
    ),
    ContextKey(
        "reconcileMinAgeSeconds",
        DEFAULT_RECONCILE_MIN_AGE_SECONDS,
        "An incoming object younger than this is not yet expected in the ledger.",
    ),
    ContextKey(
        "oldestQueuedFileAlarmSeconds",
        DEFAULT_OVERDUE_AFTER_SECONDS,
        "The OldestQueuedFileAgeSeconds alarm fires when a file has waited in the queue longer than this.",
    ),
    ContextKey(
        "bundleDependencies",
        True,
        "Bundle requirements.txt into the Lambda asset. false ships lambda_src/ only: for fast "
        "template tests, never for a deployment.",
    ),
)

_KEY_NAMES: Final = frozenset(key.name for key in CONTEXT_KEYS)
_DEFAULTS: Final = {key.name: key.default for key in CONTEXT_KEYS}


@dataclass(frozen=True)
class DeployConfig:
    """The validated configuration of one deployment. Build it with :meth:`from_context`."""

    stack_name: str = _DEFAULTS["stackName"]
    incoming_prefix: str = DEFAULT_INCOMING_PREFIX
    staged_prefix: str = DEFAULT_STAGED_PREFIX
    reports_prefix: str = DEFAULT_REPORTS_PREFIX
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
    alarm_email: str | None = None
    metrics_namespace: str = _DEFAULTS["metricsNamespace"]
    log_level: str = _DEFAULTS["logLevel"]
    ledger_ttl_days: int = DEFAULT_LEDGER_TTL_DAYS
    start_max_attempts: int = DEFAULT_START_MAX_ATTEMPTS
    start_retry_base_seconds: float = DEFAULT_START_RETRY_BASE_SECONDS
    slot_lease_seconds: int = DEFAULT_SLOT_LEASE_SECONDS
    bundle_dependencies: bool = True
    tracker_schedule_minutes: int = _DEFAULTS["trackerScheduleMinutes"]
    tracker_memory_mb: int = _DEFAULTS["trackerMemoryMb"]
    tracker_timeout_seconds: int = _DEFAULTS["trackerTimeoutSeconds"]
    tracker_follow_seconds: float = DEFAULT_TRACKER_FOLLOW_SECONDS
    tracker_poll_seconds: float = DEFAULT_TRACKER_POLL_SECONDS
    overdue_after_seconds: int = DEFAULT_OVERDUE_AFTER_SECONDS
    report_settle_bound_seconds: int = DEFAULT_REPORT_SETTLE_BOUND_SECONDS
    report_recheck_seconds: int = DEFAULT_REPORT_RECHECK_SECONDS
    report_page_size: int = DEFAULT_REPORT_PAGE_SIZE
    reconcile_every_seconds: int = DEFAULT_RECONCILE_EVERY_SECONDS
    reconcile_lookback_days: int = DEFAULT_RECONCILE_LOOKBACK_DAYS
    reconcile_min_age_seconds: int = DEFAULT_RECONCILE_MIN_AGE_SECONDS
    oldest_queued_file_alarm_seconds: int = _DEFAULTS["oldestQueuedFileAlarmSeconds"]

    def __post_init__(self) -> None:
        # The invariants that tie settings together hold however the object is built.
        _check_prefixes(self.incoming_prefix, self.staged_prefix, self.reports_prefix)
        minimum_visibility = VISIBILITY_TIMEOUT_FACTOR * self.starter_timeout_seconds
        if self.intake_visibility_timeout_seconds < minimum_visibility:
            raise _error(
                "intakeVisibilityTimeoutSeconds",
                f"{self.intake_visibility_timeout_seconds} is less than {VISIBILITY_TIMEOUT_FACTOR} x "
                f"starterTimeoutSeconds ({minimum_visibility})",
            )
        if self.tracker_follow_seconds >= 60 * self.tracker_schedule_minutes:
            raise _error(
                "trackerFollowSeconds",
                f"{_number_text(self.tracker_follow_seconds)} is not less than one tracker period "
                f"({60 * self.tracker_schedule_minutes} s, trackerScheduleMinutes)",
            )
        if self.tracker_follow_seconds + TRACKER_FOLLOW_MARGIN_SECONDS > self.tracker_timeout_seconds:
            raise _error(
                "trackerFollowSeconds",
                f"{_number_text(self.tracker_follow_seconds)} leaves less than "
                f"{TRACKER_FOLLOW_MARGIN_SECONDS} s of a tracker run (trackerTimeoutSeconds "
                f"{self.tracker_timeout_seconds}) for its reports: lower it (0 switches following "
                "off) or raise trackerTimeoutSeconds",
            )

        if self.reconciliation_alarm_period_seconds > MAX_ALARM_EVALUATION_SECONDS:
            raise _error(
                "reconcileEverySeconds",
                f"{self.reconcile_every_seconds} plus one tracker period and one tracker run "
                f"({self.reconciliation_alarm_period_seconds} s, the UnprocessedInputFiles alarm's period) "
                f"is more than CloudWatch evaluates an alarm over ({MAX_ALARM_EVALUATION_SECONDS} s)",
            )
        if self.deployable_group_tag is not None:
            tag_key, tag_value = self.deployable_group_tag
            if self.default_tags.get(tag_key) == tag_value:
                raise _error(
                    "defaultTags",
                    f"{tag_key}={tag_value} is the deployableGroupTag: the functions may not put it on "
                    "anything (it would let them widen the groups the execution role may deploy), so "
                    "every start would be refused",
                )

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None = None) -> DeployConfig:
        """Validate the context values (missing or null keys take their defaults).

        Keys that are not configuration keys (CDK feature flags, for instance) are ignored.
        """
        ctx = {k: v for k, v in (context or {}).items() if k in _KEY_NAMES and v is not None}

        def get(name: str, parse: Callable[[str, Any], Any]) -> Any:
            if name not in ctx:
                return _DEFAULTS[name]
            return parse(name, ctx[name])

        incoming = get("incomingPrefix", _str)
        staged = get("stagedPrefix", _str)
        reports = get("reportsPrefix", _str)
        _check_prefixes(incoming, staged, reports)

        timeout = get("starterTimeoutSeconds", _int_range(1, MAX_LAMBDA_TIMEOUT_SECONDS))
        visibility = VISIBILITY_TIMEOUT_FACTOR * timeout  # checked against the timeout in __post_init__
        if "intakeVisibilityTimeoutSeconds" in ctx:
            visibility = _int_range(1, MAX_QUEUE_VISIBILITY_SECONDS)(
                "intakeVisibilityTimeoutSeconds", ctx["intakeVisibilityTimeoutSeconds"]
            )

        alarm_email = get("alarmEmail", _str) or None
        if alarm_email is not None and not _EMAIL.match(alarm_email):
            raise _error("alarmEmail", f"{alarm_email!r} is not an e-mail address")

        return cls(
            stack_name=get("stackName", _matching(_STACK_NAME, "a CloudFormation stack name")),
            incoming_prefix=incoming,
            staged_prefix=staged,
            reports_prefix=reports,
            default_tags=get("defaultTags", _tags),
            noncurrent_version_expiration_days=get("noncurrentVersionExpirationDays", _int_range(1, 3650)),
            staged_expiration_days=get("stagedExpirationDays", _int_range(1, 3650)),
            access_log_expiration_days=get("accessLogExpirationDays", _int_range(1, 3650)),
            log_retention_days=get("logRetentionDays", _one_of_ints(LOG_RETENTION_DAYS)),
            starter_memory_mb=get("starterMemoryMb", _int_range(128, 10240)),
            starter_timeout_seconds=timeout,
            intake_visibility_timeout_seconds=visibility,
            max_receive_count=get("maxReceiveCount", _int_range(1, 1000)),
            bucket_removal_policy=get("bucketRemovalPolicy", _one_of_strs(REMOVAL_POLICIES)),
            execution_role_source_account_condition=get("executionRoleSourceAccountCondition", _bool),
            uploader_principal_arns=tuple(get("uploaderPrincipalArns", _principal_arns)),
            deployable_group_ids=tuple(get("deployableGroupIds", _group_ids)),
            deployable_group_tag=get("deployableGroupTag", _group_tag),
            alarm_email=alarm_email,
            metrics_namespace=get("metricsNamespace", _namespace),
            log_level=get("logLevel", _one_of_strs(LOG_LEVELS, upper=True)),
            ledger_ttl_days=get("ledgerTtlDays", _int_range(1, 3650)),
            start_max_attempts=get("startMaxAttempts", _int_range(1, 10)),
            start_retry_base_seconds=get("startRetryBaseSeconds", _float_range(0, 60)),
            slot_lease_seconds=get("slotLeaseSeconds", _int_range(1, 3600)),
            bundle_dependencies=get("bundleDependencies", _bool),
            tracker_schedule_minutes=get(
                "trackerScheduleMinutes", _int_range(1, MAX_TRACKER_SCHEDULE_MINUTES)
            ),
            tracker_memory_mb=get("trackerMemoryMb", _int_range(128, 10240)),
            tracker_timeout_seconds=get(
                "trackerTimeoutSeconds", _int_range(MIN_TRACKER_TIMEOUT_SECONDS, MAX_LAMBDA_TIMEOUT_SECONDS)
            ),
            tracker_follow_seconds=get("trackerFollowSeconds", _float_range(0, 60)),
            tracker_poll_seconds=get("trackerPollSeconds", _float_range(0.1, 60)),
            overdue_after_seconds=get("overdueAfterSeconds", _int_range(60, 30 * 86_400)),
            report_settle_bound_seconds=get("reportSettleBoundSeconds", _int_range(60, 30 * 86_400)),
            report_recheck_seconds=get("reportRecheckSeconds", _int_range(0, 86_400)),
            report_page_size=get("reportPageSize", _int_range(1, MAX_REPORT_PAGE_SIZE)),
            reconcile_every_seconds=get("reconcileEverySeconds", _int_range(60, 7 * 86_400)),
            reconcile_lookback_days=get("reconcileLookbackDays", _int_range(1, 365)),
            reconcile_min_age_seconds=get("reconcileMinAgeSeconds", _int_range(0, 86_400)),
            oldest_queued_file_alarm_seconds=get("oldestQueuedFileAlarmSeconds", _int_range(60, 30 * 86_400)),
        )

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
    def processing_lease_seconds(self) -> int:
        """How long a file being processed is leased: never shorter than one starter run."""
        return self.starter_timeout_seconds

    @property
    def tracker_lease_seconds(self) -> int:
        """How long one tracker run holds its lease: never shorter than one tracker run."""
        return self.tracker_timeout_seconds

    def starter_environment(
        self,
        *,
        ledger_table_name: str,
        execution_role_arn: str,
        outcomes_topic_arn: str | None = None,
        intake_dead_letter_queue_url: str | None = None,
    ) -> dict[str, str]:
        """Every environment variable the starter reads (bulk_deployer.config.Settings.from_env).

        AWS_REGION is set by Lambda itself (and by the local stand-ins). Without
        ``outcomes_topic_arn`` the functions publish no outcome notifications.
        """
        outcomes = {"OUTCOMES_TOPIC_ARN": outcomes_topic_arn} if outcomes_topic_arn else {}
        if intake_dead_letter_queue_url:
            outcomes["INTAKE_DEAD_LETTER_QUEUE_URL"] = intake_dead_letter_queue_url
        environment = outcomes | {
            "LEDGER_TABLE_NAME": ledger_table_name,
            "EXECUTION_ROLE_ARN": execution_role_arn,
            "INCOMING_PREFIX": self.incoming_prefix,
            "STAGED_PREFIX": self.staged_prefix,
            "REPORTS_PREFIX": self.reports_prefix,
            "DEFAULT_TAGS": json.dumps(dict(self.default_tags), sort_keys=True, separators=(",", ":")),
            "LEDGER_TTL_DAYS": str(self.ledger_ttl_days),
            "START_MAX_ATTEMPTS": str(self.start_max_attempts),
            "START_RETRY_BASE_SECONDS": _number_text(self.start_retry_base_seconds),
            "SLOT_LEASE_SECONDS": str(self.slot_lease_seconds),
            "PROCESSING_LEASE_SECONDS": str(self.processing_lease_seconds),
            "POWERTOOLS_SERVICE_NAME": "bulk-deployer",
            "POWERTOOLS_METRICS_NAMESPACE": self.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": self.log_level,
        }
        if self.deployable_group_ids:
            # Unset means "any group the execution role may deploy" (the starter refuses "[]").
            environment["DEPLOYABLE_GROUP_IDS"] = _group_ids_json(self.deployable_group_ids)
        return environment

    def tracker_environment(
        self,
        *,
        ledger_table_name: str,
        execution_role_arn: str,
        input_bucket_name: str,
        outcomes_topic_arn: str | None = None,
    ) -> dict[str, str]:
        """The starter's environment (the tracker dispatches with the same settings) plus the
        tracker's own variables (bulk_deployer.config.Settings.from_env)."""
        return self.starter_environment(
            ledger_table_name=ledger_table_name,
            execution_role_arn=execution_role_arn,
            outcomes_topic_arn=outcomes_topic_arn,
        ) | {
            "INPUT_BUCKET_NAME": input_bucket_name,
            "TRACKER_LEASE_SECONDS": str(self.tracker_lease_seconds),
            "TRACKER_FOLLOW_SECONDS": _number_text(self.tracker_follow_seconds),
            "TRACKER_POLL_SECONDS": _number_text(self.tracker_poll_seconds),
            "OVERDUE_AFTER_SECONDS": str(self.overdue_after_seconds),
            "REPORT_SETTLE_BOUND_SECONDS": str(self.report_settle_bound_seconds),
            "REPORT_RECHECK_SECONDS": str(self.report_recheck_seconds),
            "REPORT_PAGE_SIZE": str(self.report_page_size),
            "RECONCILE_EVERY_SECONDS": str(self.reconcile_every_seconds),
            "RECONCILE_LOOKBACK_DAYS": str(self.reconcile_lookback_days),
            "RECONCILE_MIN_AGE_SECONDS": str(self.reconcile_min_age_seconds),
        }


def field_for_key(key: str) -> str:
    """The DeployConfig attribute a context key sets (for docs and tests)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
    names = {f.name for f in fields(DeployConfig)}
    if snake not in names:
        raise KeyError(key)
    return snake


def _error(key: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"cdk.json context key {key!r}: {problem}")


def _check_prefixes(incoming: str, staged: str, reports: str) -> None:
    try:
        check_prefixes(incoming, staged, reports)
    except ConfigurationError as err:
        # check_prefixes names the prefixes (incoming/staged/reports); name the context keys.
        message = str(err)
        keys = [f"{name}Prefix" for name in ("incoming", "staged", "reports") if f"{name} prefix " in message]
        raise ConfigurationError(
            f"cdk.json context key {' / '.join(repr(k) for k in keys) or 'incomingPrefix'}: {message}"
        ) from err


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _error(key, f"expected a string, got {value!r}")
    return value


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _error(key, f"expected true or false, got {value!r}")


def _int_range(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        number: int
        if isinstance(value, bool):
            raise _error(key, f"expected an integer, got {value!r}")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            number = int(value)
        else:
            raise _error(key, f"expected an integer, got {value!r}")
        if not low <= number <= high:
            raise _error(key, f"{number} is not between {low} and {high}")
        return number

    return parse


def _float_range(low: float, high: float) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _error(key, f"expected a number, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise _error(key, f"expected a number, got {value!r}") from None
        if not low <= number <= high:
            raise _error(key, f"{number} is not between {low} and {high}")
        return number

    return parse


def _one_of_ints(allowed: tuple[int, ...]) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        number = _int_range(min(allowed), max(allowed))(key, value)
        if number not in allowed:
            raise _error(key, f"{number} is not one of {', '.join(map(str, allowed))}")
        return number

    return parse


def _one_of_strs(allowed: tuple[str, ...], *, upper: bool = False) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = _str(key, value).strip()
        text = text.upper() if upper else text.lower()
        if text not in allowed:
            raise _error(key, f"{value!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = _str(key, value)
        if not pattern.match(text):
            raise _error(key, f"{text!r} is not {what}")
        return text

    return parse


def _namespace(key: str, value: Any) -> str:
    text = _str(key, value)
    if not _NAMESPACE.match(text) or text.startswith("AWS/"):
        raise _error(key, f"{text!r} is not a CloudWatch namespace (1-255 of 0-9A-Za-z.-_/#:, not AWS/)")
    return text


def _tags(key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise _error(key, "is not valid JSON") from None
    if not isinstance(value, dict):
        raise _error(key, "must be an object of tag key to tag value")
    if len(value) > MAX_DEFAULT_TAGS:
        raise _error(key, f"{len(value)} tags; at most {MAX_DEFAULT_TAGS} (the starter adds its own)")
    tags: dict[str, str] = {}
    for tag_key, tag_value in value.items():
        if not isinstance(tag_value, str):
            raise _error(key, f"the value of tag {tag_key!r} is not a string")
        if not 1 <= len(tag_key) <= 128 or tag_key.lower().startswith("aws:"):
            raise _error(key, f"tag key {tag_key!r} must be 1-128 characters and not start with 'aws:'")
        if len(tag_value) > 256:
            raise _error(key, f"the value of tag {tag_key!r} is longer than 256 characters")
        if not (_TAG_CHARS.match(tag_key) and _TAG_CHARS.match(tag_value)):
            raise _error(key, f"tag {tag_key!r} has characters outside letters, digits, spaces and _.:/=+-@")
        tags[tag_key] = tag_value
    return tags


def _string_list(key: str, value: Any) -> list[str]:
    """A list from cdk.json, or from -c: a JSON array or comma-separated text ("" is empty)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise _error(key, "is not a valid JSON array") from None
        else:
            value = [item.strip() for item in text.split(",")] if text else []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _error(key, f"expected a list of strings, got {value!r}")
    seen: set[str] = set()
    for item in value:
        if item in seen:
            raise _error(key, f"{item!r} is listed twice")
        seen.add(item)
    return list(value)


def _principal_arns(key: str, value: Any) -> list[str]:
    arns = _string_list(key, value)
    if len(arns) > MAX_UPLOADER_PRINCIPALS:
        raise _error(key, f"{len(arns)} principals; at most {MAX_UPLOADER_PRINCIPALS}")
    for arn in arns:
        if _SESSION_ARN.match(arn):
            raise _error(
                key,
                f"{arn!r} is a session ARN; list the role (arn:aws:iam::<account>:role/<path><name>) "
                "instead: aws:PrincipalArn of a role session is its role's ARN",
            )
        if not _PRINCIPAL_ARN.match(arn):
            raise _error(key, f"{arn!r} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)")
    return arns


def _group_ids(key: str, value: Any) -> list[str]:
    ids = _string_list(key, value)
    for group_id in ids:
        if not _GROUP_ID.match(group_id):
            raise _error(
                key,
                f"{group_id!r} is not a Greengrass GroupId (1-64 of A-Z a-z 0-9 . _ -; no wildcards: "
                "use deployableGroupTag for sets of groups)",
            )
    if len(_group_ids_json(ids)) > MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS:
        raise _error(
            key,
            f"{len(ids)} GroupIds do not fit the functions' environment (at most "
            f"{MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS} characters as JSON, about 50 UUIDs); "
            "use deployableGroupTag for larger fleets",
        )
    return ids


def _group_ids_json(ids: Iterable[str]) -> str:
    return json.dumps(list(ids), separators=(",", ":"))


def _group_tag(key: str, value: Any) -> tuple[str, str] | None:
    text = _str(key, value).strip()
    if not text:
        return None
    tag_key, equals, tag_value = text.partition("=")
    tag_key, tag_value = tag_key.strip(), tag_value.strip()
    if not equals or not tag_key:
        raise _error(key, f"{text!r} is not key=value")
    if len(tag_key) > 128 or len(tag_value) > 256:
        raise _error(key, "tag keys are at most 128 characters, tag values at most 256")
    if not (_TAG_CHARS.match(tag_key) and _TAG_CHARS.match(tag_value)):
        raise _error(key, f"{text!r} has characters outside letters, digits, spaces and _.:/=+-@")
    return tag_key, tag_value


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
