"""Which spelling of an event's key names the object: the one the starter registers and deploys."""

from __future__ import annotations

from dataclasses import dataclass

from bulk_deployer.events import EventObject, KeySpelling
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.ledger import BulkDeploymentLedger
from bulk_deployer.ledger_model import LedgerFile


@dataclass(frozen=True)
class ResolvedObject:
    spelling: KeySpelling
    # The ledger entry of that spelling's token, if the file is known already.
    file: LedgerFile | None


class KeySpellingResolver:
    """For EventBridge keys that may or may not arrive form-encoded (not documented either way).

    The ledger is asked first, so a duplicate costs no S3 read; then S3, for the spelling whose
    object has this ETag (and version). When neither has, the key as delivered: the starter then
    finds it superseded or deleted.
    """

    def __init__(self, ledger: BulkDeploymentLedger, objects: InputObjectStore) -> None:
        self._ledger = ledger
        self._objects = objects

    def resolve(self, obj: EventObject) -> ResolvedObject:
        spellings = obj.spellings
        if not obj.ambiguous:
            return ResolvedObject(spellings[0], self._ledger.get(spellings[0].token))
        for spelling in spellings:
            file = self._ledger.get(spelling.token)
            if file is not None:
                return ResolvedObject(spelling, file)
        for spelling in spellings:
            ref = spelling.ref
            head = self._objects.head(ref.bucket, ref.key, ref.s3_version_id)
            if head is not None and head.is_version_of(ref):
                return ResolvedObject(spelling, None)
        return ResolvedObject(spellings[0], None)
