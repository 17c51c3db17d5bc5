"""`make synth` with the pinned npm CDK CLI, no AWS credentials, and the real Lambda bundling.

The slow test of this directory (one CLI run). The first run on a machine downloads the CLI
(npm ci) and the Lambda wheels (PyPI) into caches; later runs reuse them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from asset_allow_list import bytecode_problems, cache_tag, unexpected_entries

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = "BulkDeployer"
EM_AARCH64 = 183  # ELF e_machine of arm64

_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture(scope="module")
def make_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")  # no ~/.aws: nothing to find credentials in
    # Every Node.js process of the run (the CDK CLI, jsii's kernel) notes its version here.
    versions = home / "node-versions.txt"
    recorder = home / "record-version.js"
    recorder.write_text(
        f"require('fs').appendFileSync({json.dumps(str(versions))}, process.version + '\\n');\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARIABLES}
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NODE_OPTIONS": f"--require {recorder}",
        # As CI has it: the machine's Node.js first on the path; make must choose the pinned one.
        "PATH": os.pathsep.join(p for p in env_path() if "node_modules" not in p),
    }
    result = subprocess.run(
        ["make", "synth"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"make synth failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    _OUTPUT.append(result.stdout + result.stderr)
    _NODE_VERSIONS.extend(versions.read_text().split())
    return REPO_ROOT / "cdk.out"


def env_path() -> list[str]:
    return os.environ.get("PATH", "").split(os.pathsep)


_OUTPUT: list[str] = []  # what `make synth` printed
_NODE_VERSIONS: list[str] = []  # the versions of the Node.js processes it ran


def test_make_synth_runs_on_the_pinned_nodejs_and_prints_no_end_of_life_warning(make_synth: Path) -> None:
    """jsii prints a banner of "!!" lines when its Node.js is out of support (Node.js 20 since
    2026-04-30, the CDK CLI's since 2026-10-30); the pinned `node` package is a supported LTS."""
    (output,) = _OUTPUT
    assert "!!" not in output and "end-of-life" not in output.lower(), output[-3000:]
    pinned = "v" + json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]["node"]
    assert len(_NODE_VERSIONS) >= 2, _NODE_VERSIONS  # the CLI and at least one jsii kernel
    assert set(_NODE_VERSIONS) == {pinned}


def test_make_synth_writes_the_template(make_synth: Path) -> None:
    template = json.loads((make_synth / f"{STACK}.template.json").read_text())
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    assert {"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::DynamoDB::Table"} <= kinds


def test_make_synth_bundles_the_pinned_dependencies_for_arm64(make_synth: Path) -> None:
    template = json.loads((make_synth / f"{STACK}.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    handlers = {f["Properties"]["Handler"] for f in functions}
    assert handlers == {"bulk_deployer.handlers.starter.handler", "bulk_deployer.handlers.tracker.handler"}
    (key,) = {f["Properties"]["Code"]["S3Key"] for f in functions}  # one asset for both functions
    asset = make_synth / f"asset.{key.removesuffix('.zip')}"
    assert (asset / "bulk_deployer" / "__init__.py").is_file()
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s;#]+)", line)
        if pinned:
            name = pinned.group(1).replace("-", "_").lower()
            assert (asset / f"{name}-{pinned.group(2)}.dist-info").is_dir(), line
    (extension,) = (asset / "orjson").glob(f"orjson.{cache_tag()}-*.so")
    header = extension.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64
    assert unexpected_entries(asset) == []  # tests/infra/asset_allow_list.py
    assert bytecode_problems(asset) == []  # bytecode for the runtime's Python beside every module
    # Lambda's active tracing, no tracing SDK (docs/operations.md#traces): not even as a dependency.
    assert not (asset / "aws_xray_sdk").exists()
