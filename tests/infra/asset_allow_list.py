"""What the functions' asset may hold, and the checks the asset tests share.

The asset is what the functions import and nothing else (docs/deployment.md, "What the asset
holds"): the functions' package, the distributions requirements.txt pulls in (each with its
metadata and licences only), and beside every module its bytecode for the runtime's Python.
"""

from __future__ import annotations

import marshal
from fnmatch import fnmatch
from pathlib import Path

from infra.bundling import PACKAGE, TASK_ROOT, runtime_version

# Top-level packages and modules of requirements.txt's distributions (transitive ones included:
# a new one appears here only by a deliberate change).
DEPENDENCY_TOP_LEVEL = frozenset(
    {
        "aws_lambda_powertools",
        "boto3",
        "botocore",
        "dateutil",
        "jmespath",
        "orjson",
        "s3transfer",
        "urllib3",
        "six.py",
        "typing_extensions.py",
        "__pycache__",  # the bytecode of six.py and typing_extensions.py
    }
)
DISTRIBUTIONS = frozenset(
    {
        "aws_lambda_powertools",
        "boto3",
        "botocore",
        "jmespath",
        "orjson",
        "python_dateutil",
        "s3transfer",
        "six",
        "typing_extensions",
        "urllib3",
    }
)
# Inside a <distribution>-<version>.dist-info folder (paths relative to it).
DIST_INFO_FILES = ("METADATA", "LICENSE*", "NOTICE*", "licenses/*", "sboms/*")
# Anywhere: test suites, build tools, typing stubs and what only pip or documentation reads.
FORBIDDEN_PARTS = frozenset({"tests", "testing", "f2py", "bin", "numpy", "bulk_deployer_cli", "local"})
FORBIDDEN_NAMES = ("*.pyi", "*.pyo", "py.typed", "RECORD", "INSTALLER", "WHEEL", "examples-1.json")


def cache_tag() -> str:
    major, minor = runtime_version()
    return f"cpython-{major}{minor}"


def unexpected_entries(asset: Path, *, with_dependencies: bool = True) -> list[str]:
    """Every path of the asset that the allow-list does not admit (empty when all is well)."""
    allowed_top = {PACKAGE} | (DEPENDENCY_TOP_LEVEL if with_dependencies else set())
    return [
        path.relative_to(asset).as_posix()
        for path in sorted(asset.rglob("*"))
        if not _admitted(path.relative_to(asset), path.is_file(), allowed_top, with_dependencies)
    ]


def _admitted(relative: Path, is_file: bool, allowed_top: set[str], with_dependencies: bool) -> bool:
    top = relative.parts[0]
    if top.endswith(".dist-info") and with_dependencies:
        inside = relative.relative_to(top).as_posix()
        return top.removesuffix(".dist-info").rsplit("-", 1)[0] in DISTRIBUTIONS and (
            not is_file or any(fnmatch(inside, pattern) for pattern in DIST_INFO_FILES)
        )
    folders = relative.parts[:-1] if is_file else relative.parts
    return (
        top in allowed_top
        and not FORBIDDEN_PARTS.intersection(folders)
        and not (is_file and any(fnmatch(relative.name, pattern) for pattern in FORBIDDEN_NAMES))
    )


def bytecode_problems(asset: Path) -> list[str]:
    """Every module without its bytecode for the runtime, and every .pyc that is not one of those.

    Each .pyc must be hash-based and unchecked (flags 0b01: not compared with its source at
    import, never rewritten) and name its module as under Lambda's task root.
    """
    tag = cache_tag()
    problems: list[str] = []
    expected = {path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc": path for path in asset.rglob("*.py")}
    for pyc in sorted(asset.rglob("*.pyc")):
        source = expected.pop(pyc, None)
        if source is None:
            problems.append(f"{pyc.relative_to(asset)}: no module of it, or not for {tag}")
            continue
        data = pyc.read_bytes()
        if int.from_bytes(data[4:8], "little") != 0b01:
            problems.append(f"{pyc.relative_to(asset)}: not an unchecked-hash .pyc")
        shown = f"{TASK_ROOT}/{source.relative_to(asset).as_posix()}"
        if marshal.loads(data[16:]).co_filename != shown:
            problems.append(f"{pyc.relative_to(asset)}: does not name {shown}")
    problems.extend(f"{source.relative_to(asset)}: no bytecode" for source in expected.values())
    return problems
