"""The CLI against the stand-ins: moto server (S3, DynamoDB, SQS, EventBridge, IAM, CloudFormation,
Greengrass groups) and the Greengrass bulk emulator, both in this process, reset per test.

A ``Runner`` plays the deployed functions: it drains the intake queue into the starter's logic
and runs the tracker, either step by step or in a thread while ``submit --wait`` follows a file.
The CLI is driven in-process through ``main()`` with ``--local`` and an env file written here
in the format ``make local-up`` writes.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from bulk_deployer.config import StarterSettings, dispatch_fields
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import Arrival
from bulk_deployer.observability import logger
from bulk_deployer.tracker_config import TrackerSettings
from bulk_deployer.wiring import Clients, Effects, build_intake, build_tracker
from bulk_deployer_cli.main import main

from local.greengrass_emulator import GreengrassEmulator
from local.moto_server import MotoServer
from local.provision import execution_policy, trust_policy
from local.provision import provision as provision_stack
from local.stack_config import REGION, LocalNames, LocalTiming, endpoint_environment, load_deploy_config

ACCOUNT = "123456789012"  # moto's
STACK = "CliTest"
# The stack as cdk.json configures it, under another name (local/provision.py creates it).
CONFIG = load_deploy_config({"stackName": STACK})
NAMES = LocalNames.for_stack(STACK)
BUCKET = NAMES.bucket
TABLE = NAMES.ledger_table
ROLE_NAME = NAMES.execution_role
FAST = dict(LocalTiming.fast().emulator)  # the tests' one pace (the e2e tests' too)


def execution_role_documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """The stack's execution role's trust and permission policies (another role, same rights)."""
    return (
        trust_policy(ACCOUNT, CONFIG.execution_role_source_account_condition),
        execution_policy(BUCKET, CONFIG.staged_prefix, ACCOUNT, REGION),
    )


TRACKER_FUNCTION = f"{STACK}-tracker"
# The stand-in stack's tracker runs as fast as tests step it: no waits between refused starts, one
# look per run (the tests step runs by hand), reports at once.
FAST_TRACKER = {
    "START_RETRY_BASE_SECONDS": "0",
    "REPORT_RECHECK_SECONDS": "0",
    "TRACKER_FOLLOW_SECONDS": "0",
}


def tracker_environment(*, outcomes_topic_arn: str | None = None, **context: Any) -> dict[str, str]:
    """The tracker's environment as infra gives it (cdk.json's context, ``context`` overriding it),
    made fast: what the Runner runs with and what `resume` reads as the deployed settings."""
    return (
        load_deploy_config(context).tracker_environment(
            ledger_table_name=TABLE,
            input_bucket_name=BUCKET,
            outcomes_topic_arn=outcomes_topic_arn,
        )
        | FAST_TRACKER
    )


def line(group_id: str, version_id: str) -> str:
    return json.dumps({"GroupId": group_id, "GroupVersionId": version_id, "DeploymentType": "NewDeployment"})


@pytest.fixture(autouse=True)
def _quiet_function_logs() -> Iterator[None]:
    """The functions' JSON logs would land in the CLI's captured stdout; restored after each test
    (other suites assert on those logs)."""
    level = logger.log_level
    logger.setLevel("CRITICAL")
    yield
    logger.setLevel(level)


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[MotoServer, GreengrassEmulator]]:
    with MotoServer() as moto:
        emulator = GreengrassEmulator(moto.url, **FAST).start()
        try:
            yield moto, emulator
        finally:
            emulator.stop()


@dataclass
class Stack:
    """The provisioned stand-in stack, its clients, and a CLI runner bound to it."""

    moto_url: str
    emulator: GreengrassEmulator
    env_file: Path
    capsys: pytest.CaptureFixture[str]
    outputs: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)
    _core_arn: str | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            url = self.emulator.url if service == "greengrass" else self.moto_url
            self._clients[service] = boto3.client(
                service, endpoint_url=url, region_name=REGION, config=Config(retries={"max_attempts": 2})
            )
        return self._clients[service]

    def cli(self, *argv: str, local: bool = True) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "--local"] if local else list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def cli_json(self, *argv: str) -> tuple[int, Any]:
        code, out, err = self.cli(*argv, "--json")
        assert out, err
        return code, json.loads(out)

    def deploy_to_cloudformation(self, name: str) -> None:
        """A CloudFormation stack with these outputs, for the CLI without --local."""
        template = {
            "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in self.outputs.items()},
        }
        self.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))

    # -- fleet ------------------------------------------------------------------------------

    def group(self, name: str | None = None, *, versions: int = 1) -> tuple[str, list[str]]:
        gg = self.client("greengrass")
        group_id = str(gg.create_group(Name=name or f"g-{uuid.uuid4().hex[:8]}")["Id"])
        made = [
            str(gg.create_group_version(GroupId=group_id, CoreDefinitionVersionArn=self._core())["Version"])
            for _ in range(versions)
        ]
        return group_id, made

    def deploy(self, group_id: str, version_id: str) -> str:
        deployment = self.client("greengrass").create_deployment(
            GroupId=group_id, GroupVersionId=version_id, DeploymentType="NewDeployment"
        )
        return str(deployment["DeploymentId"])

    def _core(self) -> str:
        if self._core_arn is None:
            core = self.client("greengrass").create_core_definition(
                Name="core",
                InitialVersion={
                    "Cores": [
                        {
                            "Id": "core-1",
                            "CertificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/abc",
                            "ThingArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/core",
                            "SyncShadow": False,
                        }
                    ]
                },
            )
            self._core_arn = str(core["LatestVersionArn"])
        return self._core_arn

    def input_file(self, path: Path, records: list[tuple[str, str]]) -> Path:
        path.write_text("".join(line(g, v) + "\n" for g, v in records))
        return path

    # -- queues -----------------------------------------------------------------------------

    def take_intake_messages(self) -> list[dict[str, Any]]:
        """Receive and delete what is in the intake queue (a 'lost' or 'dead-lettered' message)."""
        sqs = self.client("sqs")
        taken = []
        while messages := sqs.receive_message(
            QueueUrl=self.outputs["IntakeQueueUrl"],
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", []):
            for message in messages:
                sqs.delete_message(
                    QueueUrl=self.outputs["IntakeQueueUrl"], ReceiptHandle=message["ReceiptHandle"]
                )
                taken.append(message)
        return taken

    def dead_letter(self, body: str) -> None:
        self.client("sqs").send_message(
            QueueUrl=self.outputs["IntakeDeadLetterQueueUrl"],
            MessageBody=body,
            MessageGroupId="intake",
            MessageDeduplicationId=uuid.uuid4().hex,
        )

    def ledger(self) -> BulkDeploymentLedger:
        return BulkDeploymentLedger(self.client("dynamodb"), TABLE, ttl_days=400)


def provision(stack: Stack) -> None:
    """The stack's resources, as the local pipeline creates them, and its outputs."""
    stack.outputs.update(provision_stack(stack.client, CONFIG).outputs(CONFIG))
    stack.outputs["TrackerFunctionName"] = TRACKER_FUNCTION


