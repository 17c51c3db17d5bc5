"""A Greengrass V2 stack's alarms and dashboard: its deployer's metric names, and V2's own alarms.

The V2 functions emit the core's metrics in the V2 deployer's words (``LifecycleMetrics``,
``ReportRows``, its counters; tests/integration shows the core emits what the deployer names)
and count throttled Greengrass requests in ``wiring``: the last is shown here by throttling a
request of the clients the V2 stack's tracker environment builds. The namespace and dimensions
of every alarm are compared with real EMF output in test_infra_monitoring.py.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from bulk_deployer.contract import Metric
from bulk_deployer.deployers.greengrass_v1 import GreengrassV1Deployer
from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer
from infra_helpers import Synth
from test_infra_monitoring import ALARMS, _dashboard_metrics, _emf_alarm_metrics, alarms, single_metric

V2 = GreengrassV2Deployer
V1 = GreengrassV1Deployer
DEVICES_FAILED = Metric.DEVICE_DEPLOYMENTS_FAILED
PENDING = Metric.DEVICES_PENDING_AT_DEADLINE
THROTTLED = Metric.GREENGRASS_REQUESTS_THROTTLED
REFUSED = Metric.TARGETS_REFUSED

# The V1 stack's alarms on what only its deployer emits; every other alarm is the core's.
V1_ONLY = {
    "BulkDeployments-BulkDeploymentFailed-Alarm",
    "BulkDeployments-BulkDeploymentOverdue-Alarm",
    "BulkDeployments-GroupDeploymentsFailed-Alarm",
}
# alarm name (after "<stackName>-") -> (metric, statistic, threshold, period, datapoints, evaluation periods)
V2_ONLY: dict[str, tuple[Metric, str, int, int, int, int]] = {
    f"FileDeployments-{V2.lifecycle_metrics.failed}-Alarm": (
        V2.lifecycle_metrics.failed,
        "Sum",
        0,
        300,
        1,
        1,
    ),
    f"FileDeployments-{V2.lifecycle_metrics.overdue}-Alarm": (
        V2.lifecycle_metrics.overdue,
        "Sum",
        0,
        300,
        1,
        1,
    ),
    f"FileDeployments-{V2.report_rows.failed_metric}-Alarm": (
        V2.report_rows.failed_metric,
        "Sum",
        0,
        300,
        1,
        1,
    ),
    f"FileDeployments-{DEVICES_FAILED}-Alarm": (DEVICES_FAILED, "Sum", 0, 300, 1, 1),
    f"FileDeployments-{PENDING}-Alarm": (PENDING, "Sum", 0, 300, 1, 1),
    f"FileDeployments-{REFUSED}-Alarm": (REFUSED, "Sum", 0, 300, 1, 1),
    # Throttles are retried and cost only time: throttles in three consecutive periods alarm.
    f"GreengrassQuota-{THROTTLED}-Alarm": (THROTTLED, "Sum", 0, 300, 3, 3),
}
V2_ALARMS = (set(ALARMS) - V1_ONLY) | set(V2_ONLY)


def test_the_names_are_the_v2_deployers() -> None:
    # What the alarms above spell: the V2 metrics the issue names.
    assert set(V2_ONLY) == {
        "FileDeployments-FileDeploymentFailed-Alarm",
        "FileDeployments-FileDeploymentOverdue-Alarm",
        "FileDeployments-DevicesNotSucceeded-Alarm",
        "FileDeployments-DeviceDeploymentsFailed-Alarm",
        "FileDeployments-DevicesPendingAtDeadline-Alarm",
        "FileDeployments-TargetsRefused-Alarm",
        "GreengrassQuota-GreengrassRequestsThrottled-Alarm",
    }


@pytest.mark.parametrize("which", ["v2", "v2_variant"])
def test_a_v2_stack_has_exactly_the_v2_alarms(which: str, request: pytest.FixtureRequest) -> None:
    stack: Synth = request.getfixturevalue(which)
    assert set(alarms(stack)) == V2_ALARMS


@pytest.mark.parametrize("name", sorted(V2_ONLY))
def test_v2_alarm(v2: Synth, name: str) -> None:
    metric, statistic, threshold, period, datapoints, evaluation_periods = V2_ONLY[name]
    alarm = alarms(v2)[name]
    stat = single_metric(alarm)
    assert stat["Metric"]["MetricName"] == metric.value
    assert stat["Metric"]["Namespace"] == "BulkDeployer"
    assert (stat["Stat"], stat["Period"]) == (statistic, period)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", threshold)
    assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (datapoints, evaluation_periods)
    topic = [{"Ref": v2.ids["alarm_topic"]}]
    assert (alarm["ActionsEnabled"], alarm["AlarmActions"], alarm["OKActions"]) == (True, topic, topic)
    assert alarm["TreatMissingData"] == "notBreaching"  # an idle stack is quiet
    assert alarm["AlarmName"] == f"BulkDeployer-{name}"


def test_v2_alarm_descriptions_name_the_v2_things_to_read(v2: Synth) -> None:
    found = alarms(v2)
    assert "devices.csv" in found["FileDeployments-DevicesNotSucceeded-Alarm"]["AlarmDescription"]
    assert (
        "thingGroupDeadlineMinutes"
        in found["FileDeployments-DevicesPendingAtDeadline-Alarm"]["AlarmDescription"]
    )
    refused = found["FileDeployments-TargetsRefused-Alarm"]["AlarmDescription"]
    assert "devices.csv" in refused and "report.json" in refused
    throttled = found["GreengrassQuota-GreengrassRequestsThrottled-Alarm"]["AlarmDescription"]
    assert "greengrassRequestsPerSecond" in throttled and "15 minutes" in throttled
    assert "CreateDeployment" in found["Files-StartFailed-Alarm"]["AlarmDescription"]
    assert "StartBulkDeployment" not in json.dumps(found)


def test_v2_overdue_bound_follows_configuration(v2_variant: Synth) -> None:
    overdue = alarms(v2_variant)["FileDeployments-FileDeploymentOverdue-Alarm"]
    env = v2_variant.props("tracker_function")["Environment"]["Variables"]
    assert f"longer than {env['OVERDUE_AFTER_SECONDS']} s" in overdue["AlarmDescription"]


def _lifecycle(deployer: type[GreengrassV1Deployer | GreengrassV2Deployer]) -> set[Metric]:
    metrics = deployer.lifecycle_metrics
    return set(metrics)  # a NamedTuple of Metrics


def _own(deployer: type[GreengrassV1Deployer | GreengrassV2Deployer]) -> set[Metric]:
    """What the core emits in this deployer's words: its lifecycle, counters and failed rows."""
    return _lifecycle(deployer) | set(deployer.counter_metrics) | {deployer.report_rows.failed_metric}


