"""The contract module: cheap to import on a cold start, and importable by the stack and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"


def test_the_contract_loads_nothing_but_the_standard_library() -> None:
    # In a fresh interpreter: every module importing the contract loads, directly or not.
    program = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import bulk_deployer.contract\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    env = os.environ | {"PYTHONPATH": str(LAMBDA_SRC)}
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    ours = {name for name in loaded if name.split(".")[0] == "bulk_deployer"}
    assert ours == {"bulk_deployer", "bulk_deployer.contract"}
    assert [name for name in set(loaded) - ours if name.split(".")[0] not in sys.stdlib_module_names] == []
