"""The log events the stack's saved queries select: logged as the contract spells them, with the
fields the queries show (tests/infra checks the queries select the same ``LogEvent`` values)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from bulk_deployer.contract import LogEvent
from bulk_deployer.dispatch import DispatchResult
from bulk_deployer.observability import logger
from bulk_deployer.token import client_token_for

from tests.fakes.greengrass import client_error
from tests.integration.conftest import Pipeline, valid_file


class FormattedLog:
    """Log lines as CloudWatch receives them: Powertools' JSON, with the keys in force when logged."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def events(self, event: LogEvent) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return [line for line in lines if line["message"] == event.value]


@pytest.fixture
def formatted_log() -> Iterator[FormattedLog]:
    log = FormattedLog()
    handler = logging.StreamHandler(log.stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    try:
        yield log
    finally:
        logger._logger.removeHandler(handler)


def test_a_rejection_is_logged_with_its_reasons(pipeline: Pipeline, formatted_log: FormattedLog) -> None:
    ref = pipeline.upload("incoming/bad.jsonl", b'{"GroupId":"g-1"}\n')
    pipeline.deliver_ref(ref)
    (line,) = formatted_log.events(LogEvent.INPUT_FILE_REJECTED)
    # The rejections query's fields.
    assert (line["key"], line["version_id"], line["token"]) == (
        ref.key,
        ref.version_id,
        client_token_for(ref),
    )
    assert line["error_count"] == 2  # no GroupVersionId, no DeploymentType
    assert line["first_errors"][0]["line"] == 1
    assert line["first_errors"][0]["code"] and line["first_errors"][0]["message"]
    assert line["report_key"] == f"reports/{client_token_for(ref)}/rejected.json"


def test_a_start_is_logged_with_its_bulk_deployment(pipeline: Pipeline, formatted_log: FormattedLog) -> None:
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    pipeline.deliver_ref(ref)
    (line,) = formatted_log.events(LogEvent.BULK_DEPLOYMENT_STARTED)
    # The starts query's fields.
    assert line["bulk_deployment_id"] == pipeline.greengrass.deployments[0].id
    assert (line["key"], line["version_id"], line["token"]) == (
        ref.key,
        ref.version_id,
        client_token_for(ref),
    )
    assert formatted_log.events(LogEvent.BULK_DEPLOYMENT_RECOVERED) == []


def test_a_recovered_start_is_logged_with_its_bulk_deployment(
    pipeline: Pipeline, formatted_log: FormattedLog
) -> None:
    ref = pipeline.upload("incoming/fleet.jsonl", valid_file())
    original = pipeline.greengrass.start_bulk_deployment

    def lose_the_answer(**params: Any) -> dict[str, Any]:
        pipeline.greengrass.start_bulk_deployment = original  # type: ignore[method-assign]
        original(**params)
        raise client_error("InternalServerErrorException", "upstream timeout", "StartBulkDeployment", 500)

    pipeline.greengrass.start_bulk_deployment = lose_the_answer  # type: ignore[method-assign]
    pipeline.deliver_ref(ref)
    assert pipeline.dispatcher().dispatch().result is DispatchResult.RECOVERED
    (line,) = formatted_log.events(LogEvent.BULK_DEPLOYMENT_RECOVERED)
    # The starts query's fields.
    assert line["bulk_deployment_id"] == pipeline.greengrass.deployments[0].id
    assert (line["key"], line["version_id"], line["token"]) == (
        ref.key,
        ref.version_id,
        client_token_for(ref),
    )
    assert formatted_log.events(LogEvent.BULK_DEPLOYMENT_STARTED) == []
