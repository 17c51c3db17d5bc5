"""Infrastructure tests: the CDK app is synthesized once per session per configuration.

tests/infra has no __init__.py on purpose: as a package it would be named ``infra`` and
shadow the CDK code's ``infra`` package.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
# jsii runs on the Node.js package.json pins (as `make test` and `make synth` arrange), also when
# pytest is run by hand after `make node_modules`.
_NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
if (_NODE_BIN / "node").exists() and not os.environ.get("PATH", "").startswith(str(_NODE_BIN)):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

from infra_helpers import Synth, synthesize  # noqa: E402

# Non-default values for every switch the default synthesis cannot show.
VARIANT_CONTEXT = {
    "stackName": "BulkDeployerVariant",
    "incomingPrefix": "drop/",
    "stagedPrefix": "ready/",
    "reportsPrefix": "results/",
    "defaultTags": '{"team": "iot", "cost-center": "42"}',
    "executionRoleSourceAccountCondition": "false",
    # Who may deploy what: the comma-separated and JSON-array forms of -c lists.
    "uploaderPrincipalArns": "arn:aws:iam::123456789012:role/fleet-uploader, arn:aws:iam::123456789012:user/ops/*",
    "deployableGroupIds": '["4fd4c5a8-6f6b-4d70-9c3e-7a8f0c6e2b11", "9a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"]',
    "deployableGroupTag": "fleet=eu-west",
    "bucketRemovalPolicy": "destroy",
    "starterTimeoutSeconds": 120,
    "starterMemoryMb": 512,
    "maxReceiveCount": "9",
    "logRetentionDays": 30,
    "noncurrentVersionExpirationDays": 7,
    "stagedExpirationDays": 60,
    "metricsNamespace": "Custom/BulkDeployer",
    "logLevel": "debug",
    "alarmEmail": "ops@example.com",
    "trackerScheduleMinutes": "10",
    "trackerMemoryMb": 512,
    "trackerTimeoutSeconds": 600,
    "overdueAfterSeconds": 7200,
    "reportSettleBoundSeconds": 3600,
    "reportRecheckSeconds": 60,
    "reportPageSize": "250",
    "reconcileEverySeconds": 1800,
    "reconcileLookbackDays": 7,
    "reconcileMinAgeSeconds": 600,
    "oldestQueuedFileAlarmSeconds": 3600,
}


# A Greengrass V2 stack with its own switches away from their defaults, and a V1-only value that
# it ignores (with a synthesis warning).
V2_VARIANT_CONTEXT = {
    "greengrass": "v2",
    "stackName": "BulkDeployerV2Variant",
    "alarmEmail": "ops@example.com",
    "deployableTargetArns": (
        '["arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet-eu", '
        '"arn:aws:iot:eu-west-1:123456789012:thing/gateway-7"]'
    ),
    "v2FilesInFlight": "8",
    "greengrassRequestsPerSecond": 20,
    "thingGroupDeadlineMinutes": 120,
    "allowLargeDeploymentDocuments": "true",
    "deployableGroupIds": "4fd4c5a8-6f6b-4d70-9c3e-7a8f0c6e2b11",
}


def cdk_json_context() -> dict[str, object]:
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack as cdk.json configures it (dependencies not bundled: no network in tests)."""
    context = cdk_json_context() | {"bundleDependencies": False}
    return synthesize(context, tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack with every configurable switch away from its default (as -c strings, too)."""
    context = cdk_json_context() | VARIANT_CONTEXT | {"bundleDependencies": "false"}
    return synthesize(context, tmp_path_factory.mktemp("cdk-variant"))


@pytest.fixture(scope="session")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack as cdk.json configures it, with -c greengrass=v2."""
    context = cdk_json_context() | {"greengrass": "v2", "bundleDependencies": False}
    return synthesize(context, tmp_path_factory.mktemp("cdk-v2"))


@pytest.fixture(scope="session")
def v2_variant(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A V2 stack with an allow-list of targets and its other settings away from their defaults."""
    context = cdk_json_context() | V2_VARIANT_CONTEXT | {"bundleDependencies": "false"}
    return synthesize(context, tmp_path_factory.mktemp("cdk-v2-variant"))
