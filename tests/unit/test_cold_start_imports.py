"""What a cold start imports: each handler loads boto3, Powertools' logger and metrics, orjson and
this package, nothing else. `make bench` measures the time; this keeps heavy imports from creeping
back unnoticed (the X-Ray SDK, NumPy, asyncio, Powertools' batch and typing utilities).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

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
# The classes of the package a cold start has defined once the handler is imported.
_CLASSES_PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(
    name
    for module in list(sys.modules.values()) if module.__name__.startswith("bulk_deployer")
    for name, value in vars(module).items()
    if isinstance(value, type) and value.__module__ == module.__name__
)))
"""
# Each dataclass of the package the handler's import defines, with its number of fields.
_DATACLASSES_PROBE = """
import dataclasses, json, sys
import {module}
print(json.dumps(sorted(
    [name, len(dataclasses.fields(value))]
    for module in list(sys.modules.values()) if module.__name__.startswith("bulk_deployer")
    for name, value in vars(module).items()
    if isinstance(value, type) and value.__module__ == module.__name__ and dataclasses.is_dataclass(value)
)))
"""
# Classes only the tracker uses: the starter's cold start must not pay for defining them.
_TRACKER_ONLY = {"TrackerSettings", "BulkDeploymentTracker", "ReportPass", "ReportWriter", "Reconciler"}


def _probe(probe: str, handler: str) -> list[Any]:
    """What ``probe`` prints about importing the handler, in a fresh interpreter."""
    output = subprocess.run(
        [sys.executable, "-c", probe.format(module=f"bulk_deployer.handlers.{handler}")],
        env={**os.environ, **_LAMBDA_ENV},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    printed: list[Any] = json.loads(output)
    return printed


@pytest.mark.parametrize("handler", ["starter", "tracker"])
def test_a_cold_start_imports_only_what_the_handler_uses(handler: str) -> None:
    loaded = _probe(_PROBE, handler)
    assert f"bulk_deployer.handlers.{handler}" in loaded
    third_party = {m.split(".")[0] for m in loaded if m.split(".")[0] not in sys.stdlib_module_names}
    assert third_party <= _ALLOWED_PACKAGES
    assert [m for m in loaded if m.startswith(_NEVER)] == []


def test_the_starter_defines_no_class_only_the_tracker_uses() -> None:
    """Defining a dataclass costs the cold start millions of instructions (docs/performance.md)."""
    defined = set(_probe(_CLASSES_PROBE, "starter"))
    assert "StarterSettings" in defined
    assert defined & _TRACKER_ONLY == set()


def test_the_starter_defines_few_dataclass_fields() -> None:
    """A dataclass's methods are compiled from source when it is defined: about 0.3 to 0.45
    million instructions per field at every cold start (docs/performance.md). Immutable records
    are NamedTuples and the services plain classes; the starter defined dataclasses of 199 fields
    before issue 17, and now only its settings (36 fields)."""
    defined = dict(_probe(_DATACLASSES_PROBE, "starter"))
    assert "StarterSettings" in defined
    assert sum(defined.values()) <= 40, defined


# The order in which the handler's import finished loading modules (sys.modules keeps it: the
# import system moves a module to the end when its code has run).
_ORDER_PROBE = """
import json, sys
import {module}
print(json.dumps(list(sys.modules)))
"""


@pytest.mark.parametrize("handler", ["starter", "tracker"])
def test_a_handler_imports_boto3_before_this_package(handler: str) -> None:
    """Imported at the end of the package's chain of imports, botocore's import thrashes the
    frame stack on CPython 3.13.0-3.13.12 (gh-142183; the handlers say more)."""
    loaded = _probe(_ORDER_PROBE, handler)
    entry = ("bulk_deployer", "bulk_deployer.handlers", f"bulk_deployer.handlers.{handler}")
    first_of_package = min(
        i for i, name in enumerate(loaded) if name.startswith("bulk_deployer") and name not in entry
    )
    assert loaded.index("boto3") < first_of_package
