"""One message per file outcome on the "outcomes" SNS topic, for people and chat-ops.

Operators subscribe (e-mail, chat, a queue) with filter policies on the message
attributes ``outcome`` and ``key`` instead of watching alarms. The subject and the ``key``
attribute are made text SNS accepts (a key may hold line breaks and control characters); the
message body keeps the exact key. Publishing is best effort
by design: the ledger and the reports are the record; a lost notification loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from bulk_deployer.aws_text import attribute_text, subject_text
from bulk_deployer.contract import FileOutcome
from bulk_deployer.observability import logger


class OutcomeSink(Protocol):
    def publish(self, outcome: FileOutcome, key: str, details: Mapping[str, Any]) -> None: ...


class NoOutcomes:
    """When no topic is configured."""

    def publish(self, outcome: FileOutcome, key: str, details: Mapping[str, Any]) -> None:
        return None


class SnsOutcomes:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic_arn = topic_arn

    def publish(self, outcome: FileOutcome, key: str, details: Mapping[str, Any]) -> None:
        message = {"outcome": outcome.value, "key": key, **details}
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject_text(f"bulk-deployer: {outcome} {key}"),
                Message=json.dumps(message, default=str, ensure_ascii=False),
                MessageAttributes={
                    "outcome": {"DataType": "String", "StringValue": outcome.value},
                    "key": {"DataType": "String", "StringValue": attribute_text(key)[:256] or "-"},
                },
            )
        except Exception:
            logger.warning(
                "could not publish the outcome notification", exc_info=True, extra={"outcome": outcome.value}
            )
