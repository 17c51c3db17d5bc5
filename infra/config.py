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

from bulk_deployer.config import TRACKER_FOLLOW_MARGIN_SECONDS, ConfigurationError, check_prefixes
from bulk_deployer.settings_schema import (
    BY_ENV,
    BY_KEY,
    EXECUTION_ROLE_ARN,
    INPUT_BUCKET_NAME,
    INTAKE_DEAD_LETTER_QUEUE_URL,
    LEDGER_TABLE_NAME,
    OUTCOMES_TOPIC_ARN,
    RENAMED_KEYS,
    SERVICE_NAME,
    SETTINGS,
    Reader,
    Setting,
    default_of,
    deprecation_message,
)

__all__ = ["CONTEXT_SETTINGS", "ConfigurationError", "DeployConfig"]

# The settings a cdk.json context key sets, in cdk.json's order.
CONTEXT_SETTINGS: Final[tuple[Setting, ...]] = tuple(entry for entry in SETTINGS if entry.key is not None)
# What the app reads from its context: every key, and the old names of renamed ones.
CONTEXT_KEY_NAMES: Final[tuple[str, ...]] = (*BY_KEY, *RENAMED_KEYS)
# AWS allows 50 tags per resource; the starter adds its own (the file's token) on top of these.
MAX_DEFAULT_TAGS: Final = 45
# AWS recommends an SQS event source's visibility timeout of at least 6 x the function timeout.
VISIBILITY_TIMEOUT_FACTOR: Final = 6
# The starter receives the deployable GroupIds as one JSON environment variable, and Lambda
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


_DEFAULTS: Final = {name: default_of(name) for name in BY_KEY}


@dataclass(frozen=True)
class DeployConfig:
    """The validated configuration of one deployment. Build it with :meth:`from_context`."""

    stack_name: str = _DEFAULTS["stackName"]
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
            return _parser(BY_KEY[name])(name, ctx[name])

        incoming, staged, reports = get("incomingPrefix"), get("stagedPrefix"), get("reportsPrefix")
        _check_prefixes(incoming, staged, reports)

        values = {field_for_key(name): get(name) for name in BY_KEY}
        if values["intake_visibility_timeout_seconds"] is None:
            # Checked against the timeout in __post_init__.
            values["intake_visibility_timeout_seconds"] = (
                VISIBILITY_TIMEOUT_FACTOR * values["starter_timeout_seconds"]
            )
        values["uploader_principal_arns"] = tuple(values["uploader_principal_arns"])
        values["deployable_group_ids"] = tuple(values["deployable_group_ids"])
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
            if entry.env is None or reader not in entry.readers:
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
        execution_role_arn: str,
        outcomes_topic_arn: str | None = None,
        intake_dead_letter_queue_url: str | None = None,
    ) -> dict[str, str]:
        """The starter's environment (bulk_deployer.config.StarterSettings.from_env). Without
        ``outcomes_topic_arn`` the functions publish no outcome notifications."""
        return self.environment(
            Reader.STARTER,
            {
                LEDGER_TABLE_NAME.env: ledger_table_name,
                EXECUTION_ROLE_ARN.env: execution_role_arn,
                OUTCOMES_TOPIC_ARN.env: outcomes_topic_arn,
                INTAKE_DEAD_LETTER_QUEUE_URL.env: intake_dead_letter_queue_url,
            },
        )

    def tracker_environment(
        self,
        *,
        ledger_table_name: str,
        input_bucket_name: str,
        outcomes_topic_arn: str | None = None,
    ) -> dict[str, str]:
        """The tracker's environment (bulk_deployer.config.TrackerSettings.from_env)."""
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
        return _group_ids_json(value)
    if entry.type is float:
        return _number_text(value)
    return str(value)


def field_for_key(key: str) -> str:
    """The DeployConfig attribute a context key sets (for docs and tests)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
    names = {f.name for f in fields(DeployConfig)}
    if snake not in names:
        raise KeyError(key)
    return snake


def _parser(entry: Setting) -> Callable[[str, Any], Any]:
    """How a context value of this setting is read: a setting with more rules than its type,
    bounds and choices has its own parser below; the others are read from the schema alone."""
    assert entry.key is not None
    by_type: dict[type, Callable[[str, Any], Any]] = {
        bool: _bool,
        int: _one_of_ints(entry.choices) if entry.choices else _int_in(entry),
        float: _float_in(entry),
        str: _one_of_strs(entry.choices) if entry.choices else _str,
    }
    parser = _SPECIAL_PARSERS.get(entry.key) or by_type.get(entry.type)
    if parser is None:
        raise TypeError(f"no parser for {entry.key} ({entry.type.__name__})")
    return parser


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


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _error(key, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise _error(key, f"expected an integer, got {value!r}")


def _int_in(entry: Setting) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        number = _int(key, value)
        if not entry.allows(number):
            raise _error(key, f"{number} is not {entry.bounds_text()}")
        return number

    return parse


def _float_in(entry: Setting) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _error(key, f"expected a number, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise _error(key, f"expected a number, got {value!r}") from None
        if not entry.allows(number):
            raise _error(key, f"{number} is not {entry.bounds_text()}")
        return number

    return parse


def _one_of_ints(allowed: tuple[int, ...]) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        number = _int(key, value)
        if number not in allowed:
            raise _error(key, f"{number} is not one of {', '.join(map(str, allowed))}")
        return number

    return parse


def _one_of_strs(allowed: tuple[str, ...]) -> Callable[[str, Any], str]:
    """One of ``allowed``, in any case (written back as it is in ``allowed``)."""

    def parse(key: str, value: Any) -> str:
        text = _str(key, value).strip()
        for choice in allowed:
            if text.lower() == choice.lower():
                return choice
        raise _error(key, f"{value!r} is not one of {', '.join(allowed)}")

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


def _alarm_email(key: str, value: Any) -> str | None:
    email = _str(key, value) or None
    if email is not None and not _EMAIL.match(email):
        raise _error(key, f"{email!r} is not an e-mail address")
    return email


# Settings with rules beyond their schema entry's type, bounds and choices.
_SPECIAL_PARSERS: Final[Mapping[str, Callable[[str, Any], Any]]] = {
    "stackName": _matching(_STACK_NAME, "a CloudFormation stack name"),
    "defaultTags": _tags,
    "uploaderPrincipalArns": _principal_arns,
    "deployableGroupIds": _group_ids,
    "deployableGroupTag": _group_tag,
    "alarmEmail": _alarm_email,
    "metricsNamespace": _namespace,
}


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