def write_env_file(
    path: Path,
    moto_url: str,
    greengrass_url: str,
    outputs: dict[str, str],
    functions: dict[str, dict[str, str]] | None = None,
) -> None:
    """The --local env file, as `make local-up` writes it (documented in docs/cli.md)."""
    path.write_text(
        json.dumps(
            {
                "stack_name": STACK,
                "functions": functions or {},
                "environment": endpoint_environment(moto_url, greengrass_url),
                "outputs": outputs,
            }
        )
    )


@pytest.fixture
def stack(
    servers: tuple[MotoServer, GreengrassEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Stack:
    moto, emulator = servers
    moto.reset()
    emulator.reset()
    emulator.configure(**FAST, failing_groups=set())
    env_file = tmp_path / "env.json"
    made = Stack(moto.url, emulator, env_file, capsys)
    provision(made)
    tracker = tracker_environment()
    write_env_file(env_file, moto.url, emulator.url, made.outputs, {TRACKER_FUNCTION: tracker})
    monkeypatch.setenv("BULK_DEPLOYER_LOCAL_ENV", str(env_file))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return made


class Runner:
    """The starter and the tracker, as the deployed stack runs them, wired to the stand-ins."""

    def __init__(
        self, stack: Stack, *, execution_role_arn: str | None = None, greengrass_v2_url: str | None = None
    ) -> None:
        """With ``greengrass_v2_url``: a Greengrass V2 stack's functions, on that emulator."""
        self._stack = stack
        v2 = greengrass_v2_url is not None
        environment = tracker_environment(**({"greengrass": "v2"} if v2 else {}))
        # The tracker as deployed (what `resume` reads); the starter with the same dispatch settings.
        tracker_settings = TrackerSettings.from_env({**environment, "AWS_REGION": REGION})
        starter_settings = StarterSettings(
            **dispatch_fields(tracker_settings),
            **(
                {"stack_account_id": ACCOUNT}
                if v2
                else {"execution_role_arn": execution_role_arn or stack.outputs["ExecutionRoleArn"]}
            ),
        )
        if v2:
            greengrassv2, iot = (
                boto3.client(name, endpoint_url=greengrass_v2_url, region_name=REGION)
                for name in ("greengrassv2", "iot")
            )
            clients = Clients(
                s3=stack.client("s3"),
                dynamodb=stack.client("dynamodb"),
                greengrass=None,
                sns=None,
                greengrassv2=greengrassv2,
                iot=iot,
            )
        else:
            clients = Clients(
                s3=stack.client("s3"),
                dynamodb=stack.client("dynamodb"),
                greengrass=stack.client("greengrass"),
                sns=None,
            )
        # A V2 start stops when its invocation's time runs out: this one has plenty.
        plenty = {"time_left": lambda: 600.0} if v2 else {}
        quiet = Effects(
            count=lambda _n, _v: None, seconds=lambda _n, _v: None, sleep=lambda _s: None, **plenty
        )
        # The functions' own wiring, against the stand-ins.
        self.intake = build_intake(starter_settings, clients, quiet)
        self.tracker = build_tracker(tracker_settings, clients, quiet)
        self._sequence = itertools.count(time.time_ns())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def intake_step(self) -> int:
        """Deliver every message waiting in the intake queue to the starter; how many."""
        sqs = self._stack.client("sqs")
        url = self._stack.outputs["IntakeQueueUrl"]
        handled = 0
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            for message in messages:
                # moto numbers EventBridge deliveries to FIFO queues not at all: number them in
                # receive order, which a FIFO queue's single message group makes arrival order.
                sequence = str(next(self._sequence)).rjust(20, "0")
                self.intake.handle_message(message["Body"], Arrival(sequence_number=sequence))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                handled += 1
        return handled

    def step(self) -> None:
        self.intake_step()
        self.tracker.run(lambda: 600.0)

    def __enter__(self) -> Runner:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.step()
                except Exception as exc:  # surfaced by the test, not swallowed
                    self.errors.append(exc)
                self._stop.wait(0.03)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        assert not self.errors, self.errors


@pytest.fixture
def runner(stack: Stack) -> Runner:
    return Runner(stack)
