"""The tracker's deployment, the topics and their key, the dashboard, the alarms, the saved queries.

The EMF test runs the real ``bulk_deployer.observability`` objects (in a fresh interpreter,
with the environment the stack gives the functions) and compares the namespace and
dimensions they emit with every alarm on an EMF metric. Metric names and queried log messages
are ``bulk_deployer.contract``'s: tests/integration shows the code emits and logs them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bulk_deployer.contract import SERVICE, LogEvent, Metric
from infra_helpers import Synth, as_list, render

REPO_ROOT = Path(__file__).resolve().parents[2]

ALARMS = {
    # alarm name (after "<stackName>-") -> (namespace kind, metric name)
    "Files-InputFileRejected-Alarm": ("emf", "InputFileRejected"),
    "Files-StartFailed-Alarm": ("emf", "StartFailed"),
    "Queue-OldestQueuedFileAgeSeconds-Alarm": ("emf", "OldestQueuedFileAgeSeconds"),
    "Queue-DispatchPaused-Alarm": ("emf", "DispatchPaused"),
    "Queue-UnprocessedInputFiles-Alarm": ("emf", "UnprocessedInputFiles"),
    "BulkDeployments-BulkDeploymentFailed-Alarm": ("emf", "BulkDeploymentFailed"),
    "BulkDeployments-BulkDeploymentOverdue-Alarm": ("emf", "BulkDeploymentOverdue"),
    "BulkDeployments-GroupDeploymentsFailed-Alarm": ("emf", "GroupDeploymentsFailed"),
    "IntakeQueue-DLQ-Queue-Message-Count-Max-Alarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    "EventDeadLetterQueue-Queue-Message-Count-Max-Alarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    "EventBridge-IntakeRuleFailedInvocations-Alarm": ("AWS/Events", "FailedInvocations"),
    "EventBridge-TrackerScheduleFailedInvocations-Alarm": ("AWS/Events", "FailedInvocations"),
    "Starter-StarterErrors-Alarm": ("math", "Errors + IntakeMessageFailed"),
    "Tracker-Fault-Count-Alarm": ("AWS/Lambda", "Errors"),
}


def alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    """Alarm properties by name without the stack prefix."""
    prefix = f"{synth.stack.stack_name}-"
    found = {}
    for resource in synth.resources.values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            name = resource["Properties"]["AlarmName"]
            assert name.startswith(prefix), name
            found[name.removeprefix(prefix)] = resource["Properties"]
    return found


def single_metric(alarm: dict[str, Any]) -> dict[str, Any]:
    (query,) = alarm["Metrics"]
    assert query["ReturnData"] is True
    return dict(query["MetricStat"])


def dimensions(metric_stat: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: render(d["Value"]) for d in metric_stat["Metric"].get("Dimensions", [])}


# ---------------------------------------------------------------- tracker function and schedule


def test_tracker_runtime_packaging_and_tracing(synth: Synth) -> None:
    props = synth.props("tracker_function")
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bulk_deployer.handlers.tracker.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "ReservedConcurrentExecutions" not in props
    assert props["Code"] == synth.props("function")["Code"]  # the starter's asset


def test_tracker_memory_and_timeout(synth: Synth, variant: Synth) -> None:
    assert (synth.props("tracker_function")["MemorySize"], synth.props("tracker_function")["Timeout"]) == (
        1024,
        300,
    )
    assert (
        variant.props("tracker_function")["MemorySize"],
        variant.props("tracker_function")["Timeout"],
    ) == (
        512,
        600,
    )


def test_tracker_logs_to_own_log_group_with_retention(synth: Synth, variant: Synth) -> None:
    assert synth.props("tracker_function")["LoggingConfig"] == {
        "LogGroup": {"Ref": synth.ids["tracker_log_group"]}
    }
    assert synth.props("tracker_log_group")["RetentionInDays"] == 90
    assert variant.props("tracker_log_group")["RetentionInDays"] == 30
    assert synth.resources[synth.ids["tracker_log_group"]]["DeletionPolicy"] == "Retain"


def test_tracker_runs_are_not_retried_by_lambda(synth: Synth) -> None:
    synth.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": synth.ids["tracker_function"]},
            "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": 60,
        },
    )


def test_schedule_runs_the_tracker_every_minute(synth: Synth) -> None:
    props = synth.props("schedule")
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synth.ids["tracker_function"], "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 2}
    synth.assertions.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [synth.ids["tracker_function"], "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [synth.ids["schedule"], "Arn"]},
        },
    )


def test_schedule_follows_configuration(variant: Synth) -> None:
    assert variant.props("schedule")["ScheduleExpression"] == "rate(10 minutes)"
    (target,) = variant.props("schedule")["Targets"]
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 600


def test_tracker_environment(synth: Synth) -> None:
    env = synth.props("tracker_function")["Environment"]["Variables"]
    starter_env = dict(synth.props("function")["Environment"]["Variables"])
    # Only the starter handles intake messages (parking them in the dead-letter queue), stages
    # files (tags, allow-list, execution role) and holds a processing lease.
    for starter_only in (
        "INTAKE_DEAD_LETTER_QUEUE_URL",
        "EXECUTION_ROLE_ARN",
        "DEFAULT_TAGS",
        "PROCESSING_LEASE_SECONDS",
    ):
        starter_env.pop(starter_only)
    assert env == starter_env | {
        "INPUT_BUCKET_NAME": {"Ref": synth.ids["bucket"]},
        "TRACKER_LEASE_SECONDS": "300",
        "TRACKER_FOLLOW_SECONDS": "30",
        "TRACKER_POLL_SECONDS": "5",
        "OVERDUE_AFTER_SECONDS": "21600",
        "REPORT_SETTLE_BOUND_SECONDS": "86400",
        "REPORT_RECHECK_SECONDS": "300",
        "REPORT_PAGE_SIZE": "100",
        "RECONCILE_EVERY_SECONDS": "3600",
        "RECONCILE_LOOKBACK_DAYS": "3",
        "RECONCILE_MIN_AGE_SECONDS": "300",
    }
    assert env["OUTCOMES_TOPIC_ARN"] == {"Ref": synth.ids["outcomes_topic"]}


def test_tracker_environment_follows_configuration(variant: Synth) -> None:
    env = variant.props("tracker_function")["Environment"]["Variables"]
    assert (
        env.items()
        >= {
            "INCOMING_PREFIX": "drop/",
            "REPORTS_PREFIX": "results/",
            "TRACKER_LEASE_SECONDS": "600",
            "OVERDUE_AFTER_SECONDS": "7200",
            "REPORT_SETTLE_BOUND_SECONDS": "3600",
            "REPORT_RECHECK_SECONDS": "60",
            "REPORT_PAGE_SIZE": "250",
            "RECONCILE_EVERY_SECONDS": "1800",
            "RECONCILE_LOOKBACK_DAYS": "7",
            "RECONCILE_MIN_AGE_SECONDS": "600",
        }.items()
    )


@pytest.mark.parametrize("which", ["synth", "variant"])
def test_tracker_environment_is_accepted_by_the_settings(which: str, request: pytest.FixtureRequest) -> None:
    from bulk_deployer.tracker_config import TrackerSettings

    synth: Synth = request.getfixturevalue(which)
    env = {
        key: value if isinstance(value, str) else "placeholder"
        for key, value in synth.props("tracker_function")["Environment"]["Variables"].items()
    }
    env["OUTCOMES_TOPIC_ARN"] = "arn:aws:sns:eu-west-1:123456789012:outcomes"
    env["AWS_REGION"] = "eu-west-1"
    settings = TrackerSettings.from_env(env)
    timeout = synth.props("tracker_function")["Timeout"]
    # A run that dies holds the lease no longer than its timeout, and never less.
    assert settings.tracker_lease_seconds >= timeout
    assert settings.input_bucket == "placeholder"
    assert settings.outcomes_topic_arn is not None


# ---------------------------------------------------------------- topics and key


def test_both_topics_use_the_customer_managed_key(synth: Synth) -> None:
    key_arn = {"Fn::GetAtt": [synth.ids["key"], "Arn"]}
    assert synth.props("outcomes_topic")["KmsMasterKeyId"] == key_arn
    assert synth.props("alarm_topic")["KmsMasterKeyId"] == key_arn
    assert synth.props("key")["EnableKeyRotation"] is True


def _key_statement_for_cloudwatch(synth: Synth) -> dict[str, Any]:
    statements = synth.props("key")["KeyPolicy"]["Statement"]
    (cloudwatch,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    return dict(cloudwatch)


def test_key_policy_admits_cloudwatch(synth: Synth) -> None:
    cloudwatch = _key_statement_for_cloudwatch(synth)
    assert cloudwatch["Effect"] == "Allow"
    assert set(as_list(cloudwatch["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # Nobody else but the account (which delegates to IAM) is named in the key policy.
    principals = [s["Principal"] for s in synth.props("key")["KeyPolicy"]["Statement"]]
    assert len(principals) == 2


def test_key_admits_cloudwatch_only_for_this_stacks_alarms(synth: Synth, variant: Synth) -> None:
    # Confused-deputy prevention, the same conditions as the alarm topic's policy.
    for stack in (synth, variant):
        key = _key_statement_for_cloudwatch(stack)
        (topic,) = [s for s in _topic_policy(stack, "alarm_topic") if s["Effect"] == "Allow"]
        assert key["Condition"] == topic["Condition"]
        assert key["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert render(key["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(
            f":alarm:{stack.stack.stack_name}-*"
        )


def _topic_policy(synth: Synth, topic: str) -> list[dict[str, Any]]:
    for resource in synth.resources.values():
        if resource["Type"] == "AWS::SNS::TopicPolicy" and resource["Properties"]["Topics"] == [
            {"Ref": synth.ids[topic]}
        ]:
            return list(resource["Properties"]["PolicyDocument"]["Statement"])
    raise AssertionError(f"no policy for {topic}")


@pytest.mark.parametrize("topic", ["outcomes_topic", "alarm_topic"])
def test_topics_refuse_publishing_without_tls(synth: Synth, topic: str) -> None:
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in _topic_policy(synth, topic)
    )


def test_alarm_topic_admits_only_this_stacks_alarms(synth: Synth, variant: Synth) -> None:
    for stack, name in ((synth, "BulkDeployer"), (variant, "BulkDeployerVariant")):
        (allow,) = [s for s in _topic_policy(stack, "alarm_topic") if s["Effect"] == "Allow"]
        assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert allow["Action"] == "sns:Publish"
        assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        source = render(allow["Condition"]["ArnLike"]["aws:SourceArn"])
        assert (
            source
            == f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{name}-*"
        )
        # Every alarm's name matches the pattern (or its notifications would be refused).
        assert all(a["AlarmName"].startswith(f"{name}-") for a in alarms(stack).values())


def test_outcomes_topic_admits_no_service_principal(synth: Synth) -> None:
    # Publishers are this account's function roles (identity policies); nobody else.
    assert [s for s in _topic_policy(synth, "outcomes_topic") if s["Effect"] == "Allow"] == []


def _warnings(synth: Synth) -> list[tuple[str, str]]:
    """(construct path, message) of every synthesis warning, from the cloud assembly's manifest."""
    artifact = json.loads((synth.outdir / "manifest.json").read_text())["artifacts"][synth.stack.stack_name]
    metadata = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact:
        metadata |= json.loads((synth.outdir / artifact["additionalMetadataFile"]).read_text())
    return [
        (path, str(entry["data"]))
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:warning"
    ]


