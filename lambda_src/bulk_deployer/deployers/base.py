"""The deployer interface: the few questions the file pipeline asks a deployment service.

The core starts one deployment per file, idempotently by the file's token; looks for a start
whose answer was lost; asks whether the service is busy; follows a deployment's lifecycle;
pages its per-target results into the report; and can stop it. Everything about one
service's API — operation names, status names, metric fields, report columns — lives in its
own subpackage. The contract test suite (tests/deployers) holds every deployer and every fake
of one to the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from bulk_deployer.contract import Metric
from bulk_deployer.ledger_model import StartRequest

__all__ = [
    "Deployer",
    "DeploymentStatus",
    "Lifecycle",
    "LifecycleMetrics",
    "ReportRows",
    "StartIncomplete",
    "StartRejected",
    "StartRequest",
    "StartRequestBuilder",
    "StartedDeployment",
    "TargetOutcome",
    "TargetResult",
]


class Lifecycle(StrEnum):
    """Where a deployment stands, in the core's words: running, or how it ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


class TargetOutcome(StrEnum):
    """Where one target (a group, a thing group) of a deployment stands."""

    PENDING = "pending"  # may still change: the report waits for it to settle
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StartRejected(Exception):
    """The service refused the start for a reason retrying the same request will not fix.

    A start refused because another deployment is running is one of these too: the core
    tells the two apart by asking ``latest()``, not by the service's message text.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ReportRows(NamedTuple):
    """What the rows of a deployer's report are (Greengrass V1: group deployments; V2: devices).

    The report's member and CSV, its counts and samples are named after them, so a reader of
    ``report.json`` sees the service's own words; a final report counts the failed rows.
    """

    noun: str  # singular, lower case: "group"
    failed_metric: Metric

    # report.json's member holding the rows, the CSV, the count and the sample: "groups",
    # "groups.csv", "group_count", "failed_groups_sample".
    @property
    def member(self) -> str:
        return f"{self.noun}s"

    @property
    def csv_name(self) -> str:
        return f"{self.noun}s.csv"

    @property
    def count_key(self) -> str:
        return f"{self.noun}_count"

    @property
    def failed_sample_key(self) -> str:
        return f"failed_{self.noun}s_sample"


class LifecycleMetrics(NamedTuple):
    """The metrics the core counts as a file's deployment goes by, named in the service's words
    (Greengrass V1: BulkDeploymentStarted, ...), so the alarms of a stack read as its service."""

    started: Metric
    waiting: Metric  # a start waits for a deployment that is not ours (V1: the account's one)
    completed: Metric
    failed: Metric
    stopped: Metric
    overdue: Metric

    @classmethod
    def named(cls, subject: str, *, waiting: Metric) -> LifecycleMetrics:
        """``<subject>Started``, ``<subject>Completed``, ... (each a contract.Metric)."""
        return cls(
            waiting=waiting,
            **{stage: Metric(f"{subject}{stage.title()}") for stage in _STAGES},
        )

    def ended(self, lifecycle: Lifecycle) -> Metric:
        """The metric of a deployment that ended this way."""
        return {Lifecycle.SUCCEEDED: self.completed, Lifecycle.STOPPED: self.stopped}.get(
            lifecycle, self.failed
        )


_STAGES = ("started", "completed", "failed", "stopped", "overdue")


class StartIncomplete(Exception):
    """A start that takes many calls (one per target) ran out of time part-way.

    What it started is recorded where the deployer can find it again; calling ``start`` with
    the same token and request resumes it, so the core leaves the file STARTING and the next
    dispatch carries on.
    """


class StartedDeployment(NamedTuple):
    """``details``: what the outcome "started" says beside the ids (Greengrass V2: the targets
    the service refused while the file's others started)."""

    deployment_id: str
    arn: str
    details: Mapping[str, Any] = MappingProxyType({})


class DeploymentStatus(NamedTuple):
    """A deployment as the service reports it; ``status`` is the service's own word for it."""

    deployment_id: str
    status: str
    lifecycle: Lifecycle
    created_at: str | None = None
    tags: Mapping[str, str] = MappingProxyType({})
    error_message: str | None = None
    error_details: Sequence[Mapping[str, Any]] = ()
    metrics: Mapping[str, int] = MappingProxyType({})
    arn: str | None = None
    # Of a running deployment, the resources (of ``Deployer.resources``) it is done with (V2: its
    # settled targets): the core frees them at once, so a later file waiting only for them may
    # start before this deployment ends. A deployer of one resource per file leaves it empty.
    settled_resources: frozenset[str] = frozenset()

    @property
    def terminal(self) -> bool:
        return self.lifecycle is not Lifecycle.RUNNING


class TargetResult(NamedTuple):
    """One target's row of the report: ``row`` holds the deployer's ``report_columns``."""

    target: str  # the target's ARN: what the report's samples list
    status: str  # the service's word, counted in the report's summary
    outcome: TargetOutcome
    row: Mapping[str, Any]


class StartRequestBuilder(Protocol):
    """Freezes, when a file is queued, what its start will ask of the service."""

    def build(
        self, bucket: str, staged_key: str, tags: Mapping[str, str], targets: tuple[str, ...] = ()
    ) -> StartRequest:
        """The request that deploys the staged copy ``s3://bucket/staged_key``, with these tags
        (to these targets, for a deployer of per-target deployments)."""
        ...


class Deployer(Protocol):
    """What the core needs of a deployment service."""

    # How many files' deployments may run at once (the slot's capacity), and what each holds
    # while it runs (``resources``, less the ``settled_resources`` its status names): two files
    # never deploy to a resource at the same time, and a file never overtakes an earlier waiting
    # one that shares a resource with it.
    capacity: int
    # What the report's rows are, and the names of their columns (in ``<noun>s.csv``), in order.
    report_rows: ReportRows
    lifecycle_metrics: LifecycleMetrics
    report_columns: tuple[str, ...]
    # The service's metric fields the tracker re-emits as increments under the same names.
    counter_metrics: tuple[Metric, ...]

    def resources(self, request: StartRequest) -> frozenset[str]:
        """What a file's deployment holds while it runs (an account, the targets it deploys to)."""
        ...

    def start(self, token: str, request: StartRequest) -> StartedDeployment:
        """Start once per token: the same token and request return the same deployment.

        Raises ``StartRejected`` for a refusal (including "another deployment is running"), and
        ``StartIncomplete`` when a start of many calls must be resumed by calling it again.
        """
        ...

    def status(self, deployment_id: str) -> DeploymentStatus: ...

    def latest(self) -> DeploymentStatus | None:
        """The most recent deployment of the account: running means the service is busy."""
        ...

    def find_by_token(self, token: str, *, created_since: str | None) -> DeploymentStatus | None:
        """The deployment a start with this token created, if any (a lost answer, a crash)."""
        ...

    def target_results(
        self, deployment_id: str, *, next_token: str | None, page_size: int
    ) -> tuple[list[TargetResult], str | None]:
        """One page of per-target results and the next page's token (None at the end)."""
        ...

    def report_details(self, deployment_id: str) -> Mapping[str, Any]:
        """What the report says beside its rows and the core's header (V2: one summary per target:
        its deployment, what it replaced and removed, its counts and outcome; V1: nothing)."""
        ...

    def target_outcome(self, status: str) -> TargetOutcome:
        """What a target status (a key of the report's counts) means to the report."""
        ...

    def stop(self, deployment_id: str) -> tuple[str, ...]:
        """Stop a started file's deployment; the Greengrass deployments stopped (V1: the bulk
        deployment; V2: each target deployment still ACTIVE, cancelled)."""
        ...
