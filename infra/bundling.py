"""The Lambda asset: ``lambda_src/bulk_deployer`` plus requirements.txt, built without Docker.

Dependencies are installed by pip for the Lambda platform (linux arm64, CPython 3.14,
binary wheels only) into a cache directory keyed by the content of requirements.txt and the
pip arguments, so repeated synths are offline and fast. See docs/deployment.md for why this
was chosen over the AWS-published Powertools layer.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
LAMBDA_SRC: Final = REPO_ROOT / "lambda_src"
PACKAGE: Final = "bulk_deployer"
REQUIREMENTS: Final = REPO_ROOT / "requirements.txt"

RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
# Lambda's python3.14 runs on Amazon Linux 2023 (glibc 2.34): both wheel tags load there.
PIP_PLATFORM_ARGS: Final = (
    "--platform",
    "manylinux2014_aarch64",
    "--platform",
    "manylinux_2_28_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.13",
    "--only-binary=:all:",
)
_IGNORED: Final = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def cache_root() -> Path:
    """Where installed dependency sets are kept between synths (outside the repository)."""
    override = os.environ.get("BULK_DEPLOYER_BUNDLE_CACHE")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bulk-deployer" / "lambda-deps"


def dependencies_key() -> str:
    """Changes whenever requirements.txt or the target platform changes."""
    digest = hashlib.sha256()
    digest.update(REQUIREMENTS.read_bytes())
    digest.update("\0".join(PIP_PLATFORM_ARGS).encode())
    return digest.hexdigest()[:32]


def install_dependencies() -> Path:
    """Install requirements.txt for the Lambda platform once; return the cached directory."""
    target = cache_root() / dependencies_key()
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # .pyc files compiled here would be for this Python, not 3.14
        "--no-warn-script-location",
        *PIP_PLATFORM_ARGS,
        "--target",
        str(staging),
        "--requirement",
        str(REQUIREMENTS),
    ]
    # Fixed arguments: this interpreter's pip and the repository's requirements file.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(
            "could not install the Lambda dependencies for linux/arm64 Python 3.14 "
            f"(needs PyPI the first time; cache: {target}):\n{result.stderr.strip()}"
        )
    shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: host shebangs, unused
    (staging / ".complete").write_text("ok\n")
    try:
        staging.rename(target)
    except OSError:  # another synth finished first; its copy is identical
        shutil.rmtree(staging, ignore_errors=True)
    return target


def source_hash(*, with_dependencies: bool) -> str:
    """Asset hash: the package's files, requirements.txt and the platform (not file times)."""
    digest = hashlib.sha256()
    digest.update(b"deps" if with_dependencies else b"code-only")
    if with_dependencies:
        digest.update(dependencies_key().encode())
    package = LAMBDA_SRC / PACKAGE
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            digest.update(path.relative_to(LAMBDA_SRC).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    """Builds the asset on this machine: CDK never falls back to Docker."""

    def __init__(self, *, with_dependencies: bool) -> None:
        self.with_dependencies = with_dependencies

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        out = Path(output_dir)
        if self.with_dependencies:
            shutil.copytree(install_dependencies(), out, dirs_exist_ok=True, ignore=_IGNORED)
            (out / ".complete").unlink(missing_ok=True)
        shutil.copytree(LAMBDA_SRC / PACKAGE, out / PACKAGE, dirs_exist_ok=True, ignore=_IGNORED)
        return True


def lambda_code(*, with_dependencies: bool) -> lambda_.Code:
    """The starter's (and later the tracker's) code asset."""
    return lambda_.Code.from_asset(
        str(LAMBDA_SRC),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(with_dependencies=with_dependencies),
        bundling=BundlingOptions(
            # Required by the API; never pulled, because local bundling always succeeds or raises.
            image=RUNTIME.bundling_image,
            local=LocalPythonBundling(with_dependencies=with_dependencies),
        ),
    )
