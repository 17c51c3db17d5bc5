"""``doctor``: a preflight of a deployed stack and the account, one line per check.

Why: most failed bulk deployments are configuration (no service role, a role Greengrass
cannot assume, a paused queue, another tool's deployment holding the account's one slot);
each check says what is wrong and what to do. A V1 stack is first asked whether Greengrass V1
still answers at all: AWS ended V1 on 2026-10-07 ("you will no longer be able to access the
AWS IoT Greengrass V1 resources"; what the API answers then is not documented), and the only
fix is a V2 stack. A V2 stack has no execution role and no account-wide slot: it is checked
for what V2 needs instead (both functions deploy with V2, their settings, ListDeployments).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from botocore.parsers import ResponseParserError
from bulk_deployer.config import ConfigurationError, StarterSettings
from bulk_deployer.settings_schema import GREENGRASS_V2
from bulk_deployer.tracker_config import TrackerSettings

from bulk_deployer_cli.commands import Command
from bulk_deployer_cli.errors import cannot_ask, describe
from bulk_deployer_cli.output import EXIT_ERROR, EXIT_FAILED, EXIT_OK, CliError, check_mark
from bulk_deployer_cli.stack import (
    GREENGRASS_SETTING,
    STARTER_FUNCTION_OUTPUT,
    TRACKER_FUNCTION_OUTPUT,
    Target,
)

GREENGRASS_PRINCIPAL = "greengrass.amazonaws.com"
# ListSubscriptionsByTopic: the SubscriptionArn of a subscription nobody has confirmed yet.
PENDING_CONFIRMATION = "PendingConfirmation"
# What a Greengrass V1 call may answer where V1 is gone: denied, unknown, or no endpoint at all.
V1_GONE_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "ResourceNotFoundException", "UnknownOperationException"}
)
REDEPLOY_AS_V2 = (
    "redeploy the stack with `cdk deploy -c greengrass=v2` (docs/deployment.md, "
    '"Greengrass V1 or V2"); V2 deploys to things and thing groups, not V1 groups'
)


@dataclass
class Check:
    name: str
    ok: bool | None  # None: could not be checked (a warning)
    detail: str
    fix: str = ""
    cannot_ask: bool = False  # AWS could not be asked at all (credentials, endpoint): exit 2


def doctor_command(args: argparse.Namespace) -> int:
    """preflight: the stack's resources, roles, permissions, the deployment slot, paused or not

    Check the stack's resources, whether Greengrass V1 still answers (after its end of support it
    does not: then redeploy the stack with -c greengrass=v2), the Greengrass service role, the execution
    role and its trust, whether the caller may upload, the account's bulk deployment slot (one per
    account and region, shared with every other tool), whether dispatching is paused and whether the
    alarms reach anyone (a confirmed subscription to the alarm topic). On a Greengrass V2 stack, instead
    of the V1 checks: both functions deploy with V2 and their settings hold, and ListDeployments answers.
    Exit 1 if a check fails; 2 if the stack cannot be read or AWS cannot be asked at all (no
    credentials, an unreachable endpoint, no such stack), as for every other command.
    """
    target: Target = args.target
    checks = [_guard("stack", lambda: _stack(target))]
    if checks[0].ok:
        checks += _run(target, _RESOURCES)
        if target.is_v1:
            reachable = _guard("Greengrass V1", lambda: _greengrass_v1(target))
            checks.append(reachable)
            # Where V1 does not answer, the checks that call it would only say so again.
            checks += _run(target, _V1 if reachable.ok is not False else _V1_WITHOUT_THE_API)
        else:
            checks += _run(target, _V2)
        checks += _run(target, _QUEUE_AND_ALARMS)
    failed = sum(1 for c in checks if c.ok is False)
    data = {"ok": failed == 0, "failed": failed, "checks": [_shown(c) for c in checks]}
    args.output_writer.result(data, _text)
    if not checks[0].ok or any(c.cannot_ask for c in checks):
        return EXIT_ERROR  # the stack could not be read, or AWS not asked: an error, as everywhere
    return EXIT_FAILED if failed else EXIT_OK


def _run(target: Target, table: tuple[tuple[str, Callable[[Target], Check]], ...]) -> list[Check]:
    return [_guard(name, lambda check=check: check(target)) for name, check in table]  # type: ignore[misc]


def _guard(name: str, check: Callable[[], Check]) -> Check:
    try:
        result = check()
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        return Check(name, False, describe(exc), cannot_ask=cannot_ask(exc))
    except CliError as exc:
        return Check(name, False, str(exc))
    result.name = name
    return result


def _shown(check: Check) -> dict[str, Any]:
    shown = asdict(check)
    del shown["cannot_ask"]
    return shown


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


def v1_unreachable(exc: Exception) -> bool:
    """Whether a Greengrass V1 call's error says V1 is not there (any more) for this account."""
    if isinstance(exc, EndpointConnectionError):
        return True
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in V1_GONE_CODES


