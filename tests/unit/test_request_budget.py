"""RequestBudget: the pace of a shared quota, on a simulated clock and on a real botocore client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from bulk_deployer.request_budget import BUDGETED_CLIENT_CONFIG, RequestBudget
from hypothesis import given
from hypothesis import strategies as st


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_burst_is_free_and_then_requests_are_paced_at_the_rate() -> None:
    time = SimulatedTime()
    budget = RequestBudget(10, burst=5, clock=time.clock, sleep=time.sleep)
    waits = [budget.acquire() for _ in range(25)]
    assert waits[:5] == [0.0] * 5
    assert all(w == pytest.approx(0.1) for w in waits[5:])
    assert time.now == pytest.approx(2.0)  # 20 requests past the burst at 10 per second
    assert budget.requests == 25


def test_idle_time_refills_the_bucket_up_to_the_burst_only() -> None:
    time = SimulatedTime()
    budget = RequestBudget(2, burst=3, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        budget.acquire()
    time.now += 3600  # an hour idle earns no more than the burst
    assert [budget.acquire() for _ in range(3)] == [0.0] * 3
    assert budget.acquire() == pytest.approx(0.5)


@given(
    rate=st.floats(min_value=0.5, max_value=50),
    burst=st.floats(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=60),
)
def test_no_window_ever_holds_more_than_burst_plus_rate_times_its_length(
    rate: float, burst: float, gaps: list[float]
) -> None:
    time = SimulatedTime()
    budget = RequestBudget(rate, burst=burst, clock=time.clock, sleep=time.sleep)
    sent: list[float] = []
    for gap in gaps:
        time.now += gap
        budget.acquire()
        sent.append(time.now)
    for i, start in enumerate(sent):
        for j in range(i, len(sent)):
            window = sent[j] - start
            assert j - i + 1 <= budget.burst + rate * window + 1e-6


def test_a_budget_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        RequestBudget(0)


class _Service(BaseHTTPRequestHandler):
    """Answers greengrassv2 ListDeployments; throttles the first ``throttles`` attempts."""

    throttles = 0
    attempts = 0

    def do_GET(self) -> None:
        type(self).attempts += 1
        body: dict[str, object] = {"deployments": []}
        status, headers = 200, {}
        if type(self).attempts <= type(self).throttles:
            body, status = {"message": "Rate exceeded"}, 429
            headers = {"x-amzn-ErrorType": "ThrottlingException"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    _Service.attempts = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _client(endpoint: str) -> Any:
    return boto3.client(
        "greengrassv2",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=BUDGETED_CLIENT_CONFIG,
    )


def test_every_http_attempt_of_an_attached_client_takes_a_token_and_throttles_are_reported(
    service: str,
) -> None:
    _Service.throttles = 1
    time = SimulatedTime()
    budget = RequestBudget(4, burst=1, clock=time.clock, sleep=time.sleep)
    throttled: list[str] = []
    client = budget.attach(_client(service), on_throttle=throttled.append)
    for _ in range(3):
        assert client.list_deployments()["deployments"] == []
    assert _Service.attempts == 4  # one throttled attempt, retried by botocore
    assert budget.requests == 4
    assert throttled == ["ListDeployments"]
    assert time.sleeps == [pytest.approx(0.25)] * 3  # paced at 4 per second after the burst of 1


def test_a_client_not_attached_is_not_paced(service: str) -> None:
    _Service.throttles = 0
    time = SimulatedTime()
    budget = RequestBudget(1, burst=1, clock=time.clock, sleep=time.sleep)
    budget.attach(_client(service))
    other = _client(service)
    for _ in range(3):
        other.list_deployments()
    assert budget.requests == 0 and time.sleeps == []
