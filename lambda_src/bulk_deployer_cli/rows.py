"""What a stack's reports list, per Greengrass version: the rows, which of them did not succeed,
and the columns that say why.

Why here: ``report`` and ``list`` read a finished file's CSV and counts on either kind of stack
(V1: group deployments in ``groups.csv``; V2: devices in ``devices.csv``). The rows' names and
what each status means come from the deployer's own report module, so the CLI names nothing
the deployer does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bulk_deployer.deployers.base import Lifecycle, ReportRows, TargetOutcome
from bulk_deployer.deployers.greengrass_v1 import report as v1_report
from bulk_deployer.deployers.greengrass_v1.statuses import LIFECYCLE, target_outcome_of
from bulk_deployer.deployers.greengrass_v2 import report as v2_report
from bulk_deployer.settings_schema import GREENGRASS_V1, GREENGRASS_V2


@dataclass(frozen=True)
class RowShape:
    """The rows of one deployer's report, as the CLI shows the ones that did not succeed."""

    rows: ReportRows
    outcome: Callable[[str], TargetOutcome]  # what a row's status means
    failed_columns: tuple[str, ...]  # of a failed row, what `report` shows (the name first)
    reason_column: str  # the one that says why, on the row's line of text
    succeeded_status: str  # the deployment's status, in the service's word, when it succeeded
    one_row_per_record: bool  # V1: a group deployment per line; V2: a thing group has many devices

    @property
    def name_column(self) -> str:
        return self.failed_columns[0]

    def failed(self, row: Mapping[str, Any]) -> bool:
        return self.outcome(str(row.get("status", ""))) is TargetOutcome.FAILED

    def sample(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {column: row.get(column) for column in self.failed_columns}

    def line(self, row: Mapping[str, Any]) -> str:
        return f"{row.get(self.name_column) or '-'}: {row.get(self.reason_column) or '-'}"

    def all_succeeded(self, status: str | None, counts: Mapping[str, int], records: int) -> bool:
        """The deployment succeeded and so did every row of its report (V1: one per record)."""
        return (
            status == self.succeeded_status
            and all(self.outcome(row_status) is TargetOutcome.SUCCEEDED for row_status in counts)
            and (not self.one_row_per_record or sum(counts.values()) == records)
        )


_V1_SUCCEEDED = next(word for word, lifecycle in LIFECYCLE.items() if lifecycle is Lifecycle.SUCCEEDED)


SHAPES: Final[Mapping[str, RowShape]] = {
    GREENGRASS_V1: RowShape(
        v1_report.REPORT_ROWS,
        target_outcome_of,
        ("group_id", "deployment_id", "error_message", "error_details"),
        "error_message",
        succeeded_status=_V1_SUCCEEDED,
        one_row_per_record=True,
    ),
    GREENGRASS_V2: RowShape(
        v2_report.REPORT_ROWS,
        v2_report.device_outcome,
        ("thing_name", "target", "status", "reason", "error_types"),
        "reason",
        succeeded_status=v2_report.STATUS_WORDS[Lifecycle.SUCCEEDED],
        one_row_per_record=False,
    ),
}
