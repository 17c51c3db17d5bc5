"""Core devices: how each one behaves when a deployment reaches it, and what it then runs.

Why a behaviour per thing: the product must report devices that stay offline, fail (with the
nucleus' error stack, rolling back or not), time out or reject, without a real fleet. Every
thing is a Greengrass core device here; its health and installed components follow from the
deployments it applied, as the nucleus reports them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

BehaviourKind = Literal["healthy", "offline", "failing", "slow", "rejecting"]
KINDS: tuple[BehaviourKind, ...] = ("healthy", "offline", "failing", "slow", "rejecting")

# What the nucleus reports (DeploymentService's detailsMap keys and error codes it uses).
DEFAULT_ERRORS: dict[str, tuple[list[str], list[str], str]] = {
    "failing": (
        ["DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR", "COMPONENT_BROKEN"],
        ["COMPONENT_ERROR"],
        "Emulated failure: a component of the deployment went BROKEN during the update.",
    ),
    "rejecting": (
        ["DEPLOYMENT_REJECTED", "REJECTED_STALE_DEPLOYMENT"],
        ["REQUEST_ERROR"],
        "Emulated rejection: the device refused the deployment.",
    ),
}


@dataclass
class Behaviour:
    """What a device does with the next deployments it is sent.

    - healthy: takes the execution after pickup_seconds, succeeds apply_seconds later;
    - offline: does nothing (QUEUED stays QUEUED; IN_PROGRESS stays until the job's timeout);
    - failing: takes it, fails apply_seconds later with error_stack/error_types; rolls back
      when the deployment's failureHandlingPolicy is ROLLBACK (unless rollback_fails);
    - slow: takes it and never finishes: TIMED_OUT after the job's inProgressTimeoutInMinutes;
    - rejecting: refuses it when it picks it up (REJECTED).
    """

    kind: BehaviourKind = "healthy"
    since: float = 0.0  # emulator time it was set: waits count from then
    apply_seconds: float | None = None  # None: the emulator's apply_seconds
    error_stack: list[str] | None = None
    error_types: list[str] | None = None
    failure_cause: str | None = None
    rollback_fails: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown device behaviour {self.kind!r}; one of {KINDS}")

    def errors(self) -> tuple[list[str], list[str], str]:
        stack, types, cause = DEFAULT_ERRORS.get(self.kind, DEFAULT_ERRORS["failing"])
        return (self.error_stack or stack, self.error_types or types, self.failure_cause or cause)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as set_device takes them (copies: the caller cannot change the behaviour)."""
        return asdict(self)


@dataclass
class Applied:
    """The components one target's deployment put on the device (replaced by the next one)."""

    deployment_id: str
    components: dict[str, str]  # name -> version
    state: str  # RUNNING, or BROKEN after a failure that was not rolled back
    at: float


@dataclass
class Device:
    thing_name: str
    registered_at: float
    behaviour: Behaviour = field(default_factory=Behaviour)
    last_report_at: float = 0.0
    applied: dict[str, Applied] = field(default_factory=dict)  # target ARN -> what it applied

    @property
    def status(self) -> str:
        return "UNHEALTHY" if any(a.state == "BROKEN" for a in self.applied.values()) else "HEALTHY"

    def report(self, at: float) -> None:
        self.last_report_at = max(self.last_report_at, at)

    def apply(
        self, target_arn: str, deployment_id: str, components: dict[str, str], state: str, at: float
    ) -> None:
        self.applied[target_arn] = Applied(deployment_id, dict(components), state, at)

    def summary(self) -> dict[str, Any]:
        """ListCoreDevices entry (GetCoreDevice adds version and tags)."""
        return {
            "coreDeviceThingName": self.thing_name,
            "status": self.status,
            "lastStatusUpdateTimestamp": self.last_report_at or self.registered_at,
            "platform": "linux",
            "architecture": "amd64",
            "runtime": "aws_nucleus_classic",
        }

    def installed(self) -> list[dict[str, Any]]:
        """ListInstalledComponents: the union of what each target applied (the newest wins a name)."""
        found: dict[str, dict[str, Any]] = {}
        for applied in sorted(self.applied.values(), key=lambda a: a.at):
            for name, version in applied.components.items():
                found[name] = {
                    "componentName": name,
                    "componentVersion": version,
                    "lifecycleState": "BROKEN" if applied.state == "BROKEN" else "RUNNING",
                    "isRoot": True,
                    "lastStatusChangeTimestamp": applied.at,
                    "lastReportedTimestamp": self.last_report_at,
                    "lastInstallationSource": applied.deployment_id,
                }
        return [found[name] for name in sorted(found)]
