"""One line of a Greengrass V2 input file: one target, one ``CreateDeployment`` request.

A line is the request you would send for that target, minus ``clientToken`` (each target's
token is ours, derived from the file's), plus one option of ours, ``updateMode``:

- ``targetArn`` (required): ``arn:<partition>:iot:<region>:<account>:thing/<name>`` or
  ``...:thinggroup/<name>``, the name 1 to 128 of ``[a-zA-Z0-9:_-]``, in this stack's partition,
  region and account, and in its allow-list when it has one;
- ``components`` (required, an object): component name (1 to 128) → ``componentVersion``
  (required, 1 to 64), ``configurationUpdate`` (``merge``: a JSON object, given as an object
  or as the JSON string the API takes, at most 10,485,760 characters as a string; ``reset``:
  RFC 6901 JSON pointers of at most 256 characters), ``runWith`` (``posixUser`` ``user`` or
  ``user:group``, ``windowsUser``, ``systemResourceLimits`` {``memory`` KB, ``cpus``});
- optional ``deploymentName`` (1 to 256), ``deploymentPolicies`` and ``iotJobConfiguration``
  (``policies``), ``tags`` (1 to ``MAX_LINE_TAGS``; keys 1 to 128, values up to 256);
- ``updateMode``: ``REPLACE`` (the default, the API's meaning: components the line omits are
  uninstalled from the target) or ``MERGE`` (the line's components overlay the target's latest
  deployment, read when the deployment starts).

Any other member is refused by name, ``parentTargetArn`` included (subdeployments are not
supported). ``create_deployment_kwargs`` turns a valid line into the exact boto3 request.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from bulk_deployer.contract import FILE_TOKEN_TAG, TOKEN_TAG
from bulk_deployer.deployers.greengrass_v2.checks import (
    UNKNOWN_MEMBER,
    At,
    Check,
    Problem,
    array,
    choice,
    integer,
    kind,
    number,
    shown,
    structure,
    text,
)
from bulk_deployer.deployers.greengrass_v2.policies import (
    JOB_CODE,
    POLICIES_CODE,
    deployment_policies,
    job_configuration,
)
from bulk_deployer.line_checks import repeated_key, utf16_units
from bulk_deployer.tags import MAX_KEY_CHARS, MAX_TAGS, MAX_VALUE_CHARS, invalid_tag_character

MAX_NAME_CHARS = 128  # a thing's or thing group's name, a component's name
MAX_COMPONENT_VERSION_CHARS = 64
MAX_DEPLOYMENT_NAME_CHARS = 256
MAX_MERGE_CHARS = 10_485_760
MAX_RESET_POINTER_CHARS = 256
MAX_MEMORY_KB = 9_223_372_036_854_771_712  # the model's maximum
# The tags bulk-deployer puts on each deployment: its own token and its file's.
RESERVED_TAG_KEYS = frozenset(key.lower() for key in (TOKEN_TAG, FILE_TOKEN_TAG))
# AWS allows 50 user tags on a resource; each deployment also carries our two token tags.
MAX_LINE_TAGS = MAX_TAGS - len(RESERVED_TAG_KEYS)
# The deployment document's sizes: "7 KB" for a thing, "31 KB" for a thing group, up to "10 MB"
# as a large deployment document. Read as thousands of bytes, the stricter reading, because AWS
# counts overhead that the request does not show.
THING_DOCUMENT_BYTES = 7_000
THING_GROUP_DOCUMENT_BYTES = 31_000
LARGE_DOCUMENT_BYTES = 10_000_000
DOCUMENT_MEMBERS = ("components", "deploymentPolicies", "iotJobConfiguration")

TARGET_ARN = re.compile(
    r"arn:(?P<partition>[^:]*):iot:(?P<region>[^:]*):(?P<account>[0-9]+):"
    r"(?P<kind>thing|thinggroup)/(?P<name>[a-zA-Z0-9:_-]{1,128})"
)
_POSIX_USER = re.compile(r"[^:]+(?::[^:]+)?")  # user, or user:group
_JSON_POINTER = re.compile(r"(?:/(?:[^~/]|~[01])*)*")  # RFC 6901: "" (the whole document) or /a/b~1c


class UpdateMode(StrEnum):
    """How a line's components meet what the target runs (our option, not the API's)."""

    REPLACE = "REPLACE"  # the API's meaning: components the line omits are uninstalled
    MERGE = "MERGE"  # the line overlays the target's latest deployment, read at start


@dataclass(frozen=True)
class StackRules:
    """What the stack decides about every line: where its targets are, which, how large a document.

    ``allowed_targets``: the stack's allow-list of full target ARNs, or None for any target in
    its account and region. ``allow_large_documents``: whether the fleet can take deployment
    documents over 7,000 (thing) / 31,000 (thing group) bytes, up to 10,000,000: devices then
    need Greengrass nucleus 2.3.0 or later and greengrass:GetDeploymentConfiguration in their
    token exchange role.
    """

    partition: str
    region: str
    account: str
    allowed_targets: frozenset[str] | None = None
    allow_large_documents: bool = False


@dataclass(frozen=True)
class LineCheck:
    """A line's problems, and its target ARN when well formed (in the stack's scope or not)."""

    problems: list[Problem] = field(default_factory=list)
    target_arn: str | None = None


def _merge(at: At, value: Any) -> None:
    """A JSON object, as an object or as the JSON string the API takes, within the API's length."""
    if type(value) is dict:
        try:
            serialized = orjson.dumps(value).decode()
        except orjson.JSONEncodeError as exc:  # nested deeper than a JSON writer goes
            at.problem(f"cannot be written as the JSON string the API takes: {exc}")
            return
    elif type(value) is str:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            at.problem(f"is a string that is not strict JSON: {exc}")
            return
        if type(parsed) is not dict:
            at.problem(f"must hold a JSON object, got a string holding {kind(parsed)}")
            return
        if (repeated := repeated_key(value.encode(), parsed)) is not None:
            at.problem(f"names {repeated} more than once")
            return
        serialized = value
    else:
        at.problem(f"must be a JSON object, or a string holding one, got {kind(value)}")
        return
    text(at, serialized, max_chars=MAX_MERGE_CHARS)


