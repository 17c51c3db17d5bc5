"""What only the V1 deployer knows: its six bulk statuses, its group statuses, its start request."""

from __future__ import annotations

import pytest
from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.base import Lifecycle, TargetOutcome
from bulk_deployer.deployers.greengrass_v1 import V1StartRequests
from bulk_deployer.deployers.greengrass_v1.statuses import lifecycle_of, target_outcome_of


@pytest.mark.parametrize(
    ("status", "lifecycle"),
    [
        ("Initializing", Lifecycle.RUNNING),
        ("Running", Lifecycle.RUNNING),
        ("Stopping", Lifecycle.RUNNING),
        ("Completed", Lifecycle.SUCCEEDED),
        ("Failed", Lifecycle.FAILED),
        ("Stopped", Lifecycle.STOPPED),
        ("SomethingNew", Lifecycle.RUNNING),  # unknown: the slot stays held, nothing starts over it
    ],
)
def test_bulk_statuses_map_to_the_lifecycle(status: str, lifecycle: Lifecycle) -> None:
    assert lifecycle_of(status) is lifecycle


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("Success", TargetOutcome.SUCCEEDED),
        ("Failure", TargetOutcome.FAILED),
        ("InProgress", TargetOutcome.PENDING),
        ("Building", TargetOutcome.PENDING),
        ("None", TargetOutcome.PENDING),
    ],
)
def test_group_statuses_map_to_target_outcomes(status: str, outcome: TargetOutcome) -> None:
    assert target_outcome_of(status) is outcome


def test_a_start_request_names_the_role_and_the_staged_copy() -> None:
    requests = V1StartRequests("arn:aws:iam::123456789012:role/deploy", "cn-north-1")
    request = requests.build("bucket", "staged/a b+c.jsonl", {TOKEN_TAG: "t"})
    assert request.execution_role_arn == "arn:aws:iam::123456789012:role/deploy"
    assert request.input_file_uri == "https://bucket.s3.cn-north-1.amazonaws.com.cn/staged/a%20b%2Bc.jsonl"
    assert request.tags == {TOKEN_TAG: "t"}
