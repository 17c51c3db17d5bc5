"""Builds the object graph from settings: the only place that knows every concrete class."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from bulk_deployer import aws
from bulk_deployer.config import DispatchSettings, StarterSettings
from bulk_deployer.contract import Metric
from bulk_deployer.control import DispatchControl, RunLease
from bulk_deployer.deployers.base import Deployer, StartRequestBuilder
from bulk_deployer.deployers.greengrass_v1 import GreengrassV1Deployer, V1FileValidator, V1StartRequests
from bulk_deployer.dispatch import Dispatcher
from bulk_deployer.dynamo import TableAccess
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.intake import InputFileIntake
from bulk_deployer.invocation import INVOCATION
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.observability import count, seconds
from bulk_deployer.outcomes import NoOutcomes, OutcomeSink, SnsOutcomes
from bulk_deployer.parking import DeadLetterParking
from bulk_deployer.reports import ReportStore
from bulk_deployer.settings_schema import GREENGRASS_V2
from bulk_deployer.slot import DeploymentSlot
from bulk_deployer.validation import FileValidator

if TYPE_CHECKING:
    from bulk_deployer.deployers.greengrass_v2 import StackRules
    from bulk_deployer.tracker import BulkDeploymentTracker
    from bulk_deployer.tracker_config import TrackerSettings  # the starter never defines it


class Clients:
    """The AWS clients the graph is built on. Like every class the wiring builds, a plain class
    with its own ``__init__``, not a dataclass (TableAccess says why)."""

    def __init__(
        self,
        s3: Any,
        dynamodb: Any,
        greengrass: Any,
        sns: Any,
        greengrass_start: Any = None,  # the no-retry client for StartBulkDeployment
        # Greengrass V2 stacks: the greengrassv2 and iot clients, paced by one RequestBudget.
        greengrassv2: Any = None,
        iot: Any = None,
    ) -> None:
        self.s3: Final = s3
        self.dynamodb: Final = dynamodb
        self.greengrass: Final = greengrass
        self.sns: Final = sns
        self.greengrass_start: Final = greengrass_start
        self.greengrassv2: Final = greengrassv2
        self.iot: Final = iot

    @classmethod
    def create(
        cls,
        settings: DispatchSettings,
        session: Any = None,
        *,
        on_throttle: Callable[[Metric, int], None] = count,
    ) -> Clients:
        region = settings.region
        common = {
            "s3": aws.client("s3", region=region, session=session),
            "dynamodb": aws.client("dynamodb", region=region, session=session),
            "sns": aws.client("sns", region=region, session=session),
        }
        if settings.greengrass == GREENGRASS_V2:
            # Imported here: a V1 stack's cold start does not load what only V2 uses.
            from bulk_deployer.request_budget import BUDGETED_CLIENT_CONFIG, RequestBudget  # noqa: PLC0415

            # This function's share of the region's quota, every HTTP attempt of both clients.
            budget = RequestBudget(settings.function_requests_per_second)

            def throttled(_operation: str) -> None:
                on_throttle(Metric.GREENGRASS_REQUESTS_THROTTLED, 1)

            greengrassv2, iot = (
                budget.attach(
                    aws.client(name, region=region, session=session, config=BUDGETED_CLIENT_CONFIG),
                    on_throttle=throttled,
                )
                for name in ("greengrassv2", "iot")
            )
            return cls(**common, greengrass=None, greengrassv2=greengrassv2, iot=iot)
        return cls(
            **common,
            greengrass=aws.client("greengrass", region=region, session=session),
            greengrass_start=aws.client(
                "greengrass", region=region, session=session, config=aws.START_CLIENT_CONFIG
            ),
        )


class Effects:
    """What the graph does to the world besides AWS calls: metrics, time, waiting, notifications.

    Tests and benchmarks replace these and otherwise build the same graph as the functions.
    """

    def __init__(
        self,
        *,
        count: Callable[[Metric, int], None] = count,
        seconds: Callable[[Metric, int], None] = seconds,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        outcomes: OutcomeSink | None = None,  # None: the topic in the settings, if any
        # Seconds left to the current invocation (handlers begin INVOCATION): a start of many
        # calls stops in time and is resumed by the next dispatch.
        time_left: Callable[[], float] = INVOCATION.time_left,
    ) -> None:
        self.count: Final = count
        self.seconds: Final = seconds
        self.clock: Final = clock
        self.sleep: Final = sleep
        self.outcomes: Final = outcomes
        self.time_left: Final = time_left


LAMBDA = Effects()


def build_parking(settings: StarterSettings, session: Any = None) -> DeadLetterParking | None:
    """The starter's way to the intake dead-letter queue, if the stack names one."""
    if not settings.intake_dead_letter_queue_url:
        return None
    return DeadLetterParking(
        settings.intake_dead_letter_queue_url,
        lambda: aws.client("sqs", region=settings.region, session=session),
    )


def build_ledger(
    settings: DispatchSettings, clients: Clients, effects: Effects = LAMBDA
) -> BulkDeploymentLedger:
    return BulkDeploymentLedger(
        clients.dynamodb, settings.ledger_table_name, ttl_days=settings.ledger_ttl_days, clock=effects.clock
    )


def build_outcomes(settings: DispatchSettings, clients: Clients, effects: Effects = LAMBDA) -> OutcomeSink:
    if effects.outcomes is not None:
        return effects.outcomes
    if settings.outcomes_topic_arn:
        return SnsOutcomes(clients.sns, settings.outcomes_topic_arn)
    return NoOutcomes()


