"""The call log: every request to an emulated operation, whatever its outcome.

Why: the product's bench measures calls per device and duplicate CreateDeployment calls, and
its tests assert that a retry or a redelivery cost no second deployment; both read this log
(counts per operation and outcome, CreateDeployment per client token and per target).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Call:
    service: str
    operation: str
    at: float  # emulator clock
    outcome: str = "ok"  # "ok" or the error code answered (ThrottlingException, ValidationException...)
    answer_lost: bool = False  # the work was done, then an error was answered (a fault with after_work)
    client_token: str | None = None
    target_arn: str | None = None
    deployment_id: str | None = None
    created: bool = False  # a CreateDeployment that created a deployment

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def counts(calls: list[Call]) -> dict[str, dict[str, int]]:
    """{operation: {outcome: count}} (operation names are unique across the two emulated APIs)."""
    found: dict[str, Counter[str]] = {}
    for call in calls:
        found.setdefault(call.operation, Counter())[call.outcome] += 1
    return {op: dict(outcomes) for op, outcomes in sorted(found.items())}


def create_counts(calls: list[Call]) -> dict[str, dict[str, int]]:
    creates = [c for c in calls if c.operation == "CreateDeployment"]
    return {
        "by_client_token": dict(Counter(c.client_token or "" for c in creates)),
        "by_target": dict(Counter(c.target_arn or "" for c in creates)),
        "created_by_target": dict(Counter(c.target_arn or "" for c in creates if c.created)),
    }
