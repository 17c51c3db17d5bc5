"""The deployer contract: what the file pipeline relies on, asked of every deployer and stand-in.

Only behaviour the core uses is asserted (dispatch, recovery, the tracker, the report frame);
ids, timestamps and message texts differ between stand-ins and are not compared.
"""

from __future__ import annotations

from collections import Counter

import pytest
from botocore.exceptions import ClientError
from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.base import Lifecycle, StartRejected, TargetOutcome, TargetResult
from bulk_deployer.timefmt import epoch_of

from tests.deployers.drivers import Capability, Driver, requires


def test_a_start_returns_a_running_deployment_tagged_with_its_token(driver: Driver) -> None:
    started = driver.deployer.start("token-a", driver.request("token-a", "a.jsonl"))
    assert started.deployment_id and started.arn
    status = driver.deployer.status(started.deployment_id)
    assert status.deployment_id == started.deployment_id
    assert status.lifecycle is Lifecycle.RUNNING and not status.terminal
    assert status.tags[TOKEN_TAG] == "token-a"
    assert epoch_of(status.created_at) is not None


def test_the_same_token_and_request_is_the_same_deployment(driver: Driver) -> None:
    request = driver.request("token-a", "a.jsonl")
    first = driver.deployer.start("token-a", request)
    second = driver.deployer.start("token-a", request)
    assert second == first
    driver.run_to_end()
    assert driver.deployer.start("token-a", request) == first  # also once it has ended
    assert driver.deployments_for("token-a") == 1


def test_the_same_token_with_another_request_is_refused(driver: Driver) -> None:
    driver.deployer.start("token-a", driver.request("token-a", "a.jsonl"))
    with pytest.raises(StartRejected):
        driver.deployer.start("token-a", driver.request("token-a", "b.jsonl"))
    assert driver.deployments_for("token-a") == 1


def test_a_start_while_another_runs_is_refused_and_latest_shows_the_running_one(driver: Driver) -> None:
    requires(driver, Capability.ACCOUNT_BUSY)
    first = driver.deployer.start("token-a", driver.request("token-a", "a.jsonl"))
    with pytest.raises(StartRejected):
        driver.deployer.start("token-b", driver.request("token-b", "b.jsonl"))
    latest = driver.deployer.latest()
    assert latest is not None
    assert (latest.deployment_id, latest.arn, latest.lifecycle) == (
        first.deployment_id,
        first.arn,
        Lifecycle.RUNNING,
    )
    assert driver.deployments_for("token-b") == 0


def test_after_the_running_one_ends_the_next_start_is_taken(driver: Driver) -> None:
    requires(driver, Capability.ACCOUNT_BUSY)
    assert driver.deployer.latest() is None
    first = driver.deployer.start("token-a", driver.request("token-a", "a.jsonl"))
    driver.run_to_end()
    latest = driver.deployer.latest()
    assert latest is not None and latest.deployment_id == first.deployment_id and latest.terminal
    second = driver.deployer.start("token-b", driver.request("token-b", "b.jsonl"))
    assert second.deployment_id != first.deployment_id
    newest = driver.deployer.latest()
    assert newest is not None and newest.deployment_id == second.deployment_id  # newest first


def test_a_start_whose_answer_was_lost_is_found_by_its_token(driver: Driver) -> None:
    requires(driver, Capability.ONE_CALL_START)
    driver.deployer.start("token-old", driver.request("token-old", "old.jsonl"))
    driver.run_to_end()
    driver.lose_next_start()
    with pytest.raises(ClientError) as lost:
        driver.deployer.start("token-a", driver.request("token-a", "a.jsonl"))
    assert not isinstance(lost.value, StartRejected)
    found = driver.deployer.find_by_token("token-a", created_since=None)
    assert found is not None and found.arn
    assert found.tags[TOKEN_TAG] == "token-a" and found.lifecycle is Lifecycle.RUNNING
    assert driver.deployer.find_by_token("token-never-started", created_since=None) is None
    # The search stops at the time the file entered STARTING (less a margin): nothing later.
    assert driver.deployer.find_by_token("token-a", created_since="2999-01-01T00:00:00Z") is None


def test_a_throttled_start_is_retried_and_starts_once(driver: Driver) -> None:
    driver.throttle_next_start()
    started = driver.deployer.start("token-a", driver.request("token-a", "a.jsonl"))
    assert started.deployment_id
    assert driver.deployments_for("token-a") == 1


def test_a_forgotten_token_starts_again(driver: Driver) -> None:
    """Why recovery looks for the token tag before a retry: the service's memory is short."""
    requires(driver, Capability.FORGETS_STARTS)
    request = driver.request("token-a", "a.jsonl")
    first = driver.deployer.start("token-a", request)
    driver.run_to_end()
    driver.forget_tokens()
    second = driver.deployer.start("token-a", request)
    assert second.deployment_id != first.deployment_id
    assert driver.deployments_for("token-a") == 2


