"""`doctor`'s alarm check: the alarms reach someone only through a confirmed subscription."""

from __future__ import annotations

from typing import Any

from bulk_deployer_cli.doctor import PENDING_CONFIRMATION, alarm_subscribers_check

from tests.cli.conftest import Stack, write_env_file

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:CliTest-alarms"


def _with_alarm_topic(stack: Stack) -> str:
    """The stand-in stack's alarm topic (output AlarmTopicArn) as deployed without alarmEmail:
    nobody subscribed (local/provision.py subscribes someone, so that doctor passes locally)."""
    sns = stack.client("sns")
    topic_arn = stack.outputs["AlarmTopicArn"]
    assert topic_arn == TOPIC_ARN
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    return topic_arn


def _alarm_check(stack: Stack) -> tuple[int, dict[str, Any]]:
    code, data = stack.cli_json("doctor")
    (check,) = [c for c in data["checks"] if c["name"] == "alarm notifications"]
    return code, check


def test_doctor_fails_when_nobody_subscribes_to_the_alarm_topic(stack: Stack) -> None:
    topic_arn = _with_alarm_topic(stack)
    code, check = _alarm_check(stack)
    assert code == 1
    assert check["ok"] is False
    assert check["detail"] == "no subscription to the alarm topic: the alarms reach nobody"
    assert "-c alarmEmail=" in check["fix"] and topic_arn in check["fix"]
    code, text, _ = stack.cli("doctor")
    assert "✗ alarm notifications: no subscription to the alarm topic" in text
    assert "→ deploy with `cdk deploy -c alarmEmail=you@example.com`" in text


def test_doctor_passes_with_a_confirmed_subscription(stack: Stack) -> None:
    topic_arn = _with_alarm_topic(stack)
    stack.client("sns").subscribe(TopicArn=topic_arn, Protocol="email", Endpoint="ops@example.com")
    code, check = _alarm_check(stack)
    assert code == 0, check
    assert check["ok"] is True
    assert check["detail"] == "1 confirmed subscription(s) (email)"


def test_doctor_passes_on_the_local_stand_ins(stack: Stack) -> None:
    code, check = _alarm_check(stack)
    assert code == 0, check
    assert check["ok"] is True
    assert check["detail"] == "1 confirmed subscription(s) (email)"


def test_doctor_cannot_check_a_stack_without_the_output(stack: Stack) -> None:
    # Stacks deployed before the output existed have no alarm topic.
    del stack.outputs["AlarmTopicArn"]
    write_env_file(stack.env_file, stack.moto_url, stack.emulator.url, stack.outputs)
    code, check = _alarm_check(stack)
    assert code == 0
    assert check["ok"] is None
    assert check["detail"] == "not checked: the stack has no output AlarmTopicArn"


def test_a_subscription_nobody_confirmed_reaches_nobody() -> None:
    # What ListSubscriptionsByTopic returns for an e-mail address that has not clicked the link
    # (moto confirms every subscription at once, so this is checked on the decision alone).
    pending = {
        "SubscriptionArn": PENDING_CONFIRMATION,
        "Protocol": "email",
        "Endpoint": "ops@example.com",
        "TopicArn": TOPIC_ARN,
    }
    check = alarm_subscribers_check(TOPIC_ARN, [pending])
    assert check.ok is False
    assert check.detail == (
        "no confirmed subscription, 1 pending confirmation (ops@example.com): the alarms reach nobody"
    )
    assert "confirm it with the link in the e-mail" in check.fix and TOPIC_ARN in check.fix

    confirmed = pending | {"SubscriptionArn": f"{TOPIC_ARN}:0b6941c4-8a8a-4f1b-9c36-3c1b3b1d5d7a"}
    confirmed |= {"Protocol": "https", "Endpoint": "https://pager.example.com/hook"}
    check = alarm_subscribers_check(TOPIC_ARN, [pending, confirmed])
    assert (check.ok, check.detail) == (True, "1 confirmed subscription(s) (https); 1 pending confirmation")
