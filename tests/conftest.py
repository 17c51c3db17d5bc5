"""Shared fixtures: no test ever reaches a real AWS endpoint or uses real credentials."""

from __future__ import annotations

import functools
import os
from typing import Any

import botocore.session
import pytest

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

# Every moto mock starts a new boto3 session, whose botocore loader parses the service models'
# JSON again (0.1-0.2 s per client created): most of an integration test's time. One loader per
# data path for the whole test process, as one session shares one loader among its clients.
botocore.session.create_loader = functools.cache(botocore.session.create_loader)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: `-p no:xdist` must still run
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` (``make test``), with every tests/infra file one unit: a worker takes
    a test file's tests together, and all of tests/infra, which synthesizes each CDK
    configuration once (session fixtures) instead of once per worker that runs an infra file.

    (xdist's own ``loadgroup`` marks cannot do it under pytest 9.2: they rename test ids through
    an attribute pytest no longer reads, and are silently ignored: pytest-dev/pytest-xdist#1386.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class InfraTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = str(super()._split_scope(nodeid))
            return "tests/infra" if scope.startswith("tests/infra/") else scope

    return InfraTogether(config, log)