def _emitted_by_the_v2_code() -> set[str]:
    """The metrics a V2 stack's functions emit: the core's own, what the V2 deployer names (the
    core counts them), and throttles (wiring's clients, shown below)."""
    return {m.value for m in _core() | _own(V2) | {THROTTLED}}


def _core() -> set[Metric]:
    """What the core emits whatever the deployer (intake, dispatch, tracker gauges, the starter)."""
    return {
        Metric.INPUT_FILE_QUEUED,
        Metric.INPUT_FILE_REJECTED,
        Metric.INPUT_FILE_SUPERSEDED,
        Metric.DUPLICATE_EVENT_IGNORED,
        Metric.INTAKE_MESSAGE_FAILED,
        Metric.INTAKE_MESSAGE_PARKED,
        Metric.START_FAILED,
        Metric.QUEUED_FILES,
        Metric.OLDEST_QUEUED_FILE_AGE_SECONDS,
        Metric.DISPATCH_PAUSED,
        Metric.UNPROCESSED_INPUT_FILES,
    }


@pytest.mark.parametrize("which", ["v2", "v2_variant"])
def test_every_v2_alarm_reads_a_metric_the_v2_code_emits(which: str, request: pytest.FixtureRequest) -> None:
    stack: Synth = request.getfixturevalue(which)
    emitted = _emitted_by_the_v2_code()
    read = {stat["Metric"]["MetricName"] for stat in _emf_alarm_metrics(stack).values()}
    assert read <= emitted, read - emitted
    # And nothing only a V1 deployer emits (it would stay INSUFFICIENT_DATA for ever).
    assert not read & {m.value for m in _own(V1)}


def test_the_v2_alarmed_device_metrics_are_the_v2_deployers_counters() -> None:
    # The tracker emits the increments of exactly these (the deployer's counter_metrics).
    assert {DEVICES_FAILED, PENDING, REFUSED} <= set(V2.counter_metrics)
    assert not {DEVICES_FAILED, PENDING, REFUSED} & set(V1.counter_metrics)


class _Raw:
    """The body of a canned HTTP answer (botocore reads ``raw.stream()``)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def test_the_v2_functions_count_a_throttled_greengrass_request_as_the_alarmed_metric(v2: Synth) -> None:
    from botocore.awsrequest import AWSResponse
    from bulk_deployer.tracker_config import TrackerSettings
    from bulk_deployer.wiring import Clients

    env = {
        key: value if isinstance(value, str) else "placeholder"
        for key, value in v2.props("tracker_function")["Environment"]["Variables"].items()
    }
    env |= {"OUTCOMES_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:outcomes", "AWS_REGION": "eu-west-1"}
    env["STACK_ACCOUNT_ID"] = "123456789012"
    settings = TrackerSettings.from_env(env)
    counted: list[tuple[Metric, int]] = []
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    clients = Clients.create(settings, session, on_throttle=lambda metric, n: counted.append((metric, n)))
    answers = [
        AWSResponse(
            "https://x",
            429,
            {"x-amzn-ErrorType": "ThrottlingException"},
            _Raw(b'{"message": "Rate exceeded"}'),
        ),
        AWSResponse("https://x", 200, {}, _Raw(b'{"deployments": []}')),
    ]
    clients.greengrassv2.meta.events.register("before-send.greengrassv2", lambda **_: answers.pop(0))
    assert clients.greengrassv2.list_deployments()["deployments"] == []
    assert counted == [(THROTTLED, 1)]
    alarm = alarms(v2)["GreengrassQuota-GreengrassRequestsThrottled-Alarm"]
    assert single_metric(alarm)["Metric"]["MetricName"] == counted[0][0].value


def test_v1_stack_alarms_only_on_what_v1_emits(synth: Synth) -> None:
    read = {stat["Metric"]["MetricName"] for stat in _emf_alarm_metrics(synth).values()}
    assert not read & {m.value for m in _own(V2) | {THROTTLED}}


@pytest.mark.parametrize(
    "metric",
    sorted(_own(V2) | {THROTTLED}),
)
def test_v2_dashboard_shows_the_v2_metric(v2: Synth, metric: Metric) -> None:
    lines = [line for line in _dashboard_metrics(v2) if line[:2] == ("BulkDeployer", metric.value)]
    assert lines, metric
    assert all(line[2] == {"service": "bulk-deployer"} for line in lines)


def test_v2_dashboard_shows_no_v1_only_metric(v2: Synth) -> None:
    v1_only = {m.value for m in _own(V1)}
    shown = {name for namespace, name, _, _ in _dashboard_metrics(v2) if namespace == "BulkDeployer"}
    assert not shown & v1_only
