"""The tracker's runtime settings, read from environment variables.

Apart from ``config`` (the settings both functions share, and the starter's) so that the
starter's cold start does not define a class it never uses: a dataclass of 25 fields costs
about 11 million instructions to define (docs/performance.md, step 3b).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bulk_deployer.config import DispatchSettings, required_variable
from bulk_deployer.settings_schema import INPUT_BUCKET_NAME, default_of


@dataclass(frozen=True, kw_only=True)
class TrackerSettings(DispatchSettings):
    """The tracker's settings: following, reports and reconciliation on top of dispatch."""

    input_bucket: str
    tracker_lease_seconds: int = default_of("TRACKER_LEASE_SECONDS")
    tracker_follow_seconds: float = default_of("TRACKER_FOLLOW_SECONDS")
    tracker_poll_seconds: float = default_of("TRACKER_POLL_SECONDS")
    overdue_after_seconds: int = default_of("OVERDUE_AFTER_SECONDS")
    report_settle_bound_seconds: int = default_of("REPORT_SETTLE_BOUND_SECONDS")
    report_recheck_seconds: int = default_of("REPORT_RECHECK_SECONDS")
    report_page_size: int = default_of("REPORT_PAGE_SIZE")
    reconcile_every_seconds: int = default_of("RECONCILE_EVERY_SECONDS")
    reconcile_lookback_days: int = default_of("RECONCILE_LOOKBACK_DAYS")
    reconcile_min_age_seconds: int = default_of("RECONCILE_MIN_AGE_SECONDS")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrackerSettings:
        env = os.environ if env is None else env
        return cls(**cls._read(env, {"input_bucket": required_variable(env, INPUT_BUCKET_NAME.env)}))
