"""What a cold start imports: each handler loads boto3, Powertools' logger and metrics, orjson and
this package, nothing else. `make bench` measures the time; this keeps heavy imports from creeping
back unnoticed (the X-Ray SDK, NumPy, asyncio, Powertools' batch and typing utilities).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
import boto3
before = set(sys.modules)
import {module}
print(json.dumps(sorted(set(sys.modules) - before)))
"""
# Set as Lambda sets them: some libraries import differently outside Lambda.
_LAMBDA_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "bulk-deployer-probe"}
_ALLOWED_PACKAGES = {
    "aws_lambda_powertools",
    "boto3",
    "botocore",
    "bulk_deployer",
    "orjson",
    "typing_extensions",
}
_NEVER = ("aws_xray_sdk", "numpy", "asyncio", "aws_lambda_powertools.utilities.batch")


@pytest.mark.parametrize("handler", ["starter", "tracker"])
def test_a_cold_start_imports_only_what_the_handler_uses(handler: str) -> None:
    output = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=f"bulk_deployer.handlers.{handler}")],
        env={**os.environ, **_LAMBDA_ENV},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded: list[str] = json.loads(output)
    assert f"bulk_deployer.handlers.{handler}" in loaded
    third_party = {m.split(".")[0] for m in loaded if m.split(".")[0] not in sys.stdlib_module_names}
    assert third_party <= _ALLOWED_PACKAGES
    assert [m for m in loaded if m.startswith(_NEVER)] == []
