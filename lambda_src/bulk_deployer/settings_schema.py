"""Every setting of the stack, declared once: context key, environment variable, type, default,
bounds, which function reads it, and one line of documentation.

Why: the same setting used to be written down in seven places (runtime default, field, rule and
variable name; infra's key, field, range and variable name; ``cdk.json``; the README) and the
copies drifted. Now the runtime settings (``bulk_deployer.config``), the deploy configuration and
the functions' environments (``infra.config``), ``cdk.json``'s defaults and the README's tables
(``python -m infra.settings_docs``) are all derived from :data:`SETTINGS`.

Adding a setting: one entry in :data:`SETTINGS`; a field named after its variable (lower case)
in the settings object of each function that reads it (``StarterSettings``, ``TrackerSettings``,
or ``DispatchSettings`` for both), or in ``infra.config.DeployConfig`` for one only the stack
uses; ``only_for`` if only one Greengrass version uses it (``greengrass``: the functions of a
stack of the other version do not get it); its use; its tests; then ``python -m
infra.settings_docs`` (cdk.json, README). Renaming one: the new names, and the old ones in
``old_keys`` / ``old_envs`` (still read, with a warning).

This module is on the starter's cold-start path: the standard library's dataclasses and enum only.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Flag, auto
from typing import Any, Final, NamedTuple

from bulk_deployer.contract import SERVICE


class Reader(Flag):
    """Which functions get an environment variable: their settings object reads it (or, for
    POWERTOOLS_*, Powertools does)."""

    NONE = 0
    STARTER = auto()
    TRACKER = auto()
    BOTH = STARTER | TRACKER


class Setting(NamedTuple):
    """One setting. ``key`` is its cdk.json context key (None: the stack derives or wires it);
    ``env`` its Lambda environment variable (None: infra only, no function reads it).

    A ``NamedTuple`` (built by keyword), not a dataclass: both functions define the schema's
    records at every cold start, and a frozen dataclass's generated methods are compiled from
    source when it is defined (docs/performance.md, step 3b)."""

    key: str | None
    env: str | None
    type: type
    # None for a derived setting: it takes its source's default (see default_of).
    default: Any
    doc: str
    readers: Reader = Reader.NONE
    low: float | None = None
    high: float | None = None
    # The lower bound itself is refused (a setting that must be above ``low``).
    low_exclusive: bool = False
    choices: tuple[Any, ...] = ()
    # The context key whose value this one takes (computed in infra.config.DeployConfig.value_of).
    derived_from: str | None = None
    # Names this setting had before: still accepted, with a deprecation warning.
    old_keys: tuple[str, ...] = ()
    old_envs: tuple[str, ...] = ()
    # The Greengrass version (``greengrass``) the setting means something for (None: both). In a
    # stack of the other version the functions do not get it, and a value set for it is a synth
    # warning.
    only_for: str | None = None

    def bounds_text(self) -> str:
        """The allowed values, for error messages and the README ("" when any value of the type)."""
        if self.choices:
            return "one of " + ", ".join(str(choice) for choice in self.choices)
        if self.low is None:
            return ""
        low = _number(self.low) + (" (excluded)" if self.low_exclusive else "")
        if self.high is None:
            return f"at least {low}"
        return f"between {low} and {_number(self.high)}"

    def allows(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_exclusive else value < self.low):
            return False
        return self.high is None or value <= self.high


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


MAX_LAMBDA_TIMEOUT_SECONDS: Final = 15 * 60
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
MAX_QUEUE_VISIBILITY_SECONDS: Final = 12 * 60 * 60
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Which deployment service a stack uses: Greengrass V1 bulk deployments or V2 deployments.
GREENGRASS_V1: Final = "v1"
GREENGRASS_V2: Final = "v2"
GREENGRASS_VERSIONS: Final = (GREENGRASS_V1, GREENGRASS_V2)
# Greengrass V2 allows 30 management requests per second per region, shared by every caller of
# the account (people, scripts, other tools); the functions' share leaves at least 5 to them.
MAX_GREENGRASS_REQUESTS_PER_SECOND: Final = 25
# IoT Jobs' inProgressTimeoutInMinutes allows at most 10,080 minutes (7 days).
MAX_THING_GROUP_DEADLINE_MINUTES: Final = 7 * 24 * 60
REMOVAL_POLICIES: Final = ("retain", "destroy")
_THIRTY_DAYS: Final = 30 * 86_400

# fmt: off
SETTINGS: Final[tuple[Setting, ...]] = (
    # -- stack, buckets and logs
    Setting(key="stackName", env=None, type=str, default="BulkDeployer",
            doc="Name of the CloudFormation stack (and of `cdk.out/<stackName>.template.json`)."),
    Setting(key="greengrass", env="GREENGRASS", type=str, default=GREENGRASS_V1,
            readers=Reader.BOTH, choices=GREENGRASS_VERSIONS,
            doc=(
                "Which deployment service the stack drives: `v1` (Greengrass V1 bulk deployments, with an "
                "execution role) or `v2` (Greengrass V2 deployments to things and thing groups, no execution"
                " role). Selects the functions' deployer and their IAM; settings of the other version are "
                "not given to the functions, and a value set for one is a synthesis warning."
            )),
    Setting(key="incomingPrefix", env="INCOMING_PREFIX", type=str, default="incoming/",
            readers=Reader.BOTH,
            doc=(
                "Key prefix operators upload input files to; only objects created here start work. Must end "
                "with `/` and must not overlap the other two prefixes."
            )),
    Setting(key="stagedPrefix", env="STAGED_PREFIX", type=str, default="staged/",
            readers=Reader.BOTH,
            doc="Key prefix of the validated, immutable copies Greengrass reads."),
    Setting(key="reportsPrefix", env="REPORTS_PREFIX", type=str, default="reports/",
            readers=Reader.BOTH,
            doc="Key prefix of rejection and deployment reports."),
    Setting(key="defaultTags", env="DEFAULT_TAGS", type=dict, default={},
            readers=Reader.STARTER,
            doc=(
                "Tags (object of string to string, or its JSON text) put on every bulk deployment the stack "
                "starts; at most 45, no `aws:` keys, and not the `deployableGroupTag` pair (the functions may"
                " not set it)."
            )),
    Setting(key="noncurrentVersionExpirationDays", env=None, type=int, default=30,
            low=1, high=3650,
            doc="Days after which noncurrent (overwritten or deleted) object versions are removed."),
    Setting(key="stagedExpirationDays", env=None, type=int, default=90,
            low=1, high=3650,
            doc="Days after which staged copies expire; must be longer than any bulk deployment runs."),
    Setting(key="accessLogExpirationDays", env=None, type=int, default=365,
            low=1, high=3650,
            doc="Days the S3 server access logs (separate log bucket) are kept."),
    Setting(key="logRetentionDays", env=None, type=int, default=90,
            choices=LOG_RETENTION_DAYS,
            doc="Retention of the functions' log groups; one of the CloudWatch Logs values."),
    # -- the starter
    Setting(key="starterMemoryMb", env=None, type=int, default=1024,
            low=128, high=10240,
            doc="Memory of the starter function (MB); CPU grows with it."),
    Setting(key="starterTimeoutSeconds", env=None, type=int, default=300,
            low=1, high=MAX_LAMBDA_TIMEOUT_SECONDS,
            doc=(
                "Timeout of the starter function (seconds). Also its processing lease "
                "(`PROCESSING_LEASE_SECONDS`)."
            )),
    Setting(key=None, env="PROCESSING_LEASE_SECONDS", type=int, default=None,
            readers=Reader.STARTER, low=1, high=MAX_LAMBDA_TIMEOUT_SECONDS,
            derived_from="starterTimeoutSeconds",
            doc="How long one starter invocation owns a file it is processing: the starter's timeout."),
    Setting(key="intakeVisibilityTimeoutSeconds", env=None, type=int, default=None,
            low=1, high=MAX_QUEUE_VISIBILITY_SECONDS,
            doc=(
                "Visibility timeout of the intake queue (seconds). `null` means 6 x `starterTimeoutSeconds`, "
                "which is also the minimum."
            )),
    Setting(key="maxReceiveCount", env=None, type=int, default=5,
            low=1, high=1000,
            doc="Receives of an intake message before it moves to the intake dead-letter queue."),
    Setting(key="bucketRemovalPolicy", env=None, type=str, default="retain",
            choices=REMOVAL_POLICIES,
            doc=(
                "`retain` keeps the buckets when the stack is deleted; `destroy` deletes them (they must be "
                "emptied first)."
            )),
    Setting(key="executionRoleSourceAccountCondition", env=None, type=bool, default=True,
            only_for=GREENGRASS_V1,
            doc=(
                "Whether the execution role's trust policy requires `aws:SourceAccount` = this account and "
                "`aws:SourceArn` like `arn:<partition>:greengrass:<region>:<account>:*`, as the Greengrass V1"
                " guide recommends for bulk deployment execution roles (see step 4)."
            )),
    Setting(key="uploaderPrincipalArns", env=None, type=list, default=[],
            doc=(
                "IAM role or user ARNs (with the role's path; `*` and `?` wildcards allowed in the name) that"
                " may write under the incoming prefix. When set, the bucket policy denies `s3:PutObject`, "
                "`s3:ReplicateObject`, `s3:PutObjectTagging` and `s3:PutObjectVersionTagging` there to every "
                "principal whose `aws:PrincipalArn` is not listed (a role session counts as its role). "
                "Recommended. With `-c`: a JSON array or comma-separated ARNs. At most 100."
            )),
    Setting(key="deployableGroupIds", env="DEPLOYABLE_GROUP_IDS", type=list, default=[],
            readers=Reader.STARTER, only_for=GREENGRASS_V1,
            doc=(
                "Greengrass GroupIds this stack may deploy; empty means any group of the account and region. "
                "When set, the execution role's `greengrass:CreateDeployment` is limited to exactly these "
                "groups, and the starter rejects a file naming any other group (code `group_not_allowed`, "
                "with the line numbers) before anything starts. At most about 50 UUIDs (2,000 characters as "
                "JSON: the Lambda environment is limited to 4 KB); use `deployableGroupTag` for larger sets."
            )),
    Setting(key="deployableGroupTag", env=None, type=str, default=None,
            only_for=GREENGRASS_V1,
            doc=(
                "`key=value`: the execution role may create deployments only of groups carrying this tag (an "
                "`aws:ResourceTag/<key>` condition). The starter cannot look up the tags of every group in a "
                "file, so a record naming an untagged group is not rejected up front: Greengrass refuses that"
                " group's deployment and counts it in `InvalidInputRecords` of the bulk deployment's report. "
                "Neither function may set this tag on anything (an IAM condition on "
                "`greengrass:TagResource`): a file whose S3 object tags carry exactly this `key=value` is "
                "refused at start (`START_FAILED`). Combine with `deployableGroupIds` for both checks."
            )),
    Setting(key="deployableTargetArns", env="DEPLOYABLE_TARGET_ARNS", type=list, default=[],
            readers=Reader.STARTER, only_for=GREENGRASS_V2,
            doc=(
                "Thing and thing group ARNs (`arn:<partition>:iot:<region>:<account>:thing/<name>` or "
                "`thinggroup/<name>`) this stack may deploy to; empty means any thing or thing group of the "
                "account and region. When set, the functions' `iot:CreateJob` is limited to exactly these "
                "targets, and the starter rejects a file naming any other target, with the line numbers, "
                "before anything starts. At most 2,000 characters as JSON (the Lambda environment is limited"
                " to 4 KB): use thing groups for larger fleets."
            )),
    Setting(key="v2FilesInFlight", env="V2_FILES_IN_FLIGHT", type=int, default=4,
            readers=Reader.BOTH, low=1, high=20, only_for=GREENGRASS_V2,
            doc=(
                "How many files' deployments may run side by side when they share no target (a file waits "
                "for every earlier file that deploys to one of its targets)."
            )),
    Setting(key="greengrassRequestsPerSecond", env="GREENGRASS_REQUESTS_PER_SECOND", type=int, default=10,
            readers=Reader.BOTH, low=1, high=MAX_GREENGRASS_REQUESTS_PER_SECOND, only_for=GREENGRASS_V2,
            doc=(
                "The share of the region's 30 Greengrass V2 requests per second (shared by every caller of "
                "the account, not adjustable) that both functions together may use; each function takes "
                "half of it, for its Greengrass V2 and IoT calls, retries included."
            )),
    Setting(key="thingGroupDeadlineMinutes", env="THING_GROUP_DEADLINE_MINUTES", type=int, default=60,
            readers=Reader.BOTH, low=1, high=MAX_THING_GROUP_DEADLINE_MINUTES, only_for=GREENGRASS_V2,
            doc=(
                "For a line whose `iotJobConfiguration` has no `timeoutConfig.inProgressTimeoutInMinutes`: "
                "how long after its start a thing group target waits for the members recorded at start; then"
                " it is done, and members not finished are reported pending (offline)."
            )),
    Setting(key="allowLargeDeploymentDocuments", env="ALLOW_LARGE_DEPLOYMENT_DOCUMENTS", type=bool,
            default=False, readers=Reader.STARTER, only_for=GREENGRASS_V2,
            doc=(
                "Accept deployment documents over 7 KB (thing) / 31 KB (thing group), up to 10 MB. Only if "
                "every device runs Greengrass nucleus 2.3.0 or later and its token exchange role allows "
                "`greengrass:GetDeploymentConfiguration`: devices without either cannot fetch a large "
                "document. `false` rejects such lines before anything starts."
            )),
    Setting(key="alarmEmail", env=None, type=str, default=None,
            doc=(
                "E-mail address subscribed to the alarm topic (confirm the e-mail AWS sends after the "
                "deploy); `null` for none, and synthesis then warns that the alarms reach nobody (subscribe "
                "to `AlarmTopicArn` yourself; `bulk-deployer doctor` checks for a confirmed subscription). "
                "Checked to look like an address."
            )),
    Setting(key="metricsNamespace", env="POWERTOOLS_METRICS_NAMESPACE", type=str, default="BulkDeployer",
            readers=Reader.BOTH,
            doc=(
                "CloudWatch namespace of the functions' EMF metrics (read by Powertools); must not start with"
                " `AWS/`."
            )),
    Setting(key="logLevel", env="POWERTOOLS_LOG_LEVEL", type=str, default="INFO",
            readers=Reader.BOTH, choices=LOG_LEVELS,
            doc="Log level of the functions (read by Powertools)."),
    # -- dispatch: both functions start files
    Setting(key="ledgerTtlDays", env="LEDGER_TTL_DAYS", type=int, default=400,
            readers=Reader.BOTH, low=1, high=3650,
            doc="Days a finished file's ledger entry is kept (DynamoDB TTL)."),
    Setting(key="startMaxRefusals", env="START_MAX_REFUSALS", type=int, default=3,
            readers=Reader.BOTH, low=1, high=10, old_keys=("startMaxAttempts",),
            old_envs=("START_MAX_ATTEMPTS",),
            doc=(
                "Refused StartBulkDeployment calls (Greengrass said no, not a throttle) before the file is "
                "`START_FAILED` and dispatching pauses."
            )),
    Setting(key="startRetryBaseSeconds", env="START_RETRY_BASE_SECONDS", type=float, default=2.0,
            readers=Reader.BOTH, low=0, high=60,
            doc="Base of the exponential backoff between two refused starts (seconds; doubles each time)."),
    Setting(key="slotLeaseSeconds", env="SLOT_LEASE_SECONDS", type=int, default=300,
            readers=Reader.BOTH, low=1, high=3600,
            doc="Lease of the dispatch slot, after which a crashed holder's slot can be taken over."),
    # -- the tracker
    Setting(key="trackerScheduleMinutes", env=None, type=int, default=1,
            low=1, high=MAX_TRACKER_SCHEDULE_MINUTES,
            doc=(
                "The tracker runs every this many minutes: a finished bulk deployment frees the slot and the "
                "next file starts within one period. Also the period of the tracker-errors alarm."
            )),
    Setting(key="trackerMemoryMb", env=None, type=int, default=1024,
            low=128, high=10240,
            doc="Memory of the tracker function (MB)."),
    Setting(key="trackerTimeoutSeconds", env=None, type=int, default=300,
            low=MIN_TRACKER_TIMEOUT_SECONDS, high=MAX_LAMBDA_TIMEOUT_SECONDS,
            doc=(
                "Timeout of the tracker function (seconds). Also its run lease (`TRACKER_LEASE_SECONDS`): a "
                "run that died blocks the next ones for at most this long. A long report continues in the "
                "next run."
            )),
    Setting(key=None, env="TRACKER_LEASE_SECONDS", type=int, default=None,
            readers=Reader.TRACKER, low=MIN_TRACKER_TIMEOUT_SECONDS, high=MAX_LAMBDA_TIMEOUT_SECONDS,
            derived_from="trackerTimeoutSeconds",
            doc="How long one tracker run holds its lease: the tracker's timeout."),
    Setting(key="trackerFollowSeconds", env="TRACKER_FOLLOW_SECONDS", type=float, default=30.0,
            readers=Reader.TRACKER, low=0, high=60,
            doc=(
                "After a tracker run starts a file while more files wait, it keeps following the new bulk "
                "deployment for up to this long (less than one period, and at least 60 s under "
                "`trackerTimeoutSeconds`) and starts the next file as soon as it ends: a backlog of small "
                "files drains at several files per period instead of one. The run is billed for the wait; `0`"
                " gives one look per run."
            )),
    Setting(key="trackerPollSeconds", env="TRACKER_POLL_SECONDS", type=float, default=5.0,
            readers=Reader.TRACKER, low=0, high=60, low_exclusive=True,
            doc="Seconds between two `GetBulkDeploymentStatus` looks while a run follows on."),
    Setting(key="overdueAfterSeconds", env="OVERDUE_AFTER_SECONDS", type=int, default=6 * 3600,
            readers=Reader.TRACKER, low=60, high=_THIRTY_DAYS,
            doc=(
                "A bulk deployment still running after this long is overdue: WARNING log, metric "
                "`BulkDeploymentOverdue`, alarm."
            )),
    Setting(key="reportSettleBoundSeconds", env="REPORT_SETTLE_BOUND_SECONDS", type=int, default=24 * 3600,
            readers=Reader.TRACKER, low=60, high=_THIRTY_DAYS,
            doc=(
                "How long after a bulk deployment ended the tracker waits for every group deployment to reach"
                " Success or Failure; then it writes the final report anyway, naming the groups still in "
                "progress."
            )),
    Setting(key="reportRecheckSeconds", env="REPORT_RECHECK_SECONDS", type=int, default=300,
            readers=Reader.TRACKER, low=0, high=86_400,
            doc="Seconds between two looks at the group deployments of a report that is not final yet."),
    Setting(key="reportPageSize", env="REPORT_PAGE_SIZE", type=int, default=100,
            readers=Reader.TRACKER, low=1, high=MAX_REPORT_PAGE_SIZE,
            doc="Group results per `ListBulkDeploymentDetailedReports` page."),
    Setting(key="reconcileEverySeconds", env="RECONCILE_EVERY_SECONDS", type=int, default=3600,
            readers=Reader.TRACKER, low=60, high=7 * 86_400,
            doc=(
                "Seconds between two reconciliations of the incoming prefix against the ledger. The "
                "`UnprocessedInputFiles` alarm is evaluated over this plus one tracker period and one tracker"
                " timeout (in whole minutes), which CloudWatch allows up to 7 days."
            )),
    Setting(key="reconcileLookbackDays", env="RECONCILE_LOOKBACK_DAYS", type=int, default=3,
            readers=Reader.TRACKER, low=1, high=365,
            doc="Reconciliation looks at incoming objects modified in the last this many days."),
    Setting(key="reconcileMinAgeSeconds", env="RECONCILE_MIN_AGE_SECONDS", type=int, default=300,
            readers=Reader.TRACKER, low=0, high=86_400,
            doc="An incoming object younger than this is not yet expected in the ledger."),
    # -- alarms and packaging
    Setting(key="oldestQueuedFileAlarmSeconds", env=None, type=int, default=6 * 3600,
            low=60, high=_THIRTY_DAYS,
            doc=(
                "The `OldestQueuedFileAgeSeconds` alarm fires when a file has waited longer than this to "
                "start (seconds)."
            )),
    Setting(key="bundleDependencies", env=None, type=bool, default=True,
            doc=(
                "Bundle `requirements.txt` into the Lambda asset. `false` ships `lambda_src/` only: for fast "
                "template tests, never for a deployment."
            )),
)
# fmt: on


class Wiring(NamedTuple):
    """An environment variable the stack wires to a resource it creates (no default, no context
    key): resource ids are not configuration, so they live here only for their names and docs."""

    env: str
    doc: str
    readers: Reader
    required: bool = True
    # A fixed value the stack always sets (not a resource id).
    value: str | None = None


LEDGER_TABLE_NAME: Final = Wiring("LEDGER_TABLE_NAME", "the ledger table", Reader.BOTH)
EXECUTION_ROLE_ARN: Final = Wiring(
    "EXECUTION_ROLE_ARN",
    "the role Greengrass assumes to run a bulk deployment (`v1` only: V2 passes no role)",
    Reader.STARTER,
)
INPUT_BUCKET_NAME: Final = Wiring("INPUT_BUCKET_NAME", "the bucket reconciliation lists", Reader.TRACKER)
OUTCOMES_TOPIC_ARN: Final = Wiring(
    "OUTCOMES_TOPIC_ARN", "where outcome notifications go (unset: none)", Reader.BOTH, required=False
)
INTAKE_DEAD_LETTER_QUEUE_URL: Final = Wiring(
    "INTAKE_DEAD_LETTER_QUEUE_URL",
    "where intake messages that can never succeed are parked at once (unset: SQS's retries decide)",
    Reader.STARTER,
    required=False,
)
STACK_ACCOUNT_ID: Final = Wiring(
    "STACK_ACCOUNT_ID",
    "the stack's account (`v2` only: a line's target must be a thing or thing group of it)",
    Reader.STARTER,
    required=False,
)
SERVICE_NAME: Final = Wiring(
    "POWERTOOLS_SERVICE_NAME",
    "the EMF `service` dimension (read by Powertools)",
    Reader.BOTH,
    value=SERVICE,
)
WIRING: Final = (
    LEDGER_TABLE_NAME,
    EXECUTION_ROLE_ARN,
    INPUT_BUCKET_NAME,
    OUTCOMES_TOPIC_ARN,
    INTAKE_DEAD_LETTER_QUEUE_URL,
    STACK_ACCOUNT_ID,
    SERVICE_NAME,
)

BY_KEY: Final[Mapping[str, Setting]] = {s.key: s for s in SETTINGS if s.key is not None}
BY_ENV: Final[Mapping[str, Setting]] = {s.env: s for s in SETTINGS if s.env is not None}
# Old context key -> the setting it now names.
RENAMED_KEYS: Final[Mapping[str, Setting]] = {old: s for s in SETTINGS for old in s.old_keys}


def applies_to(entry: Setting, greengrass: str) -> bool:
    """Whether a setting means something in a stack of this Greengrass version."""
    return entry.only_for is None or entry.only_for == greengrass


def setting(key_or_env: str) -> Setting:
    """The setting with this context key or environment variable."""
    found = BY_KEY.get(key_or_env) or BY_ENV.get(key_or_env)
    if found is None:
        raise KeyError(key_or_env)
    return found


def default_of(key_or_env: str) -> Any:
    """A setting's default; a derived setting takes its source's default (one place for both)."""
    found = setting(key_or_env)
    return BY_KEY[found.derived_from].default if found.derived_from else found.default


def deprecation_message(old: str, new: Setting, *, env: bool = False) -> str:
    """What an old name of a renamed setting says when it is still used."""
    if env:
        return f"environment variable {old} is deprecated: it is now {new.env} (same value and meaning)"
    return (
        f"cdk.json context key {old!r} is deprecated: rename it {new.key!r} (same value and meaning); "
        "the old name will stop working in a later release"
    )
