"""The load run of `make soak` (benchmarks/soak.py), small: 40 uploads with the same proportions.

10% invalid, 5% overwritten before processing, 30% delivered twice (late, fresh deduplication
id). Every count must be exact: outcomes, one start per started file and none other, starts in
arrival order, every message consumed once, reconciliation 0.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.soak import SOAK_TIMING, run_soak
from local.pipeline import LocalPipeline
from local.stack_config import load_deploy_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def soak_pipeline(stand_ins: LocalPipeline) -> Iterator[LocalPipeline]:
    """The package's stand-ins at the soak's pace (its tracker period, a near-instant emulator), as
    the stack cdk.json configures (Greengrass V1): not whatever stack the test before left."""
    saved = stand_ins.timing, stand_ins.config
    stand_ins.timing, stand_ins.config = SOAK_TIMING, load_deploy_config()
    try:
        yield stand_ins
    finally:
        stand_ins.stop_functions()
        stand_ins.timing, stand_ins.config = saved


def test_forty_uploads_every_file_accounted_for(soak_pipeline: LocalPipeline) -> None:
    result = run_soak(soak_pipeline, uploads=40, timeout=120)
    print("\n" + result.table())
    assert result.ok, result.problems
    assert result.states == {"FINISHED": 36, "REJECTED": 4, "SUPERSEDED": 2}
    assert result.bulk_deployments == result.start_calls == 36
    assert result.order_ok
    assert result.unprocessed == 0
