"""The stack's configuration, read the way the CDK app reads it, plus what only the stand-ins need.

Why: local runs must behave like the deployed stack, so prefixes, queue settings and the
starter's environment come from ``infra.config.DeployConfig`` built from ``cdk.json``'s context
(the same defaults ``cdk synth`` uses). Resource names are CDK-generated in AWS; locally they are
derived from the stack name. Time can be compressed (``LocalTiming``) for tests and the demo.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from infra.config import DeployConfig

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
CDK_JSON: Final = REPO_ROOT / "cdk.json"
REGION: Final = "us-east-1"
# Fake credentials: moto accepts any; they must merely exist so botocore signs requests.
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


# A local Greengrass V2 stack: `-c greengrass=v2`, and the shortest thing-group deadline (one
# minute, which LocalTiming can compress further).
V2_CONTEXT: Final = {"greengrass": "v2", "thingGroupDeadlineMinutes": 1}


def load_deploy_config(overrides: Mapping[str, Any] | None = None, cdk_json: Path = CDK_JSON) -> DeployConfig:
    """``DeployConfig`` from cdk.json's context, like ``app.py`` (``overrides`` act as ``-c key=value``)."""
    context = dict(json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {}))
    context.update(overrides or {})
    return DeployConfig.from_context(context)


@dataclass(frozen=True)
class LocalNames:
    """Names of the stand-in resources, derived from the stack name (CDK would generate them)."""

    bucket: str
    ledger_table: str
    intake_queue: str
    intake_dead_letter_queue: str
    event_dead_letter_queue: str
    rule: str
    outcomes_topic: str
    alarm_topic: str
    execution_role: str

    @classmethod
    def for_stack(cls, stack_name: str) -> LocalNames:
        lower = stack_name.lower()
        return cls(
            bucket=f"{lower}-input",
            ledger_table=f"{stack_name}-ledger",
            intake_queue=f"{stack_name}-intake.fifo",
            intake_dead_letter_queue=f"{stack_name}-intake-dlq.fifo",
            event_dead_letter_queue=f"{stack_name}-event-dlq",
            rule=f"{stack_name}-object-created",
            outcomes_topic=f"{stack_name}-outcomes",
            alarm_topic=f"{stack_name}-alarms",
            execution_role=f"{stack_name}-greengrass-bulk-execution",
        )


@dataclass(frozen=True)
class LocalTiming:
    """How fast time runs locally. The defaults are the deployed stack's; presets compress them.

    - ``tracker_period_seconds``: the tracker's schedule (every minute in AWS).
    - ``report_recheck_seconds``: REPORT_RECHECK_SECONDS, how soon an interim report is rechecked.
    - ``failed_message_visibility_seconds``: None leaves a failed intake message invisible for the
      queue's visibility timeout, as Lambda does; a number shortens it (ChangeMessageVisibility),
      because the stack's timeout (30 minutes) would block the single FIFO message group.
    - ``emulator``: Greengrass emulator pace (EmulatorConfig switches).
    - ``v2_emulator``: the Greengrass V2 emulator's device pace (its EmulatorConfig switches).
    - ``thing_group_deadline_seconds``: None keeps a V2 stack's thing-group deadline in minutes
      (thingGroupDeadlineMinutes, as deployed); a number makes a one-minute deadline arrive after
      that many seconds (``v2_emulator_behind_seconds``; V2_CONTEXT sets one minute).
    """

    tracker_period_seconds: float = 60.0
    report_recheck_seconds: int = 300
    failed_message_visibility_seconds: int | None = None
    emulator: Mapping[str, float] = field(default_factory=dict)
    v2_emulator: Mapping[str, float] = field(default_factory=dict)
    thing_group_deadline_seconds: float | None = None

    @property
    def tracker_follow_seconds(self) -> float:
        """TRACKER_FOLLOW_SECONDS in the deployed stack's proportion: half a period (30 s of 60)."""
        return self.tracker_period_seconds / 2

    @property
    def tracker_poll_seconds(self) -> float:
        """TRACKER_POLL_SECONDS likewise: a twelfth of a period (5 s of 60)."""
        return self.tracker_period_seconds / 12

    @property
    def v2_emulator_behind_seconds(self) -> float:
        """How far the V2 emulator's clock runs behind the functions' (emulator_kit.clock.LaggingClock).

        A deployment's deadline is its creation time on the service's clock plus the job timeout,
        at least a minute (IoT's and thingGroupDeadlineMinutes' least); the functions compare it
        with their own clock. Behind by a minute less ``thing_group_deadline_seconds``, a one-minute
        deadline passes that many seconds after a start (a longer one as much sooner), and the
        skew stays within what the starter tolerates when it looks for a lost answer's
        deployment (300 s).
        """
        if self.thing_group_deadline_seconds is None:
            return 0.0
        return max(0.0, 60.0 - self.thing_group_deadline_seconds)

    @classmethod
    def interactive(cls) -> LocalTiming:
        """``make local-up``: slow enough to watch, fast enough not to wait."""
        return cls(
            tracker_period_seconds=2.0,
            report_recheck_seconds=0,
            failed_message_visibility_seconds=5,
            emulator={"init_seconds": 1.0, "record_seconds": 0.5, "settle_seconds": 5.0, "stop_seconds": 1.0},
            v2_emulator={"pickup_seconds": 2.0, "apply_seconds": 5.0, "tick_seconds": 0.1},
            thing_group_deadline_seconds=30.0,
        )

    @classmethod
    def demo(cls) -> LocalTiming:
        return cls(
            tracker_period_seconds=0.2,
            report_recheck_seconds=0,
            failed_message_visibility_seconds=1,
            emulator={"init_seconds": 0.5, "record_seconds": 0.5, "settle_seconds": 1.5, "stop_seconds": 0.3},
            v2_emulator={"pickup_seconds": 0.5, "apply_seconds": 1.0, "tick_seconds": 0.05},
            thing_group_deadline_seconds=5.0,
        )

    @classmethod
    def fast(cls) -> LocalTiming:
        """Tests (e2e, CLI, emulator): everything within a fraction of a second, yet each state of
        a bulk deployment lasts long enough (tens of milliseconds) for a test to see it."""
        return cls(
            tracker_period_seconds=0.1,
            report_recheck_seconds=0,
            failed_message_visibility_seconds=0,
            emulator={
                "init_seconds": 0.05,
                "record_seconds": 0.01,
                "settle_seconds": 0.2,
                "stop_seconds": 0.05,
                "tick_seconds": 0.01,
            },
            v2_emulator={"pickup_seconds": 0.05, "apply_seconds": 0.2, "tick_seconds": 0.01},
            thing_group_deadline_seconds=2.0,
        )

    @classmethod
    def load(cls) -> LocalTiming:
        """``fast()`` with a near-instant emulator, for load runs (``make soak``, ``make bench``):
        they start hundreds of files one after another, and ``fast()``'s ~0.3 s per bulk
        deployment would be most of their run time; no one watches the states go by."""
        instant = 0.001
        return cls.fast().with_emulator(
            init_seconds=instant,
            record_seconds=instant,
            settle_seconds=instant,
            stop_seconds=instant,
            tick_seconds=0.005,
        )

    def with_emulator(self, **pace: float) -> LocalTiming:
        """This timing with some emulator switches changed."""
        return replace(self, emulator={**self.emulator, **pace})


