"""The saved Logs Insights queries, over both functions' log groups.

The messages they select are ``bulk_deployer.contract.LogEvent`` members, which the functions
log (tests/integration/test_log_events.py shows each with the fields its query shows).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_logs as logs
from bulk_deployer.contract import LogEvent
from constructs import Construct

from infra.config import DeployConfig

_FILE_HISTORY_FIELDS = (
    "@timestamp",
    "level",
    "message",
    "state",
    "token",
    "version_id",
    "etag",
    "bulk_deployment_id",
    "report_key",
    "service_message",
)
_REJECTION_FIELDS = (
    "@timestamp",
    "key",
    "version_id",
    "token",
    "error_count",
    "first_errors.0.line",
    "first_errors.0.code",
    "first_errors.0.message",
    "report_key",
)
_START_FIELDS = ("@timestamp", "message", "bulk_deployment_id", "token", "key", "version_id")
_STARTED = (LogEvent.BULK_DEPLOYMENT_STARTED, LogEvent.BULK_DEPLOYMENT_RECOVERED)


def add_saved_queries(scope: Construct, config: DeployConfig, log_groups: Sequence[logs.ILogGroup]) -> None:
    """file-history (one key, oldest first), rejections and starts, named ``<stackName>/<name>``."""
    started = ", ".join(f'"{message}"' for message in _STARTED)
    for query_id, name, query in (
        (
            "FileHistoryQuery",
            "file-history",
            logs.QueryString(
                fields=list(_FILE_HISTORY_FIELDS),
                filter_statements=[f'key = "{config.incoming_prefix}REPLACE-WITH-FILE-NAME.jsonl"'],
                sort="@timestamp asc",
                limit=1000,
            ),
        ),
        (
            "RejectionsQuery",
            "rejections",
            logs.QueryString(
                fields=list(_REJECTION_FIELDS),
                filter_statements=[f'message = "{LogEvent.INPUT_FILE_REJECTED}"'],
                sort="@timestamp desc",
                limit=1000,
            ),
        ),
        (
            "StartsQuery",
            "starts",
            logs.QueryString(
                fields=list(_START_FIELDS),
                filter_statements=[f"message in [{started}]"],
                sort="@timestamp desc",
                limit=1000,
            ),
        ),
    ):
        logs.QueryDefinition(
            scope,
            query_id,
            query_definition_name=f"{config.stack_name}/{name}",
            query_string=query,
            log_groups=list(log_groups),
        )
