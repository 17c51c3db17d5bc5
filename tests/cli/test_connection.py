"""Which deployment the CLI talks to (docs/cli.md): the region as the AWS CLI v2 finds it,
``Target.endpoint_url``, and ``--local``: what it refuses, where it finds its env file, and
``source local/.state/env.sh`` as the one way to point the plain CLI at the stand-ins.

Two tests run the CLI in a fresh interpreter (``python -m bulk_deployer_cli``) because what they
check is the process's surroundings: its working directory, where its package lives, a shell.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.stack import REPOSITORY_LOCAL_ENV, Target

from local import daemon
from local.stack_config import REGION, endpoint_environment
from tests.cli.conftest import STACK, Stack

REPO = Path(__file__).resolve().parents[2]
DEPLOYED = "Fleet-Prod"  # a CloudFormation stack in REGION (us-east-1) with the stand-ins' outputs
ELSEWHERE = "eu-west-1"  # a region where it does not exist
AWS_SETTINGS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@pytest.fixture
def deployed(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The stack in CloudFormation, reached through $AWS_ENDPOINT_URL, with no region set anywhere
    and a config file of one profile ``p`` whose region is the stack's."""
    stack.deploy_to_cloudformation(DEPLOYED)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.moto_url)
    for name in AWS_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text(
        f"[profile p]\nregion = {REGION}\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    return stack


def _subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment without the CLI's own variables (the fixture's env file), with
    the worktree's packages first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULK_DEPLOYER_")}
    return env | {"PYTHONPATH": f"{REPO / 'lambda_src'}{os.pathsep}{REPO}", "AWS_MAX_ATTEMPTS": "1"} | extra


