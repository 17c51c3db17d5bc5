"""Which deployment the CLI talks to: a CloudFormation stack's outputs, or the local stand-ins.

Why: operators should name a stack (``--stack``, ``--region``, ``--profile``) and nothing
else; every bucket, queue and table name comes from the stack's outputs (DescribeStacks). The
region is found as the AWS CLI v2 finds it. ``--local`` (or ``BULK_DEPLOYER_LOCAL=1``) reads the
same outputs, plus the endpoints of the stand-ins, from the JSON file ``make local-up`` writes
(``$BULK_DEPLOYER_LOCAL_ENV``, default the repository's ``local/.state/env.json``, wherever the
CLI runs from). Nothing here imports aws_cdk: an operator's machine needs no CDK to run the CLI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from bulk_deployer.aws import CLIENT_CONFIG, START_CLIENT_CONFIG
from bulk_deployer.config import DEFAULT_INCOMING_PREFIX, DEFAULT_REPORTS_PREFIX, DEFAULT_STAGED_PREFIX
from bulk_deployer.control import DispatchControl
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.settings_schema import BY_ENV, GREENGRASS_V1, GREENGRASS_VERSIONS
from bulk_deployer.slot import DeploymentSlot

from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.rows import SHAPES, RowShape

if TYPE_CHECKING:
    from bulk_deployer.deployers.base import Deployer, ReportRows
    from bulk_deployer.wiring import Clients

DEFAULT_STACK_NAME = "BulkDeployer"
LOCAL_VARIABLE = "BULK_DEPLOYER_LOCAL"
LOCAL_ENV_VARIABLE = "BULK_DEPLOYER_LOCAL_ENV"
DEFAULT_LOCAL_ENV = "local/.state/env.json"
# The env file of the checkout this package runs from (an editable install or PYTHONPATH), so that
# --local finds the stand-ins from any folder. A CLI installed elsewhere has no checkout: there
# $BULK_DEPLOYER_LOCAL_ENV names the file (local/.state/env.sh exports it).
REPOSITORY_LOCAL_ENV = Path(__file__).resolve().parents[2] / DEFAULT_LOCAL_ENV
REQUIRED_OUTPUTS = ("BucketName", "LedgerTableName")
# Only a Greengrass V1 stack has an execution role (V2 passes none).
EXECUTION_ROLE_OUTPUT = "ExecutionRoleArn"
GREENGRASS_VERSION_OUTPUT = "GreengrassVersion"
TRACKER_FUNCTION_OUTPUT = "TrackerFunctionName"
STARTER_FUNCTION_OUTPUT = "StarterFunctionName"
# The functions' variable that picks their deployer, and its value when unset.
GREENGRASS_SETTING = BY_ENV["GREENGRASS"]
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def default_stack_name(cwd: Path | None = None) -> str:
    """``$BULK_DEPLOYER_STACK``, else ``stackName`` in ./cdk.json's context, else BulkDeployer."""
    if os.environ.get("BULK_DEPLOYER_STACK"):
        return os.environ["BULK_DEPLOYER_STACK"]
    cdk_json = (cwd or Path.cwd()) / "cdk.json"
    try:
        name = json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {}).get("stackName")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_STACK_NAME
    return str(name) if name else DEFAULT_STACK_NAME


def local_requested(flag: bool) -> bool:
    return flag or os.environ.get(LOCAL_VARIABLE, "").lower() in ("1", "true", "yes")


def local_env_path() -> Path:
    """The --local env file: ``$BULK_DEPLOYER_LOCAL_ENV``, else the repository's (not the cwd's)."""
    named = os.environ.get(LOCAL_ENV_VARIABLE)
    return Path(named).expanduser().resolve() if named else REPOSITORY_LOCAL_ENV


def region_from_environment() -> str | None:
    """``$AWS_REGION``, which the AWS CLI v2 and the SDKs read before ``$AWS_DEFAULT_REGION`` (boto3
    reads only the latter, then the profile's ``region``: passing this first gives the CLI's order)."""
    return os.environ.get("AWS_REGION") or None


