"""The V2 emulator's settings and switches.

Why: the Greengrass V2 and IoT Jobs documentation is silent on several behaviours (what a replaced
deployment's status becomes, whether replacing one force-cancels executions in progress, what a
client token reused with other parameters answers, how fast devices are...). Each guess is a
switch here with the strict or least convenient choice as default, so a test can flip it and
prove that the product does not depend on one guess. Documented numbers carry their source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..emulator_kit.service import CountedFault, Switches
from .api_model import error_codes

# Per-operation IoT limits (requests per second). AWS publishes per-API rates for IoT Core and IoT
# Device Management but they could not be confirmed here: the jobs APIs are taken as 10/s and the
# registry APIs as 10/s (lists) to 100/s (single-item calls), a conservative reading; tune them.
DEFAULT_IOT_RATES: dict[str, float] = {
    "CreateThing": 100.0,
    "CreateThingGroup": 100.0,
    "AddThingToThingGroup": 100.0,
    "RemoveThingFromThingGroup": 100.0,
    "DescribeThing": 100.0,
    "DescribeThingGroup": 100.0,
    "ListThingsInThingGroup": 10.0,
    "ListThingGroupsForThing": 10.0,
    "DescribeJob": 10.0,
    "DescribeJobExecution": 10.0,
    "ListJobExecutionsForJob": 10.0,
    "CancelJob": 10.0,
}

IdempotencyMismatch = Literal["conflict", "replay"]
ReplacedStatus = Literal["INACTIVE", "CANCELED"]


@dataclass
class EmulatorConfig(Switches):
    """Pace, documented limits and switches for undocumented behaviour (see docs/local.md)."""

    # --- identity of the emulated account -------------------------------------------------
    region: str = "us-east-1"
    account_id: str = "123456789012"

    # --- devices (seconds on the emulator's clock) ------------------------------------------
    pickup_seconds: float = 1.0  # an online device takes a QUEUED execution (IN_PROGRESS or REJECTED)
    apply_seconds: float = 2.0  # IN_PROGRESS -> SUCCEEDED or FAILED (per device: set_device)
    tick_seconds: float = 0.05  # background ticker period; 0 = time is applied on requests only
    # IoT Jobs "can roll out ... at a rate of 1000 devices per minute" (AWS IoT Jobs limits page).
    default_rollout_per_minute: float = 1000.0

    # --- client tokens ----------------------------------------------------------------------
    # "IoT Greengrass V2 caches successful responses for idempotent requests for up to 8 hours."
    token_ttl_seconds: float = 8 * 3600.0
    # Same token, other parameters: undocumented. "conflict": ConflictException; "replay": the
    # cached answer, whatever the parameters.
    idempotency_mismatch: IdempotencyMismatch = "conflict"

    # --- replacing and cancelling (undocumented) --------------------------------------------
    replaced_status: ReplacedStatus = "INACTIVE"  # an ACTIVE deployment replaced by a newer one
    force_cancel_replaced: bool = False  # the replaced job's IN_PROGRESS executions are cancelled too

    # --- quotas -----------------------------------------------------------------------------
    # "30 requests per second per region for all Greengrass V2 management calls together" (not
    # adjustable). Buckets run on the emulator's clock: with a ManualClock they refill only when
    # the clock moves. None switches a limit off.
    greengrass_rate: float | None = 30.0
    greengrass_burst: float | None = None  # bucket size; None: one second's worth
    iot_rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_IOT_RATES))
    enforce_quotas: bool = True
    # A throttling storm (other callers taking the quota): this share of every call, both services,
    # answers ThrottlingException whatever the buckets say. Drawn from Random(throttle_seed), so one
    # order of calls gets the same throttles every run; runs of throttles in a row happen, as in AWS.
    throttle_fraction: float = 0.0
    throttle_seed: int = 0

    # --- registry (documented IoT limits) ---------------------------------------------------
    max_groups_per_thing: int = 10  # "You can add a thing to a maximum of 10 groups."
    # "you can't add a thing to more than one group in the same hierarchy"
    one_group_per_hierarchy: bool = True
    max_group_depth: int = 7  # "Thing Group Hierarchy: the maximum depth ... 7"

    # --- checks beyond the Greengrass model -------------------------------------------------
    # Where IoT CreateJob (which the deployment becomes) is stricter than the Greengrass model:
    # incrementFactor >= 1.1 with one decimal, inProgressTimeoutInMinutes 1..10080.
    iot_job_limits: bool = True
    check_configuration_json: bool = True  # merge must be a JSON object, reset entries JSON pointers

    # --- pagination -------------------------------------------------------------------------
    default_page_size: int = 25  # when maxResults is absent (the models cap it: 100 / 250)

    def _check(self) -> None:
        if self.idempotency_mismatch not in ("conflict", "replay"):
            raise ValueError("idempotency_mismatch is 'conflict' or 'replay'")
        if self.replaced_status not in ("INACTIVE", "CANCELED"):
            raise ValueError("replaced_status is 'INACTIVE' or 'CANCELED'")
        if not 0.0 <= self.throttle_fraction <= 1.0:
            raise ValueError("throttle_fraction is a share of the calls, from 0 to 1")
        if self.default_page_size < 1 or self.default_rollout_per_minute <= 0:
            raise ValueError("default_page_size and default_rollout_per_minute must be positive")


@dataclass
class Fault(CountedFault):
    """The next `times` calls (None: all) of `operation` answer the modelled error `error`.

    With `after_work` the call does its work first and then answers the error: the caller cannot
    know it succeeded (InternalServerException after_work is a lost answer). With `target_arn`
    only calls naming that target (CreateDeployment's, ListDeployments') are answered so: one
    target of a file refused while the others go through.
    """

    operation: str
    error: str
    times: int | None = 1
    after_work: bool = False
    service: str = "greengrassv2"
    target_arn: str | None = None

    def __post_init__(self) -> None:
        if self.error == "ThrottlingException" or self.operation == "*":
            return  # every operation of both services can be throttled
        try:
            allowed = error_codes(self.service, self.operation)
        except Exception:
            raise ValueError(f"unknown operation {self.service}:{self.operation}") from None
        if self.error not in allowed:
            raise ValueError(f"{self.operation} does not answer {self.error}; it answers {allowed}")

    def matches(self, service: str, operation: str, target_arn: str | None = None) -> bool:
        aimed = self.target_arn is None or self.target_arn == target_arn
        return self.service == service and self.operation in ("*", operation) and aimed and not self.spent
