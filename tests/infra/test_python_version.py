"""Everything runs on the functions' Python: the minor version of the Lambda runtime.

infra/bundling.py's RUNTIME is the one declaration; the wheels the asset is built from, the
Makefile's choice of interpreter (.ci/find-python), ruff's and mypy's target versions and the
interpreter running these tests must all agree with it, so the tests cannot drift to a Python the
functions never run on (docs/deployment.md, "Which Python").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from infra import bundling

REPO_ROOT = Path(__file__).resolve().parents[2]
FIND_PYTHON = REPO_ROOT / ".ci" / "find-python"


def runtime_version() -> tuple[int, int]:
    """(3, 13) for Lambda's ``python3.13``."""
    matched = re.fullmatch(r"python(\d+)\.(\d+)", bundling.RUNTIME.name)
    assert matched, bundling.RUNTIME.name
    return int(matched.group(1)), int(matched.group(2))


def dotted(version: tuple[int, int]) -> str:
    return ".".join(map(str, version))


def find_python(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(
        [bash, str(FIND_PYTHON), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_the_tests_run_on_the_lambda_runtimes_python() -> None:
    assert sys.implementation.name == "cpython"
    assert sys.version_info[:2] == runtime_version(), (
        f"the tests run on Python {sys.version.split()[0]}, the functions on {bundling.RUNTIME.name}: "
        "rebuild the virtualenv with `make venv`"
    )


def test_the_asset_is_installed_for_the_runtimes_python() -> None:
    args = list(bundling.PIP_PLATFORM_ARGS)
    assert args[args.index("--python-version") + 1] == dotted(runtime_version())


def test_the_makefile_reads_the_runtimes_version_from_infra() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "lambda-python"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == dotted(runtime_version())


def test_ruff_mypy_and_the_package_target_the_runtimes_python() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    major, minor = runtime_version()
    assert config["tool"]["ruff"]["target-version"] == f"py{major}{minor}"
    assert config["tool"]["mypy"]["python_version"] == f"{major}.{minor}"
    assert config["project"]["requires-python"] == f">={major}.{minor}"


def test_find_python_names_the_runtimes_python_on_the_path(tmp_path: Path) -> None:
    """As on a machine whose python3.13 is on PATH (Debian's, say): that one is chosen."""
    base = Path(sys._base_executable).resolve()  # the interpreter this virtualenv was made from
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / f"python{dotted(runtime_version())}").symlink_to(base)
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path)}
    result = find_python(dotted(runtime_version()), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bin_dir / f"python{dotted(runtime_version())}")


def test_find_python_takes_the_newest_of_pyenvs_versions(tmp_path: Path) -> None:
    """Not on PATH (pyenv's shims refuse a version not selected): pyenv's newest patch release."""
    base = Path(sys._base_executable).resolve()
    want = dotted(runtime_version())
    for patch in ("1", "10", "9"):
        bin_dir = tmp_path / "pyenv" / "versions" / f"{want}.{patch}" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / f"python{want}").symlink_to(base)
    tools = tmp_path / "tools"  # ls and sort alone: no python, pyenv or uv to be found
    tools.mkdir()
    for tool in ("ls", "sort"):
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    env = {"PATH": str(tools), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    result = find_python(want, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        tmp_path / "pyenv" / "versions" / f"{want}.10" / "bin" / f"python{want}"
    )


def test_find_python_says_on_one_line_what_to_install_when_there_is_none(tmp_path: Path) -> None:
    env = {"PATH": f"/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}
    result = find_python("3.99", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("no CPython 3.99 found")
    assert "install it" in line and "make PYTHON=/path/to/python3.99" in line


def test_find_python_refuses_a_named_interpreter_of_another_version(tmp_path: Path) -> None:
    """`make PYTHON=...` with the wrong Python fails at once instead of building a venv on it."""
    result = find_python("3.99", sys.executable, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        result.stderr.strip()
        == f"PYTHON={sys.executable} is not CPython 3.99 (the Lambda runtime's version, infra/bundling.py RUNTIME)"
    )
    accepted = find_python(dotted(runtime_version()), sys.executable, cwd=tmp_path)
    assert (accepted.returncode, accepted.stdout.strip()) == (0, sys.executable)
