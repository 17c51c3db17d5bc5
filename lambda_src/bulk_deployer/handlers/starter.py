"""Starter Lambda: SQS (FIFO intake, batch size 1) → InputFileIntake, with partial batch failures."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bulk_deployer.config import Settings
from bulk_deployer.intake import InputFileIntake
from bulk_deployer.ledger_model import Arrival
from bulk_deployer.observability import logger, metrics, tracer
from bulk_deployer.wiring import build_intake

# A batch whose every record failed must still answer with batchItemFailures, not raise:
# raising would also retry records that succeeded in a larger batch.
_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def _intake() -> InputFileIntake:
    """Settings are checked on the first (cold) invocation: a bad one names itself in the error."""
    return build_intake(Settings.from_env())


def _record_handler(record: SQSRecord) -> None:
    arrival = Arrival(sequence_number=record.attributes.sequence_number)
    try:
        results = _intake().handle_message(record.body, arrival)
    except Exception:
        logger.exception(
            "message failed; SQS will deliver it again, then dead-letter it",
            extra={
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
            },
        )
        raise
    for result in results:
        logger.debug("message handled", extra={"outcome": result.outcome.value, "token": result.token})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _intake()
    return dict(process_partial_response(event, _record_handler, _processor, context))
