"""The CreateDeployment request of one line, given what the target ran before.

REPLACE (the default) sends the line's components: whatever the target's current deployment
had and the line omits is uninstalled, and those names are kept for the report. MERGE starts
from the current deployment's components and overlays the line's, so nothing is removed. The
current deployment is read once, before the target's record is written, and saved; a resumed
start recomputes the same request from the saved copy (the client token's idempotency needs
the identical request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bulk_deployer.contract import FILE_TOKEN_TAG, TOKEN_TAG
from bulk_deployer.deployers.base import StartRejected
from bulk_deployer.deployers.greengrass_v2.records import UpdateMode, create_deployment_kwargs, update_mode
from bulk_deployer.tags import MAX_TAGS


@dataclass(frozen=True)
class TargetPlan:
    request: dict[str, Any]  # boto3 create_deployment kwargs, clientToken included
    mode: UpdateMode
    removed_components: tuple[str, ...]


def plan_target(
    line: Mapping[str, Any],
    replaced: Mapping[str, Any] | None,
    *,
    file_token: str,
    target_token: str,
    file_tags: Mapping[str, str],
) -> TargetPlan:
    """The request for one line; ``replaced`` is the target's current deployment (GetDeployment)."""
    request = create_deployment_kwargs(line)
    mode = update_mode(line)
    before: dict[str, Any] = dict((replaced or {}).get("components") or {})
    if mode is UpdateMode.MERGE:
        request["components"] = {**before, **request["components"]}
        removed: tuple[str, ...] = ()
    else:
        removed = tuple(sorted(set(before) - set(request["components"])))
    # The file's tags, the line's, then ours: the token tags always say which start made it.
    request["tags"] = {
        **file_tags,
        **(request.get("tags") or {}),
        TOKEN_TAG: target_token,
        FILE_TOKEN_TAG: file_token,
    }
    if len(request["tags"]) > MAX_TAGS:
        # The line alone fits (validation); with the stack's and the object's tags it does not.
        raise StartRejected(
            "TooManyTags",
            f"{line.get('targetArn')}: the stack's and the input object's tags, the line's and "
            f"bulk-deployer's two make {len(request['tags'])} tags; a deployment holds at most "
            f"{MAX_TAGS}: tag the object with fewer, or the line",
        )
    request["clientToken"] = target_token
    return TargetPlan(request, mode, removed)


def job_timeout_minutes(line: Mapping[str, Any]) -> int | None:
    """The line's iotJobConfiguration.timeoutConfig.inProgressTimeoutInMinutes, if given."""
    job = line.get("iotJobConfiguration") or {}
    value = (job.get("timeoutConfig") or {}).get("inProgressTimeoutInMinutes")
    return int(value) if value is not None else None


def rollout_per_minute(line: Mapping[str, Any]) -> float:
    """How fast IoT Jobs reaches the devices: the line's rollout rate, else IoT's 1,000 a minute."""
    rollout = (line.get("iotJobConfiguration") or {}).get("jobExecutionsRolloutConfig") or {}
    rates = [float(rollout["maximumPerMinute"])] if "maximumPerMinute" in rollout else []
    if "exponentialRate" in rollout:
        rates.append(float(rollout["exponentialRate"]["baseRatePerMinute"]))
    return min(rates) if rates else 1000.0
