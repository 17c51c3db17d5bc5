"""Builds the object graph from settings: the only place that knows every concrete class."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from bulk_deployer import aws
from bulk_deployer.config import DispatchSettings, StarterSettings, TrackerSettings
from bulk_deployer.contract import Metric
from bulk_deployer.control import DispatchControl, RunLease
from bulk_deployer.deployers.base import Deployer
from bulk_deployer.deployers.greengrass_v1 import GreengrassV1Deployer, V1FileValidator, V1StartRequests
from bulk_deployer.dispatch import Dispatcher
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.intake import InputFileIntake
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.observability import count, seconds
from bulk_deployer.outcomes import NoOutcomes, OutcomeSink, SnsOutcomes
from bulk_deployer.parking import DeadLetterParking
from bulk_deployer.reports import ReportStore
from bulk_deployer.slot import DeploymentSlot

if TYPE_CHECKING:
    from bulk_deployer.tracker import BulkDeploymentTracker


@dataclass(frozen=True)
class Clients:
    s3: Any
    dynamodb: Any
    greengrass: Any
    sns: Any
    greengrass_start: Any = None  # the no-retry client for StartBulkDeployment

    @classmethod
    def create(cls, settings: DispatchSettings, session: Any = None) -> Clients:
        return cls(
            s3=aws.client("s3", region=settings.region, session=session),
            dynamodb=aws.client("dynamodb", region=settings.region, session=session),
            greengrass=aws.client("greengrass", region=settings.region, session=session),
            sns=aws.client("sns", region=settings.region, session=session),
            greengrass_start=aws.client(
                "greengrass", region=settings.region, session=session, config=aws.START_CLIENT_CONFIG
            ),
        )


@dataclass(frozen=True)
class Effects:
    """What the graph does to the world besides AWS calls: metrics, time, waiting, notifications.

    Tests and benchmarks replace these and otherwise build the same graph as the functions.
    """

    count: Callable[[Metric, int], None] = count
    seconds: Callable[[Metric, int], None] = seconds
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    outcomes: OutcomeSink | None = None  # None: the topic in the settings, if any


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


def build_deployer(clients: Clients, effects: Effects = LAMBDA) -> Deployer:
    """The one place that picks the deployment service (Greengrass V1 bulk deployments today)."""
    return GreengrassV1Deployer(clients.greengrass, clients.greengrass_start, sleep=effects.sleep)


def build_dispatcher(
    settings: DispatchSettings, clients: Clients, ledger: BulkDeploymentLedger, effects: Effects = LAMBDA
) -> Dispatcher:
    table = settings.ledger_table_name
    deployer = build_deployer(clients, effects)
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
    return InputFileIntake(
        settings,
        dispatcher.ledger,
        dispatcher.objects,
        ReportStore(clients.s3, settings.reports_prefix),
        dispatcher,
        effects.count,
        start_requests=V1StartRequests(settings.execution_role_arn, settings.region),
        file_validator=partial(V1FileValidator, settings.deployable_group_ids),
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