def _run(
    command: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``command`` in its own process, as an operator's shell would run it."""
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_aws_region_alone_is_enough(deployed: Stack) -> None:
    """Issue 15, item 1, through the console script's module in its own process: only
    $AWS_REGION set (boto3 alone reads $AWS_DEFAULT_REGION and said "no AWS region")."""
    env = {k: v for k, v in _subprocess_env(AWS_REGION=REGION).items() if k != "AWS_DEFAULT_REGION"}
    result = _run([sys.executable, "-m", "bulk_deployer_cli", "--stack", DEPLOYED, "list", "--json"], env)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("environment", "options", "found"),
    [
        ({"AWS_REGION": REGION}, (), True),
        # $AWS_REGION before $AWS_DEFAULT_REGION, as the AWS CLI v2 and the SDKs read them.
        ({"AWS_REGION": REGION, "AWS_DEFAULT_REGION": ELSEWHERE}, (), True),
        ({"AWS_REGION": ELSEWHERE, "AWS_DEFAULT_REGION": REGION}, (), False),
        ({"AWS_DEFAULT_REGION": REGION}, (), True),
        # --region before both.
        ({"AWS_REGION": ELSEWHERE, "AWS_DEFAULT_REGION": ELSEWHERE}, ("--region", REGION), True),
        # The profile's region last: after the environment's.
        ({}, ("--profile", "p"), True),
        ({"AWS_PROFILE": "p"}, (), True),
        ({"AWS_DEFAULT_PROFILE": "p"}, (), True),
        ({"AWS_PROFILE": "p", "AWS_REGION": ELSEWHERE}, (), False),
    ],
)
def test_the_region_is_found_as_the_aws_cli_finds_it(
    deployed: Stack,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    options: tuple[str, ...],
    found: bool,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, out, err = deployed.cli("--stack", DEPLOYED, *options, "list", "--json", local=False)
    if found:
        assert (code, err, json.loads(out)) == (0, "", [])
    else:
        assert code == 2 and f"Stack with id {DEPLOYED} does not exist" in err


def test_no_region_anywhere_is_one_line_naming_every_source(deployed: Stack) -> None:
    code, out, err = deployed.cli("--stack", DEPLOYED, "list", local=False)
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert "no AWS region: pass --region, set AWS_REGION, or set the profile's region" in err


def test_endpoint_url_serves_every_client_before_the_environments(
    deployed: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    target = Target(DEPLOYED, region=REGION, endpoint_url=deployed.moto_url)
    assert target.resources.bucket == deployed.outputs["BucketName"]  # cloudformation
    assert target.client("dynamodb").meta.endpoint_url == deployed.moto_url
    assert target.client("greengrass").meta.endpoint_url == deployed.moto_url
    # Without it, botocore's own $AWS_ENDPOINT_URL_<SERVICE> / $AWS_ENDPOINT_URL still apply.
    monkeypatch.setenv("AWS_ENDPOINT_URL_GREENGRASS", deployed.emulator.url)
    plain = Target(DEPLOYED, region=REGION)
    assert plain.client("greengrass").meta.endpoint_url == deployed.emulator.url
    assert plain.client("s3").meta.endpoint_url == "http://127.0.0.1:9"


def test_the_stack_is_not_given_unless_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """None means "not given" (what --local needs to know); the default is resolved here."""
    monkeypatch.setenv("BULK_DEPLOYER_STACK", "FromTheEnvironment")
    assert Target().name == "FromTheEnvironment"
    assert Target("Given").name == "Given"


def test_local_refuses_what_its_env_file_contradicts(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, item 6: `--local --stack Nope doctor` passed, checking the stand-ins' stack."""
    code, out, err = stack.cli("--stack", "Nope", "doctor")
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert f"stack {STACK}: drop --stack Nope" in err and "unset BULK_DEPLOYER_LOCAL" in err
    code, out, err = stack.cli("--region", "eu-west-1", "list")
    assert (code, out) == (2, "") and f"region {REGION}: drop --region eu-west-1" in err
    with pytest.raises(CliError, match="drop --profile"):
        Target(local=True, profile="p")
    with pytest.raises(CliError, match="drop --endpoint-url"):
        Target(local=True, endpoint_url=stack.moto_url)
    # What agrees with the env file is honoured.
    code, out, err = stack.cli("--stack", STACK, "--region", REGION, "list", "--json")
    assert (code, err, json.loads(out)) == (0, "", [])
    # BULK_DEPLOYER_LOCAL=1 is --local.
    monkeypatch.setenv("BULK_DEPLOYER_LOCAL", "1")
    code, out, err = stack.cli("--stack", "Nope", "queue", local=False)
    assert code == 2 and "drop --stack Nope" in err


def test_local_reads_the_env_file_local_up_writes() -> None:
    """The file the CLI reads by default is the one `make local-up` writes, as an absolute path."""
    assert daemon.CLI_ENV_FILE.resolve() == REPOSITORY_LOCAL_ENV
    assert REPOSITORY_LOCAL_ENV.is_absolute()


def test_local_finds_its_repositorys_env_file_from_any_folder(stack: Stack, tmp_path: Path) -> None:
    """Issue 15, item 6: run outside the repository, --local said "run make local-up first" while
    the stand-ins ran (it read local/.state/env.json under the working directory). Here the CLI's
    package runs from a copy of the repository's layout, and the command from another folder."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        REPO / "lambda_src" / "bulk_deployer_cli",
        checkout / "lambda_src" / "bulk_deployer_cli",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (checkout / "local" / ".state").mkdir(parents=True)
    shutil.copy(stack.env_file, checkout / "local" / ".state" / "env.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _subprocess_env(
        PYTHONPATH=os.pathsep.join([str(checkout / "lambda_src"), str(REPO / "lambda_src")])
    )
    result = _run([sys.executable, "-m", "bulk_deployer_cli", "--local", "queue", "--json"], env, elsewhere)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["queued"] == []


def test_sourcing_env_sh_points_the_plain_cli_at_the_stand_ins(stack: Stack, tmp_path: Path) -> None:
    """Issue 15, item 6: docs/local.md said env.sh's variables were for the CLI, but after
    sourcing it `bulk-deployer list` asked CloudFormation for a stack the stand-ins do not have.
    env.sh as `make local-up` writes it (daemon.exports), pointing at this test's env file."""
    env_sh = tmp_path / "env.sh"
    env_sh.write_text(
        daemon.exports(endpoint_environment(stack.moto_url, stack.emulator.url), stack.env_file)
    )
    script = (
        f"source {shlex.quote(str(env_sh))} && cd / && "
        f"{shlex.quote(sys.executable)} -m bulk_deployer_cli list --json"
    )
    result = _run(["bash", "-c", script], _subprocess_env())
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == []
