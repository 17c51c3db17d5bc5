"""local.moto_patches is in force while a local pipeline runs, and only then; and only on its moto.

These tests live outside tests/e2e on purpose: that package keeps one pipeline running for all its
tests (tests/e2e/conftest.py), so moto is patched there throughout. Here nothing holds the patches
between tests, and a full run comes here after tests/e2e: the first assertion of each test is that
the e2e pipeline left moto as it found it.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from local import moto_patches
from local.pipeline import LocalPipeline
from local.stack_config import REPO_ROOT

PATCHES_DIR = Path(moto_patches.__file__).resolve().parent


def _code_file(attribute: Any) -> Path | None:
    """Where the code behind a class or module attribute is defined (None: not Python code)."""
    if isinstance(attribute, property):
        attribute = attribute.fget
    if isinstance(attribute, ModuleType):
        return None  # moto's own `copy` module
    target = attribute if inspect.isfunction(attribute) else type(attribute)
    source = inspect.getsourcefile(target)
    return Path(source).resolve() if source else None


def patched_targets() -> list[str]:
    """The moto attributes whose code currently comes from local/moto_patches/."""
    return [
        f"{getattr(owner, '__name__', owner)}.{name}"
        for owner, name in moto_patches.targets()
        if (code := _code_file(owner.__dict__[name])) is not None and code.parent == PATCHES_DIR
    ]


ALL_TARGETS = [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in moto_patches.targets()]


def test_moto_is_patched_while_a_pipeline_runs_and_its_own_again_after_stop() -> None:
    assert patched_targets() == []
    pipeline = LocalPipeline(run=False).start()
    try:
        assert patched_targets() == ALL_TARGETS
        assert moto_patches.installed()
    finally:
        pipeline.stop()
    assert patched_targets() == []
    assert not moto_patches.installed()


def test_nested_holders_keep_the_patches_until_the_last_one_leaves() -> None:
    assert patched_targets() == []
    with moto_patches.applied():
        with moto_patches.applied():
            assert patched_targets() == ALL_TARGETS
        assert patched_targets() == ALL_TARGETS
        with moto_patches.unpatched():
            assert patched_targets() == []
        assert patched_targets() == ALL_TARGETS
    assert patched_targets() == []


def test_a_moto_version_the_patches_were_not_written_for_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = importlib.metadata.version

    def version(distribution: str) -> str:
        return "5.2.6" if distribution == "moto" else real_version(distribution)

    monkeypatch.setattr(importlib.metadata, "version", version)
    refused = pytest.raises(moto_patches.MotoVersionError, match=r"written for moto 5\.2\.5.*moto 5\.2\.6")
    with refused, moto_patches.applied():
        pass
    pipeline = LocalPipeline(run=False)
    with pytest.raises(moto_patches.MotoVersionError):
        pipeline.start()
    assert patched_targets() == []
    with pytest.raises(RuntimeError, match="not started"):
        _ = pipeline.moto


def test_the_patches_are_written_for_the_moto_the_project_pins() -> None:
    pins = (REPO_ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.findall(r"^moto\[server\]==(\S+)$", pins, flags=re.MULTILINE) == [moto_patches.WRITTEN_FOR]
    assert importlib.metadata.version("moto") == moto_patches.WRITTEN_FOR
