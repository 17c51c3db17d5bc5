"""The S3 "Object Created" event of an object version, as EventBridge delivers it: what every
benchmark hands the starter (a later delivery of the same version is the same event again)."""

from __future__ import annotations

import json
import uuid

from bulk_deployer.events import object_created_event
from bulk_deployer.objectref import ObjectRef

REGION, ACCOUNT = "us-east-1", "123456789012"


def eventbridge_body(ref: ObjectRef) -> str:
    event = object_created_event(
        ref, event_id=str(uuid.uuid4()), time="2026-11-30T00:00:00Z", region=REGION, account=ACCOUNT
    )
    return json.dumps(event)
