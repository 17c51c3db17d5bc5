"""Shared fixtures: no test ever reaches a real AWS endpoint or uses real credentials."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "BulkDeployerTest",
}
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GREENGRASS"):
    os.environ.pop(_name, None)
os.environ.update(FAKE_AWS_ENV)


@pytest.fixture(autouse=True)
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Workers (``make test``: pytest-xdist, ``--dist loadgroup``) take whole groups: a test
    file's tests together, as ``--dist loadfile`` would, and every tests/infra file on one
    worker, which synthesizes each CDK configuration once (session fixtures) instead of once
    per worker."""
    for item in items:
        path = item.path.resolve().relative_to(ROOT)
        group = "infra" if path.parts[:2] == ("tests", "infra") else path.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))
