"""Starter Lambda: SQS (FIFO intake, batch size 1) → InputFileIntake, with partial batch failures.

The partial-batch loop is written out here rather than taken from Powertools' BatchProcessor:
it is a dozen lines, and the batch utility's imports (asyncio and every event data class)
would add a fifth to the cold start of a function that needs none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

# boto3 first, before this package's deeper chain of imports: on CPython 3.13 before 3.13.13, the
# frames of botocore's import landing on a chunk boundary of the frame stack map and unmap a 16 KB
# chunk a thousand times or more (CPython gh-142183): 15-25 ms of cold start (docs/performance.md).
import boto3  # noqa: F401

from bulk_deployer.config import StarterSettings
from bulk_deployer.contract import Metric
from bulk_deployer.intake import InputFileIntake
from bulk_deployer.invocation import INVOCATION
from bulk_deployer.ledger_model import Arrival
from bulk_deployer.observability import count, logger, metrics
from bulk_deployer.parking import PERMANENT_FAILURES, DeadLetterParking
from bulk_deployer.wiring import build_intake, build_parking

if TYPE_CHECKING:  # a type only: the typing utility costs ~15 ms of cold start to import
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def _settings() -> StarterSettings:
    """Checked on the first (cold) invocation: a bad setting names itself in the error."""
    return StarterSettings.from_env()


@cache
def _intake() -> InputFileIntake:
    return build_intake(_settings())


@cache
def _parking() -> DeadLetterParking | None:
    return build_parking(_settings())


def _park(record: Mapping[str, Any], message_id: str, error: Exception) -> bool:
    """Park a message that can never succeed; False when that is not possible (it then fails)."""
    parking = _parking()
    if parking is None:
        return False
    reason = f"{type(error).__name__}: {error}"  # DeadLetterParking makes it text SQS accepts
    try:
        parking.park(str(record.get("body", "")), message_id=message_id, reason=reason)
    except Exception:
        logger.exception(
            "could not park the message; SQS will deliver it again", extra={"message_id": message_id}
        )
        return False
    logger.error(
        "message can never succeed; parked in the intake dead-letter queue",
        extra={"message_id": message_id, "reason": reason},
    )
    count(Metric.INTAKE_MESSAGE_PARKED)
    return True


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
    INVOCATION.begin(context.get_remaining_time_in_millis() / 1000)
    failures: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        message_id = str(record.get("messageId", ""))
        if failures:
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            _handle_record(record)
        except Exception as error:
            if isinstance(error, PERMANENT_FAILURES) and _park(record, message_id, error):
                continue
            logger.exception(
                "message failed; SQS will deliver it again, then dead-letter it",
                extra={
                    "message_id": message_id,
                    "receive_count": (record.get("attributes") or {}).get("ApproximateReceiveCount"),
                },
            )
            count(Metric.INTAKE_MESSAGE_FAILED)
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
