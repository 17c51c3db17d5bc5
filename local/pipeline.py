"""The whole pipeline on loopback: moto (AWS), the Greengrass emulators (V1 bulk, V2), the runner.

Why one object: the demo, the end-to-end tests and ``make local-up`` all need the same
sequence — start moto and the emulator, create the stack's resources, give each function the
environment the stack would give it (plus the stand-ins' endpoints), run the event source and
the schedule — and tests need to reset it between cases without restarting the servers.
Both Greengrass emulators run; the configuration's ``greengrass`` (V1 unless ``V2_CONTEXT``)
says which stack the functions are, and ``reset`` can switch it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import Any, Self

import boto3
from botocore.config import Config
from bulk_deployer.ledger import BulkDeploymentLedger

from infra.config import DeployConfig
from local import moto_patches
from local.emulator_kit.clock import LaggingClock
from local.fleet import Fleet, V2Fleet
from local.functions import (
    STARTER_HANDLER,
    TRACKER_HANDLER,
    Function,
    Invoker,
    restore_process_environment,
)
from local.greengrass_emulator import EmulatorConfig, GreengrassEmulator
from local.greengrass_v2_emulator import EmulatorConfig as V2EmulatorConfig
from local.greengrass_v2_emulator import GreengrassV2Emulator
from local.moto_server import MotoServer
from local.provision import Provisioned, provision
from local.runner import History, Runner, Schedule, SqsEventSource
from local.serving import StartsAndStops, started
from local.stack_config import (
    FAKE_CREDENTIALS,
    REGION,
    LocalTiming,
    endpoint_environment,
    load_deploy_config,
    starter_environment,
    tracker_environment,
)

log = logging.getLogger(__name__)


class LocalPipeline(StartsAndStops):
    """Start with ``start()`` (or ``with``); ``reset()`` empties everything for the next test."""

    def __init__(
        self,
        *,
        timing: LocalTiming | None = None,
        config: DeployConfig | None = None,
        emulator_settings: Mapping[str, Any] | None = None,
        environment_overrides: Mapping[str, str] | None = None,
        moto_port: int = 0,
        emulator_port: int = 0,
        v2_emulator_port: int = 0,
        run: bool = True,
    ) -> None:
        self.timing = timing or LocalTiming.fast()
        self.config = config or load_deploy_config()
        self._emulator_settings = {**self.timing.emulator, **(emulator_settings or {})}
        self._overrides = dict(environment_overrides or {})
        self._moto_port = moto_port
        self._emulator_port = emulator_port
        self._v2_emulator_port = v2_emulator_port
        self._v2_clock = LaggingClock()
        self._run = run
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.history = History()
        self.invoker = Invoker()
        self._patches = contextlib.ExitStack()
        self._moto: MotoServer | None = None
        self._emulator: GreengrassEmulator | None = None
        self._v2_emulator: GreengrassV2Emulator | None = None
        self._resources: Provisioned | None = None
        self._runner: Runner | None = None
        self.starter: Function | None = None
        self.tracker: Function | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        """moto is patched (local.moto_patches) from here until ``stop()``, and only then."""
        self._patches.enter_context(moto_patches.applied())
        try:
            self._moto = MotoServer(port=self._moto_port).start()
            # moto's backends are per process, not per server: start from an empty account even
            # if an earlier pipeline (or server) in this process left the stack's resources there.
            self._moto.reset()
            self._emulator = GreengrassEmulator(
                self._moto.url, port=self._emulator_port, region=REGION, **self._emulator_settings
            ).start()
            self._v2_emulator = GreengrassV2Emulator(
                port=self._v2_emulator_port, clock=self._v2_clock, **self._v2_settings()
            ).start()
            self._set_up()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.stop_functions()
        if self._v2_emulator is not None:
            self._v2_emulator.stop()
            self._v2_emulator = None
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._patches.close()

    def reset(
        self,
        *,
        emulator_settings: Mapping[str, Any] | None = None,
        environment_overrides: Mapping[str, str] | None = None,
        run: bool = True,
        config: DeployConfig | None = None,
        v2_emulator_settings: Mapping[str, Any] | None = None,
    ) -> None:
        """Empty moto and the emulators, create the resources again, cold-start both functions
        (with ``config``, as that stack: V1 or V2)."""
        self.stop_functions()
        if config is not None:
            self.config = config
        self.v2_emulator.reset()
        v2_defaults = V2EmulatorConfig().to_dict()
        self.v2_emulator.configure(**{**v2_defaults, **self._v2_settings(v2_emulator_settings)})
        self.emulator.reset()
        defaults = EmulatorConfig().to_dict()
        self.emulator.configure(
            **{**defaults, "region": REGION, **self.timing.emulator, **(emulator_settings or {})}
        )
        self.moto.reset()
        self.history.clear()
        self._overrides = dict(environment_overrides or {})
        self._run = run
        self._set_up()

    def _v2_settings(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The V2 emulator's settings for this stack; sets how far its clock is behind."""
        self._v2_clock.behind_seconds = self.timing.v2_emulator_behind_seconds
        return {"region": REGION, **self.timing.v2_emulator, **(overrides or {})}

    def _set_up(self) -> None:
        self._resources = provision(self.aws_client, self.config)
        # The things and groups a V2 stack deploys to are the stack's account's (moto's).
        self.v2_emulator.configure(account_id=self._resources.account_id)
        ids = self._resources.ids
        endpoints = self.endpoints()
        self.starter = Function(
            name=f"{self.config.stack_name}-starter",
            handler_path=STARTER_HANDLER,
            environment={**starter_environment(self.config, ids), **endpoints, **self._overrides},
            timeout_seconds=self.config.starter_timeout_seconds,
            memory_mb=self.config.starter_memory_mb,
            account_id=self._resources.account_id,
        )
        self.tracker = Function(
            name=f"{self.config.stack_name}-tracker",
            handler_path=TRACKER_HANDLER,
            environment={
                **tracker_environment(self.config, ids, self.timing),
                **endpoints,
                **self._overrides,
            },
            timeout_seconds=self.config.tracker_timeout_seconds,
            memory_mb=self.config.tracker_memory_mb,
            account_id=self._resources.account_id,
        )
        self.cold_start()
        starter, tracker = self.starter, self.tracker
        source = SqsEventSource(
            self.aws_client("sqs"),
            self._resources.intake_queue_url,
            self._resources.intake_queue_arn,
            REGION,
            lambda event: self.invoker.invoke(starter, event),
            self.history,
            function="starter",
            failed_visibility_seconds=self.timing.failed_message_visibility_seconds,
        )
        schedule = Schedule(
            lambda event: self.invoker.invoke(tracker, event),
            self.history,
            period_seconds=self.timing.tracker_period_seconds,
            account_id=self._resources.account_id,
            region=REGION,
            rule_name=f"{self.config.stack_name}-tracker-schedule",
        )
        self._runner = Runner(source, schedule)
        if self._run:
            self._runner.start()

    def stop_functions(self) -> None:
        """No more invocations (intake and schedule stop); the process's environment variables
        are the ones it had before the functions ran (local.functions._ProcessEnvironment)."""
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
        with self.invoker.lock:
            restore_process_environment()

    def cold_start(self) -> None:
        """The next invocation of each function builds its clients and settings again."""
        with self.invoker.lock:
            for function in (self.starter, self.tracker):
                if function is not None:
                    function.cold_start()

    # ------------------------------------------------------------------ handles
    @property
    def moto(self) -> MotoServer:
        return started(self._moto, "the pipeline")

    @property
    def emulator(self) -> GreengrassEmulator:
        return started(self._emulator, "the pipeline")

    @property
    def v2_emulator(self) -> GreengrassV2Emulator:
        return started(self._v2_emulator, "the pipeline")

    def endpoints(self) -> dict[str, str]:
        """The stand-ins' endpoints, as the functions, the CLI and a shell get them."""
        return endpoint_environment(self.moto.url, self.emulator.url, self.v2_emulator.url)

    @property
    def resources(self) -> Provisioned:
        return started(self._resources, "the pipeline")

    @property
    def runner(self) -> Runner:
        return started(self._runner, "the pipeline")

    @property
    def bucket(self) -> str:
        return self.resources.names.bucket

    def aws_client(self, service: str) -> Any:
        """A boto3 client for moto (explicit endpoint and fake credentials; thread-safe to share)."""
        return self._client(service, self.moto.url)

    def greengrass(self) -> Any:
        """The product's view of Greengrass: the emulator."""
        return self._client("greengrass", self.emulator.url)

    def greengrassv2(self) -> Any:
        """The product's view of Greengrass V2: the V2 emulator."""
        return self._client("greengrassv2", self.v2_emulator.url)

    def iot(self) -> Any:
        """The product's view of IoT (things, thing groups, jobs): the V2 emulator."""
        return self._client("iot", self.v2_emulator.url)

    def _client(self, service: str, url: str) -> Any:
        key = f"{service} {url}"
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
                    service,
                    endpoint_url=url,
                    region_name=REGION,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
            return self._clients[key]

    def ledger(self) -> BulkDeploymentLedger:
        return BulkDeploymentLedger(
            self.aws_client("dynamodb"),
            self.resources.names.ledger_table,
            ttl_days=self.config.ledger_ttl_days,
        )

    def fleet(self) -> Fleet:
        return Fleet(self.aws_client("greengrass"), self.resources.account_id)

    def v2_fleet(self) -> V2Fleet:
        """Things and thing groups for a V2 stack, and how each device behaves."""
        return V2Fleet(self.iot(), self.v2_emulator)

    def stack_outputs(self) -> dict[str, str]:
        """The deployed stack's CloudFormation outputs, as the stand-ins have them (for the CLI's --local)."""
        outputs = self.resources.outputs(self.config)
        return outputs | {output: function.name for output, function in self._functions().items()}

    def _functions(self) -> dict[str, Function]:
        """The stand-in functions, by the stack output that names each."""
        named = {"StarterFunctionName": self.starter, "TrackerFunctionName": self.tracker}
        return {output: function for output, function in named.items() if function is not None}

    def cli_environment(self) -> dict[str, Any]:
        """What `bulk-deployer --local` reads (docs/cli.md): the stack's name and outputs, the
        stand-ins' endpoints, and each function's environment (in AWS: GetFunctionConfiguration)."""
        return {
            "stack_name": self.config.stack_name,
            "environment": self.endpoints(),
            "outputs": self.stack_outputs(),
            "functions": {f.name: dict(f.environment) for f in self._functions().values()},
        }

    def exports(self) -> dict[str, str]:
        """What a shell needs to reach the stand-ins (CLI, AWS CLI) and find the resources."""
        resources = self.resources
        return {
            **self.endpoints(),
            **(self.tracker.environment if self.tracker else {}),
            # The tracker no longer gets the role (only the starter starts with it): named here.
            "EXECUTION_ROLE_ARN": resources.execution_role_arn,
            # The stand-ins' account (a V2 stack's starter is told it: Aws.ACCOUNT_ID).
            "STACK_ACCOUNT_ID": resources.account_id,
            "BULK_DEPLOYER_BUCKET": resources.names.bucket,
            "BULK_DEPLOYER_INTAKE_QUEUE_URL": resources.intake_queue_url,
            "BULK_DEPLOYER_INTAKE_DLQ_URL": resources.intake_dead_letter_queue_url,
        }
