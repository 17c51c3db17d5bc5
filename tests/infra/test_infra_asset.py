"""The functions' Lambda asset holds the functions' package and nothing of the operator CLI.

The CLI is the package of the `bulk-deployer` console script (pyproject.toml): wherever it lives,
it must not ship in the asset, and a change to it alone must not change the asset hash (which
would redeploy both functions).
"""

from __future__ import annotations

import importlib.util
import shutil
import tomllib
from pathlib import Path

import pytest
from infra_helpers import Synth

from infra import bundling
from infra.bundling import LAMBDA_SRC, PACKAGE

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli_package_dir() -> Path:
    """The folder of the package that holds the `bulk-deployer` console script's module."""
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module = scripts["bulk-deployer"].split(":")[0]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    package = Path(spec.origin).resolve().parent
    assert package.is_relative_to(LAMBDA_SRC), f"{package} is not under {LAMBDA_SRC}"
    return package


def test_the_synthesized_asset_holds_no_module_of_the_cli(synth: Synth) -> None:
    code = synth.props("function")["Code"]
    asset = synth.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"
    shipped = {p.relative_to(asset).as_posix() for p in asset.rglob("*.py")}
    functions = {
        p.relative_to(LAMBDA_SRC).as_posix()
        for p in (LAMBDA_SRC / PACKAGE).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert functions <= shipped  # every module of the functions' package, ...
    cli = cli_package_dir().relative_to(LAMBDA_SRC).as_posix() + "/"
    assert [path for path in shipped if path.startswith(cli)] == []  # ... none of the CLI's


def test_a_change_to_the_cli_alone_leaves_the_asset_hash_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a copy of lambda_src/: the hash CDK gives the asset (``source_hash``), before and after."""
    copy = tmp_path / "lambda_src"
    shutil.copytree(LAMBDA_SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    monkeypatch.setattr(bundling, "LAMBDA_SRC", copy)
    cli = copy / cli_package_dir().relative_to(LAMBDA_SRC)
    hashes = {deps: bundling.source_hash(with_dependencies=deps) for deps in (False, True)}

    with (cli / "main.py").open("a", encoding="utf-8") as main:
        main.write("\n# a change to the CLI alone\n")
    (cli / "new_command.py").write_text('"""A new command."""\n', encoding="utf-8")
    assert {deps: bundling.source_hash(with_dependencies=deps) for deps in (False, True)} == hashes

    with (copy / PACKAGE / "dispatch.py").open("a", encoding="utf-8") as dispatch:
        dispatch.write("\n# a change to the functions\n")
    assert bundling.source_hash(with_dependencies=False) != hashes[False]
