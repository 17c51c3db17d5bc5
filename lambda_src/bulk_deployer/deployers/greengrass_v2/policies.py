"""A line's ``deploymentPolicies`` and ``iotJobConfiguration``: enums and ranges of the API models.

Where the Greengrass V2 model (greengrassv2 2020-11-30) and IoT's ``CreateJob`` (iot 2015-05-28)
or their documentation disagree, the stricter rule holds, since the deployment becomes an IoT
job: ``incrementFactor`` 1.1 to 5 with one decimal (Greengrass: from 1; IoT: from 1.1),
``maximumPerMinute`` 1 to 1,000 (IoT: no maximum), ``inProgressTimeoutInMinutes`` 1 to 10,080
(the IoT documentation's 7 days; no range in either model), the policies' ``timeoutInSeconds``
1 to 2,147,483,647 (CloudFormation's range; none in the model), ``thresholdPercentage`` 0 to 100
with two decimals (the model has no minimum; a negative percentage means nothing). Exactly one
rate-increase criterion, as both APIs document.
"""

from __future__ import annotations

from typing import Any

from bulk_deployer.deployers.greengrass_v2.checks import At, array, choice, integer, number, structure

POLICIES_CODE = "invalid_deployment_policies"
JOB_CODE = "invalid_job_configuration"

FAILURE_HANDLING = ("ROLLBACK", "DO_NOTHING")
COMPONENT_UPDATE_ACTIONS = ("NOTIFY_COMPONENTS", "SKIP_NOTIFY_COMPONENTS")
FAILURE_TYPES = ("FAILED", "REJECTED", "TIMED_OUT", "ALL")
ABORT_ACTIONS = ("CANCEL",)
MAX_RATE_PER_MINUTE = 1000
INCREMENT_FACTOR = (1.1, 5.0)  # IoT's minimum; Greengrass's model allows 1
MAX_IN_PROGRESS_MINUTES = 10_080  # 7 days


def _timeout_seconds(at: At, value: Any) -> None:
    integer(at, value, 1)


def deployment_policies(at: At, value: Any) -> None:
    structure(
        at,
        value,
        {
            "failureHandlingPolicy": lambda a, v: choice(a, v, FAILURE_HANDLING),
            "componentUpdatePolicy": lambda a, v: structure(
                a,
                v,
                {
                    "timeoutInSeconds": _timeout_seconds,
                    "action": lambda a2, v2: choice(a2, v2, COMPONENT_UPDATE_ACTIONS),
                },
            ),
            "configurationValidationPolicy": lambda a, v: structure(
                a, v, {"timeoutInSeconds": _timeout_seconds}
            ),
        },
    )


def _rate_per_minute(at: At, value: Any) -> None:
    integer(at, value, 1, MAX_RATE_PER_MINUTE)


def _things(at: At, value: Any) -> None:
    integer(at, value, 1)


def _rate_increase_criteria(at: At, value: Any) -> None:
    criteria = structure(at, value, {"numberOfNotifiedThings": _things, "numberOfSucceededThings": _things})
    if (
        criteria is not None
        and len(criteria.keys() & {"numberOfNotifiedThings", "numberOfSucceededThings"}) != 1
    ):
        at.problem("must hold exactly one of numberOfNotifiedThings and numberOfSucceededThings")


def _exponential_rate(at: At, value: Any) -> None:
    structure(
        at,
        value,
        {
            "baseRatePerMinute": _rate_per_minute,
            "incrementFactor": lambda a, v: number(a, v, *INCREMENT_FACTOR, decimals=1),
            "rateIncreaseCriteria": _rate_increase_criteria,
        },
        required=("baseRatePerMinute", "incrementFactor", "rateIncreaseCriteria"),
    )


def _abort_criteria(at: At, value: Any) -> None:
    structure(
        at,
        value,
        {
            "failureType": lambda a, v: choice(a, v, FAILURE_TYPES),
            "action": lambda a, v: choice(a, v, ABORT_ACTIONS),
            "thresholdPercentage": lambda a, v: number(a, v, 0, 100, decimals=2),
            "minNumberOfExecutedThings": _things,
        },
        required=("failureType", "action", "thresholdPercentage", "minNumberOfExecutedThings"),
    )


def _abort_config(at: At, value: Any) -> None:
    structure(
        at,
        value,
        {"criteriaList": lambda a, v: array(a, v, _abort_criteria, min_items=1)},
        required=("criteriaList",),
    )


def job_configuration(at: At, value: Any) -> None:
    structure(
        at,
        value,
        {
            "jobExecutionsRolloutConfig": lambda a, v: structure(
                a, v, {"exponentialRate": _exponential_rate, "maximumPerMinute": _rate_per_minute}
            ),
            "abortConfig": _abort_config,
            "timeoutConfig": lambda a, v: structure(
                a,
                v,
                {"inProgressTimeoutInMinutes": lambda a2, v2: integer(a2, v2, 1, MAX_IN_PROGRESS_MINUTES)},
            ),
        },
    )
