"""Intake messages that can never succeed go straight to the intake dead-letter queue.

The intake queue has one FIFO message group: a message that fails holds up every file behind
it for a visibility timeout per receive (30 minutes deployed), ``maxReceiveCount`` times, before
SQS moves it to the dead-letter queue — 2.5 hours. A message no receive can ever process (a body
that is not an S3 event, or one botocore refuses to send, such as an invalid bucket name) is
parked there at once instead, with the reason as a message attribute, and acknowledged. The
dead-letter queue's alarm tells the operator; ``bulk-deployer redrive`` puts it back after a fix.
Everything else that fails keeps SQS's retries: it may succeed next time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ParamValidationError

from bulk_deployer.events import UnrecognizedMessage

# Failures no later receive of the same message can avoid.
PERMANENT_FAILURES: Final = (UnrecognizedMessage, ParamValidationError)
PARKED_GROUP_ID: Final = "parked"
REASON_ATTRIBUTE: Final = "bulk-deployer-parked-reason"
_MAX_REASON_CHARS: Final = 1000


class DeadLetterParking:
    """Sends a message body to the intake dead-letter queue (the SQS client is made on first use)."""

    def __init__(self, queue_url: str, sqs_client: Callable[[], Any]) -> None:
        self._queue_url = queue_url
        self._client_factory = sqs_client
        self._client: Any = None

    def park(self, body: str, *, message_id: str, reason: str) -> None:
        if self._client is None:
            self._client = self._client_factory()
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageGroupId=PARKED_GROUP_ID,
            # The original message id: a repeated park of the same delivery is one message.
            MessageDeduplicationId=message_id[:128] or "unknown",
            MessageAttributes={
                REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:_MAX_REASON_CHARS] or "-"}
            },
        )
