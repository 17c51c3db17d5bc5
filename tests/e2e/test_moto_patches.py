"""local.moto_patches against moto's own code: the same calls on the same data give the same answers.

Each scenario runs twice in an in-process moto (``mock_aws``), once with moto's code
(``moto_patches.unpatched()``) and once patched, and the two transcripts must be equal — except
the FIFO ``SequenceNumber``, the one behaviour the module changes on purpose (tested in
test_stand_ins.py), and values that are random per run (message ids, receipt handles, times).
"""

from __future__ import annotations

import contextlib
import functools
import json
import string
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from bulk_deployer.ledger_model import table_definition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from local import moto_patches

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
Transcript = list[Any]


@pytest.fixture(autouse=True, scope="module")
def _applied() -> Iterator[None]:
    with moto_patches.applied():
        yield


@contextlib.contextmanager
def _moto(patched: bool) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if not patched:
            stack.enter_context(moto_patches.unpatched())
        stack.enter_context(mock_aws())
        yield


def _both(scenario: Callable[[], Transcript]) -> tuple[Transcript, Transcript]:
    with _moto(patched=False):
        unpatched = scenario()
    with _moto(patched=True):
        patched = scenario()
    # == alone would take True for 1 and a reordered map for the same one: compare the text too.
    assert repr(patched) == repr(unpatched)
    return unpatched, patched


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _answer(call: Callable[[], dict[str, Any]]) -> Any:
    """A response without its metadata, or the error it raised."""
    try:
        response = call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return {"error": error.get("Code"), "message": error.get("Message")}
    response.pop("ResponseMetadata", None)
    return response


# ------------------------------------------------------------------------------ DynamoDB

_text = st.text(alphabet=string.ascii_letters + "é#/ ", max_size=12)
_number = st.integers(min_value=-(10**12), max_value=10**12).map(str) | st.sampled_from(
    ["0", "1.5", "-0.25", "1E+3"]
)
_scalar = st.one_of(
    st.builds(lambda v: {"S": v}, _text),
    st.builds(lambda v: {"N": v}, _number),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"B": v}, st.binary(min_size=1, max_size=8)),
    st.builds(lambda v: {"SS": sorted(v)}, st.sets(_text, min_size=1, max_size=3)),
    st.builds(lambda v: {"NS": sorted(v)}, st.sets(_number, min_size=1, max_size=3)),
    st.builds(
        lambda v: {"BS": sorted(v)}, st.sets(st.binary(min_size=1, max_size=4), min_size=1, max_size=2)
    ),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        # (moto serializes a map member named "" into its parent, patched or not: not tested)
        st.builds(lambda v: {"M": v}, st.dictionaries(_text.filter(bool), inner, max_size=3)),
    ),
    max_leaves=8,
)
_attributes = st.dictionaries(st.sampled_from(["a", "b", "c", "start_request", "note"]), _value, max_size=4)
# Index keys: mostly strings in a few partitions, sometimes absent (the item is not in the index).
_key = st.sampled_from(["q#1", "q#2", "t#1", "t#2", "x"])
_files = st.lists(
    st.tuples(st.text(alphabet="abcdef0123", min_size=1, max_size=6), st.booleans(), _key, _attributes),
    min_size=1,
    max_size=12,
    unique_by=lambda f: f[0],
)


def _ledger_scenario(files: list[tuple[str, bool, str, dict[str, Any]]]) -> Callable[[], Transcript]:
    def scenario() -> Transcript:
        db = _client("dynamodb")
        table = table_definition("ledger")
        db.create_table(**table)
        for token, queued, sort, attributes in files:
            item = {"pk": {"S": f"file#{token}"}, "token": {"S": token}, **attributes}
            if queued:
                item |= {"queue_pk": {"S": "work"}, "queue_sk": {"S": f"{sort}#{token}"}}
            item |= {"object_id": {"S": f"bucket/{sort}"}, "registered_sk": {"S": token}}
            db.put_item(TableName="ledger", Item=item)
        out: Transcript = []

        def get(token: str) -> dict[str, Any]:
            response: dict[str, Any] = db.get_item(TableName="ledger", Key={"pk": {"S": f"file#{token}"}})
            return response

        out += [_answer(functools.partial(get, token)) for token, *_ in files]

        def page(forward: bool, limit: int) -> dict[str, Any]:
            response: dict[str, Any] = db.query(
                TableName="ledger",
                IndexName="queue",
                KeyConditionExpression="queue_pk = :w AND begins_with(queue_sk, :p)",
                ExpressionAttributeValues={":w": {"S": "work"}, ":p": {"S": "q#"}},
                ScanIndexForward=forward,
                Limit=limit,
            )
            return response

        for forward in (True, False):
            for limit in (1, 3, 100):
                out.append(_answer(functools.partial(page, forward, limit)))
        first = _answer(
            lambda: db.query(
                TableName="ledger",
                IndexName="queue",
                KeyConditionExpression="queue_pk = :w",
                ExpressionAttributeValues={":w": {"S": "work"}},
                Limit=2,
            )
        )
        out.append(first)
        if "LastEvaluatedKey" in first:  # the next page
            out.append(
                _answer(
                    lambda: db.query(
                        TableName="ledger",
                        IndexName="queue",
                        KeyConditionExpression="queue_pk = :w",
                        ExpressionAttributeValues={":w": {"S": "work"}},
                        ExclusiveStartKey=first["LastEvaluatedKey"],
                    )
                )
            )
        out.append(
            _answer(
                lambda: db.query(
                    TableName="ledger",
                    IndexName="by_key",
                    KeyConditionExpression="object_id = :o",
                    ExpressionAttributeValues={":o": {"S": "bucket/q#1"}},
                    ScanIndexForward=False,
                )
            )
        )
        out.append(_answer(lambda: db.scan(TableName="ledger")))
        out.append(_answer(lambda: db.scan(TableName="ledger", Limit=2)))
        return out

    return scenario


