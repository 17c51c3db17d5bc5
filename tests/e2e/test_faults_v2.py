"""Greengrass V2 faults through the stand-ins over HTTP: lost CreateDeployment answers and a
throttling storm, each file accounted for from the V2 emulator's call log and the S3 report.

Faults come from the outside only: the V2 emulator's switches (``lose_response``,
``forget_tokens``, ``throttle_fraction``) and botocore event hooks on the functions' clients
(tests/e2e/hooks.py). botocore's backoff is compressed (``fast_backoff``); the number of attempts
and the functions' request budget are the deployed ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bulk_deployer.contract import Metric
from bulk_deployer.ledger_model import FileState
from bulk_deployer.request_budget import BUDGETED_CLIENT_CONFIG

from local.greengrass_v2_emulator.calls import Call
from local.observe import Observer, Upload
from local.stack_config import V2_CONTEXT, load_deploy_config
from tests.e2e.conftest import E2EFactory
from tests.e2e.hooks import Hooks, fast_backoff
from tests.e2e.v2 import creates, finished, upload_targets

pytestmark = pytest.mark.e2e

# botocore's Config(retries={"max_attempts": n}) is n *retries*: n + 1 attempts.
ATTEMPTS = BUDGETED_CLIENT_CONFIG.retries["max_attempts"] + 1


@pytest.fixture(autouse=True)
def _fast_backoff() -> Iterator[None]:
    with fast_backoff():
        yield


def assert_deployed_once_each(
    e2e: Observer, upload: Upload, report: dict[str, Any], targets: list[str]
) -> None:
    """One CreateDeployment created a deployment per target (no other did), the report names
    those deployments, and every device of every target succeeded."""
    made = creates(e2e)
    assert sorted(str(c.target_arn) for c in made) == sorted(targets)
    file = e2e.file(upload)
    assert file is not None and file.state is FileState.FINISHED
    assert report["status"] == "COMPLETED"
    by_target = {str(c.target_arn): c.deployment_id for c in made}
    assert {t["target"]: t["deployment_id"] for t in report["targets"]} == by_target
    assert report["devices"] and {d["status"] for d in report["devices"]} == {"SUCCEEDED"}
    assert e2e.dead_letters() == 0


# ---------------------------------------------------------------------------- lost answers
def test_a_lost_answer_retried_within_the_tokens_8_hours_gets_the_same_deployment(v2: Observer) -> None:
    """The emulator creates the deployment, then answers 500: botocore retries with the same
    client token, which the service still remembers, and gets the same deployment back."""
    fleet = v2.pipeline.v2_fleet()
    lost = fleet.thing("core-lost")
    targets = [lost, fleet.group("line", {"dev-a": "healthy", "dev-b": "healthy"})]
    v2.pipeline.v2_emulator.lose_response(times=1)
    upload = upload_targets(v2, "lost.jsonl", targets)

    report = finished(v2, upload)

    to_lost = v2.pipeline.v2_emulator.calls(operation="CreateDeployment", target_arn=lost)
    assert [(c.outcome, c.answer_lost, c.created) for c in to_lost] == [
        ("InternalServerException", True, True),
        ("ok", False, False),  # the token's replay
    ]
    assert len({c.client_token for c in to_lost}) == 1
    assert len({c.deployment_id for c in to_lost}) == 1
    assert_deployed_once_each(v2, upload, report, targets)


def test_a_lost_answer_retried_after_the_tokens_8_hours_is_found_by_its_tag(v2: Observer) -> None:
    """Every attempt of the first start's CreateDeployment loses its answer (the first creates,
    the others replay the token); the starter gives up. Then 8 hours pass before the next start
    (the emulator forgets every token, from a hook run when the caller has seen the last error):
    a CreateDeployment now would create a second deployment, so the next start must find the
    first by the tag carrying the token, and create nothing."""
    emulator = v2.pipeline.v2_emulator
    fleet = v2.pipeline.v2_fleet()
    lost = fleet.thing("core-lost")
    targets = [lost, fleet.group("line", {"dev-a": "healthy", "dev-b": "healthy"})]
    emulator.lose_response(times=None)
    gave_up: list[str] = []

    def eight_hours_later(parsed: dict[str, Any] | None = None, **_: Any) -> None:
        if (parsed or {}).get("Error", {}).get("Code") == "InternalServerException":
            gave_up.append("CreateDeployment")
            emulator.clear_faults()
            emulator.forget_tokens()

    with Hooks(v2.pipeline, ("after-call.greengrassv2.CreateDeployment", eight_hours_later)):
        upload = upload_targets(v2, "lost-late.jsonl", targets)
        report = finished(v2, upload)

    assert gave_up == ["CreateDeployment"]
    to_lost = emulator.calls(operation="CreateDeployment", target_arn=lost)
    assert [(c.answer_lost, c.created) for c in to_lost] == [(True, True)] + [(True, False)] * (ATTEMPTS - 1)
    assert_deployed_once_each(v2, upload, report, targets)


# ---------------------------------------------------------------------------- throttling
def busiest(calls: list[Call], window_seconds: float) -> int:
    """The most calls the emulator received in any ``window_seconds`` (its clock)."""
    times = sorted(c.at for c in calls)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window_seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_a_throttling_storm_deploys_every_target_once_within_the_request_budget(
    make_e2e: E2EFactory, metrics_seen: list[tuple[str, float]]
) -> None:
    """Four calls in ten (both services, up to six in a row) answer ThrottlingException while a
    file of five targets starts and is followed, and the first CreateDeployment is throttled on
    every one of botocore's attempts. botocore retries the throttles, the starter retries that
    CreateDeployment itself: every target deployed once, no file failed, each throttle counted
    as GreengrassRequestsThrottled, and the calls stay within greengrassRequestsPerSecond.

    The budget: each function has half of the rate, in bursts of at most half of it, so in any
    window of W seconds both together send at most rate x (W + 1) requests (each a full bucket,
    plus its refill). Unpaced (RequestBudget.acquire a no-op), this run sends over 50 in a second."""
    rate = 10
    v2 = make_e2e(config=load_deploy_config({**V2_CONTEXT, "greengrassRequestsPerSecond": rate}))
    emulator = v2.pipeline.v2_emulator
    fleet = v2.pipeline.v2_fleet()
    targets = [
        fleet.thing("core-1"),
        fleet.thing("core-2"),
        fleet.group("line", {"dev-a": "healthy", "dev-b": "healthy"}),
    ]
    setup = len(emulator.calls())
    emulator.configure(throttle_fraction=0.4, throttle_seed=14)  # >= 40% of any first 30..200 calls
    upload = upload_targets(v2, "storm.jsonl", targets)

    report = finished(v2, upload, timeout=20)
    emulator.configure(throttle_fraction=0.0)

    assert_deployed_once_each(v2, upload, report, targets)
    calls = emulator.calls()[setup:]
    throttled = [c for c in calls if c.outcome == "ThrottlingException"]
    assert len(throttled) >= 0.4 * len(calls), (len(throttled), len(calls))
    counted = sum(v for name, v in metrics_seen if name == Metric.GREENGRASS_REQUESTS_THROTTLED.value)
    assert counted == len(throttled)
    for window in (1.0, 2.0):
        assert busiest(calls, window) <= rate * (window + 1), (window, busiest(calls, window))
