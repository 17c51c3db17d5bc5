"""The emulator's settings and switches.

Why: the Greengrass documentation is silent on several behaviours (how long a client token is
remembered, the text of the "concurrent deployment" error, page sizes, how undocumented file
shapes are treated...). Each such guess is a switch here, so a test can flip it and prove that
the product does not depend on one guess. Defaults are the strict or least convenient choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..emulator_kit.service import CountedFault, Switches

OPERATIONS = (
    "StartBulkDeployment",
    "GetBulkDeploymentStatus",
    "ListBulkDeploymentDetailedReports",
    "ListBulkDeployments",
    "StopBulkDeployment",
    "GetDeploymentStatus",
    "ListTagsForResource",
)

DEFAULT_CONCURRENCY_MESSAGE = (
    "There is already a bulk deployment in progress. "
    "Concurrent bulk deployments are not supported: wait until it is finished."
)

BlankLines = Literal["error", "skip"]


@dataclass
class EmulatorConfig(Switches):
    """Pace, documented limits and switches for undocumented behaviour (see docs/local.md)."""

    # --- identity of the emulated account -------------------------------------------------
    region: str = "us-east-1"
    account_id: str | None = None  # None: asked from the AWS stand-in's STS on first use

    # --- pace (seconds) ---------------------------------------------------------------------
    init_seconds: float = 0.2  # time spent Initializing before the file is read and checked
    record_seconds: float = 0.01  # time per input record while Running
    stop_seconds: float = 0.2  # time spent Stopping
    settle_seconds: float = 0.5  # group deployment InProgress -> Success/Failure
    tick_seconds: float = 0.02  # background ticker period; 0 = advance only on requests

    # --- group deployment outcomes ----------------------------------------------------------
    failing_groups: set[str] = field(default_factory=set)  # their deployments end in Failure
    retry_groups: dict[str, int] = field(default_factory=dict)  # group -> throttles before success

    # --- client tokens ----------------------------------------------------------------------
    token_ttl_seconds: float | None = None  # None: tokens are never forgotten

    # --- the "concurrent deployment" BadRequest ---------------------------------------------
    concurrency_messages: list[str] = field(default_factory=lambda: [DEFAULT_CONCURRENCY_MESSAGE])

    # --- pagination -------------------------------------------------------------------------
    default_page_size: int = 50  # when MaxResults is absent
    max_page_size: int | None = None  # cap MaxResults (the service may return fewer than asked)

    # --- input file -------------------------------------------------------------------------
    max_file_bytes: int = 100 * 1024 * 1024  # "must be less than 100 MB"
    validate_before_deploying: bool = True  # False: lines are checked as they are processed
    blank_lines: BlankLines = "error"  # "error": a parse failure; "skip": ignored
    strip_bom: bool = False  # False: a UTF-8 byte order mark makes line 1 unparsable
    report_invalid_records: bool = False  # list invalid records in the detailed reports

    # --- roles ------------------------------------------------------------------------------
    trust_source_context: bool = True  # aws:SourceAccount / aws:SourceArn given to trust conditions
    check_role_permissions: bool = True  # s3:GetObject and greengrass:CreateDeployment via IAM

    def _coerce(self, name: str, value: Any) -> Any:
        """JSON has no sets: accept lists for the set-valued switches."""
        if name == "failing_groups":
            return set(value)
        if name == "concurrency_messages" and isinstance(value, str):
            return [value]
        return value

    def _check(self) -> None:
        if not self.concurrency_messages:
            raise ValueError("concurrency_messages needs at least one message")
        if self.blank_lines not in ("error", "skip"):
            raise ValueError("blank_lines is 'error' or 'skip'")
        if self.default_page_size < 1 or (self.max_page_size is not None and self.max_page_size < 1):
            raise ValueError("page sizes must be positive")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["failing_groups"] = sorted(self.failing_groups)
        return data


FaultKind = Literal["throttle", "error", "delay", "lose_response"]


@dataclass
class Fault(CountedFault):
    """One injected misbehaviour for one operation, for the next `times` calls (None: forever).

    - throttle: answer HTTP 429 with `code` (botocore retries it) before doing anything;
    - error: answer HTTP `status` (5xx) before doing anything;
    - delay: sleep `seconds`, then behave normally;
    - lose_response: do the work, then answer HTTP `status` as if the response was lost.
    """

    operation: str
    kind: FaultKind
    times: int | None = 1
    status: int = 0
    code: str = ""
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS and self.operation != "*":
            raise ValueError(f"unknown operation {self.operation!r}; one of {OPERATIONS} or '*'")
        if self.kind not in ("throttle", "error", "delay", "lose_response"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind == "throttle":
            self.status = self.status or 429
            self.code = self.code or "TooManyRequestsException"
        elif self.kind in ("error", "lose_response"):
            self.status = self.status or 500
            self.code = self.code or (
                "ServiceUnavailableException" if self.status == 503 else "InternalServerErrorException"
            )

    def matches(self, operation: str) -> bool:
        return self.operation in ("*", operation) and not self.spent
