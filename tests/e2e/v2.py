"""What the Greengrass V2 e2e tests share: uploading a file of targets, the emulator's creates,
waiting for a file's final report."""

from __future__ import annotations

from typing import Any

from bulk_deployer.ledger_model import FileState

from local.fleet import v2_input_file, v2_line
from local.greengrass_v2_emulator.calls import Call
from local.observe import Observer, Upload


def upload_targets(e2e: Observer, name: str, targets: list[str]) -> Upload:
    """An input file deploying the default components to each target, one line each."""
    return e2e.upload(name, v2_input_file(v2_line(arn) for arn in targets))


def creates(e2e: Observer) -> list[Call]:
    """CreateDeployment calls that created a deployment, oldest first."""
    return [c for c in e2e.pipeline.v2_emulator.calls(operation="CreateDeployment") if c.created]


def finished(e2e: Observer, upload: Upload, timeout: float = 10.0) -> dict[str, Any]:
    """The file's report once the file is FINISHED (its final one)."""
    file = e2e.wait_state(upload, FileState.FINISHED, timeout=timeout)
    report = e2e.read_json(str(file.report_key))
    assert report["final"] is True
    return report