def build_deployer(
    clients: Clients, effects: Effects = LAMBDA, settings: DispatchSettings | None = None
) -> Deployer:
    """The one place that picks the deployment service: the stack's ``GREENGRASS`` (V1 without settings)."""
    if settings is not None and settings.greengrass == GREENGRASS_V2:
        # Imported here: a V1 stack's cold start does not load the V2 deployer.
        from bulk_deployer.deployers.greengrass_v2 import GreengrassV2Deployer, StartSettings  # noqa: PLC0415

        return GreengrassV2Deployer(
            clients.greengrassv2,
            clients.iot,
            clients.s3,
            TableAccess(clients.dynamodb, settings.ledger_table_name, clock=effects.clock),
            StartSettings(
                time_left=effects.time_left,
                reports_prefix=settings.reports_prefix,
                default_timeout_minutes=settings.thing_group_deadline_minutes,
                clock=effects.clock,
                sleep=effects.sleep,
            ),
            capacity=settings.v2_files_in_flight,
            ttl_days=settings.ledger_ttl_days,
        )
    return GreengrassV1Deployer(clients.greengrass, clients.greengrass_start, sleep=effects.sleep)


def build_intake_rules(settings: StarterSettings) -> tuple[StartRequestBuilder, Callable[[], FileValidator]]:
    """What a queued file's start request freezes, and the rules its lines are validated by."""
    if settings.greengrass == GREENGRASS_V2:
        from bulk_deployer.deployers.greengrass_v2 import V2FileValidator, V2StartRequests  # noqa: PLC0415

        return V2StartRequests(), partial(V2FileValidator, v2_stack_rules(settings))
    return (
        V1StartRequests(settings.execution_role_arn, settings.region),
        partial(V1FileValidator, settings.deployable_group_ids),
    )


def v2_stack_rules(settings: StarterSettings) -> StackRules:
    """What a V2 stack's starter checks every line against (the CLI checks files with the same)."""
    from bulk_deployer.deployers.greengrass_v2 import StackRules, partition_of  # noqa: PLC0415

    return StackRules(
        partition=partition_of(settings.region),
        region=settings.region,
        account=settings.stack_account_id,
        allowed_targets=settings.deployable_target_arns,
        allow_large_documents=settings.allow_large_deployment_documents,
    )


def build_dispatcher(
    settings: DispatchSettings, clients: Clients, ledger: BulkDeploymentLedger, effects: Effects = LAMBDA
) -> Dispatcher:
    table = settings.ledger_table_name
    deployer = build_deployer(clients, effects, settings)
    return Dispatcher(
        ledger,
        # As large as the deployer lets files run side by side.
        DeploymentSlot(clients.dynamodb, table, capacity=deployer.capacity, clock=effects.clock),
        DispatchControl(clients.dynamodb, table, clock=effects.clock),
        deployer,
        InputObjectStore(clients.s3),
        count=effects.count,
        lease_seconds=settings.slot_lease_seconds,
        max_rejections=settings.start_max_refusals,
        retry_base_seconds=settings.start_retry_base_seconds,
        sleep=effects.sleep,
        outcomes=build_outcomes(settings, clients, effects),
    )


def build_intake(
    settings: StarterSettings, clients: Clients | None = None, effects: Effects = LAMBDA
) -> InputFileIntake:
    clients = clients or Clients.create(settings)
    dispatcher = build_dispatcher(settings, clients, build_ledger(settings, clients, effects), effects)
    start_requests, file_validator = build_intake_rules(settings)
    return InputFileIntake(
        settings,
        dispatcher.ledger,
        dispatcher.objects,
        ReportStore(clients.s3, settings.reports_prefix),
        dispatcher,
        effects.count,
        start_requests=start_requests,
        file_validator=file_validator,
        outcomes=dispatcher.outcomes,
    )


def build_tracker(
    settings: TrackerSettings, clients: Clients | None = None, effects: Effects = LAMBDA
) -> BulkDeploymentTracker:
    # Imported here so that the starter's cold start does not load the tracker's modules.
    from bulk_deployer.reconcile import Reconciler  # noqa: PLC0415
    from bulk_deployer.tracker import BulkDeploymentTracker  # noqa: PLC0415

    clients = clients or Clients.create(settings)
    ledger = build_ledger(settings, clients, effects)
    dispatcher = build_dispatcher(settings, clients, ledger, effects)
    table, clock = settings.ledger_table_name, effects.clock
    return BulkDeploymentTracker(
        settings,
        ledger,
        dispatcher.slot,
        dispatcher.control,
        RunLease(clients.dynamodb, table, "tracker", clock=clock),
        RunLease(clients.dynamodb, table, "reconcile", clock=clock),
        dispatcher.deployer,
        dispatcher,
        clients.s3,
        ReportStore(clients.s3, settings.reports_prefix),
        Reconciler(
            clients.s3,
            ledger,
            bucket=settings.input_bucket,
            prefix=settings.incoming_prefix,
            lookback_days=settings.reconcile_lookback_days,
            min_age_seconds=settings.reconcile_min_age_seconds,
            clock=clock,
        ),
        count=effects.count,
        seconds=effects.seconds,
        outcomes=dispatcher.outcomes,
        clock=clock,
        sleep=effects.sleep,
    )