def test_synthesis_warns_when_the_alarms_reach_nobody(synth: Synth, variant: Synth) -> None:
    # cdk.json leaves alarmEmail unset: the alarm topic gets no subscription, and nothing else fails.
    topic_path = f"/{synth.stack.notifications.alarm_topic.node.path}"
    (warning,) = [(path, message) for path, message in _warnings(synth) if "alarmEmail" in message]
    assert warning[0] == topic_path
    assert "reaches nobody" in warning[1] and "-c alarmEmail=" in warning[1] and "doctor" in warning[1]
    assert not [message for _, message in _warnings(variant) if "alarmEmail" in message]


def test_alarm_email_subscription_only_when_configured(synth: Synth, variant: Synth) -> None:
    synth.assertions.resource_count_is("AWS::SNS::Subscription", 0)
    variant.assertions.resource_count_is("AWS::SNS::Subscription", 1)
    variant.assertions.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": {"Ref": variant.ids["alarm_topic"]}},
    )


# ---------------------------------------------------------------- alarms


def test_exactly_the_expected_alarms(synth: Synth, variant: Synth) -> None:
    assert set(alarms(synth)) == set(ALARMS)
    assert set(alarms(variant)) == set(ALARMS)


# Emitted less often than an event count: a period without data keeps the alarm's state.
KEEPS_STATE_WITHOUT_DATA = {"Queue-UnprocessedInputFiles-Alarm"}


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_alarm_notifies_the_alarm_topic_and_missing_data_never_alarms(synth: Synth, name: str) -> None:
    alarm = alarms(synth)[name]
    topic = [{"Ref": synth.ids["alarm_topic"]}]
    assert alarm["ActionsEnabled"] is True
    assert alarm["AlarmActions"] == topic
    assert alarm["OKActions"] == topic
    assert alarm["TreatMissingData"] == ("ignore" if name in KEEPS_STATE_WITHOUT_DATA else "notBreaching")
    assert alarm["AlarmDescription"]


