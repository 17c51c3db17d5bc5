"""Runtime settings of the Lambda functions, read from environment variables.

Each function has its own settings object (``StarterSettings`` here, ``TrackerSettings`` in
``tracker_config``, which only the tracker imports) and reads only its variables; names, types,
defaults and bounds come from ``settings_schema``, which the CDK stack (``infra/``) and the local
stand-ins use too. Settings are checked once, at cold start, so a bad deployment fails loudly
with the variable's name instead of misbehaving on the first file.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from bulk_deployer.settings_schema import (
    BY_ENV,
    EXECUTION_ROLE_ARN,
    GREENGRASS_V2,
    INTAKE_DEAD_LETTER_QUEUE_URL,
    LEDGER_TABLE_NAME,
    OUTCOMES_TOPIC_ARN,
    STACK_ACCOUNT_ID,
    Setting,
    default_of,
    deprecation_message,
)

# The defaults the operator CLI uses where it cannot read the deployed stack's settings.
DEFAULT_INCOMING_PREFIX: Final[str] = default_of("INCOMING_PREFIX")
DEFAULT_STAGED_PREFIX: Final[str] = default_of("STAGED_PREFIX")
DEFAULT_REPORTS_PREFIX: Final[str] = default_of("REPORTS_PREFIX")
DEFAULT_START_MAX_REFUSALS: Final[int] = default_of("START_MAX_REFUSALS")
DEFAULT_START_RETRY_BASE_SECONDS: Final[float] = default_of("START_RETRY_BASE_SECONDS")
DEFAULT_SLOT_LEASE_SECONDS: Final[int] = default_of("SLOT_LEASE_SECONDS")
# A tracker run stops following a new bulk deployment this long before its timeout: the
# reports need time too (infra.config refuses a trackerFollowSeconds that leaves less).
TRACKER_FOLLOW_MARGIN_SECONDS: Final = 60

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ACCOUNT = re.compile(r"^\d{12}$")


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


# Never built itself, only inherited from: no __init__, __repr__ or __eq__ of its own to
# generate (each function's settings class generates them for all its fields), which spares
# the cold start compiling three methods of 14 fields.
@dataclass(frozen=True, kw_only=True, init=False, repr=False, eq=False)
class DispatchSettings:
    """What both functions need: each starts files (the starter on arrival, the tracker when the
    slot frees up). Every field below the wiring is read from the environment variable of the
    same name, upper-cased, and parsed and bounded by its entry in ``settings_schema``."""

    ledger_table_name: str
    region: str
    outcomes_topic_arn: str | None = None
    incoming_prefix: str = DEFAULT_INCOMING_PREFIX
    staged_prefix: str = DEFAULT_STAGED_PREFIX
    reports_prefix: str = DEFAULT_REPORTS_PREFIX
    ledger_ttl_days: int = default_of("LEDGER_TTL_DAYS")
    start_max_refusals: int = DEFAULT_START_MAX_REFUSALS
    start_retry_base_seconds: float = DEFAULT_START_RETRY_BASE_SECONDS
    slot_lease_seconds: int = DEFAULT_SLOT_LEASE_SECONDS
    # Which deployer the functions build (wiring.build_deployer): "v1" or "v2".
    greengrass: str = default_of("GREENGRASS")
    # V2 only: files in flight side by side, and the functions' share of the region's V2 quota.
    v2_files_in_flight: int = default_of("V2_FILES_IN_FLIGHT")
    greengrass_requests_per_second: int = default_of("GREENGRASS_REQUESTS_PER_SECOND")
    # V2: how long a thing group target waits for its members when its line sets no job timeout
    # (its deadline is set when it starts: both functions start files).
    thing_group_deadline_minutes: int = default_of("THING_GROUP_DEADLINE_MINUTES")

    def __post_init__(self) -> None:
        check_prefixes(self.incoming_prefix, self.staged_prefix, self.reports_prefix)
        if not _REGION.match(self.region):
            raise ConfigurationError(f"AWS_REGION {self.region!r} is not an AWS region name")
        _bounded(BY_ENV["GREENGRASS"], self.greengrass)

    @property
    def function_requests_per_second(self) -> float:
        """This function's part of ``greengrass_requests_per_second``: half (two functions share it)."""
        return self.greengrass_requests_per_second / 2

    @classmethod
    def _read(cls, env: Mapping[str, str], wiring: Mapping[str, Any]) -> dict[str, Any]:
        """The wiring plus every schema setting this class has a field for, from ``env``."""
        values: dict[str, Any] = {
            "ledger_table_name": required_variable(env, LEDGER_TABLE_NAME.env),
            "region": env.get("AWS_REGION") or required_variable(env, "AWS_DEFAULT_REGION"),
            "outcomes_topic_arn": env.get(OUTCOMES_TOPIC_ARN.env) or None,
            **wiring,
        }
        for item in fields(cls):
            entry = BY_ENV.get(item.name.upper())
            if entry is None or item.name in values:
                continue
            raw = _raw(env, entry)
            if raw is not None:
                values[item.name] = _parse(entry, raw)
        return values


