"""``doctor``: a preflight of a deployed stack and the account, one line per check.

Why: most failed bulk deployments are configuration (no service role, a role Greengrass
cannot assume, a paused queue, another tool's deployment holding the account's one slot);
each check says what is wrong and what to do.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from bulk_deployer_cli.commands import Command
from bulk_deployer_cli.errors import describe
from bulk_deployer_cli.output import EXIT_FAILED, EXIT_OK, check_mark
from bulk_deployer_cli.stack import Target

GREENGRASS_PRINCIPAL = "greengrass.amazonaws.com"
# ListSubscriptionsByTopic: the SubscriptionArn of a subscription nobody has confirmed yet.
PENDING_CONFIRMATION = "PendingConfirmation"


@dataclass
class Check:
    name: str
    ok: bool | None  # None: could not be checked (a warning)
    detail: str
    fix: str = ""


def doctor_command(args: argparse.Namespace) -> int:
    """preflight: the stack's resources, roles, permissions, the deployment slot, paused or not

    Check the stack's resources, the Greengrass service role, the execution role and its trust, whether
    the caller may upload, the account's bulk deployment slot (one per account and region, shared with
    every other tool), whether dispatching is paused and whether the alarms reach anyone (a confirmed
    subscription to the alarm topic). Exit 1 if a check fails.
    """
    target: Target = args.target
    checks = [_guard("stack", lambda: _stack(target))]
    if checks[0].ok:
        for name, check in (
            ("bucket", _bucket),
            ("ledger table", _table),
            ("intake queue", _intake),
            ("intake dead-letter queue", lambda t: _dead_letters(t, "IntakeDeadLetterQueueUrl", "intake")),
            ("event dead-letter queue", lambda t: _dead_letters(t, "EventDeadLetterQueueUrl", "events")),
            ("Greengrass service role", _service_role),
            ("execution role", _execution_role),
            ("caller may upload", _may_upload),
            ("bulk deployment slot", _slot),
            ("dispatching", _paused),
            ("alarm notifications", _alarm_subscribers),
        ):
            checks.append(_guard(name, lambda check=check: check(target)))  # type: ignore[misc]
    failed = sum(1 for c in checks if c.ok is False)
    data = {"ok": failed == 0, "failed": failed, "checks": [asdict(c) for c in checks]}
    args.output_writer.result(data, _text)
    return EXIT_FAILED if failed else EXIT_OK


def _guard(name: str, check: Callable[[], Check]) -> Check:
    try:
        result = check()
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        return Check(name, False, describe(exc))
    result.name = name
    return result


def _text(data: dict[str, Any]) -> str:
    lines = []
    for c in data["checks"]:
        lines.append(f"{check_mark(c['ok'])} {c['name']}: {c['detail']}")
        if c["fix"] and c["ok"] is not True:
            lines.append(f"    → {c['fix']}")
    lines.append("all checks passed" if data["ok"] else f"{data['failed']} check(s) failed")
    return "\n".join(lines)


def _stack(target: Target) -> Check:
    resources = target.resources
    where = "local stand-ins" if target.local else f"region {target.region_name}"
    return Check("", True, f"{resources.stack_name} ({where}): {len(resources.outputs)} outputs")


def _bucket(target: Target) -> Check:
    bucket = target.resources.bucket
    s3 = target.client("s3")
    s3.head_bucket(Bucket=bucket)
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if versioning != "Enabled":
        return Check("", False, f"{bucket} has versioning {versioning or 'off'}", "redeploy the stack")
    return Check("", True, f"{bucket}, versioned; upload under {target.resources.incoming_prefix}")


def _table(target: Target) -> Check:
    table = target.client("dynamodb").describe_table(TableName=target.resources.table)["Table"]
    status = table.get("TableStatus")
    return Check("", status == "ACTIVE", f"{target.resources.table} is {status}")


def _intake(target: Target) -> Check:
    url = target.resources.require("IntakeQueueUrl")
    attributes = target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    waiting = attributes.get("ApproximateNumberOfMessages", "0")
    return Check("", True, f"{url.rsplit('/', 1)[-1]}: {waiting} message(s) waiting")


def _dead_letters(target: Target, output: str, source: str) -> Check:
    url = target.resources.optional(output)
    if not url:
        return Check("", None, f"the stack has no output {output}")
    attributes = target.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    count = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    if count:
        return Check("", False, f"{count} dead-lettered message(s)", f"bulk-deployer redrive --from {source}")
    return Check("", True, "empty")


def _service_role(target: Target) -> Check:
    fix = (
        "aws greengrass associate-service-role-to-account --role-arn "
        "<a role with the AWSGreengrassResourceAccessRolePolicy policy>"
    )
    try:
        role = target.client("greengrass").get_service_role_for_account()
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if status == 404 and message.lstrip().startswith("<"):
            return Check("", None, "not checked: the endpoint does not implement GetServiceRoleForAccount")
        return Check("", False, f"no service role associated with the account ({describe(exc)})", fix)
    if not role.get("RoleArn"):
        return Check("", False, "no service role associated with the account", fix)
    return Check("", True, str(role["RoleArn"]))


def _execution_role(target: Target) -> Check:
    arn = target.resources.execution_role_arn
    role = target.client("iam").get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
    document = role.get("AssumeRolePolicyDocument")
    if isinstance(document, str):
        document = json.loads(unquote(document))
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    trusted = any(
        s.get("Effect") == "Allow"
        and "sts:AssumeRole" in _as_list(s.get("Action"))
        and GREENGRASS_PRINCIPAL in _as_list(dict(s.get("Principal") or {}).get("Service"))
        for s in statements
    )
    if not trusted:
        return Check("", False, f"{arn} does not trust {GREENGRASS_PRINCIPAL}", "redeploy the stack")
    return Check("", True, f"{arn}, trusted by {GREENGRASS_PRINCIPAL}")


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def _may_upload(target: Target) -> Check:
    caller = str(target.client("sts").get_caller_identity()["Arn"])
    principal = caller
    if ":assumed-role/" in caller:  # the session → its role (SimulatePrincipalPolicy needs the role)
        role_name = caller.split(":assumed-role/", 1)[1].split("/", 1)[0]
        principal = target.client("iam").get_role(RoleName=role_name)["Role"]["Arn"]
    resource = f"arn:aws:s3:::{target.resources.bucket}/{target.resources.incoming_prefix}doctor-check.jsonl"
    try:
        results = target.client("iam").simulate_principal_policy(
            PolicySourceArn=principal, ActionNames=["s3:PutObject"], ResourceArns=[resource]
        )["EvaluationResults"]
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        return Check("", None, f"not checked for {caller}: {describe(exc)}")
    decision = results[0].get("EvalDecision") if results else "unknown"
    if decision != "allowed":
        return Check("", False, f"{caller}: s3:PutObject is {decision}", f"allow s3:PutObject on {resource}")
    return Check("", True, f"{caller} may put objects under {target.resources.incoming_prefix}")


def _slot(target: Target) -> Check:
    latest = target.deployer.latest()
    note = "one per account and region, shared with every other tool and stack"
    if latest is None or latest.terminal:
        last = f" (last: {latest.deployment_id} {latest.status})" if latest else ""
        return Check("", True, f"free{last}; {note}")
    file = target.ledger.file_for_bulk_deployment(latest.deployment_id)
    owner = f"ours: {file.ref.key}" if file else "NOT started by this stack"
    return Check("", True, f"{latest.deployment_id} is {latest.status} ({owner}); queued files wait; {note}")


def _paused(target: Target) -> Check:
    reason = target.control.paused()
    if reason is None:
        return Check("", True, "running")
    if reason.startswith("START_FAILED"):
        return Check("", False, f"PAUSED: {reason}", "fix the cause, then `bulk-deployer resume`")
    return Check("", None, f"PAUSED: {reason}", "`bulk-deployer resume` when ready")


def _alarm_subscribers(target: Target) -> Check:
    topic_arn = target.resources.optional("AlarmTopicArn")
    if not topic_arn:
        return Check("", None, "not checked: the stack has no output AlarmTopicArn")
    pages = target.client("sns").get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    try:
        found = [subscription for page in pages for subscription in page.get("Subscriptions", [])]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("AuthorizationError", "AccessDenied"):
            return Check("", None, f"not checked: {describe(exc)}")
        raise
    return alarm_subscribers_check(topic_arn, found)


def alarm_subscribers_check(topic_arn: str, subscriptions: list[dict[str, Any]]) -> Check:
    """Whether the alarms reach anyone: at least one confirmed subscription to the alarm topic.

    Why: nothing fails without one; every alarm goes to ALARM and nobody hears of it. A
    subscription nobody confirmed (SubscriptionArn ``PendingConfirmation``) delivers nothing.
    """
    pending = [s for s in subscriptions if s.get("SubscriptionArn") == PENDING_CONFIRMATION]
    confirmed = [s for s in subscriptions if str(s.get("SubscriptionArn", "")).startswith("arn:")]
    subscribe = (
        f"aws sns subscribe --topic-arn {topic_arn} --protocol email --notification-endpoint you@example.com"
    )
    if confirmed:
        protocols = ", ".join(sorted({str(s.get("Protocol", "?")) for s in confirmed}))
        waiting = f"; {len(pending)} pending confirmation" if pending else ""
        return Check("", True, f"{len(confirmed)} confirmed subscription(s) ({protocols}){waiting}")
    if pending:
        endpoints = ", ".join(str(s.get("Endpoint", "?")) for s in pending)
        return Check(
            "",
            False,
            f"no confirmed subscription, {len(pending)} pending confirmation ({endpoints}): "
            "the alarms reach nobody",
            "confirm it with the link in the e-mail AWS sent (check the spam folder); subscribing "
            f"the address again sends a new one: {subscribe}",
        )
    return Check(
        "",
        False,
        "no subscription to the alarm topic: the alarms reach nobody",
        f"deploy with `cdk deploy -c alarmEmail=you@example.com` and confirm the e-mail, or: {subscribe}",
    )


# Registered by main; each command's help is its function's docstring.
COMMANDS = (Command("doctor", doctor_command),)
