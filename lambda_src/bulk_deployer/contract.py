"""Names that cross a boundary: the functions write them, the stack, the CLI and operators read them.

Each is spelled here once. The functions emit these metrics and log these events; the stack's
alarms, dashboard and saved queries select them (``infra/monitoring.py``); the CLI and the
stack agree on the intake message group and the token tag. A name changed here changes on
both sides; a name spelled anywhere else is a bug.

Standard library only: the functions import it on every cold start, and the stack and the CLI
import it without the functions' dependencies.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Final

# Powertools' service name (POWERTOOLS_SERVICE_NAME): the one EMF dimension of every metric
# below, so an alarm on one of them must name exactly this dimension.
SERVICE: Final = "bulk-deployer"


@unique
class Metric(StrEnum):
    """The EMF metrics the functions emit (namespace: POWERTOOLS_METRICS_NAMESPACE).

    Counts (unit Count) unless the name ends in ``Seconds`` (unit Seconds). The public names:
    dashboards and alarms outside this stack may use them too.
    """

    # starter: one per intake message, by outcome
    INPUT_FILE_QUEUED = "InputFileQueued"
    INPUT_FILE_REJECTED = "InputFileRejected"
    INPUT_FILE_SUPERSEDED = "InputFileSuperseded"  # also dispatch: superseded while queued
    DUPLICATE_EVENT_IGNORED = "DuplicateEventIgnored"
    # starter: a message that failed (SQS delivers it again) or that can never succeed (parked)
    INTAKE_MESSAGE_FAILED = "IntakeMessageFailed"
    INTAKE_MESSAGE_PARKED = "IntakeMessageParked"
    # dispatch (starter, tracker, the CLI's resume)
    BULK_DEPLOYMENT_STARTED = "BulkDeploymentStarted"
    WAITING_FOR_PREVIOUS_BULK_DEPLOYMENT = "WaitingForPreviousBulkDeployment"
    START_FAILED = "StartFailed"
    # tracker: bulk deployments by terminal status, and one that runs too long
    BULK_DEPLOYMENT_COMPLETED = "BulkDeploymentCompleted"
    BULK_DEPLOYMENT_FAILED = "BulkDeploymentFailed"
    BULK_DEPLOYMENT_STOPPED = "BulkDeploymentStopped"
    BULK_DEPLOYMENT_OVERDUE = "BulkDeploymentOverdue"
    # tracker: increments of the bulk deployment's own counters (Greengrass's
    # BulkDeploymentMetrics fields, whose names these are)
    RECORDS_PROCESSED = "RecordsProcessed"
    INVALID_INPUT_RECORDS = "InvalidInputRecords"
    RETRY_ATTEMPTS = "RetryAttempts"
    # tracker: the report pass
    GROUP_DEPLOYMENTS_FAILED = "GroupDeploymentsFailed"
    # tracker, Greengrass V2: increments of the per-device counts of a file's deployments
    # Greengrass V2 stacks: a file's deployments to its targets, by how they ended
    FILE_DEPLOYMENT_STARTED = "FileDeploymentStarted"
    FILE_DEPLOYMENT_COMPLETED = "FileDeploymentCompleted"
    FILE_DEPLOYMENT_FAILED = "FileDeploymentFailed"
    FILE_DEPLOYMENT_STOPPED = "FileDeploymentStopped"
    FILE_DEPLOYMENT_OVERDUE = "FileDeploymentOverdue"
    WAITING_FOR_TARGETS = "WaitingForTargets"
    # Greengrass V2: the report's devices that did not succeed (failed, or pending at the deadline)
    DEVICES_NOT_SUCCEEDED = "DevicesNotSucceeded"
    DEVICE_DEPLOYMENTS_SUCCEEDED = "DeviceDeploymentsSucceeded"
    # Greengrass V2 stacks: a Greengrass V2 or IoT request answered "throttled" (retried with
    # backoff; the region's 30 requests per second are shared with every other caller)
    GREENGRASS_REQUESTS_THROTTLED = "GreengrassRequestsThrottled"
    DEVICE_DEPLOYMENTS_FAILED = "DeviceDeploymentsFailed"
    DEVICES_PENDING_AT_DEADLINE = "DevicesPendingAtDeadline"
    # Greengrass V2: targets of a started file that the service refused (an error no retry fixes);
    # the file's other targets went on. Re-emitted by the tracker when it first follows the file.
    TARGETS_REFUSED = "TargetsRefused"
    # tracker: gauges, once per run (UnprocessedInputFiles once per reconciliation)
    QUEUED_FILES = "QueuedFiles"
    OLDEST_QUEUED_FILE_AGE_SECONDS = "OldestQueuedFileAgeSeconds"
    DISPATCH_PAUSED = "DispatchPaused"
    UNPROCESSED_INPUT_FILES = "UnprocessedInputFiles"


@unique
class LogEvent(StrEnum):
    """Log messages that the stack's saved Logs Insights queries select by their text."""

    INPUT_FILE_REJECTED = "input file rejected"
    BULK_DEPLOYMENT_STARTED = "bulk deployment started"
    BULK_DEPLOYMENT_RECOVERED = "recovered a bulk deployment started by an interrupted attempt"


@unique
class FileOutcome(StrEnum):
    """What became of an input file: the outcomes topic's ``outcome`` attribute (subscribers
    filter on it) and the ``outcome`` of the reports."""

    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    STARTED = "started"
    START_FAILED = "start_failed"
    FINISHED = "finished"


@unique
class ReportFile(StrEnum):
    """The files the functions write under ``<reports prefix><token>/``; the CLI reads them."""

    REJECTED = "rejected.json"
    REPORT = "report.json"
    # Beside report.json, the rows' CSV is named by the deployer (deployers.base.ReportRows).


# The intake FIFO queue's one message group: EventBridge's target sends every S3 event in it,
# and the CLI's redrive sends parked messages back in it, so intake stays in upload order.
INTAKE_MESSAGE_GROUP_ID: Final = "intake"

# The tag every bulk deployment carries: the input file's token. It finds a start after a
# crash (idempotency) and the execution role's policy requires it on StartBulkDeployment.
TOKEN_TAG: Final = "bulk-deployer:token"  # noqa: S105 - a tag key, not a secret

# Greengrass V2: each target's deployment carries its own token in TOKEN_TAG (derived from the
# file's) and the file's token in this tag, so every deployment of one file can be found.
FILE_TOKEN_TAG: Final = "bulk-deployer:file-token"  # noqa: S105 - a tag key, not a secret