@pytest.mark.parametrize("which", ["synth", "variant"])
def test_unprocessed_input_files_alarm_spans_the_reconciliation_interval(
    which: str, request: pytest.FixtureRequest
) -> None:
    # The metric is emitted once per reconciliation (RECONCILE_EVERY_SECONDS, at the end of a
    # tracker run): a shorter period would alarm, then go OK one period later while the
    # objects are still unprocessed. Every period must hold one emission: the interval, plus
    # up to one schedule period until the next run, plus up to one run until it reconciles.
    synth: Synth = request.getfixturevalue(which)
    env = synth.props("tracker_function")["Environment"]["Variables"]
    rate = re.fullmatch(r"rate\((\d+) minutes?\)", synth.props("schedule")["ScheduleExpression"])
    assert rate
    longest_gap = (
        int(env["RECONCILE_EVERY_SECONDS"])
        + 60 * int(rate.group(1))
        + int(synth.props("tracker_function")["Timeout"])
    )
    alarm = alarms(synth)["Queue-UnprocessedInputFiles-Alarm"]
    stat = single_metric(alarm)
    assert stat["Metric"]["MetricName"] == "UnprocessedInputFiles"
    assert stat["Stat"] == "Maximum"
    assert longest_gap <= stat["Period"] < longest_gap + 60
    assert stat["Period"] % 60 == 0  # CloudWatch: 10, 20, 30 or a multiple of 60
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    assert stat["Period"] * alarm["EvaluationPeriods"] <= 7 * 86_400  # CloudWatch's longest range
    # Between reconciliations (or while the tracker fails, which has its own alarm) keep the state.
    assert alarm["TreatMissingData"] == "ignore"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


