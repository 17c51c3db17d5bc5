"""The asset as the synth builds it: bytecode for the runtime's Python, only what is allowed, reproducible.

The build with dependencies installs requirements.txt for linux/arm64 from PyPI into the
bundling cache the first time on a machine (as `make synth` does), then reuses it.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from asset_allow_list import bytecode_problems, unexpected_entries
from aws_cdk import aws_lambda as lambda_
from infra_helpers import Synth

from infra import bundling


def file_digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The asset with its dependencies, built twice: from this machine's cache, and from a cache
    of the same installed files whose bytecode was compiled again (by another process, as on
    another machine; pip's copy of the same wheels is the same files)."""
    first, second = tmp_path_factory.mktemp("asset-1"), tmp_path_factory.mktemp("asset-2")
    bundling.build_asset(first, with_dependencies=True)
    fresh_cache = tmp_path_factory.mktemp("fresh-cache")
    shutil.copytree(
        bundling.install_dependencies(),
        fresh_cache / bundling.dependencies_key(),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    bundling.compile_bytecode(fresh_cache / bundling.dependencies_key(), bundling.TASK_ROOT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BULK_DEPLOYER_BUNDLE_CACHE", str(fresh_cache))
        bundling.build_asset(second, with_dependencies=True)
    return first, second


def test_the_asset_holds_only_what_the_allow_list_names(two_builds: tuple[Path, Path]) -> None:
    asset, _ = two_builds
    assert unexpected_entries(asset) == []
    assert (asset / "bulk_deployer" / "handlers" / "starter.py").is_file()


def test_every_module_of_the_asset_has_unchecked_hash_bytecode_for_the_runtime(
    two_builds: tuple[Path, Path],
) -> None:
    asset, _ = two_builds
    assert bytecode_problems(asset) == []


def test_two_builds_of_the_asset_are_the_same_bytes(two_builds: tuple[Path, Path]) -> None:
    first, second = two_builds
    digests = file_digests(first)
    assert len(digests) > 1000
    assert file_digests(second) == digests


def test_the_synthesized_package_asset_holds_its_bytecode_and_nothing_else(synth: Synth) -> None:
    """The tests' synth (no dependencies) goes through the same build."""
    code = synth.props("function")["Code"]
    asset = synth.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"
    assert unexpected_entries(asset, with_dependencies=False) == []
    assert bytecode_problems(asset) == []


def test_the_asset_hash_follows_the_recipe_and_not_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = {deps: bundling.source_hash(with_dependencies=deps) for deps in (False, True)}
    bundling.build_asset(tmp_path, with_dependencies=False)
    assert {deps: bundling.source_hash(with_dependencies=deps) for deps in (False, True)} == hashes
    monkeypatch.setattr(bundling, "_recipe", lambda: b"another way of pruning or compiling")
    changed = {deps: bundling.source_hash(with_dependencies=deps) for deps in (False, True)}
    assert all(changed[deps] != hashes[deps] for deps in (False, True))


def test_a_build_on_another_python_than_the_runtimes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundling, "RUNTIME", lambda_.Runtime.PYTHON_3_12)
    with pytest.raises(
        RuntimeError, match=r"the Lambda runtime is python3\.12, but this synth runs on Python 3\.13"
    ):
        bundling.build_asset(tmp_path, with_dependencies=False)
    assert list(tmp_path.iterdir()) == []
