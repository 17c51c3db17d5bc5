"""The DynamoDB patches of ``local.moto_patches``: the same answers as moto's, with less work.

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
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize

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


# (owner, attribute, the original attribute -> its replacement), applied by local.moto_patches.
PATCHES: tuple[tuple[Any, str, Callable[[Any], Any]], ...] = (
    (BaseJSONSerializer, "_serialize_type_structure", _serialize_structure),
    (dynamodb_models, "copy", lambda _: _CopyModule()),
    (DynamoDBBackend, "transact_write_items", _transact),
    (Table, "sorted_items", _sorted_items),
    (Table, "all_items", _all_items),
    (DynamoType, "size", _size),
    (Item, "size", _item_size),
)