@pytest.mark.parametrize(
    ("name", "statistic", "comparison", "threshold"),
    [
        ("Files-InputFileRejected-Alarm", "Sum", "GreaterThanThreshold", 0),
        ("Files-StartFailed-Alarm", "Sum", "GreaterThanThreshold", 0),
        ("Queue-OldestQueuedFileAgeSeconds-Alarm", "Maximum", "GreaterThanThreshold", 21600),
        ("Queue-DispatchPaused-Alarm", "Maximum", "GreaterThanOrEqualToThreshold", 1),
        ("BulkDeployments-BulkDeploymentFailed-Alarm", "Sum", "GreaterThanThreshold", 0),
        ("BulkDeployments-BulkDeploymentOverdue-Alarm", "Sum", "GreaterThanThreshold", 0),
        ("BulkDeployments-GroupDeploymentsFailed-Alarm", "Sum", "GreaterThanThreshold", 0),
    ],
)
def test_emf_alarm_condition(
    synth: Synth, name: str, statistic: str, comparison: str, threshold: int
) -> None:
    alarm = alarms(synth)[name]
    stat = single_metric(alarm)
    assert stat["Metric"]["MetricName"] == ALARMS[name][1]
    assert stat["Stat"] == statistic
    assert stat["Period"] == 300
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (comparison, threshold)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)


