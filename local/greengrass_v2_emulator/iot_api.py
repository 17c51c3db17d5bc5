"""The iot operations the product and its tests need: the registry and the deployments' jobs.

Why these only: things and thing groups are the deployment targets (tests create them), and a
deployment's job is where per-device progress is read at fleet scale (DescribeJob counts,
ListJobExecutionsForJob pages, DescribeJobExecution details).
"""

from __future__ import annotations

from typing import Any

from .calls import Call
from .errors import invalid_request, iot_not_found
from .jobs import Job
from .listing import paged
from .operations import Operations
from .state import State

HANDLERS = Operations()


@HANDLERS.answers
def create_thing(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    attributes = (params.get("attributePayload") or {}).get("attributes") or {}
    thing = state.create_thing(params["thingName"], attributes, now)
    return {"thingName": thing.name, "thingArn": thing.arn, "thingId": thing.thing_id}


@HANDLERS.answers
def create_thing_group(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    group = state.registry.create_group(
        params["thingGroupName"], params.get("parentGroupName"), params.get("thingGroupProperties") or {}, now
    )
    return {"thingGroupName": group.name, "thingGroupArn": group.arn, "thingGroupId": group.group_id}


@HANDLERS.answers
def add_thing_to_thing_group(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    group = state.registry.group_named(params.get("thingGroupName"), params.get("thingGroupArn"))
    state.join(state.registry.thing_named(params.get("thingName"), params.get("thingArn")), group, now)
    return {}


@HANDLERS.answers
def remove_thing_from_thing_group(
    state: State, params: dict[str, Any], now: float, call: Call
) -> dict[str, Any]:
    group = state.registry.group_named(params.get("thingGroupName"), params.get("thingGroupArn"))
    state.leave(state.registry.thing_named(params.get("thingName"), params.get("thingArn")), group, now)
    return {}


@HANDLERS.answers
def describe_thing(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    return state.registry.thing(params["thingName"]).describe()


@HANDLERS.answers
def describe_thing_group(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    return state.registry.describe_group(state.registry.group(params["thingGroupName"]))


@HANDLERS.answers
def list_things_in_thing_group(
    state: State, params: dict[str, Any], now: float, call: Call
) -> dict[str, Any]:
    name, recursive = params["thingGroupName"], bool(params.get("recursive", False))
    items = state.registry.members(name, recursive)
    page, more = paged(items, f"things|{name}|{recursive}", params, state.config.default_page_size, "iot")
    return {"things": page, **more}


@HANDLERS.answers
def list_thing_groups_for_thing(
    state: State, params: dict[str, Any], now: float, call: Call
) -> dict[str, Any]:
    thing = state.registry.thing(params["thingName"])
    items = [{"groupName": g, "groupArn": state.registry.groups[g].arn} for g in thing.groups]
    page, more = paged(items, f"groups|{thing.name}", params, state.config.default_page_size, "iot")
    return {"thingGroups": page, **more}


def _job(state: State, job_id: str) -> Job:
    found = state.jobs.get(job_id)
    if found is None:
        raise iot_not_found(f"Job {job_id} does not exist.")
    return found


@HANDLERS.answers
def describe_job(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    return _job(state, params["jobId"]).describe()


@HANDLERS.answers
def list_job_executions_for_job(
    state: State, params: dict[str, Any], now: float, call: Call
) -> dict[str, Any]:
    job = _job(state, params["jobId"])
    status = params.get("status")
    items = job.listed(status)
    page, more = paged(
        items, f"executions|{job.job_id}|{status}", params, state.config.default_page_size, "iot"
    )
    return {
        "executionSummaries": [{"thingArn": e.thing_arn, "jobExecutionSummary": e.summary()} for e in page],
        **more,
    }


@HANDLERS.answers
def describe_job_execution(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    job = _job(state, params["jobId"])
    execution = job.executions.get(params["thingName"])
    number = params.get("executionNumber")
    if execution is None or (number is not None and number != execution.number):
        raise iot_not_found(f"Job execution of {params['thingName']} for job {job.job_id} does not exist.")
    return job.describe_execution(execution, now)


@HANDLERS.answers
def cancel_job(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    job = _job(state, params["jobId"])
    if job.status != "IN_PROGRESS":
        raise invalid_request(f"Job {job.job_id} is {job.status} and cannot be canceled.")
    job.cancel(now, bool(params.get("force", False)), params.get("reasonCode"), params.get("comment"))
    return {"jobArn": job.arn, "jobId": job.job_id}
