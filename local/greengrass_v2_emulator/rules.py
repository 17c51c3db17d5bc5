"""CreateDeployment rules the Greengrass model does not express, each with where it comes from.

Why apart from the model check: these are readings of the documentation (the IoT job a
deployment becomes, the JSON the configuration update carries), so each can be switched off
(EmulatorConfig) to show the product does not lean on the emulator being stricter than AWS.
"""

from __future__ import annotations

import json
from typing import Any

from .config import EmulatorConfig
from .validation import Problem

MAX_COMPONENT_NAME = 128  # component names: 1-128 characters (CreateComponentVersion's ComponentNameString)
MAX_TIMEOUT_MINUTES = 10080  # IoT CreateJob TimeoutConfig.inProgressTimeoutInMinutes: 1..10080 (7 days)
MIN_INCREMENT_FACTOR = 1.1  # IoT CreateJob ExponentialRolloutRate.incrementFactor: 1.1..5, one decimal


def create_deployment_problems(params: dict[str, Any], config: EmulatorConfig) -> list[Problem]:
    found: list[Problem] = []
    for name, spec in (params.get("components") or {}).items():
        if len(name) > MAX_COMPONENT_NAME:
            found.append(
                Problem(f"components.{name}.key", name, "Member must have length less than or equal to 128")
            )
        if config.check_configuration_json and isinstance(spec, dict):
            found += _configuration_problems(name, spec.get("configurationUpdate") or {})
    job = params.get("iotJobConfiguration") or {}
    exponential = (job.get("jobExecutionsRolloutConfig") or {}).get("exponentialRate") or {}
    criteria = exponential.get("rateIncreaseCriteria")
    path = "iotJobConfiguration.jobExecutionsRolloutConfig.exponentialRate"
    if isinstance(criteria, dict) and len([v for v in criteria.values() if v is not None]) != 1:
        found.append(
            Problem(
                f"{path}.rateIncreaseCriteria",
                criteria,
                "Exactly one of numberOfNotifiedThings and numberOfSucceededThings must be set",
            )
        )
    if config.iot_job_limits:
        factor = exponential.get("incrementFactor")
        if isinstance(factor, int | float) and (factor < MIN_INCREMENT_FACTOR or round(factor, 1) != factor):
            found.append(
                Problem(
                    f"{path}.incrementFactor",
                    factor,
                    "Member must be between 1.1 and 5 with one decimal place",
                )
            )
        minutes = (job.get("timeoutConfig") or {}).get("inProgressTimeoutInMinutes")
        if isinstance(minutes, int) and not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
            found.append(
                Problem(
                    "iotJobConfiguration.timeoutConfig.inProgressTimeoutInMinutes",
                    minutes,
                    f"Member must have value between 1 and {MAX_TIMEOUT_MINUTES}",
                )
            )
    return found


def _configuration_problems(name: str, update: Any) -> list[Problem]:
    """merge: a JSON object as a string; reset: JSON pointers ("" or starting with "/")."""
    found: list[Problem] = []
    if not isinstance(update, dict):
        return found
    merge = update.get("merge")
    if isinstance(merge, str):
        try:
            parsed = json.loads(merge)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            found.append(
                Problem(f"components.{name}.configurationUpdate.merge", merge, "Member must be a JSON object")
            )
    for index, pointer in enumerate(update.get("reset") or []):
        if isinstance(pointer, str) and pointer and not pointer.startswith("/"):
            found.append(
                Problem(
                    f"components.{name}.configurationUpdate.reset.{index + 1}.member",
                    pointer,
                    "Member must be a JSON pointer",
                )
            )
    return found
