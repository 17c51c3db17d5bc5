"""Intake messages that can never succeed go straight to the intake dead-letter queue.

The intake queue has one FIFO message group: a message that fails holds up every file behind
it for a visibility timeout per receive (30 minutes deployed), ``maxReceiveCount`` times, before
SQS moves it to the dead-letter queue — 2.5 hours. A message no receive can ever process is
parked there at once instead, with the reason as a message attribute, and acknowledged. The
dead-letter queue's alarm tells the operator; ``bulk-deployer redrive`` puts it back after a fix.

Permanence is decided by *where* the failure happened, not by its exception type: everything
that fails while the body is read into object references and tokens (pure work: parsing and
identity) is ``UnreadableMessage``, and so is a request botocore refuses before sending it (such
as an invalid bucket name: no I/O happened, the same message is refused the same way). Failures
of I/O keep SQS's retries: they may succeed next time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ParamValidationError

from bulk_deployer.aws_text import attribute_text
from bulk_deployer.events import UnreadableMessage

# Failures no later receive of the same message can avoid: reading it, or a request refused unsent.
PERMANENT_FAILURES: Final = (UnreadableMessage, ParamValidationError)
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
                REASON_ATTRIBUTE: {
                    "DataType": "String",
                    "StringValue": attribute_text(reason)[:_MAX_REASON_CHARS] or "-",
                }
            },
        )
