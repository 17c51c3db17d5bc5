"""The Lambda asset: ``lambda_src/bulk_deployer`` plus requirements.txt, built without Docker.

Dependencies are installed by pip for the Lambda platform (linux arm64, CPython 3.13,
binary wheels only) into a cache directory keyed by the content of requirements.txt, the
pip arguments and this recipe, so repeated synths are offline and fast. What no function
imports is pruned there (``prune``), and everything is shipped with its bytecode, compiled by
this interpreter (``compile_bytecode``). See docs/deployment.md for why this was chosen over
the AWS-published Powertools layer, and what the asset holds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
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
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): both wheel tags load there.
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
LAMBDA_MACHINE: Final = "aarch64"
TASK_ROOT: Final = "/var/task"  # where Lambda unpacks the asset: the path tracebacks show
# Compiled with a fixed string hash seed, in a fresh interpreter: nothing in the .pyc bytes may
# follow this process's history or its random seed. (Python 3.11+ marshals a frozenset constant
# in sorted order, so two seeds gave the same bytes here too; the fixed seed costs nothing.)
BYTECODE_HASH_SEED: Final = "0"

_IGNORED: Final = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
# What pip installs that no function imports (docs/deployment.md, "What the asset holds").
_PRUNED_DIRECTORIES: Final = frozenset({"__pycache__", "tests"})
_PRUNED_SUFFIXES: Final = (".pyi", ".pyc", ".pyo")
_PRUNED_NAMES: Final = frozenset({"py.typed", "examples-1.json"})  # typing marker; botocore's doc examples
# Of a distribution's metadata, what says what is shipped and under which licence (vulnerability
# scanners read METADATA); not RECORD, which would list the pruned files, nor pip's own notes.
_KEPT_DIST_INFO: Final = ("METADATA", "licenses", "LICENSE", "NOTICE", "COPYING", "AUTHORS", "sboms")
# Compiles the tree given as argv[1] into __pycache__ beside each source (see compile_bytecode).
_COMPILE_SCRIPT: Final = """
import compileall, py_compile, sys
ok = compileall.compile_dir(
    sys.argv[1], quiet=1, stripdir=sys.argv[1], prependdir=sys.argv[2], workers=1,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
sys.exit(0 if ok else 1)
"""


def runtime_version() -> tuple[int, int]:
    """The Python version of ``RUNTIME`` (``python3.13`` -> (3, 13))."""
    major, minor = RUNTIME.name.removeprefix("python").split(".")
    return int(major), int(minor)


def platform_args(machine: str = LAMBDA_MACHINE) -> tuple[str, ...]:
    """pip's target platform: Lambda's, or the same runtime on another machine (the benchmark's)."""
    return tuple(arg.replace(LAMBDA_MACHINE, machine) for arg in PIP_PLATFORM_ARGS)


def host_machine() -> str:
    """This machine's architecture as wheel tags spell it (x86_64, aarch64)."""
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine())


def cache_root() -> Path:
    """Where installed dependency sets are kept between synths (outside the repository)."""
    override = os.environ.get("BULK_DEPLOYER_BUNDLE_CACHE")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bulk-deployer" / "lambda-deps"


def _recipe() -> bytes:
    """What else decides the asset's bytes: this module (pruning, compiling) and the bytecode format."""
    return Path(__file__).read_bytes() + importlib.util.MAGIC_NUMBER


def dependencies_key(machine: str = LAMBDA_MACHINE) -> str:
    """Changes whenever requirements.txt, the target platform or the recipe changes."""
    digest = hashlib.sha256()
    digest.update(REQUIREMENTS.read_bytes())
    digest.update("\0".join(platform_args(machine)).encode())
    digest.update(_recipe())
    return digest.hexdigest()[:32]


def check_interpreter() -> None:
    """Bytecode is only valid for the Python minor version that compiled it: refuse any other."""
    if sys.version_info[:2] != runtime_version():
        raise RuntimeError(
            f"the Lambda runtime is {RUNTIME.name}, but this synth runs on Python "
            f"{sys.version_info[0]}.{sys.version_info[1]} ({sys.executable}): the asset's bytecode "
            f"must be compiled by Python {'.'.join(map(str, runtime_version()))}. "
            "Run it from the project's virtual environment (make venv)."
        )


def compile_bytecode(tree: Path, shown_as: str) -> None:
    """Compile every module under ``tree`` with this interpreter, reproducibly.

    ``UNCHECKED_HASH`` .pyc files record a hash of their source instead of its modification
    time, and the import system never compares them with the source. That is what works in
    Lambda: ``/var/task`` is read-only, and the asset's files do not keep their build-time mtimes
    (CDK zips them with a fixed date), so a timestamp .pyc would be found stale at every cold
    start, compiled again in memory and never written back; a checked hash would read and hash
    every source at every import. Source and bytecode ship together in one immutable asset, so
    they cannot diverge. The build is reproducible: no mtimes, the module paths recorded as
    under ``shown_as`` (``/var/task/...``, not this build's temporary folder), and a fresh
    interpreter with a fixed hash seed (``BYTECODE_HASH_SEED``), so two builds give the same bytes.
    """
    check_interpreter()
    # Fixed arguments: this interpreter, a script of this module and a folder this build made. No
    # other variable: -I would ignore PYTHONHASHSEED too.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-s", "-c", _COMPILE_SCRIPT, str(tree), shown_as],
        env={"PYTHONHASHSEED": BYTECODE_HASH_SEED},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not compile the bytecode of {tree}:\n{result.stdout}{result.stderr}")


def prune(tree: Path) -> None:
    """Remove what pip installed that no function imports: test suites, typing stubs, console
    scripts, documentation examples and the metadata only pip itself reads."""
    for path in sorted(tree.rglob("*"), reverse=True):  # children before their folders
        if not path.exists() and not path.is_symlink():
            continue  # inside a folder already removed
        name = path.name
        if path.is_dir():
            if name in _PRUNED_DIRECTORIES:
                shutil.rmtree(path)
            elif name.endswith(".dist-info"):
                for entry in path.iterdir():
                    if not entry.name.startswith(_KEPT_DIST_INFO):
                        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        elif name in _PRUNED_NAMES or name.endswith(_PRUNED_SUFFIXES):
            path.unlink()


def install_dependencies(machine: str = LAMBDA_MACHINE) -> Path:
    """Install requirements.txt for the platform once, pruned and compiled; return the cached folder."""
    target = cache_root() / dependencies_key(machine)
    if (target / ".complete").exists():
        return target
    check_interpreter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # compile_bytecode does it, reproducibly, after pruning
        "--no-warn-script-location",
        *platform_args(machine),
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
            f"could not install the Lambda dependencies for linux/{machine} {RUNTIME.name} "
            f"(needs PyPI the first time; cache: {target}):\n{result.stderr.strip()}"
        )
    try:
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: host shebangs, unused
        prune(staging)
        compile_bytecode(staging, TASK_ROOT)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / ".complete").write_text("ok\n")
    try:
        staging.rename(target)
    except OSError:  # another synth finished first; its copy is identical
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_asset(out: Path, *, with_dependencies: bool, machine: str = LAMBDA_MACHINE) -> None:
    """Write the asset into ``out``: the dependencies (from the cache) and the package, with bytecode.

    What `cdk synth` ships (``LocalPythonBundling``) and what `make bench` imports from
    (``benchmarks/asset_cold_start.py``, built for this machine instead of arm64).
    """
    check_interpreter()
    if with_dependencies:
        shutil.copytree(install_dependencies(machine), out, dirs_exist_ok=True)
        (out / ".complete").unlink(missing_ok=True)
    shutil.copytree(LAMBDA_SRC / PACKAGE, out / PACKAGE, dirs_exist_ok=True, ignore=_IGNORED)
    compile_bytecode(out / PACKAGE, f"{TASK_ROOT}/{PACKAGE}")


def source_hash(*, with_dependencies: bool) -> str:
    """Asset hash: the package's files, requirements.txt, the platform and the recipe (not file times)."""
    digest = hashlib.sha256()
    digest.update(b"deps" if with_dependencies else b"code-only")
    digest.update(dependencies_key().encode() if with_dependencies else _recipe())
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
        build_asset(Path(output_dir), with_dependencies=self.with_dependencies)
        return True


def lambda_code(*, with_dependencies: bool) -> lambda_.Code:
    """The starter's and the tracker's code asset."""
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