def _reset_pointer(at: At, value: Any) -> None:
    pointer = text(at, value, min_chars=0, max_chars=MAX_RESET_POINTER_CHARS)
    if pointer is not None and _JSON_POINTER.fullmatch(pointer) is None:
        at.problem(
            f"must be a JSON pointer (RFC 6901: empty, or /key/key with ~0 and ~1), got {shown(pointer)}"
        )


def _posix_user(at: At, value: Any) -> None:
    user = text(at, value)
    if user is not None and _POSIX_USER.fullmatch(user) is None:
        at.problem(f"must be user or user:group, got {shown(user)}")


def _run_with(at: At, value: Any) -> None:
    structure(
        at,
        value,
        {
            "posixUser": _posix_user,
            "windowsUser": text,
            "systemResourceLimits": lambda a, v: structure(
                a,
                v,
                {
                    "memory": lambda a2, v2: integer(a2, v2, 0, MAX_MEMORY_KB),
                    "cpus": lambda a2, v2: number(a2, v2, 0),
                },
            ),
        },
    )


def _component(at: At, value: Any) -> None:
    structure(
        at,
        value,
        {
            "componentVersion": lambda a, v: text(a, v, max_chars=MAX_COMPONENT_VERSION_CHARS),
            "configurationUpdate": lambda a, v: structure(
                a, v, {"merge": _merge, "reset": lambda a2, v2: array(a2, v2, _reset_pointer)}
            ),
            "runWith": _run_with,
        },
        required=("componentVersion",),
        codes={
            "componentVersion": "invalid_component_version",
            "configurationUpdate": "invalid_configuration_update",
            "runWith": "invalid_run_with",
        },
    )


