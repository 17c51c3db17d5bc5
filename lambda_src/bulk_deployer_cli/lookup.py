"""Finding a file in the ledger from what an operator knows: a key, a file name, a token or a
bulk deployment id."""

from __future__ import annotations

import re
from typing import Any

from bulk_deployer.ledger_model import LedgerFile

from bulk_deployer_cli.output import CliError
from bulk_deployer_cli.stack import Target

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


def file_summary(file: LedgerFile) -> dict[str, Any]:
    """The ledger entry as the CLI shows it (JSON-safe)."""
    item = file.item
    metrics = {k: int(v) for k, v in dict(item.get("bulk_metrics") or {}).items()}
    summary = dict(item.get("report_summary") or item.get("report_interim") or {})
    return {
        "token": file.token,
        "state": file.state.value,
        "bucket": file.ref.bucket,
        "key": file.ref.key,
        "version_id": file.ref.version_id,
        "etag": file.ref.etag,
        "size": file.ref.size,
        "records": int(item["records"]) if item.get("records") is not None else None,
        "registered_at": item.get("registered_at"),
        "started_at": item.get("started_at"),
        "finished_at": item.get("finished_at"),
        "bulk_deployment_id": file.bulk_deployment_id,
        "bulk_status": item.get("bulk_status"),
        "bulk_metrics": metrics,
        "error": item.get("bulk_error_message") or item.get("last_start_error") or item.get("reason"),
        "error_count": int(item["error_count"]) if item.get("error_count") is not None else None,
        "report_key": item.get("report_key"),
        "group_counts": {k: int(v) for k, v in dict(summary.get("counts") or {}).items()},
    }
