"""Which spelling of an event's key names the object: the one the starter registers and deploys."""

from __future__ import annotations

from bulk_deployer.events import EventObject, KeySpelling
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.ledger import BulkDeploymentLedger


class KeySpellingResolver:
    """For EventBridge keys that may or may not arrive form-encoded (not documented either way).

    The ledger is asked first, so a duplicate costs no S3 read; then S3, for the spelling whose
    object has this ETag (and version). When neither has, the key as delivered: the starter then
    finds it superseded or deleted.
    """

    def __init__(self, ledger: BulkDeploymentLedger, objects: InputObjectStore) -> None:
        self._ledger = ledger
        self._objects = objects

    def resolve(self, obj: EventObject) -> KeySpelling:
        """No I/O for a key with one spelling: the starter's registration is its only ledger call."""
        spellings = obj.spellings
        if not obj.ambiguous:
            return spellings[0]
        for spelling in spellings:
            if self._ledger.get(spelling.token) is not None:
                return spelling
        for spelling in spellings:
            ref = spelling.ref
            head = self._objects.head(ref.bucket, ref.key, ref.s3_version_id)
            if head is not None and head.is_version_of(ref):
                return spelling
        return spellings[0]
