"""Finding a file in the ledger from what an operator knows: a key, a file name, a token or a
bulk deployment id."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bulk_deployer.ledger_model import LedgerFile
from bulk_deployer.timefmt import iso_of

from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.stack import Target

if TYPE_CHECKING:
    from bulk_deployer.deployers.base import ReportRows

_TOKEN = re.compile(r"^[0-9a-f]{64}$")


def candidate_keys(target: Target, key: str) -> list[str]:
    """``incoming/a.jsonl`` as given; ``a.jsonl`` also under the incoming prefix."""
    prefix = target.resources.incoming_prefix
    return [key] if key.startswith(prefix) else [key, prefix + key]


def find_file(target: Target, ref: str) -> LedgerFile:
    """The ledger entry for a token, or the newest entry of a key; CliError when none."""
    if _TOKEN.match(ref):
        file = target.ledger.get(ref)
        if file is not None:
            return file
    for key in candidate_keys(target, ref):
        files = target.ledger.files_for_key(target.resources.bucket, key, limit=1)
        if files:
            return target.ledger.get(files[0].token) or files[0]
    raise CliError(
        f"no ledger entry for {ref!r} (a key under {target.resources.incoming_prefix}, or a token)"
    )


def find_by_bulk_deployment(target: Target, bulk_deployment_id: str) -> LedgerFile | None:
    file = target.ledger.file_for_bulk_deployment(bulk_deployment_id)
    return target.ledger.get(file.token) if file else None


def file_summary(file: LedgerFile, rows: ReportRows) -> dict[str, Any]:
    """The ledger entry as the CLI shows it (JSON-safe); its report's counts are named after the
    stack's report rows (``group_counts`` on a V1 stack, ``device_counts`` on a V2 one)."""
    deployment = file.deployment
    summary = file.report_summary or file.report_interim
    return {
        "token": file.token,
        "state": file.state.value,
        "bucket": file.ref.bucket,
        "key": file.ref.key,
        "version_id": file.ref.version_id,
        "etag": file.ref.etag,
        "size": file.ref.size,
        "records": file.records,
        "registered_at": iso_of(file.registered_at),
        "started_at": iso_of(file.started_at) if file.started_at else None,
        "finished_at": iso_of(file.finished_at) if file.finished_at else None,
        "bulk_deployment_id": file.bulk_deployment_id,
        "bulk_status": file.deployment_status,
        "bulk_metrics": dict(deployment.metrics) if deployment else {},
        "error": (deployment.error_message if deployment else None) or file.last_start_error or file.reason,
        "error_count": file.error_count,
        "report_key": file.report_key,
        counts_key(rows): dict(summary.counts) if summary else {},
    }


def counts_key(rows: ReportRows) -> str:
    """The member of ``file_summary`` holding the report's counts per row status."""
    return f"{rows.noun}_counts"
