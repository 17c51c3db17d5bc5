"""The import layering in pyproject.toml ([tool.importlinter]) holds, and a violating import breaks it.

Each violation is added to a copy of the code in a temporary directory, so the check is shown to
fail on exactly that import (and not to pass because it looks at nothing).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOT_PACKAGES = ("lambda_src/bulk_deployer", "lambda_src/bulk_deployer_cli", "infra", "local", "benchmarks")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("importlinter") is None,
    reason="import-linter is not installed (requirements-dev.txt pins it; `make venv` installs it)",
)


def _contract_names() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [contract["name"] for contract in config["tool"]["importlinter"]["contracts"]]


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Runs lint-imports on ``tree`` (a checkout's layout), as `make lint` runs it on the repository."""
    path = os.pathsep.join(filter(None, [str(tree / "lambda_src"), str(tree), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", script, "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _status(output: str) -> dict[str, str]:
    """Each contract's verdict (KEPT or BROKEN) from the summary."""
    verdicts: dict[str, str] = {}
    for name in _contract_names():
        for line in output.splitlines():
            if line.startswith(f"{name} "):
                verdicts[name] = line.removeprefix(f"{name} ").split()[0]
    return verdicts


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the repository's packages and its pyproject.toml."""
    for package in ROOT_PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(_status(result.stdout).values()) == {"KEPT"}
    assert len(_status(result.stdout)) == len(_contract_names())


LAYERS = "Functions: handlers -> wiring -> services -> adapters -> foundation"
CORE = "The pipeline core imports no deployer module"
FUNCTIONS = "The functions import neither the CLI, infra, local nor benchmarks"
CLI = "The CLI imports neither infra, local nor benchmarks"
INFRA = "infra imports neither the CLI, local nor benchmarks"


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        ("lambda_src/bulk_deployer/ledger.py", "import bulk_deployer.intake", LAYERS),
        ("lambda_src/bulk_deployer/contract.py", "import bulk_deployer.ledger", LAYERS),
        ("lambda_src/bulk_deployer/wiring.py", "import bulk_deployer.handlers.tracker", LAYERS),
        ("lambda_src/bulk_deployer/reconcile.py", "import bulk_deployer.deployers.greengrass_v1", CORE),
        (
            "lambda_src/bulk_deployer/report_writer.py",
            "import bulk_deployer.deployers.greengrass_v1.report",
            CORE,
        ),
        ("lambda_src/bulk_deployer/tracker.py", "import bulk_deployer_cli.errors", FUNCTIONS),
        ("lambda_src/bulk_deployer/handlers/starter.py", "import local.moto_server", FUNCTIONS),
        ("lambda_src/bulk_deployer_cli/main.py", "import local.moto_server", CLI),
        ("lambda_src/bulk_deployer_cli/main.py", "import infra.nag", CLI),
        ("infra/stack.py", "import bulk_deployer_cli.errors", INFRA),
        ("infra/stack.py", "import benchmarks.rss", INFRA),
    ],
)
def test_a_violating_import_breaks_its_contract(tree: Path, module: str, statement: str, broken: str) -> None:
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{statement}\n", encoding="utf-8")

    result = _lint_imports(tree)

    assert result.returncode != 0
    status = _status(result.stdout)
    assert status.pop(broken) == "BROKEN", result.stdout
    assert set(status.values()) == {"KEPT"}, result.stdout


def test_the_core_may_use_the_deployer_interface_but_no_deployer(tree: Path) -> None:
    reconcile = tree / "lambda_src/bulk_deployer/reconcile.py"
    original = reconcile.read_text(encoding="utf-8")
    reconcile.write_text(original + "\nimport bulk_deployer.deployers.base\n", encoding="utf-8")
    assert _lint_imports(tree).returncode == 0

    reconcile.write_text(original + "\nfrom bulk_deployer.deployers.greengrass_v1 import deployer\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert _status(result.stdout)[CORE] == "BROKEN", result.stdout
    assert "bulk_deployer.reconcile -> bulk_deployer.deployers.greengrass_v1" in result.stdout


def test_a_module_outside_every_layer_breaks_the_layers_contract(tree: Path) -> None:
    (tree / "lambda_src/bulk_deployer/unplaced.py").write_text("VALUE = 1\n", encoding="utf-8")

    result = _lint_imports(tree)

    assert result.returncode != 0
    assert _status(result.stdout)[LAYERS] == "BROKEN", result.stdout
    assert "bulk_deployer.unplaced" in result.stdout