# No shrinking: each example starts two moto accounts (~0.4 s), and shrinking a failure took minutes.
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(files=_files)
def test_dynamodb_reads_answer_as_moto_does(files: list[tuple[str, bool, str, dict[str, Any]]]) -> None:
    """Serialization of every attribute type, index queries (order, limits, pages), scans."""
    unpatched, patched = _both(_ledger_scenario(files))
    assert patched == unpatched


@settings(max_examples=200, deadline=None)
@given(attributes=_attributes)
def test_item_sizes_are_moto_sizes(attributes: dict[str, Any]) -> None:
    """The 1 MB page limit counts the same bytes."""
    item = Item(DynamoType({"S": "file#x"}), None, {"pk": {"S": "file#x"}, **attributes})
    with moto_patches.unpatched():
        want = [item.size(), *(DynamoType(v).size() for v in attributes.values())]
    assert [item.size(), *(DynamoType(v).size() for v in attributes.values())] == want


def _numeric_index_scenario() -> Transcript:
    """An index sorted by a number and a table with a range key: moto's own sort applies."""
    db = _client("dynamodb")
    db.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_n",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "n", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i, n in enumerate([10, 9, 100, -1, 2.5, 10]):
        db.put_item(
            TableName="t",
            Item={"h": {"S": f"h{i % 2}"}, "r": {"N": str(i * 7 % 5)}, "g": {"S": "g"}, "n": {"N": str(n)}},
        )
    return [
        _answer(
            lambda: db.query(
                TableName="t",
                IndexName="by_n",
                KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"S": "g"}},
            )
        ),
        _answer(
            lambda: db.query(
                TableName="t",
                KeyConditionExpression="h = :h",
                ExpressionAttributeValues={":h": {"S": "h0"}},
                ScanIndexForward=False,
            )
        ),
        _answer(lambda: db.scan(TableName="t")),
    ]


def test_non_string_keys_sort_as_moto_does() -> None:
    unpatched, patched = _both(_numeric_index_scenario)
    assert patched == unpatched