@dataclass(frozen=True)
class StackResources:
    """The stack's outputs the CLI uses (names as in infra/stack.py ``_outputs``)."""

    stack_name: str
    outputs: Mapping[str, str]

    def require(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise CliError(
                f"stack {self.stack_name} has no output {name} (is it deployed from this version?)"
            )
        return value

    @property
    def bucket(self) -> str:
        return self.require("BucketName")

    @property
    def table(self) -> str:
        return self.require("LedgerTableName")

    @property
    def execution_role_arn(self) -> str:
        return self.require(EXECUTION_ROLE_OUTPUT)

    @property
    def incoming_prefix(self) -> str:
        return self.outputs.get("IncomingPrefix") or DEFAULT_INCOMING_PREFIX

    @property
    def staged_prefix(self) -> str:
        return self.outputs.get("StagedPrefix") or DEFAULT_STAGED_PREFIX

    @property
    def reports_prefix(self) -> str:
        return self.outputs.get("ReportsPrefix") or DEFAULT_REPORTS_PREFIX

    def optional(self, name: str) -> str | None:
        return self.outputs.get(name) or None


@dataclass
class Target:
    """Lazily connects to the deployment named on the command line; commands ask it for clients.

    ``stack_name``, ``region``, ``profile`` and ``endpoint_url`` are the options as given (None:
    not given). With ``local`` the env file decides all four, so giving one that disagrees with it
    is refused at once rather than silently ignored.
    """

    stack_name: str | None = None
    region: str | None = None
    profile: str | None = None
    local: bool = False
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.local:
            self._refuse_what_the_env_file_decides()

    # -- connection ----------------------------------------------------------------------

    @cached_property
    def name(self) -> str:
        """The stack's name: with --local the env file's; else the one given, else the default."""
        if self.local:
            return str(self._local_env.get("stack_name") or default_stack_name())
        return self.stack_name or default_stack_name()

    def _refuse_what_the_env_file_decides(self) -> None:
        where = f"--local (or {LOCAL_VARIABLE}=1) uses the stand-ins of {local_env_path()}"
        for option, value in (("--profile", self.profile), ("--endpoint-url", self.endpoint_url)):
            if value:
                raise CliError(f"{where}, with its own credentials and endpoints: drop {option}")
        if self.stack_name and self.stack_name != self._local_env.get("stack_name"):
            raise CliError(
                f"{where}, stack {self._local_env.get('stack_name') or '(unnamed)'}: drop --stack "
                f"{self.stack_name}, or leave --local (unset {LOCAL_VARIABLE}) to reach that stack"
            )
        if self.region and self.region != self._local_region:
            raise CliError(
                f"{where}, region {self._local_region}: drop --region {self.region}, "
                f"or leave --local (unset {LOCAL_VARIABLE}) to reach that region"
            )

    @cached_property
    def _local_env(self) -> Mapping[str, Any]:
        path = local_env_path()
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CliError(
                f"--local: {path} not found: run `make local-up` first (or set {LOCAL_ENV_VARIABLE} "
                "to the env.json it writes)"
            ) from None
        except (OSError, ValueError) as exc:
            raise CliError(f"--local: cannot read {path}: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("outputs"), dict):
            raise CliError(f"--local: {path} must be a JSON object with an 'outputs' object")
        return document

    @property
    def _local_environment(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self._local_env.get("environment") or {}).items()}

    @property
    def _local_region(self) -> str:
        env = self._local_environment
        return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"

    @cached_property
    def session(self) -> Any:
        if self.local:
            env = {**_FAKE_CREDENTIALS, **self._local_environment}
            return boto3.session.Session(
                botocore_session=_botocore_session(),
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=env.get("AWS_SESSION_TOKEN"),
                region_name=self._local_region,
            )
        # The AWS CLI v2's order: --region, $AWS_REGION, then (botocore) $AWS_DEFAULT_REGION and
        # the profile's region (--profile, else $AWS_DEFAULT_PROFILE / $AWS_PROFILE).
        return boto3.session.Session(
            profile_name=self.profile,
            region_name=self.region or region_from_environment(),
            botocore_session=_botocore_session(),
        )

    @property
    def region_name(self) -> str:
        region = self.session.region_name
        if not region:
            raise CliError(
                "no AWS region: pass --region, set AWS_REGION, or set the profile's region "
                "(aws configure set region REGION)"
            )
        return str(region)

    def client(self, service: str, *, config: Config | None = None) -> Any:
        """One client per service (and per config: starts use a client that never retries)."""
        name = service if config is None else f"{service}+{id(config)}"
        if name not in self._clients:
            kwargs: dict[str, Any] = {
                "region_name": self.region_name,
                "config": _cli_config() if config is None else _cli_config().merge(config),
            }
            # Otherwise botocore reads $AWS_ENDPOINT_URL_<SERVICE> / $AWS_ENDPOINT_URL itself.
            if self.local:
                env = self._local_environment
                endpoint = env.get(f"AWS_ENDPOINT_URL_{service.upper()}") or env.get("AWS_ENDPOINT_URL")
                if endpoint:
                    kwargs["endpoint_url"] = endpoint
            elif self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            self._clients[name] = self.session.client(service, **kwargs)
        return self._clients[name]

    @cached_property
    def resources(self) -> StackResources:
        if self.local:
            outputs = {str(k): str(v) for k, v in self._local_env["outputs"].items() if v is not None}
            return StackResources(self.name, outputs)
        stacks = self.client("cloudformation").describe_stacks(StackName=self.name)["Stacks"]
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
        resources = StackResources(self.name, outputs)
        for name in REQUIRED_OUTPUTS:
            resources.require(name)
        return resources

    def function_environment(self, function_name: str) -> dict[str, str]:
        """A deployed function's environment variables (``lambda:GetFunctionConfiguration``); with
        ``--local``, the env file's ``functions`` map, which ``make local-up`` fills the same way."""
        if self.local:
            functions = self._local_env.get("functions") or {}
            if function_name not in functions:
                raise CliError(
                    f"--local: the env file has no environment for function {function_name} "
                    "(written by an older `make local-up`? run `make local-down local-up`)"
                )
            return {str(k): str(v) for k, v in functions[function_name].items()}
        configuration = self.client("lambda").get_function_configuration(FunctionName=function_name)
        return dict(configuration.get("Environment", {}).get("Variables", {}))

    # -- which Greengrass the stack deploys with ---------------------------------------------

    @cached_property
    def greengrass(self) -> str:
        """The stack's Greengrass version, ``v1`` or ``v2``.

        Its output ``GreengrassVersion``; a stack deployed before that output existed is V1 if
        it has an execution role (only V1 stacks have one, and reading it costs no call), else
        what its tracker function deploys with (``GREENGRASS``, unset meaning the default).
        """
        resources = self.resources
        version = resources.optional(GREENGRASS_VERSION_OUTPUT)
        source = f"the stack's output {GREENGRASS_VERSION_OUTPUT}"
        if version is None and resources.optional(EXECUTION_ROLE_OUTPUT):
            version = GREENGRASS_V1
        if version is None:
            function = resources.require(TRACKER_FUNCTION_OUTPUT)
            variable = GREENGRASS_SETTING.env
            version = self.function_environment(function).get(str(variable)) or GREENGRASS_SETTING.default
            source = f"{variable} of {function}"
        if version not in GREENGRASS_VERSIONS:
            raise CliError(f"{source} is {version!r}, not one of {', '.join(GREENGRASS_VERSIONS)}")
        return str(version)

    @property
    def is_v1(self) -> bool:
        return self.greengrass == GREENGRASS_V1

    @property
    def deployment_noun(self) -> str:
        """What a file's deployment id (``bulk_deployment_id``) names: a V1 bulk deployment, or the
        ``gg2-<token>`` of a V2 file's deployments (one per target)."""
        return "bulk deployment" if self.is_v1 else "deployment"

    @property
    def row_shape(self) -> RowShape:
        """What this stack's reports list: group deployments (V1) or devices (V2)."""
        return SHAPES[self.greengrass]

    @property
    def report_rows(self) -> ReportRows:
        return self.row_shape.rows

    def require_v1(self, what: str) -> None:
        """Refuse, in one line, what only a Greengrass V1 stack can do."""
        if not self.is_v1:
            raise CliError(
                f"{what} is for Greengrass V1 stacks only: {self.resources.stack_name} deploys with "
                f"Greengrass {self.greengrass}"
            )

    # -- the product's own data access, on this deployment ---------------------------------

    @cached_property
    def ledger(self) -> BulkDeploymentLedger:
        return BulkDeploymentLedger(self.client("dynamodb"), self.resources.table, ttl_days=400)

    @cached_property
    def slot(self) -> DeploymentSlot:
        """For reading what holds the slot (resume dispatches through wiring, with its capacity)."""
        return DeploymentSlot(self.client("dynamodb"), self.resources.table)

    @cached_property
    def control(self) -> DispatchControl:
        return DispatchControl(self.client("dynamodb"), self.resources.table)

    # bulk_deployer.wiring is imported where it is used: it loads Powertools, which most commands
    # do not need.

    @cached_property
    def function_clients(self) -> Clients:
        """The functions' clients, on the CLI's connection (its retries, its endpoints with --local)."""
        from bulk_deployer.wiring import Clients  # noqa: PLC0415

        return Clients(
            s3=self.client("s3"),
            dynamodb=self.client("dynamodb"),
            greengrass=self.client("greengrass"),
            sns=self.client("sns"),
            greengrass_start=self.client("greengrass", config=START_CLIENT_CONFIG),
        )

    @cached_property
    def deployer(self) -> Deployer:
        """The deployment service, built as the functions build it (``wiring.build_deployer``):
        Greengrass V1's, asked only on a V1 stack (``is_v1``); following a V2 stack's deployments
        is the tracker's alone for now."""
        from bulk_deployer.wiring import build_deployer  # noqa: PLC0415

        # wiring builds V1's without a stack's settings: never hand it out for a V2 stack.
        self.require_v1("asking Greengrass about a deployment from the CLI")
        return build_deployer(self.function_clients)

    def describe(self) -> dict[str, Any]:
        return {
            "stack": self.resources.stack_name,
            "region": self.region_name,
            "local": self.local,
            "greengrass": self.greengrass,
            "outputs": dict(self.resources.outputs),
        }


@cache
def _data_loader() -> Any:
    return botocore.loaders.create_loader()


def _botocore_session() -> botocore.session.Session:
    """A fresh session sharing one loader of service models: reading them is most of the cost of
    a client, and callers that run many commands in one process (tests) need not pay it again."""
    session = botocore.session.Session()
    session.register_component("data_loader", _data_loader())
    return session


def _cli_config() -> Config:
    """Fewer retries than the functions: a person is waiting ($AWS_MAX_ATTEMPTS overrides)."""
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 3)
    return CLIENT_CONFIG.merge(
        Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=3, read_timeout=30)
    )
