"""Runtime settings of the Lambda functions and the CLI, read from environment variables.

The CDK stack sets every variable below (``infra/``); the local stand-ins read the same
names. Settings are checked once, at cold start, so a bad deployment fails loudly with the
variable's name instead of misbehaving on the first file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_INCOMING_PREFIX = "incoming/"
DEFAULT_STAGED_PREFIX = "staged/"
DEFAULT_REPORTS_PREFIX = "reports/"
DEFAULT_LEDGER_TTL_DAYS = 400
DEFAULT_START_MAX_ATTEMPTS = 3
DEFAULT_START_RETRY_BASE_SECONDS = 2.0
DEFAULT_SLOT_LEASE_SECONDS = 300
DEFAULT_PROCESSING_LEASE_SECONDS = 900
DEFAULT_TRACKER_LEASE_SECONDS = 900
# After a tracker run starts a file, it keeps following the new bulk deployment this long,
# looking every DEFAULT_TRACKER_POLL_SECONDS, and starts the next queued file as soon as it ends.
DEFAULT_TRACKER_FOLLOW_SECONDS = 30.0
DEFAULT_TRACKER_POLL_SECONDS = 5.0
# ... but stops following this long before the run's timeout: the reports need time too.
TRACKER_FOLLOW_MARGIN_SECONDS = 60
DEFAULT_OVERDUE_AFTER_SECONDS = 6 * 3600
DEFAULT_REPORT_SETTLE_BOUND_SECONDS = 24 * 3600
DEFAULT_REPORT_RECHECK_SECONDS = 300
DEFAULT_REPORT_PAGE_SIZE = 100
DEFAULT_RECONCILE_EVERY_SECONDS = 3600
DEFAULT_RECONCILE_LOOKBACK_DAYS = 3
DEFAULT_RECONCILE_MIN_AGE_SECONDS = 300

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names it."""


