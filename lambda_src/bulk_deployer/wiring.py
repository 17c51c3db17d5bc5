"""Builds the object graph from settings: the only place that knows every concrete class."""

from __future__ import annotations

from typing import Any

from bulk_deployer import aws
from bulk_deployer.config import Settings
from bulk_deployer.dispatch import Dispatcher
from bulk_deployer.greengrass import GreengrassV1Deployer
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.intake import InputFileIntake
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.observability import count
from bulk_deployer.reports import ReportStore


def build_ledger(settings: Settings, session: Any = None) -> BulkDeploymentLedger:
    return BulkDeploymentLedger(
        aws.client("dynamodb", region=settings.region, session=session),
        settings.ledger_table_name,
        ttl_days=settings.ledger_ttl_days,
    )


def build_dispatcher(settings: Settings, ledger: BulkDeploymentLedger, session: Any = None) -> Dispatcher:
    return Dispatcher(
        ledger,
        GreengrassV1Deployer(aws.client("greengrass", region=settings.region, session=session)),
        count=count,
        lease_seconds=settings.slot_lease_seconds,
        max_rejections=settings.start_max_attempts,
        retry_base_seconds=settings.start_retry_base_seconds,
    )


def build_intake(settings: Settings, session: Any = None) -> InputFileIntake:
    s3 = aws.client("s3", region=settings.region, session=session)
    ledger = build_ledger(settings, session)
    return InputFileIntake(
        settings,
        ledger,
        InputObjectStore(s3),
        ReportStore(s3, settings.reports_prefix),
        build_dispatcher(settings, ledger, session),
        count,
    )
