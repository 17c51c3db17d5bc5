"""moto 5.2.5 bridged for this pipeline: one missing behaviour, and the hot paths of a long queue.

Applied to the moto running in this process (``MotoServer`` is a ThreadedMotoServer, so the
backends are shared) only while someone holds ``applied()``: ``LocalPipeline`` enters it on start
and leaves it on stop, so nothing after a pipeline (other tests, other stand-ins) runs on patched
moto. ``applied()`` refuses a moto other than ``WRITTEN_FOR``: each patch copies or replaces a
piece of moto's code as it is in that version. ``unpatched()`` puts moto's own code back for a
while, so tests can compare the two on the same data (tests/e2e/test_moto_patches.py).

Behaviour — FIFO sequence numbers. Real SQS gives every message of a FIFO queue a
``SequenceNumber`` that grows within its message group, and Lambda's event source passes it to
the function; the starter uses it as the arrival order of queued files. moto sets it only when
the sender passes an explicit deduplication id, and then as 20 *random* digits; EventBridge's
deliveries (content-based deduplication) get none. ``Queue.add_message`` numbers every message of
a FIFO queue from one increasing counter, before the message becomes visible.

Speed — each patch below returns what moto returns (same values, same order, same errors); it
only does less work. Why: with ~1,000 files in the ledger and ~1,000 messages in the intake queue
(``make soak``), moto's cost per call grows with the data and a tracker run took ~1 s of moto time,
so starts (about one per tracker run) crawled. Profile figures are in docs/reliability.md ("Load").

- DynamoDB responses: moto's generic response serializer walks every ``AttributeValue`` through
  the botocore shape model (~0.1 ms per attribute; two thirds of a 200-item Query). An attribute
  value that is already plain wire JSON (``S``/``N`` strings, ``BOOL``/``NULL`` booleans,
  ``SS``/``NS`` string lists, ``L``/``M`` of such values) is copied as it is; anything else
  (binary, unexpected types) still goes through moto's serializer.
- DynamoDB ``TransactWriteItems``: moto backs up every table a transaction names with a deep copy
  of the whole table (once per item of the transaction), to restore it if the transaction is
  cancelled: O(table) per call. The backup here is a copy of the table whose items are shared,
  except the items the transaction names, which are deep-copied: a transaction writes no other
  item, so restoring it gives the same table. Tables with a stream keep moto's full copy (the
  stream records are table state too).
- DynamoDB queries and scans: moto sorts every item of the table by its key, then the index's
  matches by their keys, with ``DynamoType`` comparisons (a cast per comparison). When every
  sort attribute is a string (``S``) — a table with a hash key only, for the first sort — the
  items are sorted by the plain strings: the same order (``DynamoType`` compares ``S`` values as
  Python strings; both sorts are stable); otherwise moto's sort. And the size of each item is
  computed twice per result (the 1 MB page limit) through a chain of type tests per value; the
  same sizes are computed directly (sets still by moto).
- SQS ``Queue.messages`` and the approximate counts (every receive and GetQueueAttributes) asked
  the clock twice per message in the queue (a datetime round trip each); they read it once per
  call: the same result as moto's at one instant.
- SQS receive checks each received message's retention period through
  ``get_queue_attributes``, which computes every attribute of the queue, including the three
  approximate counts (three more scans of the queue); it reads the queue's retention period.
- The server's dispatcher lists moto's package directory (``os.listdir`` + ``isdir`` of ~150
  entries) on every request to recognise service names; the listing is read once.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import moto.backends
import moto.dynamodb.models as dynamodb_models
from moto.core.serialize import BaseJSONSerializer
from moto.core.utils import unix_time, unix_time_millis
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.sqs.models import Message, Queue, SQSBackend

WRITTEN_FOR = "5.2.5"
"""The moto version every patch was read against (requirements-dev.txt pins it)."""

_lock = threading.Lock()
# Starts at the current time in nanoseconds, so numbers keep growing across moto resets and
# processes (real sequence numbers are up to 128-bit decimals; 20 digits is what moto emits).
_counter = itertools.count(time.time_ns())


def next_sequence_number() -> str:
    with _lock:
        return str(next(_counter)).rjust(20, "0")


# ---------------------------------------------------------------------------------- SQS


def _add_message(original: Callable[[Queue, Message], None]) -> Callable[[Queue, Message], None]:
    @functools.wraps(original)
    def add_message(self: Queue, message: Message) -> None:
        if self.fifo_queue:
            message.sequence_number = next_sequence_number()
        original(self, message)

    return add_message


def _messages(_: Any) -> property:
    def messages(self: Queue) -> list[Message]:
        now = unix_time_millis()  # Message.visible: now > visible_at; .delayed: now < delayed_until
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    return property(messages)


def _not_visible(_: Any) -> property:
    def approximate_number_of_messages_not_visible(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    return property(approximate_number_of_messages_not_visible)


def _delayed(_: Any) -> property:
    def approximate_number_of_messages_delayed(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    return property(approximate_number_of_messages_delayed)


_RetentionCheck = Callable[[SQSBackend, str, Message], bool]


def _retention(original: _RetentionCheck) -> _RetentionCheck:
    @functools.wraps(original)
    def is_message_valid_based_on_retention_period(
        self: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        retention_period = getattr(self.get_queue(queue_name), "message_retention_period", None)
        if retention_period is None:  # moto's own path raises (KeyError) here
            return original(self, queue_name, message)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    return is_message_valid_based_on_retention_period


# ---------------------------------------------------------------------------------- server


def _list_of_moto_modules(original: Callable[[], Iterator[str]]) -> Callable[[], Iterator[str]]:
    listing: list[tuple[str, ...]] = []

    @functools.wraps(original)
    def list_of_moto_modules() -> Iterator[str]:
        if not listing:
            listing.append(tuple(original()))
        return iter(listing[0])

    return list_of_moto_modules


# ---------------------------------------------------------------------------------- DynamoDB

_NOT_PLAIN = object()
_STRING_TAGS = frozenset({"S", "N"})
_BOOLEAN_TAGS = frozenset({"BOOL", "NULL"})
_SET_TAGS = frozenset({"SS", "NS"})


def plain_attribute_value(value: Any) -> Any:
    """A copy of ``value`` when it is an AttributeValue in plain wire JSON, else ``_NOT_PLAIN``."""
    if type(value) is not dict or len(value) != 1:
        return _NOT_PLAIN
    ((tag, inner),) = value.items()
    if tag in _STRING_TAGS:
        return {tag: inner} if type(inner) is str else _NOT_PLAIN
    if tag in _BOOLEAN_TAGS:
        return {tag: inner} if type(inner) is bool else _NOT_PLAIN
    if tag in _SET_TAGS:
        if type(inner) is list and all(type(v) is str for v in inner):
            return {tag: list(inner)}
        return _NOT_PLAIN
    if tag == "L":
        if type(inner) is not list:
            return _NOT_PLAIN
        members = [plain_attribute_value(v) for v in inner]
        return _NOT_PLAIN if any(m is _NOT_PLAIN for m in members) else {tag: members}
    if tag == "M":
        if type(inner) is not dict:
            return _NOT_PLAIN
        entries = {}
        for k, v in inner.items():
            plain = plain_attribute_value(v)
            if type(k) is not str or plain is _NOT_PLAIN:
                return _NOT_PLAIN
            entries[k] = plain
        return {tag: entries}
    return _NOT_PLAIN


def _serialize_structure(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def _serialize_type_structure(
        self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str
    ) -> None:
        if key and shape.name == "AttributeValue" and self.service_model.service_name == "dynamodb":
            plain = plain_attribute_value(value)
            if plain is not _NOT_PLAIN:
                self._default_serialize(serialized, plain, shape, key)
                return
        original(self, serialized, value, shape, key)

    return _serialize_type_structure


_transaction = threading.local()  # .keys: {table name: [(hash, range)]} during TransactWriteItems


def _touched_keys(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> dict[str, list[Any]] | None:
    """The items a transaction names, by table; None if any is unclear (moto's full backup then)."""
    keys: dict[str, list[tuple[DynamoType, DynamoType | None]]] = {}
    try:
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            key = op["Item"] if op_type == "Put" else op["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            keys.setdefault(table.name, []).append((hash_value, range_value))
    except Exception:
        return None
    return keys


def _backup(table: Table, keys: list[tuple[DynamoType, DynamoType | None]]) -> Table:
    """A copy of ``table`` sharing its items, except deep copies of those at ``keys``."""
    backup = copy.copy(table)
    items = copy.copy(table.items)
    if table.range_key_attr:
        for hash_value in list(items):
            items[hash_value] = dict(items[hash_value])
    for hash_value, range_value in keys:
        if range_value is None:
            if hash_value in table.items:
                items[hash_value] = copy.deepcopy(table.items[hash_value])
        elif hash_value in table.items and range_value in table.items[hash_value]:
            items[hash_value][range_value] = copy.deepcopy(table.items[hash_value][range_value])
    backup.items = items
    return backup


class _CopyModule:
    """``copy`` as moto.dynamodb.models sees it: a Table named by the running transaction is
    backed up by ``_backup``; everything else is ``copy`` itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        keys: dict[str, list[Any]] | None = getattr(_transaction, "keys", None)
        if (
            keys is not None
            and type(value) is Table
            and value.name in keys
            and value.stream_shard is None
            and memo is None
        ):
            return _backup(value, keys[value.name])
        return copy.deepcopy(value, memo)


def _transact(original: Callable[[DynamoDBBackend, list[dict[str, Any]]], None]) -> Callable[..., None]:
    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        _transaction.keys = _touched_keys(self, transact_items)
        try:
            original(self, transact_items)
        finally:
            _transaction.keys = None

    return transact_write_items


def _sorted_items(original: Callable[..., list[Item]]) -> Callable[..., list[Item]]:
    @functools.wraps(original)
    def sorted_items(
        self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Item]
    ) -> list[Item]:
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        try:
            keys = {id(i): tuple(_string_value(i.attrs[a]) for a in attrs) for i in items}
        except (_NotString, KeyError):  # moto's sort (and its KeyError) then
            return original(self, hash_key_attrs, range_key_attrs, items)
        items.sort(key=lambda i: keys[id(i)])
        return items

    return sorted_items


def _all_items(original: Callable[[Table], list[Item]]) -> Callable[[Table], list[Item]]:
    @functools.wraps(original)
    def all_items(self: Table) -> list[Item]:
        if self.range_key_attr:
            return original(self)
        items: list[Item] = list(self.items.values())  # type: ignore[arg-type]  # hash key only
        try:
            keys = {id(i): _string_value(i.hash_key) for i in items}
        except (_NotString, AttributeError):  # moto's sort (and its errors) then
            return original(self)
        return sorted(items, key=lambda i: keys[id(i)])

    return all_items


def _size(original: Callable[[DynamoType], int]) -> Callable[[DynamoType], int]:
    @functools.wraps(original)
    def size(self: DynamoType) -> int:
        kind, value = self.type, self.value
        if kind == "N":
            return len(str(value))
        if kind == "L":
            return sum(v.size() for v in value)
        if kind == "M":
            return sum(
                bytesize(k) + (v if type(v) is DynamoType else DynamoType(v)).size() for k, v in value.items()
            )
        if kind in ("SS", "NS", "BS"):
            return original(self)
        return 1 if isinstance(value, bool) else bytesize(value)

    return size


def _item_size(original: Callable[[Item], int]) -> Callable[[Item], int]:
    @functools.wraps(original)
    def size(self: Item) -> int:
        total = 0
        for key, value in self.attrs.items():
            total += bytesize(key)
            if value.type == "S" and type(value.value) is str:
                total += len(value.value.encode("utf-8"))
            else:
                total += value.size()
        return total

    return size


class _NotString(Exception):
    pass


def _string_value(value: DynamoType) -> str:
    if value.type != "S" or type(value.value) is not str:
        raise _NotString
    return value.value


# ---------------------------------------------------------------------------------- install


@dataclass(frozen=True)
class _Patch:
    owner: Any
    name: str
    make: Callable[[Any], Any]  # the original attribute -> its replacement


_PATCHES = (
    _Patch(Queue, "add_message", _add_message),
    _Patch(Queue, "messages", _messages),
    _Patch(Queue, "approximate_number_of_messages_not_visible", _not_visible),
    _Patch(Queue, "approximate_number_of_messages_delayed", _delayed),
    _Patch(SQSBackend, "is_message_valid_based_on_retention_period", _retention),
    _Patch(moto.backends, "list_of_moto_modules", _list_of_moto_modules),
    _Patch(BaseJSONSerializer, "_serialize_type_structure", _serialize_structure),
    _Patch(dynamodb_models, "copy", lambda _: _CopyModule()),
    _Patch(DynamoDBBackend, "transact_write_items", _transact),
    _Patch(Table, "sorted_items", _sorted_items),
    _Patch(Table, "all_items", _all_items),
    _Patch(DynamoType, "size", _size),
    _Patch(Item, "size", _item_size),
)


class MotoVersionError(RuntimeError):
    """The installed moto is not the one the patches were written for."""


def targets() -> tuple[tuple[Any, str], ...]:
    """Every (owner, attribute name) the patches replace."""
    return tuple((patch.owner, patch.name) for patch in _PATCHES)


def check_moto_version() -> None:
    installed_version = importlib.metadata.version("moto")
    if installed_version != WRITTEN_FOR:
        raise MotoVersionError(
            f"local/moto_patches.py was written for moto {WRITTEN_FOR}, and moto {installed_version} "
            f"is installed: install moto[server]=={WRITTEN_FOR} (requirements-dev.txt), or check each "
            "patch against the new moto's code, run tests/e2e/test_moto_patches.py and change WRITTEN_FOR"
        )


class _State:
    """moto's own attributes while patched, and how many ``applied()`` are open."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.originals: dict[tuple[int, str], Any] = {}
        self.holders = 0

    def swap(self, replacements: dict[tuple[int, str], Any]) -> dict[tuple[int, str], Any]:
        """Set every target to its replacement; what was there before."""
        before: dict[tuple[int, str], Any] = {}
        for patch in _PATCHES:
            key = (id(patch.owner), patch.name)
            before[key] = patch.owner.__dict__[patch.name]
            setattr(patch.owner, patch.name, replacements[key])
        return before


_state = _State()


@contextmanager
def applied() -> Iterator[None]:
    """moto patched for the duration; nests (and across threads): the last holder to leave restores
    moto's own code. Refuses (MotoVersionError) a moto version the patches were not written for."""
    with _state.lock:
        if _state.holders == 0:
            check_moto_version()
            _state.originals = _state.swap(
                {(id(p.owner), p.name): p.make(p.owner.__dict__[p.name]) for p in _PATCHES}
            )
        _state.holders += 1
    try:
        yield
    finally:
        with _state.lock:
            _state.holders -= 1
            if _state.holders == 0:
                _state.swap(_state.originals)
                _state.originals = {}


def installed() -> bool:
    return bool(_state.originals)


@contextmanager
def unpatched() -> Iterator[None]:
    """moto's own code for the duration (tests compare results; not while a server is serving)."""
    with _state.lock:
        patched = _state.swap(_state.originals) if _state.originals else None
    try:
        yield
    finally:
        with _state.lock:
            if patched is not None and _state.originals:  # else the last applied() left meanwhile
                _state.swap(patched)