@dataclass(frozen=True, kw_only=True)
class StarterSettings(DispatchSettings):
    """The starter's settings: intake, validation and staging on top of dispatch. It neither
    gets nor checks the tracker's."""

    # V1: the role Greengrass assumes for a bulk deployment. V2 passes none: "".
    execution_role_arn: str = ""
    default_tags: Mapping[str, str] = field(default_factory=dict)
    processing_lease_seconds: int = default_of("PROCESSING_LEASE_SECONDS")
    # The stack's allow-list of deployable GroupIds (None: any group the execution role may deploy).
    deployable_group_ids: frozenset[str] | None = None
    # V2: the stack's allow-list of thing and thing group ARNs (None: any in the account and region).
    deployable_target_arns: frozenset[str] | None = None
    # V2: whether deployment documents above the 7 KB / 31 KB limits are accepted (devices need
    # nucleus 2.3.0+ and greengrass:GetDeploymentConfiguration).
    allow_large_deployment_documents: bool = default_of("ALLOW_LARGE_DEPLOYMENT_DOCUMENTS")
    # Where messages that can never succeed are parked at once (None: SQS's retries decide).
    intake_dead_letter_queue_url: str | None = None
    # V2: the stack's account; a line's target must be one of its things or thing groups.
    stack_account_id: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = EXECUTION_ROLE_ARN.env
        if self.greengrass == GREENGRASS_V2:
            if self.execution_role_arn:
                raise ConfigurationError(
                    f"{name} is set, but Greengrass V2 deployments take no execution role"
                )
            if not _ACCOUNT.match(self.stack_account_id):
                raise ConfigurationError(
                    f"{STACK_ACCOUNT_ID.env} {self.stack_account_id!r} is not an AWS account id "
                    "(GREENGRASS=v2 checks each target's account against it)"
                )
        elif not self.execution_role_arn:
            raise ConfigurationError(f"environment variable {name} is required but not set (GREENGRASS=v1)")
        elif not _ROLE_ARN.match(self.execution_role_arn):
            raise ConfigurationError(f"{name} {self.execution_role_arn!r} is not an IAM role ARN")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StarterSettings:
        env = os.environ if env is None else env
        wiring = {
            "execution_role_arn": env.get(EXECUTION_ROLE_ARN.env, "").strip(),
            "intake_dead_letter_queue_url": env.get(INTAKE_DEAD_LETTER_QUEUE_URL.env) or None,
            "stack_account_id": env.get(STACK_ACCOUNT_ID.env, "").strip(),
        }
        return cls(**cls._read(env, wiring))


def dispatch_fields(settings: DispatchSettings) -> dict[str, Any]:
    """The dispatch settings of either function's settings, to build the other's (tests, tools)."""
    return {item.name: getattr(settings, item.name) for item in fields(DispatchSettings)}


def _raw(env: Mapping[str, str], entry: Setting) -> str | None:
    """The variable's text (None: unset or blank); a renamed variable's old name still works."""
    assert entry.env is not None
    for name in (entry.env, *entry.old_envs):
        raw = env.get(name)
        if raw is not None and raw.strip() != "":
            if name != entry.env:
                warnings.warn(deprecation_message(name, entry, env=True), FutureWarning, stacklevel=4)
            return raw
    return None


def _parse(entry: Setting, raw: str) -> Any:
    assert entry.env is not None
    name = entry.env
    if entry.type is int:
        return _bounded(entry, _int(name, raw))
    if entry.type is float:
        return _bounded(entry, _float(name, raw))
    if entry.type is dict:
        return _tags(name, raw)
    if entry.type is list:
        return _allow_list(name, raw)
    if entry.type is bool:
        return _bool(name, raw)
    return _bounded(entry, raw.strip()) if entry.choices else raw


def _bounded(entry: Setting, value: Any) -> Any:
    """``value`` if it is within the setting's bounds or among its choices."""
    allowed = value in entry.choices if entry.choices else entry.allows(value)
    if not allowed:
        raise ConfigurationError(f"environment variable {entry.env}={value} is not {entry.bounds_text()}")
    return value


def required_variable(env: Mapping[str, str], name: str) -> str:
    """The variable's value, stripped; a ConfigurationError naming it when unset or blank."""
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is required but not set")
    return value


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not an integer") from None


def _float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not a number") from None


def _tags(name: str, raw: str) -> dict[str, str]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} is not valid JSON") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(f"environment variable {name} must be a JSON object of strings")
    return value


def _bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text not in ("true", "false"):
        raise ConfigurationError(f"environment variable {name}={raw!r} is not true or false")
    return text == "true"


def _allow_list(name: str, raw: str) -> frozenset[str]:
    """A JSON array of GroupIds (V1) or target ARNs (V2); unset means no allow-list."""
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} is not valid JSON") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"environment variable {name} must be a non-empty JSON array of strings")
    return frozenset(value)
