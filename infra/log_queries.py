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
_NEWEST = "@timestamp desc"
_LIMIT = 1000  # rows a saved query returns
_STARTED = (LogEvent.BULK_DEPLOYMENT_STARTED, LogEvent.BULK_DEPLOYMENT_RECOVERED)


def add_saved_queries(scope: Construct, config: DeployConfig, log_groups: Sequence[logs.ILogGroup]) -> None:
    """file-history (one key, oldest first), rejections and starts, named ``<stackName>/<name>``."""
    started = ", ".join(f'"{message}"' for message in _STARTED)
    rejected = f'message = "{LogEvent.INPUT_FILE_REJECTED}"'
    for query_id, name, fields, where, sort in (
        (
            "FileHistoryQuery",
            "file-history",
            _FILE_HISTORY_FIELDS,
            f'key = "{config.incoming_prefix}REPLACE-WITH-FILE-NAME.jsonl"',
            "@timestamp asc",
        ),
        ("RejectionsQuery", "rejections", _REJECTION_FIELDS, rejected, _NEWEST),
        ("StartsQuery", "starts", _START_FIELDS, f"message in [{started}]", _NEWEST),
    ):
        logs.QueryDefinition(
            scope,
            query_id,
            query_definition_name=f"{config.stack_name}/{name}",
            query_string=logs.QueryString(
                fields=list(fields), filter_statements=[where], sort=sort, limit=_LIMIT
            ),
            log_groups=list(log_groups),
        )
