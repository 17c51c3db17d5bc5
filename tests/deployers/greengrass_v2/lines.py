"""Greengrass V2 input lines for the tests: a valid baseline and ways to change one member of it."""

from __future__ import annotations

import copy
import json
from typing import Any

from bulk_deployer.deployers.greengrass_v2 import StackRules

PARTITION, REGION, ACCOUNT = "aws", "eu-west-1", "123456789012"
STACK = StackRules(PARTITION, REGION, ACCOUNT)
GROUP_ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/fleet-eu"
DELETE = object()  # as a value: remove the member


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def group_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


def baseline(target: str = GROUP_ARN) -> dict[str, Any]:
    """A valid line using every member the API and we allow."""
    return {
        "targetArn": target,
        "deploymentName": "fleet-eu rollout",
        "components": {
            "com.example.Hello": {
                "componentVersion": "1.0.0",
                "configurationUpdate": {"merge": {"greeting": "hello"}, "reset": ["/old"]},
                "runWith": {
                    "posixUser": "ggc_user:ggc_group",
                    "systemResourceLimits": {"memory": 102400, "cpus": 0.5},
                },
            },
            "aws.greengrass.Nucleus": {"componentVersion": "2.12.0"},
        },
        "deploymentPolicies": {
            "failureHandlingPolicy": "ROLLBACK",
            "componentUpdatePolicy": {"timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS"},
            "configurationValidationPolicy": {"timeoutInSeconds": 30},
        },
        "iotJobConfiguration": {
            "jobExecutionsRolloutConfig": {
                "exponentialRate": {
                    "baseRatePerMinute": 10,
                    "incrementFactor": 2.0,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": 5},
                },
                "maximumPerMinute": 100,
            },
            "abortConfig": {
                "criteriaList": [
                    {
                        "failureType": "FAILED",
                        "action": "CANCEL",
                        "thresholdPercentage": 10.5,
                        "minNumberOfExecutedThings": 10,
                    }
                ]
            },
            "timeoutConfig": {"inProgressTimeoutInMinutes": 60},
        },
        "tags": {"team": "blue"},
        "updateMode": "REPLACE",
    }


def minimal(target: str = GROUP_ARN) -> dict[str, Any]:
    return {"targetArn": target, "components": {"com.example.Hello": {"componentVersion": "1.0.0"}}}


def changed(path: tuple[Any, ...], value: Any, line: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``line`` (the baseline) with the member at ``path`` set (objects made on the way)."""
    out = copy.deepcopy(baseline() if line is None else line)
    node: Any = out
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(node, dict) else node[step]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def encoded(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
