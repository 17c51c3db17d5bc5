"""The one place that creates the logger and the metrics (configured by POWERTOOLS_* variables).

No tracer: the functions run with Lambda's active tracing, which records every invocation (its
cold start, duration and errors) in X-Ray without an SDK in the function. The X-Ray SDK, which
Powertools' Tracer wraps, is in maintenance mode since 2026-02-25 (end of support 2027-02-25)
and cost a tenth of the starter's cold start; subsegments for the AWS calls, where wanted, come
from the OpenTelemetry Lambda layer (ADOT) without a code change (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from bulk_deployer.contract import SERVICE, Metric

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE)


def count(metric: Metric, value: int = 1) -> None:
    """Add to a count metric, flushed as EMF when the invocation ends."""
    metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


def seconds(metric: Metric, value: int) -> None:
    metrics.add_metric(name=metric.value, unit=MetricUnit.Seconds, value=value)


@contextmanager
def log_context(**keys: Any) -> Iterator[None]:
    """Add keys to every log line inside the block, then restore what was there before.

    (Powertools' append_context_keys drops a key on exit even if an outer block had set it.)
    """
    current = logger.get_current_keys()
    saved = {k: current[k] for k in keys if k in current}
    logger.append_keys(**keys)
    try:
        yield
    finally:
        logger.remove_keys([k for k in keys if k not in saved])
        if saved:
            logger.append_keys(**saved)


@contextmanager
def file_log_context(token: str, **keys: Any) -> Iterator[None]:
    """Everything logged inside is about one input file: its token is the correlation id."""
    previous = logger.get_correlation_id()
    logger.set_correlation_id(token)
    try:
        with log_context(token=token, **keys):
            yield
    finally:
        logger.set_correlation_id(previous)
