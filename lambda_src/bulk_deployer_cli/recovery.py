"""Getting lost work back: ``redrive`` (dead-lettered intake messages) and ``reconcile``
(uploaded objects the ledger never saw).

Why a guard on redrive: a message that failed hours ago names an *older* file; redriving it
after newer files have started would deploy the older versions over the newer ones. The
command shows, per message, which files started since it arrived, and needs ``--force``
when a redriven message would really deploy (its object is still current and not yet
processed) after such files.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from bulk_deployer.contract import INTAKE_MESSAGE_GROUP_ID
from bulk_deployer.events import UnreadableMessage, object_created_event, parse_message_body
from bulk_deployer.input_objects import InputObjectStore
from bulk_deployer.key_spelling import KeySpellingResolver
from bulk_deployer.ledger_model import FileState
from bulk_deployer.objectref import ObjectRef
from bulk_deployer.reconcile import Reconciler
from bulk_deployer.timefmt import iso_of, iso_utc
from bulk_deployer.token import client_token_for

from bulk_deployer_cli.commands import Command, at_least, option
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, Output, table
from bulk_deployer_cli.stack import Target

_SOURCES = {"intake": "IntakeDeadLetterQueueUrl", "events": "EventDeadLetterQueueUrl"}
_RECONCILE_COLUMNS = ("key", "version_id", "etag", "size", "last_modified", "submitted")


# -- redrive --------------------------------------------------------------------------------------


def redrive_command(args: argparse.Namespace) -> int:
    """move dead-lettered intake messages back to the intake queue, oldest first

    Receive dead-lettered messages (oldest first), show which files started since each arrived, and send
    them back to the intake queue with their message group. Refused without --force when a message would
    deploy an older file after newer ones. A FIFO dead-letter queue yields at most 10 messages at a time:
    the check runs batch by batch.
    """
    target: Target = args.target
    source = target.resources.require(_SOURCES[args.source])
    intake = target.resources.require("IntakeQueueUrl")
    sqs = target.client("sqs")
    examined: list[dict[str, Any]] = []
    moved = 0
    refused = False
    while True:
        batch = sqs.receive_message(
            QueueUrl=source,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        batch.sort(key=lambda m: int(m.get("Attributes", {}).get("SentTimestamp", 0)))
        checks = [_check(target, message) for message in batch]
        examined += checks
        if args.dry_run or (any(c["needs_force"] for c in checks) and not args.force):
            refused = not args.dry_run
            for message in batch:  # visible again at once, in the same order
                sqs.change_message_visibility(
                    QueueUrl=source, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            break
        for message, check in zip(batch, checks, strict=True):
            _resend(sqs, intake, message)
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            check["redriven"] = True
            moved += 1
    data = {
        "source": args.source,
        "messages": examined,
        "redriven": moved,
        "refused": refused,
        "dry_run": args.dry_run,
    }
    args.output_writer.result(data, _redrive_text)
    return EXIT_FAILED if refused else EXIT_OK


def _check(target: Target, message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    sent_ms = int(attributes.get("SentTimestamp", 0))
    arrived = iso_utc(sent_ms / 1000)
    check: dict[str, Any] = {
        "message_id": message.get("MessageId"),
        "arrived_at": arrived,
        "files": [],
        "started_since": [],
        "needs_force": False,
        "redriven": False,
    }
    try:
        parsed = parse_message_body(str(message.get("Body", "")))
    except UnreadableMessage as exc:
        check["note"] = f"not a readable S3 event ({exc}); redriven, the starter parks it again"
        return check
    started = target.ledger.started_since(arrived)
    resolver = KeySpellingResolver(target.ledger, InputObjectStore(target.client("s3")))
    tokens = set()
    for obj in parsed.objects:
        try:
            spelling = resolver.resolve(obj)
        except ClientError:
            spelling = obj.spellings[0]
        file = target.ledger.get(spelling.token)
        ref, token = spelling.ref, spelling.token
        tokens.add(token)
        state = file.state.value if file else None
        deploys = (file is None or file.state is FileState.RECEIVED) and _current(target, ref)
        check["files"].append(
            {"key": ref.key, "token": token, "ledger_state": state, "would_deploy": deploys}
        )
    check["started_since"] = [
        {"key": f.ref.key, "token": f.token, "started_at": iso_of(f.started_at) if f.started_at else None}
        for f in started
        if f.token not in tokens
    ]
    check["needs_force"] = any(f["would_deploy"] for f in check["files"]) and bool(check["started_since"])
    return check


def _current(target: Target, ref: ObjectRef) -> bool:
    """Whether the key still holds this version (otherwise the starter marks it superseded)."""
    try:
        head = InputObjectStore(target.client("s3")).head(ref.bucket, ref.key)
    except ClientError:
        return False
    return head is not None and head.is_version_of(ref)


def _resend(sqs: Any, queue_url: str, message: dict[str, Any]) -> None:
    group = message.get("Attributes", {}).get("MessageGroupId") or INTAKE_MESSAGE_GROUP_ID
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=message["Body"],
        MessageGroupId=group,
        # The body may equal one sent minutes ago: content-based deduplication would drop it.
        MessageDeduplicationId=f"redrive-{message.get('MessageId')}-{time.time_ns()}"[:128],
    )


def _redrive_text(data: dict[str, Any]) -> str:
    if not data["messages"]:
        return f"no dead-lettered messages in the {data['source']} dead-letter queue"
    lines = []
    for m in data["messages"]:
        keys = ", ".join(
            f"{f['key']} ({f['ledger_state'] or 'not in the ledger'})" for f in m["files"]
        ) or m.get("note", "-")
        lines.append(f"message {m['message_id']} (arrived {m['arrived_at']}): {keys}")
        for s in m["started_since"]:
            lines.append(f"    started since: {s['key']} at {s['started_at']}")
        if m["needs_force"]:
            lines.append("    ! redriving would deploy this older file after the newer ones above")
    if data["refused"]:
        lines.append("refused: nothing moved; check the files above, then use --force (or leave them)")
    elif data["dry_run"]:
        lines.append("dry run: nothing moved")
    else:
        lines.append(f"redriven: {data['redriven']} message(s)")
    return "\n".join(lines)


# -- reconcile ------------------------------------------------------------------------------------


def reconcile_command(args: argparse.Namespace) -> int:
    """objects under the incoming prefix with no ledger entry; --submit feeds them to the intake

    List current objects under the incoming prefix, modified in the lookback window, whose key has no
    ledger entry with the same ETag (a lost event). --submit sends each to the intake queue as an S3
    Object Created event. Exit 1 when some are found and not submitted.
    """
    target: Target = args.target
    out: Output = args.output_writer
    resources = target.resources
    s3 = target.client("s3")
    reconciler = Reconciler(
        s3,
        target.ledger,
        bucket=resources.bucket,
        prefix=resources.incoming_prefix,
        lookback_days=args.lookback_days,
        min_age_seconds=args.min_age_seconds,
    )
    rows = []
    for obj in reconciler.unprocessed():
        row = {
            "key": obj.key,
            "version_id": obj.version_id,
            "etag": obj.etag,
            "size": obj.size,
            "last_modified": obj.last_modified.isoformat(),
            "submitted": False,
        }
        if args.submit:
            row["submitted"] = _submit(target, s3, obj.ref)
        rows.append(row)
    data = {"unprocessed": rows, "submitted": sum(1 for r in rows if r["submitted"])}
    out.result(
        data,
        lambda d: table(d["unprocessed"], _RECONCILE_COLUMNS, empty="every input object is in the ledger"),
    )
    return EXIT_FAILED if rows and not args.submit else EXIT_OK


def _submit(target: Target, s3: Any, listed: ObjectRef) -> bool:
    """Send the listed version, if still current, to the intake as an EventBridge "Object Created" event."""
    head = InputObjectStore(s3).head(listed.bucket, listed.key)
    if head is None or not head.is_version_of(listed):
        return False  # replaced or deleted since it was listed: its own event covers it
    ref = head.ref(listed.bucket, listed.key)
    token = client_token_for(ref)
    event = object_created_event(
        ref,
        event_id=f"reconcile-{token[:32]}",
        time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        region=target.region_name,
    )
    target.client("sqs").send_message(
        QueueUrl=target.resources.require("IntakeQueueUrl"),
        MessageBody=json.dumps(event),
        MessageGroupId=INTAKE_MESSAGE_GROUP_ID,
        MessageDeduplicationId=token,
    )
    return True


# Registered by main; each command's help is its function's docstring.
COMMANDS = (
    Command(
        "redrive",
        redrive_command,
        options=(
            option(
                "--from",
                dest="source",
                choices=sorted(_SOURCES),
                default="intake",
                help="intake: the intake queue's DLQ (default); events: the EventBridge target's DLQ, "
                "e.g. --from events",
            ),
            option(
                "--force",
                action="store_true",
                help="redrive even if it deploys older files after newer, e.g. --force",
            ),
            option("--dry-run", action="store_true", help="show the check, move nothing, e.g. --dry-run"),
        ),
    ),
    Command(
        "reconcile",
        reconcile_command,
        options=(
            option(
                "--submit", action="store_true", help="send each one found to the intake queue, e.g. --submit"
            ),
            option(
                "--lookback-days",
                type=at_least(1),
                default=3,
                metavar="DAYS",
                help="objects modified in this many days, 1 or more (default 3), e.g. --lookback-days 7",
            ),
            option(
                "--min-age-seconds",
                type=at_least(0),
                default=300,
                metavar="SECONDS",
                help="skip objects younger than this: their events may still be on the way (default 300), "
                "e.g. --min-age-seconds 0",
            ),
        ),
    ),
)
