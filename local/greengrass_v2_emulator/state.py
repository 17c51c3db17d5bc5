"""Everything the emulator knows, and the rules that span registry, deployments, jobs and devices.

Why one place for the cross-cutting rules: creating a deployment replaces the target's previous
one and cancels its job; a thing joining a group joins the group's continuous jobs; an execution
finishing changes its device. `advance(now)` performs every transition due by `now`, so it does
not matter whether a ticker, a request or a test moved time.
"""

from __future__ import annotations

import uuid
from typing import Any

from .config import EmulatorConfig
from .deployments import Deployment, DeploymentStore, rollout_rate, with_default_policies
from .devices import Behaviour, Device
from .jobs import Execution, Job
from .registry import Registry, Thing, ThingGroup

_REPORTED = frozenset({"IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"})  # set by the device itself


class State:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.registry = Registry(config)
        self.devices: dict[str, Device] = {}
        self.jobs: dict[str, Job] = {}
        self.deployment_of_job: dict[str, Deployment] = {}
        self.deployments = DeploymentStore()
        self.tags: dict[str, dict[str, str]] = {}  # core device ARN -> tags

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.config.region}:{self.config.account_id}:{resource}"

    # ------------------------------------------------------------------ things and groups
    def create_thing(self, name: str, attributes: dict[str, str], now: float) -> Thing:
        thing = self.registry.create_thing(name, attributes, now)
        self.devices.setdefault(name, Device(name, now))
        return thing

    def join(self, thing: Thing, group: ThingGroup, now: float) -> None:
        """A thing added to a group later still gets the group's continuous jobs (and its ancestors')."""
        if not self.registry.add(thing, group):
            return
        reached = {self.registry.groups[g].arn for g in [group.name, *self.registry.ancestors(group.name)]}
        for job in self.jobs.values():
            if job.continuous and job.target_arn in reached:
                job.enqueue(thing.name, thing.arn, now)
        self.advance(now)

    def leave(self, thing: Thing, group: ThingGroup, now: float) -> None:
        """A thing that is no longer in a group (recursively) leaves its continuous jobs: REMOVED."""
        before = self.registry.groups_containing(thing.name)
        if not self.registry.remove(thing, group):
            return
        left = {self.registry.groups[g].arn for g in before - self.registry.groups_containing(thing.name)}
        for job in self.jobs.values():
            if job.continuous and job.target_arn in left:
                job.remove(thing.name, now)

    def set_behaviour(self, thing: str, behaviour: Behaviour) -> None:
        self.registry.thing(thing)
        self.devices[thing].behaviour = behaviour
        self.wake()

    # ------------------------------------------------------------------ deployments
    def create_deployment(
        self, params: dict[str, Any], to_group: bool, target_name: str, now: float
    ) -> Deployment:
        """A new revision for the target: it replaces the previous one, whose job is cancelled."""
        cfg, store = self.config, self.deployments
        target_arn = params["targetArn"]
        deployment_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
        policies = with_default_policies(params.get("deploymentPolicies"))
        job_configuration = params.get("iotJobConfiguration") or {}
        job = Job(
            job_id=job_id,
            arn=self.arn("iot", f"job/{job_id}"),
            target_arn=target_arn,
            continuous=to_group,
            created_at=now,
            rate_per_minute=rollout_rate(job_configuration, cfg.default_rollout_per_minute),
            timeout_minutes=(job_configuration.get("timeoutConfig") or {}).get("inProgressTimeoutInMinutes"),
            rollback=policies["failureHandlingPolicy"] == "ROLLBACK",
            updated_at=now,
            next_release_at=now,
        )
        deployment = Deployment(
            deployment_id=deployment_id,
            arn=self.arn("greengrass", f"deployments:{deployment_id}"),
            target_arn=target_arn,
            target_name=target_name,
            to_group=to_group,
            revision_id=store.next_revision(target_arn),
            created_at=now,
            name=params.get("deploymentName"),
            components=params.get("components") or {},
            policies=policies,
            job_configuration=job_configuration,
            parent_target_arn=params.get("parentTargetArn"),
            tags=dict(params.get("tags") or {}),
            job=job,
        )
        previous = store.latest_for(target_arn)
        if previous is not None:
            previous.is_latest = False
            if previous.status == "ACTIVE":
                previous.fixed_status = cfg.replaced_status
            if previous.job.status == "IN_PROGRESS":
                previous.job.cancel(now, force=cfg.force_cancel_replaced)
        store.by_id[deployment_id] = deployment
        store.latest[target_arn] = deployment_id
        self.jobs[job_id] = job
        self.deployment_of_job[job_id] = deployment
        members = self.registry.members(target_name, recursive=True) if to_group else [target_name]
        for name in members:
            job.enqueue(name, self.registry.things[name].arn, now)
        self.advance(now)
        return deployment

    def cancel_deployment(self, deployment: Deployment, now: float) -> None:
        deployment.fixed_status = "CANCELED"
        if deployment.job.status == "IN_PROGRESS":
            deployment.job.cancel(now, force=False)

    # ------------------------------------------------------------------ time
    def advance(self, now: float) -> None:
        """Roll out what the rates allow and move every execution as its device behaves, up to `now`.

        A job whose next event is later than `now` is skipped: with a large fleet every request
        would otherwise walk every execution.
        """
        for job in self.jobs.values():
            if now < job.quiet_until:
                continue
            job.release(now)
            following = job.next_release()
            for execution in list(job.open.values()):
                following = min(following, self._drive(job, execution, now))
                if execution.terminal:
                    del job.open[execution.thing_name]
            job.quiet_until = following
            job.settle()

    def wake(self) -> None:
        """Behaviours or timings changed: every job's next event must be computed again."""
        for job in self.jobs.values():
            job.quiet_until = float("-inf")

    def _drive(self, job: Job, execution: Execution, now: float) -> float:
        """Apply the execution's transitions due by `now`; returns when the next one is due."""
        device = self.devices[execution.thing_name]
        behaviour = device.behaviour
        cfg = self.config
        while (due := job.step(execution, behaviour, cfg.pickup_seconds, cfg.apply_seconds)) is not None:
            at, status = due
            if at > now:
                return at
            execution.move(status, at, job.details_for(status, behaviour))
            job.updated_at = max(job.updated_at, at)
            if status in _REPORTED:
                device.report(at)
            deployment = self.deployment_of_job[job.job_id]
            if status == "SUCCEEDED":
                device.apply(job.target_arn, deployment.deployment_id, deployment.versions(), "RUNNING", at)
            elif status == "FAILED" and (not job.rollback or behaviour.rollback_fails):
                device.apply(job.target_arn, deployment.deployment_id, deployment.versions(), "BROKEN", at)
        return float("inf")

    # ------------------------------------------------------------------ device views
    def effective_deployments(self, thing: str) -> list[dict[str, Any]]:
        """ListEffectiveDeployments: the device's execution of each deployment, newest first."""
        found = []
        for job in reversed(list(self.jobs.values())):
            execution = job.executions.get(thing)
            deployment = self.deployment_of_job[job.job_id]
            if execution is None or deployment.deployment_id not in self.deployments.by_id:
                continue
            status = {"REMOVED": "CANCELED"}.get(execution.status, execution.status)
            if status == "SUCCEEDED" and not deployment.to_group:
                status = "COMPLETED"
            entry: dict[str, Any] = {
                "deploymentId": deployment.deployment_id,
                "deploymentName": deployment.name or "",
                "iotJobId": job.job_id,
                "iotJobArn": job.arn,
                "targetArn": deployment.target_arn,
                "coreDeviceExecutionStatus": status,
                "creationTimestamp": deployment.created_at,
                "modifiedTimestamp": execution.since,
            }
            details = execution.details
            if "detailed-deployment-status" in details:
                cause = details.get("deployment-failure-cause")
                entry["reason"] = details["detailed-deployment-status"] + (f": {cause}" if cause else "")
            if "deployment-error-stack" in details:
                entry["statusDetails"] = {
                    "errorStack": _listed(details["deployment-error-stack"]),
                    "errorTypes": _listed(details.get("deployment-error-types", "[]")),
                }
            found.append(entry)
        return found

    def deployed_to(self, group_arn: str) -> set[str]:
        """Devices that already acted on a deployment to this group (ListCoreDevices' filter)."""
        return {
            e.thing_name
            for job in self.jobs.values()
            if job.target_arn == group_arn
            for e in job.executions.values()
            if e.started_at is not None or e.status == "REJECTED"
        }


def _listed(text: str) -> list[str]:
    inner = text.strip()[1:-1]
    return [part.strip() for part in inner.split(",") if part.strip()]