def check_prefixes(incoming: str, staged: str, reports: str) -> None:
    """Refuse prefixes that overlap: a staged copy or report must never look like new input."""
    named = {"incoming": incoming, "staged": staged, "reports": reports}
    for name, prefix in named.items():
        if not prefix or not prefix.endswith("/") or prefix.startswith("/"):
            raise ConfigurationError(
                f"{name} prefix {prefix!r} must be non-empty, end with '/' and not start with '/'"
            )
    items = list(named.items())
    for i, (name_a, a) in enumerate(items):
        for name_b, b in items[i + 1 :]:
            if a.startswith(b) or b.startswith(a):
                raise ConfigurationError(f"{name_a} prefix {a!r} overlaps {name_b} prefix {b!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the starter and dispatcher need to know about their deployment."""

    ledger_table_name: str
    execution_role_arn: str
    region: str
    incoming_prefix: str = DEFAULT_INCOMING_PREFIX
    staged_prefix: str = DEFAULT_STAGED_PREFIX
    reports_prefix: str = DEFAULT_REPORTS_PREFIX
    default_tags: Mapping[str, str] = field(default_factory=dict)
    ledger_ttl_days: int = DEFAULT_LEDGER_TTL_DAYS
    start_max_attempts: int = DEFAULT_START_MAX_ATTEMPTS
    start_retry_base_seconds: float = DEFAULT_START_RETRY_BASE_SECONDS
    slot_lease_seconds: int = DEFAULT_SLOT_LEASE_SECONDS
    processing_lease_seconds: int = DEFAULT_PROCESSING_LEASE_SECONDS
    # The stack's allow-list of deployable GroupIds (None: any group the execution role may deploy).
    deployable_group_ids: frozenset[str] | None = None
    # Where messages that can never succeed are parked at once (None: SQS's retries decide).
    intake_dead_letter_queue_url: str | None = None
    # The tracker's settings (the starter ignores them).
    input_bucket: str | None = None
    outcomes_topic_arn: str | None = None
    tracker_lease_seconds: int = DEFAULT_TRACKER_LEASE_SECONDS
    tracker_follow_seconds: float = DEFAULT_TRACKER_FOLLOW_SECONDS
    tracker_poll_seconds: float = DEFAULT_TRACKER_POLL_SECONDS
    overdue_after_seconds: int = DEFAULT_OVERDUE_AFTER_SECONDS
    report_settle_bound_seconds: int = DEFAULT_REPORT_SETTLE_BOUND_SECONDS
    report_recheck_seconds: int = DEFAULT_REPORT_RECHECK_SECONDS
    report_page_size: int = DEFAULT_REPORT_PAGE_SIZE
    reconcile_every_seconds: int = DEFAULT_RECONCILE_EVERY_SECONDS
    reconcile_lookback_days: int = DEFAULT_RECONCILE_LOOKBACK_DAYS
    reconcile_min_age_seconds: int = DEFAULT_RECONCILE_MIN_AGE_SECONDS

    def require_input_bucket(self) -> str:
        if not self.input_bucket:
            raise ConfigurationError("environment variable INPUT_BUCKET_NAME is required but not set")
        return self.input_bucket

    def __post_init__(self) -> None:
        check_prefixes(self.incoming_prefix, self.staged_prefix, self.reports_prefix)
        if not _ROLE_ARN.match(self.execution_role_arn):
            raise ConfigurationError(f"EXECUTION_ROLE_ARN {self.execution_role_arn!r} is not an IAM role ARN")
        if not _REGION.match(self.region):
            raise ConfigurationError(f"AWS_REGION {self.region!r} is not an AWS region name")
        if self.tracker_follow_seconds > 0 and self.tracker_poll_seconds <= 0:
            raise ConfigurationError("TRACKER_POLL_SECONDS must be above 0 when TRACKER_FOLLOW_SECONDS is")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            ledger_table_name=_required(env, "LEDGER_TABLE_NAME"),
            execution_role_arn=_required(env, "EXECUTION_ROLE_ARN"),
            region=env.get("AWS_REGION") or _required(env, "AWS_DEFAULT_REGION"),
            incoming_prefix=env.get("INCOMING_PREFIX", DEFAULT_INCOMING_PREFIX),
            staged_prefix=env.get("STAGED_PREFIX", DEFAULT_STAGED_PREFIX),
            reports_prefix=env.get("REPORTS_PREFIX", DEFAULT_REPORTS_PREFIX),
            default_tags=_tags(env, "DEFAULT_TAGS"),
            ledger_ttl_days=_int(env, "LEDGER_TTL_DAYS", DEFAULT_LEDGER_TTL_DAYS, minimum=1),
            start_max_attempts=_int(env, "START_MAX_ATTEMPTS", DEFAULT_START_MAX_ATTEMPTS, minimum=1),
            start_retry_base_seconds=_float(
                env, "START_RETRY_BASE_SECONDS", DEFAULT_START_RETRY_BASE_SECONDS
            ),
            slot_lease_seconds=_int(env, "SLOT_LEASE_SECONDS", DEFAULT_SLOT_LEASE_SECONDS, minimum=1),
            processing_lease_seconds=_int(
                env, "PROCESSING_LEASE_SECONDS", DEFAULT_PROCESSING_LEASE_SECONDS, minimum=1
            ),
            deployable_group_ids=_group_ids(env, "DEPLOYABLE_GROUP_IDS"),
            intake_dead_letter_queue_url=env.get("INTAKE_DEAD_LETTER_QUEUE_URL") or None,
            input_bucket=env.get("INPUT_BUCKET_NAME") or None,
            outcomes_topic_arn=env.get("OUTCOMES_TOPIC_ARN") or None,
            tracker_lease_seconds=_int(
                env, "TRACKER_LEASE_SECONDS", DEFAULT_TRACKER_LEASE_SECONDS, minimum=1
            ),
            tracker_follow_seconds=_float(env, "TRACKER_FOLLOW_SECONDS", DEFAULT_TRACKER_FOLLOW_SECONDS),
            tracker_poll_seconds=_float(env, "TRACKER_POLL_SECONDS", DEFAULT_TRACKER_POLL_SECONDS),
            overdue_after_seconds=_int(
                env, "OVERDUE_AFTER_SECONDS", DEFAULT_OVERDUE_AFTER_SECONDS, minimum=60
            ),
            report_settle_bound_seconds=_int(
                env, "REPORT_SETTLE_BOUND_SECONDS", DEFAULT_REPORT_SETTLE_BOUND_SECONDS, minimum=60
            ),
            report_recheck_seconds=_int(
                env, "REPORT_RECHECK_SECONDS", DEFAULT_REPORT_RECHECK_SECONDS, minimum=0
            ),
            report_page_size=_int(env, "REPORT_PAGE_SIZE", DEFAULT_REPORT_PAGE_SIZE, minimum=1),
            reconcile_every_seconds=_int(
                env, "RECONCILE_EVERY_SECONDS", DEFAULT_RECONCILE_EVERY_SECONDS, minimum=60
            ),
            reconcile_lookback_days=_int(
                env, "RECONCILE_LOOKBACK_DAYS", DEFAULT_RECONCILE_LOOKBACK_DAYS, minimum=1
            ),
            reconcile_min_age_seconds=_int(
                env, "RECONCILE_MIN_AGE_SECONDS", DEFAULT_RECONCILE_MIN_AGE_SECONDS, minimum=0
            ),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is required but not set")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigurationError(f"environment variable {name}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not a number") from None
    if not 0 <= value <= 60:
        raise ConfigurationError(f"environment variable {name}={value} must be between 0 and 60")
    return value


def _tags(env: Mapping[str, str], name: str) -> dict[str, str]:
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} is not valid JSON") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(f"environment variable {name} must be a JSON object of strings")
    return value


def _group_ids(env: Mapping[str, str], name: str) -> frozenset[str] | None:
    """A JSON array of GroupIds; unset or empty means no allow-list."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} is not valid JSON") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"environment variable {name} must be a non-empty JSON array of GroupIds")
    return frozenset(value)