def _components(at: At, value: Any) -> None:
    if type(value) is not dict:
        at.problem(
            f"must be an object of component name → componentVersion and options, got {kind(value)}",
            "missing_components",
        )
        return
    for name, spec in value.items():
        component = at.key(name)
        length = utf16_units(name)
        if not 1 <= length <= MAX_NAME_CHARS:
            component.problem(
                f"has a name of {length:,} characters; a component name is 1 to {MAX_NAME_CHARS}",
                "invalid_component_name",
            )
        _component(component, spec)


def _tag_text(at: At, value: Any, *, min_chars: int, max_chars: int) -> str | None:
    checked = text(at, value, min_chars=min_chars, max_chars=max_chars)
    if checked is not None and (bad := invalid_tag_character(checked)) is not None:
        at.problem(f"holds {shown(bad)}: tags take letters, digits, spaces and _ . : / = + - @")
        return None
    return checked


def _tags(at: At, value: Any) -> None:
    if type(value) is not dict:
        at.problem(f"must be an object of tag key → value, got {kind(value)}")
        return
    if not 1 <= len(value) <= MAX_LINE_TAGS:
        at.problem(
            f"must hold 1 to {MAX_LINE_TAGS} tags, got {len(value)} (AWS allows {MAX_TAGS} user tags "
            "on a deployment, and each carries our two token tags)"
        )
    for key, tag_value in value.items():
        tag = at.key(key)
        checked = _tag_text(tag.with_code("invalid_tags"), key, min_chars=1, max_chars=MAX_KEY_CHARS)
        if checked is not None and checked.lower().startswith("aws:"):
            tag.problem("is a reserved tag key: keys starting with aws: are AWS's", "reserved_tag_key")
        elif checked is not None and checked.lower() in RESERVED_TAG_KEYS:
            tag.problem(
                "is a reserved tag key: bulk-deployer tags each deployment with its and its file's token",
                "reserved_tag_key",
            )
        _tag_text(tag, tag_value, min_chars=0, max_chars=MAX_VALUE_CHARS)


_MEMBERS: dict[str, Check] = {
    "targetArn": lambda a, v: None,  # against the stack's rules: _target
    "components": _components,
    "deploymentName": lambda a, v: text(a, v, max_chars=MAX_DEPLOYMENT_NAME_CHARS),
    "deploymentPolicies": deployment_policies,
    "iotJobConfiguration": job_configuration,
    "tags": _tags,
    "updateMode": lambda a, v: choice(a, v, tuple(UpdateMode)),
}
_MEMBER_CODES = {
    "components": "invalid_component",
    "deploymentName": "invalid_deployment_name",
    "deploymentPolicies": POLICIES_CODE,
    "iotJobConfiguration": JOB_CODE,
    "tags": "invalid_tags",
    "updateMode": "invalid_update_mode",
}
_REFUSED_MEMBERS = {
    "clientToken": "is set by bulk-deployer: each target's deployment gets its own token, derived "
    "from the file's (remove it)",
    "parentTargetArn": "is not supported: bulk-deployer creates no subdeployments (remove it)",
}


def check_line(obj: dict[str, Any], stack: StackRules) -> LineCheck:
    """Every problem of one parsed line, and its target ARN when that is well formed."""
    problems: list[Problem] = []
    at = At(problems, UNKNOWN_MEMBER, "")
    target = _target(at.member("targetArn", "invalid_target_arn"), obj.get("targetArn"), stack)
    structure(at, obj, _MEMBERS, codes=_MEMBER_CODES, unknown=_REFUSED_MEMBERS)
    if "components" not in obj:
        at.member("components").problem(
            "is required: the components to deploy, by name", "missing_components"
        )
    if target is not None and type(obj.get("components")) is dict:
        _document_size(at, obj, target, stack)
    return LineCheck(problems, target.group() if target else None)


