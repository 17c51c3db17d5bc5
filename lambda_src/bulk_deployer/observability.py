"""The one place that creates the logger, tracer and metrics (configured by POWERTOOLS_* variables)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "bulk-deployer"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE)


def count(name: str, value: int = 1) -> None:
    """Add to a count metric, flushed as EMF when the invocation ends."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: int) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