def test_oldest_queued_file_bound_and_gauge_periods_follow_configuration(variant: Synth) -> None:
    found = alarms(variant)
    assert found["Queue-OldestQueuedFileAgeSeconds-Alarm"]["Threshold"] == 3600
    # Gauges are emitted once per tracker run (every 10 minutes here): the period covers one run.
    for name in ("Queue-OldestQueuedFileAgeSeconds-Alarm", "Queue-DispatchPaused-Alarm"):
        assert single_metric(found[name])["Period"] == 600, name


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        ("IntakeQueue-DLQ-Queue-Message-Count-Max-Alarm", "dlq"),
        ("EventDeadLetterQueue-Queue-Message-Count-Max-Alarm", "event_dlq"),
    ],
)
def test_dead_letter_queue_not_empty_alarm(synth: Synth, name: str, queue: str) -> None:
    alarm = alarms(synth)[name]
    stat = single_metric(alarm)
    assert stat["Metric"]["Namespace"] == "AWS/SQS"
    assert stat["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dimensions(stat) == {"QueueName": f"${{{synth.ids[queue]}.QueueName}}"}
    assert stat["Stat"] == "Maximum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("EventBridge-IntakeRuleFailedInvocations-Alarm", "rule"),
        ("EventBridge-TrackerScheduleFailedInvocations-Alarm", "schedule"),
    ],
)
def test_failed_invocations_alarm(synth: Synth, name: str, rule: str) -> None:
    alarm = alarms(synth)[name]
    stat = single_metric(alarm)
    assert stat["Metric"]["Namespace"] == "AWS/Events"
    assert stat["Metric"]["MetricName"] == "FailedInvocations"
    assert dimensions(stat) == {"RuleName": f"${{{synth.ids[rule]}}}"}
    assert stat["Stat"] == "Sum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_tracker_errors_alarm_ignores_a_single_failed_run(synth: Synth, variant: Synth) -> None:
    for stack, period in ((synth, 60), (variant, 600)):
        alarm = alarms(stack)["Tracker-Fault-Count-Alarm"]
        stat = single_metric(alarm)
        assert stat["Metric"]["Namespace"] == "AWS/Lambda"
        assert stat["Metric"]["MetricName"] == "Errors"
        assert dimensions(stat) == {"FunctionName": f"${{{stack.ids['tracker_function']}}}"}
        assert (stat["Stat"], stat["Period"]) == ("Sum", period)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        # Two failed runs among three schedule periods; one transient failure does not alarm.
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, 3)