def _greengrass_v1(target: Target) -> Check:
    """ListBulkDeployments, the cheapest call a V1 stack depends on (the slot check makes it too)."""
    try:
        target.client("greengrass").list_bulk_deployments(MaxResults="1")
    except (ClientError, EndpointConnectionError) as exc:
        if not v1_unreachable(exc):
            raise
        return Check(
            "",
            False,
            "Greengrass V1 is no longer reachable in this account and region (AWS ended V1 on "
            f"2026-10-07): {describe(exc)}",
            REDEPLOY_AS_V2,
        )
    return Check("", True, "answers (ListBulkDeployments)")


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


def _v2_functions(target: Target) -> Check:
    """Both functions deploy with Greengrass V2 and their deployed settings hold (the starter's
    would refuse an execution role, for one)."""
    tracker: TrackerSettings | None = None
    readers = ((STARTER_FUNCTION_OUTPUT, StarterSettings), (TRACKER_FUNCTION_OUTPUT, TrackerSettings))
    read = []
    for output, settings_class in readers:
        function = target.resources.optional(output)
        if function is None:
            continue
        environment = target.function_environment(function)
        version = environment.get(str(GREENGRASS_SETTING.env)) or GREENGRASS_SETTING.default
        if version != GREENGRASS_V2:
            return Check(
                "",
                False,
                f"{function} deploys with Greengrass {version} ({GREENGRASS_SETTING.env})",
                "redeploy the stack",
            )
        try:
            settings = settings_class.from_env({**environment, "AWS_REGION": target.region_name})
        except ConfigurationError as exc:
            return Check("", False, f"the settings of {function}: {exc}", "redeploy the stack")
        if isinstance(settings, TrackerSettings):
            tracker = settings
        read.append(function)
    if not read:
        return Check("", None, f"not checked: the stack has no output {TRACKER_FUNCTION_OUTPUT}")
    detail = f"{' and '.join(read)} deploy with Greengrass V2"
    if tracker is not None:
        detail += (
            f"; at most {tracker.v2_files_in_flight} file(s) at once, "
            f"{tracker.greengrass_requests_per_second} Greengrass request(s) per second, "
            f"thing groups wait {tracker.thing_group_deadline_minutes} min when a line sets no job timeout"
        )
    return Check("", True, detail)


def _v2_api(target: Target) -> Check:
    """ListDeployments answers the caller (the functions call it with their own role)."""
    target.client("greengrassv2").list_deployments(maxResults=1)
    return Check("", True, "answers (ListDeployments)")


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


_RESOURCES: tuple[tuple[str, Callable[[Target], Check]], ...] = (
    ("bucket", _bucket),
    ("ledger table", _table),
    ("intake queue", _intake),
    ("intake dead-letter queue", lambda t: _dead_letters(t, "IntakeDeadLetterQueueUrl", "intake")),
    ("event dead-letter queue", lambda t: _dead_letters(t, "EventDeadLetterQueueUrl", "events")),
)
_V1: tuple[tuple[str, Callable[[Target], Check]], ...] = (
    ("Greengrass service role", _service_role),
    ("execution role", _execution_role),
    ("caller may upload", _may_upload),
    ("bulk deployment slot", _slot),
)
_V1_WITHOUT_THE_API = tuple(check for check in _V1 if check[1] not in (_service_role, _slot))
_V2: tuple[tuple[str, Callable[[Target], Check]], ...] = (
    ("Greengrass V2 functions", _v2_functions),
    ("Greengrass V2 API", _v2_api),
    ("caller may upload", _may_upload),
)
_QUEUE_AND_ALARMS: tuple[tuple[str, Callable[[Target], Check]], ...] = (
    ("dispatching", _paused),
    ("alarm notifications", _alarm_subscribers),
)

# Registered by main; each command's help is its function's docstring.
COMMANDS = (Command("doctor", doctor_command),)