def _target(at: At, value: Any, stack: StackRules) -> re.Match[str] | None:
    """The target ARN's parts when it is well formed (in the stack's scope or not), else None."""
    if type(value) is not str or not value:
        at.problem("is missing, null, empty or not a string", "missing_target_arn")
        return None
    target = TARGET_ARN.fullmatch(value)
    if target is None:
        at.problem(
            f"must be arn:<partition>:iot:<region>:<account>:thing/<name> or …:thinggroup/<name>, the name "
            f"1 to {MAX_NAME_CHARS} of a-z A-Z 0-9 : _ -; got {shown(value)}"
        )
        return None
    expected = {"partition": stack.partition, "region": stack.region, "account": stack.account}
    wrong = [f"{part} {target[part]!r}" for part, want in expected.items() if target[part] != want]
    if wrong:
        at.problem(
            f"is in {', '.join(wrong)}; this stack deploys in partition {stack.partition!r}, region "
            f"{stack.region!r}, account {stack.account!r}",
            "target_outside_stack",
        )
    elif stack.allowed_targets is not None and value not in stack.allowed_targets:
        at.problem(f"{shown(value)} is not in this stack's deployable targets", "target_not_allowed")
    return target


def document_bytes(line: Mapping[str, Any]) -> int:
    """The size of a line's deployment document, as the validator counts it against the limits.

    The document is what Greengrass sends each device: we count the compact JSON (UTF-8, no
    spaces) of the request's ``components`` (each ``merge`` as the string the API takes),
    ``deploymentPolicies`` and ``iotJobConfiguration``, as ``create_deployment_kwargs`` sends
    them. AWS adds overhead of its own, so a document close to a limit may still be over it.
    """
    request = create_deployment_kwargs(line)
    return len(orjson.dumps({name: request[name] for name in DOCUMENT_MEMBERS if name in request}))


def _document_size(at: At, line: Mapping[str, Any], target: re.Match[str], stack: StackRules) -> None:
    try:
        size = document_bytes(line)
    except orjson.JSONEncodeError:  # a member nested too deeply: reported where it is
        return
    thing = target["kind"] == "thing"
    limit, kind_name = (
        (THING_DOCUMENT_BYTES, "thing") if thing else (THING_GROUP_DOCUMENT_BYTES, "thing group")
    )
    if stack.allow_large_documents and size > LARGE_DOCUMENT_BYTES:
        at.problem(
            f"the deployment document is {size:,} bytes; Greengrass takes at most {LARGE_DOCUMENT_BYTES:,}",
            "document_too_large",
        )
    elif not stack.allow_large_documents and size > limit:
        at.problem(
            f"the deployment document is {size:,} bytes, over the {limit:,} of a {kind_name} target: "
            "Greengrass would send it as a large deployment document, which devices read only with "
            "Greengrass nucleus 2.3.0 or later and greengrass:GetDeploymentConfiguration in their token "
            "exchange role; this stack does not allow large deployment documents",
            "document_too_large",
        )


def update_mode(line: Mapping[str, Any]) -> UpdateMode:
    """A valid line's update mode: how its components meet what the target runs."""
    return UpdateMode(line.get("updateMode", UpdateMode.REPLACE))


def create_deployment_kwargs(line: Mapping[str, Any]) -> dict[str, Any]:
    """The exact boto3 ``greengrassv2.create_deployment`` arguments of a valid line.

    Without ``clientToken`` (the deployer adds each target's) and without ``updateMode`` (ours,
    not the API's); a ``merge`` given as an object becomes the compact JSON string the API takes.
    The line is not changed.
    """
    request = {name: copy.deepcopy(value) for name, value in line.items() if name != "updateMode"}
    for spec in request.get("components", {}).values():
        update = spec.get("configurationUpdate") if type(spec) is dict else None
        if type(update) is dict and type(update.get("merge")) is dict:
            update["merge"] = orjson.dumps(update["merge"]).decode()
    return request