@dataclass(frozen=True)
class ResourceIds:
    """What the functions are told about the resources (ARNs and names known after creation)."""

    ledger_table_name: str
    execution_role_arn: str
    input_bucket: str
    outcomes_topic_arn: str
    intake_dead_letter_queue_url: str
    account_id: str = ""  # STACK_ACCOUNT_ID of a V2 stack (Aws.ACCOUNT_ID in AWS)


def runtime_environment(region: str = REGION) -> dict[str, str]:
    """What Lambda itself sets."""
    return {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def starter_environment(config: DeployConfig, ids: ResourceIds, region: str = REGION) -> dict[str, str]:
    """The starter's environment, exactly as infra gives it to the deployed function."""
    env = config.starter_environment(
        ledger_table_name=ids.ledger_table_name,
        execution_role_arn=ids.execution_role_arn,
        outcomes_topic_arn=ids.outcomes_topic_arn,
        intake_dead_letter_queue_url=ids.intake_dead_letter_queue_url,
        stack_account_id=ids.account_id,
    )
    return {**runtime_environment(region), **env}


def tracker_environment(
    config: DeployConfig, ids: ResourceIds, timing: LocalTiming, region: str = REGION
) -> dict[str, str]:
    """The tracker's environment as infra gives it, with the schedule-bound settings compressed
    like the schedule itself (``timing``)."""
    compressed = replace(
        config,
        tracker_follow_seconds=timing.tracker_follow_seconds,
        tracker_poll_seconds=timing.tracker_poll_seconds,
        report_recheck_seconds=timing.report_recheck_seconds,
    )
    env = compressed.tracker_environment(
        ledger_table_name=ids.ledger_table_name,
        input_bucket_name=ids.input_bucket,
        outcomes_topic_arn=ids.outcomes_topic_arn,
    )
    return {**runtime_environment(region), **env}


def endpoint_environment(
    aws_url: str, greengrass_url: str, greengrass_v2_url: str | None = None, region: str = REGION
) -> dict[str, str]:
    """Points every boto3 client (and the AWS CLI) at the stand-ins: Greengrass V1 at its
    emulator; Greengrass V2 and IoT (the things, groups and jobs V2 deploys through) at the V2
    emulator when there is one."""
    v2 = {"AWS_ENDPOINT_URL_GREENGRASSV2": greengrass_v2_url, "AWS_ENDPOINT_URL_IOT": greengrass_v2_url}
    return {
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ENDPOINT_URL_GREENGRASS": greengrass_url,
        **(v2 if greengrass_v2_url else {}),
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