def test_a_start_of_many_calls_whose_answer_was_lost_is_resumed_into_the_same_deployment(
    driver: Driver,
) -> None:
    requires(driver, Capability.ONE_CALL_START, present=False)
    request = driver.request("token-a", "a.jsonl", targets=2)
    driver.lose_next_start()
    with pytest.raises(ClientError) as lost:
        driver.deployer.start("token-a", request)
    assert not isinstance(lost.value, StartRejected)
    assert driver.deployer.find_by_token("token-a", created_since=None) is None  # part-way: resume
    started = driver.deployer.start("token-a", request)
    found = driver.deployer.find_by_token("token-a", created_since=None)
    assert found is not None and found.deployment_id == started.deployment_id
    assert found.tags[TOKEN_TAG] == "token-a" and found.lifecycle is Lifecycle.RUNNING
    assert driver.deployments_for("token-a") == 1


def test_a_forgotten_token_does_not_start_again_when_the_deployer_remembers_the_start(
    driver: Driver,
) -> None:
    requires(driver, Capability.FORGETS_STARTS, present=False)
    request = driver.request("token-a", "a.jsonl")
    first = driver.deployer.start("token-a", request)
    driver.run_to_end()
    driver.forget_tokens()
    assert driver.deployer.start("token-a", request) == first
    assert driver.deployments_for("token-a") == 1


@pytest.mark.parametrize(("targets", "failing"), [(5, 2), (1, 0)])
def test_a_finished_deployment_pages_its_target_results(driver: Driver, targets: int, failing: int) -> None:
    started = driver.deployer.start(
        "token-a", driver.request("token-a", "a.jsonl", targets=targets, failing=failing)
    )
    driver.run_to_end()
    status = driver.deployer.status(started.deployment_id)
    succeeded = not failing or Capability.ENDS_SUCCEEDED_WHEN_TARGETS_FAIL in driver.capabilities
    assert status.lifecycle is (Lifecycle.SUCCEEDED if succeeded else Lifecycle.FAILED) and status.terminal
    results: list[TargetResult] = []
    sizes: list[int] = []
    next_token: str | None = None
    while True:
        page, next_token = driver.deployer.target_results(
            started.deployment_id, next_token=next_token, page_size=2
        )
        results += page
        sizes.append(len(page))
        if next_token is None:
            break
    assert sizes == [2] * (targets // 2) + ([targets % 2] if targets % 2 else [])
    assert len({r.target for r in results}) == targets
    outcomes = Counter(r.outcome for r in results)
    assert (
        outcomes
        == Counter({TargetOutcome.SUCCEEDED: targets - failing, TargetOutcome.FAILED: failing}) - Counter()
    )
    for result in results:
        assert tuple(result.row) == driver.deployer.report_columns
        assert driver.deployer.target_outcome(result.status) is result.outcome


def test_status_metrics_carry_the_counter_fields(driver: Driver) -> None:
    started = driver.deployer.start("token-a", driver.request("token-a", "a.jsonl", targets=3))
    driver.run_to_end()
    metrics = driver.deployer.status(started.deployment_id).metrics
    assert set(driver.deployer.counter_metrics) <= set(metrics)
    assert all(isinstance(metrics[name], int) for name in driver.deployer.counter_metrics)


def test_a_deployment_that_cannot_read_its_file_fails_with_a_message(driver: Driver) -> None:
    requires(driver, Capability.READS_FILE_AFTER_START)
    started = driver.deployer.start("token-a", driver.broken_request("token-a", "missing.jsonl"))
    driver.run_to_end()
    status = driver.deployer.status(started.deployment_id)
    assert status.lifecycle is Lifecycle.FAILED and status.terminal
    assert status.error_message


def test_a_stopped_deployment_ends_stopped(driver: Driver) -> None:
    requires(driver, Capability.STOPS_GRADUALLY)
    started = driver.deployer.start("token-a", driver.request("token-a", "a.jsonl", targets=3))
    stopped = driver.deployer.stop(started.deployment_id)
    assert stopped and len(stopped) == len(set(stopped))  # what it stopped, each once
    assert driver.deployer.status(started.deployment_id).lifecycle is Lifecycle.RUNNING  # Stopping
    driver.run_to_end()
    assert driver.deployer.status(started.deployment_id).lifecycle is Lifecycle.STOPPED
    with pytest.raises(ClientError):
        driver.deployer.stop(started.deployment_id)  # an ended deployment cannot be stopped
