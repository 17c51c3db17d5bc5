"""`make local-up` / `make local-down`: the pipeline as a background process a person can use.

``up`` starts ``python -m local serve`` detached (moto, the Greengrass emulator, the stack's
resources, the runner, all in that one process: the moto bridge in local.moto_patches needs moto
in-process), waits until it is ready, and prints the environment to export. The state file
(local/.state/pipeline.json, gitignored) holds its pid, URLs and environment; ``down`` stops it
by that pid. The functions' logs go to local/.state/pipeline.log. ``source local/.state/env.sh``
points AWS tools and ``bulk-deployer`` (any install, any folder) at the stand-ins.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import warnings
from contextlib import redirect_stdout, suppress
from pathlib import Path
from typing import Any

from bulk_deployer.settings_schema import GREENGRASS_V2, GREENGRASS_VERSIONS
from bulk_deployer_cli.stack import LOCAL_ENV_VARIABLE, LOCAL_VARIABLE

from local.pipeline import LocalPipeline
from local.stack_config import REPO_ROOT, V2_CONTEXT, LocalTiming, load_deploy_config

STATE_DIR = REPO_ROOT / "local" / ".state"
STATE_FILE = STATE_DIR / "pipeline.json"
LOG_FILE = STATE_DIR / "pipeline.log"
ENV_FILE = STATE_DIR / "env.sh"
# What `bulk-deployer --local` reads (LocalPipeline.cli_environment): outputs, endpoints, functions.
CLI_ENV_FILE = STATE_DIR / "env.json"
READY_TIMEOUT_SECONDS = 60.0

# What a shell needs: endpoints, fake credentials, region, and where things are.
SHELL_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_GREENGRASS",
    "AWS_ENDPOINT_URL_GREENGRASSV2",
    "AWS_ENDPOINT_URL_IOT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "LEDGER_TABLE_NAME",
    "GREENGRASS",
    "EXECUTION_ROLE_ARN",
    "STACK_ACCOUNT_ID",
    "INCOMING_PREFIX",
    "STAGED_PREFIX",
    "REPORTS_PREFIX",
    "OUTCOMES_TOPIC_ARN",
    "BULK_DEPLOYER_BUCKET",
    "BULK_DEPLOYER_INTAKE_QUEUE_URL",
    "BULK_DEPLOYER_INTAKE_DLQ_URL",
)


def read_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(STATE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exports(environment: dict[str, str], cli_env_file: Path = CLI_ENV_FILE) -> str:
    """env.sh: what AWS tools need (SHELL_VARIABLES), then what makes ``bulk-deployer`` use the
    stand-ins from any folder: ``--local`` on, and the absolute path of its env file."""
    variables = {name: environment[name] for name in SHELL_VARIABLES if name in environment}
    variables |= {LOCAL_VARIABLE: "1", LOCAL_ENV_VARIABLE: str(cli_env_file.resolve())}
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def up(out: Any = sys.stdout, greengrass: str | None = None) -> int:
    state = read_state()
    if state and alive(int(state["pid"])):
        out.write(f"local pipeline already running (pid {state['pid']}); `make local-down` stops it\n")
        _print_environment(state, out)
        return 0
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.unlink(missing_ok=True)
    if greengrass not in (None, *GREENGRASS_VERSIONS):
        raise ValueError(f"greengrass is one of {GREENGRASS_VERSIONS}, not {greengrass!r}")
    command = [sys.executable, "-m", "local", "serve", *(["--greengrass", greengrass] if greengrass else [])]
    with LOG_FILE.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and a checked version)
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the make that started it
        )
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        state = read_state()
        if state and state.get("pid") == process.pid:
            out.write(f"local pipeline running (pid {process.pid}); logs in {_rel(LOG_FILE)}\n")
            _print_environment(state, out)
            return 0
        if process.poll() is not None:
            out.write(f"the local pipeline exited with status {process.returncode}; see {_rel(LOG_FILE)}\n")
            out.write(_tail(LOG_FILE))
            return 1
        time.sleep(0.1)
    process.terminate()
    out.write(
        f"the local pipeline did not become ready in {READY_TIMEOUT_SECONDS:g}s; see {_rel(LOG_FILE)}\n"
    )
    return 1


def down(out: Any = sys.stdout) -> int:
    state = read_state()
    if state is None:
        out.write("local pipeline is not running (no state file)\n")
        return 0
    pid = int(state["pid"])
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    STATE_FILE.unlink(missing_ok=True)
    ENV_FILE.unlink(missing_ok=True)
    CLI_ENV_FILE.unlink(missing_ok=True)
    out.write(f"local pipeline stopped (pid {pid})\n")
    return 0


def status(out: Any = sys.stdout) -> int:
    state = read_state()
    if state is None or not alive(int(state["pid"])):
        out.write("local pipeline is not running; `make local-up` starts it\n")
        return 1
    out.write(f"local pipeline running (pid {state['pid']})\n")
    out.write(f"  moto (AWS)          {state['moto_url']}\n  Greengrass emulator {state['emulator_url']}\n")
    if "v2_emulator_url" in state:
        out.write(
            f"  Greengrass V2 + IoT {state['v2_emulator_url']} (a Greengrass {state['greengrass']} stack)\n"
        )
    out.write(f"  bucket              {state['environment']['BULK_DEPLOYER_BUCKET']}\n")
    return 0


def serve(greengrass: str | None = None) -> int:
    """The background process: run until SIGTERM/SIGINT, then remove the state file. ``greengrass``
    "v2" runs a Greengrass V2 stack (V2_CONTEXT); None: cdk.json's (V1 by default)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    config = load_deploy_config(V2_CONTEXT if greengrass == GREENGRASS_V2 else {"greengrass": greengrass})
    with (
        redirect_stdout(sys.stderr),
        LocalPipeline(timing=LocalTiming.interactive(), config=config) as pipeline,
    ):
        environment = pipeline.exports()
        state = {
            "pid": os.getpid(),
            "moto_url": pipeline.moto.url,
            "emulator_url": pipeline.emulator.url,
            "v2_emulator_url": pipeline.v2_emulator.url,
            "greengrass": pipeline.config.greengrass,
            "environment": environment,
            "started_at": time.time(),
        }
        ENV_FILE.write_text(exports(environment), encoding="utf-8")
        CLI_ENV_FILE.write_text(json.dumps(pipeline.cli_environment(), indent=2), encoding="utf-8")
        temporary = STATE_FILE.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2), encoding="utf-8")
        temporary.replace(STATE_FILE)  # atomic: `up` never reads half a file
        logging.getLogger(__name__).info("local pipeline ready: %s", state)
        try:
            done.wait()
        finally:
            with suppress(OSError):
                current = read_state()
                if current and current.get("pid") == os.getpid():
                    STATE_FILE.unlink()
    return 0


def _print_environment(state: dict[str, Any], out: Any) -> None:
    out.write(
        f"\nPoint bulk-deployer and AWS tools at the stand-ins, from any folder: source {ENV_FILE}\n"
        "(it exports these):\n\n" + exports(state["environment"]) + "\n"
    )


def _tail(path: Path, lines: int = 20) -> str:
    with suppress(OSError):
        return "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[-lines:])
    return ""


def _rel(path: Path) -> str:
    with suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)
