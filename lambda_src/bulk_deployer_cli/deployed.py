"""``resume``'s dispatch, built the way the functions build theirs: one way to build the graph.

Why: a file ``bulk-deployer resume`` starts must be started exactly as the tracker would start
it — the deployed limits (``START_MAX_REFUSALS``, ``SLOT_LEASE_SECONDS``, the retry base), the
``started`` outcome on the stack's topic, the ``BulkDeploymentStarted`` metric. So the CLI reads
the deployed tracker's environment (the function named by the stack output
``TrackerFunctionName``), parses it with the functions' own settings class and builds the
dispatcher through ``bulk_deployer.wiring``. Only the effects differ, as in tests and benchmarks:
the CLI is no Lambda function and nothing reads EMF on its stdout, so its metrics go to CloudWatch
with ``PutMetricData`` — the functions' namespace and dimension — once dispatch has returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from bulk_deployer.config import ConfigurationError
from bulk_deployer.contract import SERVICE
from bulk_deployer.ledger_model import StaleTransition
from bulk_deployer.tracker_config import TrackerSettings
from bulk_deployer.wiring import Effects, build_dispatcher, build_ledger

from bulk_deployer_cli.errors import describe
from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.stack import TRACKER_FUNCTION_OUTPUT, Target

METRICS_NAMESPACE_VARIABLE: Final = "POWERTOOLS_METRICS_NAMESPACE"
# What Powertools' Metrics(service=SERVICE) puts on every EMF metric (infra/monitoring.py alarms on it).
METRIC_DIMENSIONS: Final = ({"Name": "service", "Value": SERVICE},)
_PUT_METRIC_DATA_LIMIT: Final = 1000  # data per PutMetricData request


@dataclass(frozen=True)
class DeployedSettings:
    """The tracker's settings as deployed, and where its metrics go."""

    settings: TrackerSettings
    metrics_namespace: str


def deployed_settings(target: Target) -> DeployedSettings:
    """The deployed tracker's settings: it dispatches on every run, with the same dispatch settings
    as the starter (both read them from one schema)."""
    function_name = target.resources.require(TRACKER_FUNCTION_OUTPUT)
    environment = target.function_environment(function_name)
    return settings_from_environment(environment, region=target.region_name, source=function_name)


def settings_from_environment(
    environment: Mapping[str, str], *, region: str, source: str
) -> DeployedSettings:
    """Lambda sets AWS_REGION itself (it is not in the function's configuration): the stack's region."""
    try:
        settings = TrackerSettings.from_env({**environment, "AWS_REGION": region})
    except ConfigurationError as exc:
        raise CliError(f"the settings of {source}: {exc}") from None
    namespace = environment.get(METRICS_NAMESPACE_VARIABLE)
    if not namespace:
        raise CliError(f"the settings of {source}: {METRICS_NAMESPACE_VARIABLE} is not set")
    return DeployedSettings(settings, namespace)


@dataclass
class CloudWatchMetrics:
    """The functions' ``count``/``seconds``, kept and put with PutMetricData in one go at the end,
    as the functions flush their EMF once per invocation."""

    client: Any
    namespace: str
    data: list[dict[str, Any]] = field(default_factory=list)

    def count(self, name: str, value: int = 1) -> None:
        self.data.append({"MetricName": name, "Value": value, "Unit": "Count"})

    def seconds(self, name: str, value: int) -> None:
        self.data.append({"MetricName": name, "Value": value, "Unit": "Seconds"})

    def publish(self) -> None:
        pending, self.data = self.data, []
        for start in range(0, len(pending), _PUT_METRIC_DATA_LIMIT):
            self.client.put_metric_data(
                Namespace=self.namespace,
                MetricData=[
                    {**datum, "Dimensions": list(METRIC_DIMENSIONS)}
                    for datum in pending[start : start + _PUT_METRIC_DATA_LIMIT]
                ],
            )


def dispatch_once(target: Target) -> dict[str, Any]:
    """One dispatch() as the tracker does it; errors are reported, not raised (the tracker retries)."""
    try:
        deployed = deployed_settings(target)
    except (CliError, ClientError, BotoCoreError) as exc:
        detail = str(exc) if isinstance(exc, CliError) else describe(exc)
        return {"result": "error", "detail": f"cannot read the deployed settings: {detail}"}
    settings, aws_clients = deployed.settings, target.function_clients
    metrics = CloudWatchMetrics(target.client("cloudwatch"), deployed.metrics_namespace)
    effects = Effects(count=metrics.count, seconds=metrics.seconds)
    ledger = build_ledger(settings, aws_clients, effects)
    dispatcher = build_dispatcher(settings, aws_clients, ledger, effects)
    result: dict[str, Any]
    try:
        outcome = dispatcher.dispatch()
    except (ClientError, StaleTransition) as exc:
        result = {"result": "error", "detail": describe(exc)}
    else:
        result = {
            "result": outcome.result.value,
            "token": outcome.token,
            "bulk_deployment_id": outcome.bulk_deployment_id,
            "detail": outcome.detail,
        }
    try:
        metrics.publish()
    except (ClientError, BotoCoreError) as exc:
        result["metrics_error"] = describe(exc)
    return result
