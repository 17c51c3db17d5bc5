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
from bulk_deployer.cli.main import main
from bulk_deployer.config import StarterSettings, TrackerSettings, dispatch_fields
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import Arrival, table_definition
from bulk_deployer.observability import logger
from bulk_deployer.wiring import Clients, Effects, build_intake, build_tracker

from local.greengrass_emulator import GreengrassEmulator
from local.moto_server import MotoServer

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "CliTest"
BUCKET = "clitest-input"
TABLE = "CliTest-ledger"
ROLE_NAME = "CliTest-greengrass-bulk-execution"
FAST = {
    "init_seconds": 0.05,
    "record_seconds": 0.002,
    "stop_seconds": 0.05,
    "settle_seconds": 0.1,
    "tick_seconds": 0.01,
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "greengrass.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def role_policy(bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/staged/*"},
            {
                "Effect": "Allow",
                "Action": "greengrass:CreateDeployment",
                "Resource": f"arn:aws:greengrass:{REGION}:{ACCOUNT}:/greengrass/groups/*",
            },
        ],
    }


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
    s3, sqs, events, iam = (stack.client(s) for s in ("s3", "sqs", "events", "iam"))
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    stack.client("dynamodb").create_table(**table_definition(TABLE))
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    dlq = sqs.create_queue(QueueName=f"{STACK}-intake-dlq.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    intake = sqs.create_queue(
        QueueName=f"{STACK}-intake.fifo",
        Attributes={**fifo, "VisibilityTimeout": "1", "RedrivePolicy": redrive},
    )["QueueUrl"]
    intake_arn = sqs.get_queue_attributes(QueueUrl=intake, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    event_dlq = sqs.create_queue(QueueName=f"{STACK}-event-dlq")["QueueUrl"]
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": "incoming/"}]}},
    }
    events.put_rule(Name=f"{STACK}-object-created", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(
        Rule=f"{STACK}-object-created",
        Targets=[{"Id": "IntakeQueue", "Arn": intake_arn, "SqsParameters": {"MessageGroupId": "intake"}}],
    )
    role_arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="Policy", PolicyDocument=json.dumps(role_policy()))
    stack.outputs.update(
        {
            "BucketName": BUCKET,
            "IncomingPrefix": "incoming/",
            "StagedPrefix": "staged/",
            "ReportsPrefix": "reports/",
            "ExecutionRoleArn": role_arn,
            "IntakeQueueUrl": intake,
            "IntakeDeadLetterQueueUrl": dlq,
            "EventDeadLetterQueueUrl": event_dlq,
            "LedgerTableName": TABLE,
        }
    )


def write_env_file(path: Path, moto_url: str, greengrass_url: str, outputs: dict[str, str]) -> None:
    """The --local env file, as `make local-up` writes it (documented in docs/cli.md)."""
    path.write_text(
        json.dumps(
            {
                "stack_name": STACK,
                "environment": {
                    "AWS_ENDPOINT_URL": moto_url,
                    "AWS_ENDPOINT_URL_GREENGRASS": greengrass_url,
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing",
                    "AWS_REGION": REGION,
                    "AWS_DEFAULT_REGION": REGION,
                },
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
    write_env_file(env_file, moto.url, emulator.url, made.outputs)
    monkeypatch.setenv("BULK_DEPLOYER_LOCAL_ENV", str(env_file))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return made


class Runner:
    """The starter and the tracker, as the deployed stack runs them, wired to the stand-ins."""

    def __init__(self, stack: Stack, *, execution_role_arn: str | None = None) -> None:
        self._stack = stack
        starter_settings = StarterSettings(
            ledger_table_name=TABLE,
            execution_role_arn=execution_role_arn or stack.outputs["ExecutionRoleArn"],
            region=REGION,
            start_retry_base_seconds=0,
        )
        tracker_settings = TrackerSettings(
            **dispatch_fields(starter_settings),
            input_bucket=BUCKET,
            report_recheck_seconds=0,
            reconcile_every_seconds=3600,
            tracker_follow_seconds=0,  # one look per run: the tests step runs by hand
        )
        clients = Clients(
            s3=stack.client("s3"),
            dynamodb=stack.client("dynamodb"),
            greengrass=stack.client("greengrass"),
            sns=None,
        )
        quiet = Effects(count=lambda _n, _v: None, seconds=lambda _n, _v: None, sleep=lambda _s: None)
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
