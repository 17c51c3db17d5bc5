"""mypy follows only the aws_cdk modules pyproject.toml lists (the rest are Any, for speed).

A module the stack starts using without being listed would silently lose its type checks; this
test finds every aws_cdk module the infra modules bind (app.py, which synthesizes when
imported, binds only aws_cdk itself), and asks that each be listed.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path
from types import ModuleType

import infra

ROOT = Path(__file__).resolve().parents[2]


def _mypy_overrides() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    overrides: list[dict[str, object]] = config["tool"]["mypy"]["overrides"]
    return overrides


def _followed_cdk_modules() -> set[str]:
    followed: set[str] = set()
    for override in _mypy_overrides():
        if override.get("follow_imports") == "normal":
            modules = override["module"]
            followed.update([modules] if isinstance(modules, str) else modules)  # type: ignore[list-item]
    return followed


def _cdk_modules_bound_by(module: ModuleType) -> set[str]:
    bound = set()
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", "")
        if isinstance(name, str) and (name == "aws_cdk" or name.startswith("aws_cdk.")):
            bound.add(name if isinstance(value, ModuleType) else _public_module(name))
    return bound


def _public_module(defining_module: str) -> str:
    """aws_cdk.Duration is defined in aws_cdk itself; aws_cdk.aws_s3.Bucket in aws_cdk.aws_s3."""
    return ".".join(defining_module.split(".")[:2])


def _infra_modules() -> list[ModuleType]:
    names = [f"infra.{info.name}" for info in pkgutil.iter_modules(infra.__path__)]
    return [importlib.import_module(name) for name in names]


def test_the_aws_cdk_modules_type_checked_are_exactly_those_the_stack_uses() -> None:
    used = set().union(*(_cdk_modules_bound_by(module) for module in _infra_modules()))
    assert "aws_cdk.aws_lambda" in used  # the scan sees what the stack imports
    assert sorted(used - _followed_cdk_modules()) == []  # used but unchecked
    assert sorted(_followed_cdk_modules() - used) == []  # listed but unused


def test_the_rest_of_aws_cdk_is_skipped_not_followed() -> None:
    skipped = [o for o in _mypy_overrides() if o.get("follow_imports") == "skip"]
    assert [o["module"] for o in skipped] == [["aws_cdk.*"]]