def test_starter_errors_alarm_counts_crashes_and_failed_messages(synth: Synth, variant: Synth) -> None:
    for stack, window, namespace in (
        (synth, 1800 // 300 + 1, "BulkDeployer"),
        (variant, 720 // 300 + 2, "Custom/BulkDeployer"),
    ):
        alarm = alarms(stack)["Starter-StarterErrors-Alarm"]
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        (expression,) = [q for q in queries.values() if q.get("ReturnData", True)]
        assert expression["Expression"] == "FILL(errors, 0) + FILL(failed, 0)"
        errors = queries["errors"]["MetricStat"]
        assert (errors["Metric"]["Namespace"], errors["Metric"]["MetricName"]) == ("AWS/Lambda", "Errors")
        assert dimensions(errors) == {"FunctionName": f"${{{stack.ids['function']}}}"}
        # What the starter emits for each message it fails (a partial batch failure, not an error).
        failed = queries["failed"]["MetricStat"]
        assert failed["Metric"]["MetricName"] == "IntakeMessageFailed" == Metric.INTAKE_MESSAGE_FAILED
        assert failed["Metric"]["Namespace"] == namespace
        assert dimensions(failed) == {"service": SERVICE}
        assert (errors["Stat"], errors["Period"], failed["Stat"], failed["Period"]) == (
            "Sum",
            300,
            "Sum",
            300,
        )
        # A failed FIFO message comes back after the visibility timeout: the second failure
        # within one visibility timeout (plus a period) alarms, a single transient one does not.
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, window)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_no_alarm_reads_log_text(synth: Synth, variant: Synth) -> None:
    # Alarms count EMF metrics the code emits; log messages are for people and saved queries.
    synth.assertions.resource_count_is("AWS::Logs::MetricFilter", 0)
    variant.assertions.resource_count_is("AWS::Logs::MetricFilter", 0)


# ---------------------------------------------------------------- EMF: what the code emits


def _emf_of_the_code(synth: Synth, metrics: list[str]) -> dict[str, Any]:
    """EMF produced by bulk_deployer.observability in a fresh interpreter, with the function's env."""
    env_vars = synth.props("tracker_function")["Environment"]["Variables"]
    program = (
        "import json, sys\n"
        "from bulk_deployer import observability as o\n"
        "from bulk_deployer.contract import Metric\n"
        "for name in sys.argv[1:]:\n"
        "    (o.seconds if name.endswith('Seconds') else o.count)(Metric(name), 1)\n"
        "print(json.dumps(o.metrics.serialize_metric_set()))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env |= {
        "POWERTOOLS_METRICS_NAMESPACE": env_vars["POWERTOOLS_METRICS_NAMESPACE"],
        "POWERTOOLS_SERVICE_NAME": env_vars["POWERTOOLS_SERVICE_NAME"],
        "PYTHONPATH": str(REPO_ROOT / "lambda_src"),
    }
    result = subprocess.run(
        [sys.executable, "-c", program, *metrics],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _emf_alarm_metrics(synth: Synth) -> dict[str, dict[str, Any]]:
    """Every metric an alarm reads that is not an AWS service's, by "<alarm>/<query id>"."""
    return {
        f"{name}/{query['Id']}": query["MetricStat"]
        for name, alarm in alarms(synth).items()
        for query in alarm["Metrics"]
        if "MetricStat" in query and not query["MetricStat"]["Metric"]["Namespace"].startswith("AWS/")
    }


def test_the_emf_alarms_include_the_starters_failed_messages(synth: Synth) -> None:
    names = {stat["Metric"]["MetricName"] for stat in _emf_alarm_metrics(synth).values()}
    expected = {metric for kind, metric in ALARMS.values() if kind == "emf"}
    assert names == expected | {"IntakeMessageFailed"}


@pytest.mark.parametrize("which", ["synth", "variant", "v2", "v2_variant"])
def test_emf_alarms_use_exactly_the_namespace_and_dimensions_the_code_emits(
    which: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(which)
    emf_alarms = _emf_alarm_metrics(synth)
    names = sorted({stat["Metric"]["MetricName"] for stat in emf_alarms.values()})
    emf = _emf_of_the_code(synth, names)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    emitted_dimensions = {key: emf[key] for keys in directive["Dimensions"] for key in keys}
    emitted_units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert emitted_dimensions == {"service": "bulk-deployer"}
    assert set(emitted_units) == set(names)
    for name, stat in emf_alarms.items():
        metric = stat["Metric"]
        assert metric["Namespace"] == directive["Namespace"], name
        assert dimensions(stat) == emitted_dimensions, name
        # An alarm that names a unit must name the emitted one; these name none.
        assert stat.get("Unit", emitted_units[metric["MetricName"]]) == emitted_units[metric["MetricName"]]
    # The namespace is the configured one, not Powertools' default.
    expected = "Custom/BulkDeployer" if which == "variant" else "BulkDeployer"
    assert directive["Namespace"] == expected


def test_every_alarmed_emf_metric_is_a_contract_metric(synth: Synth, variant: Synth) -> None:
    # The code emits only Metric members (observability.count/seconds take nothing else).
    for stack in (synth, variant):
        for name, stat in _emf_alarm_metrics(stack).items():
            assert stat["Metric"]["MetricName"] in set(Metric), name


# ---------------------------------------------------------------- dashboard


def dashboard(synth: Synth) -> tuple[dict[str, Any], dict[str, Any]]:
    (dashboards,) = [r for r in synth.resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = dashboards["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(part if isinstance(part, str) else render(part) for part in parts)
    return dict(dashboards["Properties"]), json.loads(text)


def _dashboard_metrics(synth: Synth) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, stat) of every metric line of every widget."""
    _, body = dashboard(synth)
    found = []
    for widget in body["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            strings = [item for item in line if isinstance(item, str)]
            options = line[-1] if isinstance(line[-1], dict) else {}
            if len(strings) >= 2 and strings[0] != "...":
                dims = dict(zip(strings[2::2], strings[3::2], strict=False))
                found.append((strings[0], strings[1], dims, str(options.get("stat", ""))))
    return found


def test_one_dashboard_named_after_the_stack(synth: Synth, variant: Synth) -> None:
    synth.assertions.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    assert dashboard(synth)[0]["DashboardName"] == "BulkDeployer"
    assert dashboard(variant)[0]["DashboardName"] == "BulkDeployerVariant"


@pytest.mark.parametrize(
    "metric",
    [
        "InputFileQueued",
        "BulkDeploymentStarted",
        "InputFileRejected",
        "InputFileSuperseded",
        "DuplicateEventIgnored",
        "WaitingForPreviousBulkDeployment",
        "StartFailed",
        "QueuedFiles",
        "OldestQueuedFileAgeSeconds",
        "DispatchPaused",
        "UnprocessedInputFiles",
        "BulkDeploymentCompleted",
        "BulkDeploymentFailed",
        "BulkDeploymentStopped",
        "BulkDeploymentOverdue",
        "RecordsProcessed",
        "InvalidInputRecords",
        "RetryAttempts",
        "GroupDeploymentsFailed",
        "IntakeMessageFailed",
    ],
)
def test_dashboard_shows_emf_metric(synth: Synth, metric: str) -> None:
    lines = [line for line in _dashboard_metrics(synth) if line[:2] == ("BulkDeployer", metric)]
    assert lines, metric
    assert all(line[2] == {"service": "bulk-deployer"} for line in lines)


@pytest.mark.parametrize("queue", ["queue", "dlq", "event_dlq"])
def test_dashboard_shows_queue_depth(synth: Synth, queue: str) -> None:
    assert (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": f"${{{synth.ids[queue]}.QueueName}}"},
        "Maximum",
    ) in _dashboard_metrics(synth)


@pytest.mark.parametrize("rule", ["rule", "schedule"])
def test_dashboard_shows_failed_invocations(synth: Synth, rule: str) -> None:
    assert (
        "AWS/Events",
        "FailedInvocations",
        {"RuleName": f"${{{synth.ids[rule]}}}"},
        "Sum",
    ) in _dashboard_metrics(synth)


@pytest.mark.parametrize("function", ["function", "tracker_function"])
def test_dashboard_shows_lambda_errors_throttles_and_duration(synth: Synth, function: str) -> None:
    dims = {"FunctionName": f"${{{synth.ids[function]}}}"}
    shown = {(m, s) for ns, m, d, s in _dashboard_metrics(synth) if ns == "AWS/Lambda" and d == dims}
    assert {("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p50"), ("Duration", "p99")} <= shown


# ---------------------------------------------------------------- Logs Insights


def queries(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["Name"]: r["Properties"]
        for r in synth.resources.values()
        if r["Type"] == "AWS::Logs::QueryDefinition"
    }


def test_saved_queries_over_both_log_groups(synth: Synth) -> None:
    found = queries(synth)
    assert set(found) == {"BulkDeployer/file-history", "BulkDeployer/rejections", "BulkDeployer/starts"}
    for query in found.values():
        assert query["LogGroupNames"] == [
            {"Ref": synth.ids["log_group"]},
            {"Ref": synth.ids["tracker_log_group"]},
        ]


def test_file_history_query_filters_by_key(synth: Synth, variant: Synth) -> None:
    assert 'filter key = "incoming/' in queries(synth)["BulkDeployer/file-history"]["QueryString"]
    assert 'filter key = "drop/' in queries(variant)["BulkDeployerVariant/file-history"]["QueryString"]
    assert "sort @timestamp asc" in queries(synth)["BulkDeployer/file-history"]["QueryString"]


def test_rejections_query_shows_the_reasons(synth: Synth) -> None:
    query = queries(synth)["BulkDeployer/rejections"]["QueryString"]
    assert 'filter message = "input file rejected"' in query
    assert LogEvent.INPUT_FILE_REJECTED == "input file rejected"
    for field in ("key", "token", "error_count", "first_errors.0.code", "report_key"):
        assert field in query


def test_starts_query_shows_bulk_deployment_ids(synth: Synth) -> None:
    query = queries(synth)["BulkDeployer/starts"]["QueryString"]
    assert "bulk_deployment_id" in query
    assert (
        f'filter message in ["{LogEvent.BULK_DEPLOYMENT_STARTED.value}", '
        f'"{LogEvent.BULK_DEPLOYMENT_RECOVERED.value}"]'
    ) in query


def test_every_message_a_query_selects_is_a_contract_log_event(synth: Synth, variant: Synth) -> None:
    # tests/integration/test_log_events.py shows the code logs each LogEvent.
    selected = []
    for stack in (synth, variant):
        for query in queries(stack).values():
            for statement in re.findall(r"filter message .*", query["QueryString"]):
                selected.extend(re.findall(r'"([^"]*)"', statement))
    assert set(selected) == set(LogEvent)
