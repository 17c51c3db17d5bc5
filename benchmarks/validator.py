"""Validator throughput against the standard library's per-line loop, on the same bytes, interleaved."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from bulk_deployer.deployers.greengrass_v1.validation import validate_stream

CHUNK = 1 << 20  # what the starter reads from S3 at a time


def baseline(data: bytes) -> int:
    """The obvious loop: json.loads per line and a check of the three fields."""
    records = 0
    for line in data.split(b"\n"):
        if not line:
            continue
        obj = json.loads(line)
        if not (
            isinstance(obj.get("GroupId"), str)
            and isinstance(obj.get("GroupVersionId"), str)
            and obj.get("DeploymentType") == "NewDeployment"
        ):
            raise ValueError("invalid record")
        records += 1
    return records


def project(data: bytes) -> int:
    chunks = (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))
    result = validate_stream(chunks)
    if not result.valid:
        raise ValueError(result.errors[:3])
    return result.records


@dataclass(frozen=True)
class ThroughputResult:
    records: int
    megabytes: float
    baseline_s: float
    validator_s: float

    @property
    def ratio(self) -> float:
        return self.baseline_s / self.validator_s

    @property
    def validator_mb_s(self) -> float:
        return self.megabytes / self.validator_s

    @property
    def baseline_mb_s(self) -> float:
        return self.megabytes / self.baseline_s


def _timed(func: Callable[[bytes], int], data: bytes) -> tuple[float, int]:
    start = time.perf_counter()
    records = func(data)
    return time.perf_counter() - start, records


def throughput(data: bytes, rounds: int = 5) -> ThroughputResult:
    """Median of interleaved rounds (baseline, validator, baseline, ...): same bytes, same machine state."""
    base_times: list[float] = []
    ours_times: list[float] = []
    records = 0
    for _ in range(rounds):
        seconds, base_records = _timed(baseline, data)
        base_times.append(seconds)
        seconds, records = _timed(project, data)
        ours_times.append(seconds)
        if records != base_records:
            raise AssertionError(f"record counts differ: {records} != {base_records}")
    return ThroughputResult(
        records=records,
        megabytes=len(data) / 1e6,
        baseline_s=statistics.median(base_times),
        validator_s=statistics.median(ours_times),
    )
