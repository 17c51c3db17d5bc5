"""Builds the object graph from settings: the only place that knows every concrete class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bulk_deployer import aws
from bulk_deployer.config import Settings
from bulk_deployer.control import DispatchControl
from bulk_deployer.dispatch import Dispatcher
from bulk_deployer.greengrass import GreengrassV1Deployer
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.intake import InputFileIntake
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.observability import count
from bulk_deployer.reports import ReportStore
from bulk_deployer.slot import DeploymentSlot


@dataclass(frozen=True)
class Clients:
    s3: Any
    dynamodb: Any
    greengrass: Any

    @classmethod
    def create(cls, settings: Settings, session: Any = None) -> Clients:
        return cls(
            s3=aws.client("s3", region=settings.region, session=session),
            dynamodb=aws.client("dynamodb", region=settings.region, session=session),
            greengrass=aws.client("greengrass", region=settings.region, session=session),
        )


def build_ledger(settings: Settings, clients: Clients) -> BulkDeploymentLedger:
    return BulkDeploymentLedger(
        clients.dynamodb, settings.ledger_table_name, ttl_days=settings.ledger_ttl_days
    )


def build_dispatcher(settings: Settings, clients: Clients, ledger: BulkDeploymentLedger) -> Dispatcher:
    return Dispatcher(
        ledger,
        DeploymentSlot(clients.dynamodb, settings.ledger_table_name),
        DispatchControl(clients.dynamodb, settings.ledger_table_name),
        GreengrassV1Deployer(clients.greengrass),
        count=count,
        lease_seconds=settings.slot_lease_seconds,
        max_rejections=settings.start_max_attempts,
        retry_base_seconds=settings.start_retry_base_seconds,
    )


def build_intake(settings: Settings, clients: Clients | None = None) -> InputFileIntake:
    clients = clients or Clients.create(settings)
    ledger = build_ledger(settings, clients)
    return InputFileIntake(
        settings,
        ledger,
        InputObjectStore(clients.s3),
        ReportStore(clients.s3, settings.reports_prefix),
        build_dispatcher(settings, clients, ledger),
        count,
    )
