"""Starter Lambda: SQS (FIFO intake, batch size 1) → InputFileIntake, with partial batch failures.

The partial-batch loop is written out here rather than taken from Powertools' BatchProcessor:
it is a dozen lines, and the batch utility's imports (asyncio and every event data class)
would add a fifth to the cold start of a function that needs none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from bulk_deployer.config import Settings
from bulk_deployer.intake import InputFileIntake
from bulk_deployer.ledger_model import Arrival
from bulk_deployer.observability import logger, metrics
from bulk_deployer.wiring import build_intake

if TYPE_CHECKING:  # a type only: the typing utility costs ~15 ms of cold start to import
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def _intake() -> InputFileIntake:
    """Settings are checked on the first (cold) invocation: a bad one names itself in the error."""
    return build_intake(Settings.from_env())


def _handle_record(record: Mapping[str, Any]) -> None:
    attributes = record.get("attributes") or {}
    arrival = Arrival(sequence_number=attributes.get("SequenceNumber"))
    for result in _intake().handle_message(str(record.get("body", "")), arrival):
        logger.debug("message handled", extra={"outcome": result.outcome.value, "token": result.token})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process the batch in order; from the first failure on, every record goes back to SQS.

    A FIFO queue must not see a later message succeed after an earlier one failed, so the
    rest of the batch is returned unprocessed with the failed one (batch size is 1 anyway).
    """
    _intake()
    failures: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        message_id = str(record.get("messageId", ""))
        if failures:
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            _handle_record(record)
        except Exception:
            logger.exception(
                "message failed; SQS will deliver it again, then dead-letter it",
                extra={
                    "message_id": message_id,
                    "receive_count": (record.get("attributes") or {}).get("ApproximateReceiveCount"),
                },
            )
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
