"""The conditional write shared by the slot, the dispatch control and the run leases."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from bulk_deployer.dynamo import write_if


def _raising(code: str) -> Any:
    def write(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": code}}, "PutItem")

    return write


def test_write_if_passes_the_request_and_says_whether_the_condition_held() -> None:
    written: list[dict[str, Any]] = []
    assert write_if(lambda **request: written.append(request), TableName="ledger", Item={"pk": {"S": "x"}})
    assert written == [{"TableName": "ledger", "Item": {"pk": {"S": "x"}}}]
    assert write_if(_raising("ConditionalCheckFailedException"), TableName="ledger") is False
    assert write_if(_raising("TransactionCanceledException"), TableName="ledger") is False


def test_write_if_raises_what_is_not_a_failed_condition() -> None:
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        write_if(_raising("ProvisionedThroughputExceededException"), TableName="ledger")


def test_numbers_come_back_as_the_ints_and_floats_they_were_written_from() -> None:
    from bulk_deployer.dynamo import from_item, to_item

    written = {"n": 3, "x": 0.25, "nested": {"counts": {"FAILED": 2}, "list": [1, 1.5]}, "s": "7"}
    read = from_item(to_item(written))
    assert read == written
    assert type(read["n"]) is int and type(read["x"]) is float
    assert type(read["nested"]["counts"]["FAILED"]) is int
