"""Cold start: importing the starter handler in a fresh interpreter, against `import boto3` alone.

The interpreter runs with the variables Lambda sets (LAMBDA_TASK_ROOT among them: the X-Ray
SDK builds a sampling client at import time outside Lambda, which Lambda itself never pays).
Imports are timed inside the interpreter, so interpreter start-up is not counted for either.
Both sides import compiled bytecode, as an installed package does: one warm-up import compiles
boto3 and the project into a private cache (PYTHONPYCACHEPREFIX), and the timed runs read it.
Without that, the project's modules would be compiled from source in every run (this machine
sets PYTHONDONTWRITEBYTECODE) while boto3's came precompiled by pip: not the same footing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass

_PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "bulk-deployer-starter",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "POWERTOOLS_SERVICE_NAME": "bulk-deployer",
    "POWERTOOLS_METRICS_NAMESPACE": "BulkDeployer",
}


@dataclass(frozen=True)
class ColdStartResult:
    runs: int
    boto3_ms: float
    starter_ms: float

    @property
    def ratio(self) -> float:
        return self.starter_ms / self.boto3_ms


def _import_seconds(module: str, bytecode_cache: str, *, compile_first: bool = False) -> float:
    env = {**os.environ, **LAMBDA_ENV, "PYTHONPYCACHEPREFIX": bytecode_cache, "PYTHONDONTWRITEBYTECODE": "1"}
    if compile_first:
        del env["PYTHONDONTWRITEBYTECODE"]
    output = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(output.strip().splitlines()[-1])


def cold_start(runs: int = 11) -> ColdStartResult:
    boto3_times: list[float] = []
    starter_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bulk-deployer-pycache-") as cache:
        _import_seconds("bulk_deployer.handlers.starter", cache, compile_first=True)
        for _ in range(runs):  # interleaved, so both see the same machine
            boto3_times.append(_import_seconds("boto3", cache))
            starter_times.append(_import_seconds("bulk_deployer.handlers.starter", cache))
    return ColdStartResult(
        runs=runs,
        boto3_ms=statistics.median(boto3_times) * 1000,
        starter_ms=statistics.median(starter_times) * 1000,
    )