def _transaction_scenario() -> Transcript:
    db = _client("dynamodb")
    db.create_table(**table_definition("ledger"))
    for token in "abcd":
        db.put_item(
            TableName="ledger",
            Item={
                "pk": {"S": f"file#{token}"},
                "state": {"S": "QUEUED"},
                "n": {"N": "1"},
                "m": {"M": {"x": {"L": [{"S": token}]}}},
            },
        )
    db.put_item(TableName="ledger", Item={"pk": {"S": "slot"}, "holder": {"S": "h1"}})

    def transact(*items: dict[str, Any]) -> Any:
        return _answer(lambda: db.transact_write_items(TransactItems=list(items)))

    def update(token: str, condition: str = "#s = :q") -> dict[str, Any]:
        return {
            "Update": {
                "TableName": "ledger",
                "Key": {"pk": {"S": f"file#{token}"}},
                "UpdateExpression": "SET #s = :started, n = n + :one, m.x[0] = :z",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": {
                    ":q": {"S": "QUEUED"},
                    ":started": {"S": "STARTED"},
                    ":one": {"N": "1"},
                    ":z": {"S": "z"},
                },
            }
        }

    slot_taken = {
        "Put": {
            "TableName": "ledger",
            "Item": {"pk": {"S": "slot"}, "holder": {"S": "h2"}},
            "ConditionExpression": "holder = :h",
            "ExpressionAttributeValues": {":h": {"S": "h1"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    new_item = {"Put": {"TableName": "ledger", "Item": {"pk": {"S": "file#new"}, "state": {"S": "RECEIVED"}}}}
    delete = {"Delete": {"TableName": "ledger", "Key": {"pk": {"S": "file#d"}}}}
    out: Transcript = [
        transact(update("a"), slot_taken),  # succeeds
        transact(update("b"), new_item, delete, slot_taken),  # the slot's holder is h2 now: cancelled
        transact(update("c"), update("c")),  # the same item twice: refused, nothing written
        transact(update("a"), new_item),  # a is STARTED already: cancelled
        transact(
            new_item,
            {
                "ConditionCheck": {
                    "TableName": "ledger",
                    "Key": {"pk": {"S": "file#b"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ),
        transact({"Update": {**update("zz")["Update"], "TableName": "missing"}}),
    ]
    out.append(_answer(lambda: db.scan(TableName="ledger")))
    return out


def test_transactions_commit_and_roll_back_as_moto_does() -> None:
    unpatched, patched = _both(_transaction_scenario)
    assert patched == unpatched
    scan = patched[-1]["Items"]
    assert {i["pk"]["S"]: i.get("state", {}).get("S") for i in scan} == {
        "file#a": "STARTED",
        "file#b": "QUEUED",
        "file#c": "QUEUED",
        "file#d": "QUEUED",
        "file#new": "RECEIVED",
        "slot": None,
    }


# ------------------------------------------------------------------------------ SQS


def _message(message: dict[str, Any]) -> dict[str, Any]:
    attributes = {
        k: v
        for k, v in message.get("Attributes", {}).items()
        if k in {"ApproximateReceiveCount", "MessageGroupId", "MessageDeduplicationId"}
    }
    return {"Body": message["Body"], "Attributes": attributes}


def _counts(sqs: Any, url: str) -> dict[str, str]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {k: v for k, v in attributes.items() if k.startswith("ApproximateNumber")}


def _sqs_scenario() -> Transcript:
    sqs = _client("sqs")
    dlq = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fifo = sqs.create_queue(
        QueueName="intake.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    plain = sqs.create_queue(QueueName="plain", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    out: Transcript = []
    for i in range(12):
        sqs.send_message(QueueUrl=fifo, MessageBody=f"m{i}", MessageGroupId="g" if i % 3 else "h")
    sqs.send_message(QueueUrl=fifo, MessageBody="m0", MessageGroupId="h")  # deduplicated
    for i in range(6):
        sqs.send_message(QueueUrl=plain, MessageBody=f"p{i}", DelaySeconds=0 if i % 2 else 30)
    out += [_counts(sqs, fifo), _counts(sqs, plain)]

    def receive(url: str, n: int = 1, visibility: int | None = None) -> list[dict[str, Any]]:
        extra = {} if visibility is None else {"VisibilityTimeout": visibility}
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=n,
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
            **extra,
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    first = receive(fifo)
    out.append([_message(m) for m in first])
    out.append([_message(m) for m in receive(fifo, 10)])  # group g only: h is in flight
    sqs.change_message_visibility(QueueUrl=fifo, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    for _ in range(3):  # received again, then past maxReceiveCount: dead-lettered
        got = receive(fifo, 10, visibility=0)
        out.append([_message(m) for m in got])
        for m in got[1:]:
            sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m["ReceiptHandle"])
    out += [_counts(sqs, fifo), _counts(sqs, dlq), [_message(m) for m in receive(dlq, 10)]]
    out.append([_message(m) for m in receive(plain, 10)])  # the delayed ones stay back
    out.append(_counts(sqs, plain))
    # A message older than the queue's retention period.
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"][REGION].queues["plain"]
    for message in queue._messages:
        message.sent_timestamp -= 120_000  # type: ignore[operator,assignment]
        message.visible_at = 0
    out.append([_message(m) for m in receive(plain, 10)])
    out.append(_counts(sqs, plain))
    return out


def test_sqs_receives_and_counts_as_moto_does() -> None:
    unpatched, patched = _both(_sqs_scenario)
    assert patched == unpatched


def test_the_server_recognises_the_same_services() -> None:
    from moto import backends

    with moto_patches.unpatched():
        want = list(backends.list_of_moto_modules())
    assert list(backends.list_of_moto_modules()) == want
    assert list(backends.list_of_moto_modules()) == want  # the listing is read once, answered again


def test_fifo_messages_sent_at_once_are_received_in_sequence_number_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Numbering and queueing are one step: a send numbered first is queued first.

    The first send is held between taking its number and joining the queue while a second send
    runs; real SQS would never deliver the higher number first.
    """
    from local.moto_patches import sqs as sqs_patch

    numbered = threading.Event()
    calls = iter(range(1_000))
    original = sqs_patch.next_sequence_number

    def slow_first() -> str:
        number = original()
        if next(calls) == 0:
            numbered.set()
            time.sleep(0.3)
        return number

    monkeypatch.setattr(sqs_patch, "next_sequence_number", slow_first)
    with _moto(patched=True):
        sqs = _client("sqs")
        url = sqs.create_queue(
            QueueName="order.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        )["QueueUrl"]

        def send(body: str) -> None:
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")

        first = threading.Thread(target=send, args=("first",))
        first.start()
        assert numbered.wait(5)
        second = threading.Thread(target=send, args=("second",))
        second.start()
        first.join()
        second.join()
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )["Messages"]
    numbers = [int(m["Attributes"]["SequenceNumber"]) for m in received]
    assert [m["Body"] for m in received] == ["first", "second"]
    assert numbers == sorted(numbers)
