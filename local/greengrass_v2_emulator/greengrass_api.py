"""The greengrassv2 operations: each takes the validated parameters and answers botocore's shape.

Why thin: the rules live in State, DeploymentStore and the job; these functions only look things
up, raise the errors the API documents and shape the answers.
"""

from __future__ import annotations

from typing import Any

from .calls import Call
from .deployments import TARGET_ARN, Deployment, TokenEntry, fingerprint
from .devices import Device
from .errors import conflict, not_found, validation
from .listing import paged
from .operations import Operations
from .rules import create_deployment_problems
from .state import State
from .validation import to_error

HANDLERS = Operations()


@HANDLERS.answers
def create_deployment(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    cfg, store = state.config, state.deployments
    extra = create_deployment_problems(params, cfg)
    if extra:
        raise to_error("greengrassv2", extra)
    token = params.get("clientToken")
    if token is not None:
        known = store.remembered(token, now, cfg.token_ttl_seconds)
        if known is not None:
            if known.fingerprint != fingerprint(params) and cfg.idempotency_mismatch == "conflict":
                raise conflict(
                    token, "clientToken", "The client token was already used with different parameters."
                )
            call.deployment_id = known.deployment_id
            return dict(known.answer)
    to_group, name = _target(state, params["targetArn"])
    parent = params.get("parentTargetArn")
    if parent is not None and _target(state, parent) != (True, parent.split("/", 1)[1]):
        raise not_found(parent, "thingGroup")
    deployment = state.create_deployment(params, to_group, name, now)
    answer = {
        "deploymentId": deployment.deployment_id,
        "iotJobId": deployment.job.job_id,
        "iotJobArn": deployment.job.arn,
    }
    if token is not None:
        store.tokens[token] = TokenEntry(deployment.deployment_id, fingerprint(params), answer, now)
    call.deployment_id, call.created = deployment.deployment_id, True
    return dict(answer)


def _target(state: State, arn: str) -> tuple[bool, str]:
    """(is a group, name) of an existing thing or thing group of this account and region."""
    found = TARGET_ARN.match(arn)
    kind = "thingGroup" if found and found["kind"] == "thinggroup" else "thing"
    if (
        found is None
        or (found["region"], found["account"]) != (state.config.region, state.config.account_id)
        or found["name"] not in (state.registry.groups if kind == "thingGroup" else state.registry.things)
    ):
        raise not_found(arn, kind)
    return kind == "thingGroup", found["name"]


def _deployment(state: State, deployment_id: str) -> Deployment:
    found = state.deployments.by_id.get(deployment_id)
    if found is None:
        raise not_found(deployment_id, "deployment")
    return found


@HANDLERS.answers
def get_deployment(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    return _deployment(state, params["deploymentId"]).describe()


@HANDLERS.answers
def list_deployments(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    history = params.get("historyFilter", "LATEST_ONLY")
    items = state.deployments.listed(params.get("targetArn"), params.get("parentTargetArn"), history)
    scope = f"deployments|{params.get('targetArn')}|{params.get('parentTargetArn')}|{history}"
    page, more = paged(items, scope, params, state.config.default_page_size, "greengrassv2")
    return {"deployments": [d.summary() for d in page], **more}


@HANDLERS.answers
def cancel_deployment(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    deployment = _deployment(state, params["deploymentId"])
    if deployment.status != "ACTIVE":
        raise conflict(
            deployment.deployment_id,
            "deployment",
            f"The deployment is {deployment.status}: only ACTIVE can be cancelled.",
        )
    state.cancel_deployment(deployment, now)
    return {"message": f"Deployment {deployment.deployment_id} was cancelled."}


@HANDLERS.answers
def delete_deployment(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    deployment = _deployment(state, params["deploymentId"])
    if deployment.status == "ACTIVE":
        raise conflict(
            deployment.deployment_id,
            "deployment",
            "An ACTIVE deployment must be cancelled before it is deleted.",
        )
    del state.deployments.by_id[deployment.deployment_id]
    if state.deployments.latest.get(deployment.target_arn) == deployment.deployment_id:
        del state.deployments.latest[deployment.target_arn]
    return {}


def _core_device(state: State, name: str) -> Device:
    if name not in state.devices:
        raise not_found(name, "coreDevice")
    return state.devices[name]


@HANDLERS.answers
def list_effective_deployments(
    state: State, params: dict[str, Any], now: float, call: Call
) -> dict[str, Any]:
    name = params["coreDeviceThingName"]
    _core_device(state, name)
    items = state.effective_deployments(name)
    page, more = paged(items, f"effective|{name}", params, state.config.default_page_size, "greengrassv2")
    return {"effectiveDeployments": page, **more}


@HANDLERS.answers
def get_core_device(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    device = _core_device(state, params["coreDeviceThingName"])
    tags = state.tags.get(state.arn("greengrass", f"coreDevices:{device.thing_name}"), {})
    return {**device.summary(), "coreVersion": "2.14.0", **({"tags": dict(tags)} if tags else {})}


@HANDLERS.answers
def list_core_devices(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    devices = list(state.devices.values())
    if "thingGroupArn" in params:
        deployed = state.deployed_to(params["thingGroupArn"])
        devices = [d for d in devices if d.thing_name in deployed]
    wanted = {k: params[k] for k in ("status", "runtime") if k in params}
    items = [s for s in (d.summary() for d in devices) if all(s[k] == v for k, v in wanted.items())]
    scope = f"core|{params.get('thingGroupArn')}|{wanted}"
    page, more = paged(items, scope, params, state.config.default_page_size, "greengrassv2")
    return {"coreDevices": page, **more}


@HANDLERS.answers
def list_installed_components(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    name = params["coreDeviceThingName"]
    items = _core_device(state, name).installed()
    page, more = paged(items, f"installed|{name}", params, state.config.default_page_size, "greengrassv2")
    return {"installedComponents": page, **more}


def _tags_of(state: State, arn: str) -> dict[str, str]:
    for deployment in state.deployments.by_id.values():
        if deployment.arn == arn:
            return deployment.tags
    prefix = state.arn("greengrass", "coreDevices:")
    if arn.startswith(prefix) and arn[len(prefix) :] in state.devices:
        return state.tags.setdefault(arn, {})
    raise not_found(arn, "resource")


@HANDLERS.answers
def list_tags_for_resource(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    return {"tags": dict(_tags_of(state, params["resourceArn"]))}


@HANDLERS.answers
def tag_resource(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    tags = _tags_of(state, params["resourceArn"])
    if len({**tags, **params["tags"]}) > 200:
        raise validation("A resource can have at most 200 tags.")
    tags.update(params["tags"])
    return {}


@HANDLERS.answers
def untag_resource(state: State, params: dict[str, Any], now: float, call: Call) -> dict[str, Any]:
    tags = _tags_of(state, params["resourceArn"])
    for key in params["tagKeys"]:
        tags.pop(key, None)
    return {}
