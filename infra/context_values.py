"""How one cdk.json context value is read and checked: the parsers behind ``infra.config``.

Values given with ``-c`` on the command line arrive as strings; values in ``cdk.json`` keep
their JSON type. Both are accepted. Most settings are read from their schema entry alone (type,
bounds, choices); the few with more rules (tags, ARNs, GroupIds, ...) have a parser here. Every
error names the context key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from bulk_deployer.config import ConfigurationError, check_prefixes
from bulk_deployer.settings_schema import Setting

# AWS allows 50 tags per resource; the starter adds its own (the file's token) on top of these.
MAX_DEFAULT_TAGS: Final = 45
# The starter receives the deployable GroupIds (V1) or target ARNs (V2) as one JSON environment
# variable, and Lambda allows 4 KB of environment in total (the other variables take about 1 KB):
# about 50 GroupIds (UUIDs). The same ids become the execution role's CreateDeployment resources
# (V1) or the functions' iot:CreateJob resources (V2), in policies of at most 10,240 characters.
# Larger V1 fleets use deployableGroupTag; larger V2 fleets, thing groups.
MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS: Final = 2000
# A bucket policy may be 20 KB; each principal ARN is one entry of one condition.
MAX_UPLOADER_PRINCIPALS: Final = 100

_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_NAMESPACE = re.compile(r"^[0-9A-Za-z.\-_/#:]{1,255}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
# IAM role or user ARNs as aws:PrincipalArn reports them (a role session reports its role's ARN,
# with the role's path). ArnNotLike allows * and ? wildcards in the name.
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/*?-]{1,512}$")
_SESSION_ARN = re.compile(r"^arn:aws[a-z-]*:sts::")
# Greengrass V2 targets: a thing or a thing group (names 1-128 of [a-zA-Z0-9:_-], no wildcard),
# as CreateDeployment's targetArn pattern and IoT's name rules allow.
_TARGET_ARN = re.compile(
    r"^arn:aws[a-z-]*:iot:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:(thing|thinggroup)/[a-zA-Z0-9:_-]{1,128}$"
)
# Greengrass GroupIds are UUIDs; allow any id the service could plausibly return, but nothing
# that would act as a wildcard or break the ARN or the Fn::Sub it is written into.
_GROUP_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def parser_for(entry: Setting) -> Callable[[str, Any], Any]:
    """How a context value of this setting is read: a setting with more rules than its type,
    bounds and choices has its own parser below; the others are read from the schema alone."""
    assert entry.key is not None
    by_type: dict[type, Callable[[str, Any], Any]] = {
        bool: _bool,
        int: _one_of_ints(entry.choices) if entry.choices else _within(entry, _int),
        float: _within(entry, _float),
        str: _one_of_strs(entry.choices) if entry.choices else _str,
    }
    parser = _SPECIAL_PARSERS.get(entry.key) or by_type.get(entry.type)
    if parser is None:
        raise TypeError(f"no parser for {entry.key} ({entry.type.__name__})")
    return parser


def context_error(key: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"cdk.json context key {key!r}: {problem}")


def check_context_prefixes(incoming: str, staged: str, reports: str) -> None:
    try:
        check_prefixes(incoming, staged, reports)
    except ConfigurationError as err:
        # check_prefixes names the prefixes (incoming/staged/reports); name the context keys.
        message = str(err)
        keys = [f"{name}Prefix" for name in ("incoming", "staged", "reports") if f"{name} prefix " in message]
        raise ConfigurationError(
            f"cdk.json context key {' / '.join(repr(k) for k in keys) or 'incomingPrefix'}: {message}"
        ) from err


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise context_error(key, f"expected a string, got {value!r}")
    return value


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise context_error(key, f"expected true or false, got {value!r}")


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise context_error(key, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise context_error(key, f"expected an integer, got {value!r}")


def _float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise context_error(key, f"expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise context_error(key, f"expected a number, got {value!r}") from None


def _checked[Parsed](
    read: Callable[[str, Any], Parsed], holds: Callable[[Parsed], bool], problem: Callable[[Parsed], str]
) -> Callable[[str, Any], Parsed]:
    """``read``, then a rule on what it read; a value that breaks it is refused with ``problem(value)``."""

    def parse(key: str, value: Any) -> Parsed:
        parsed = read(key, value)
        if not holds(parsed):
            raise context_error(key, problem(parsed))
        return parsed

    return parse


def _within[Number: (int, float)](
    entry: Setting, read: Callable[[str, Any], Number]
) -> Callable[[str, Any], Number]:
    """`read` (a number), then the setting's bounds."""
    return _checked(read, entry.allows, lambda number: f"{number} is not {entry.bounds_text()}")


def _one_of_ints(allowed: tuple[int, ...]) -> Callable[[str, Any], int]:
    return _checked(
        _int,
        lambda number: number in allowed,
        lambda number: f"{number} is not one of {', '.join(map(str, allowed))}",
    )


def _one_of_strs(allowed: tuple[str, ...]) -> Callable[[str, Any], str]:
    """One of ``allowed``, in any case (written back as it is in ``allowed``)."""

    def parse(key: str, value: Any) -> str:
        text = _str(key, value).strip()
        for choice in allowed:
            if text.lower() == choice.lower():
                return choice
        raise context_error(key, f"{value!r} is not one of {', '.join(allowed)}")

    return parse


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str, Any], str]:
    return _checked(
        _str, lambda text: pattern.match(text) is not None, lambda text: f"{text!r} is not {what}"
    )


_namespace = _checked(
    _str,
    lambda text: _NAMESPACE.match(text) is not None and not text.startswith("AWS/"),
    lambda text: f"{text!r} is not a CloudWatch namespace (1-255 of 0-9A-Za-z.-_/#:, not AWS/)",
)


def _tags(key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise context_error(key, "is not valid JSON") from None
    if not isinstance(value, dict):
        raise context_error(key, "must be an object of tag key to tag value")
    if len(value) > MAX_DEFAULT_TAGS:
        raise context_error(key, f"{len(value)} tags; at most {MAX_DEFAULT_TAGS} (the starter adds its own)")
    tags: dict[str, str] = {}
    for tag_key, tag_value in value.items():
        if not isinstance(tag_value, str):
            raise context_error(key, f"the value of tag {tag_key!r} is not a string")
        if not 1 <= len(tag_key) <= 128 or tag_key.lower().startswith("aws:"):
            raise context_error(
                key, f"tag key {tag_key!r} must be 1-128 characters and not start with 'aws:'"
            )
        if len(tag_value) > 256:
            raise context_error(key, f"the value of tag {tag_key!r} is longer than 256 characters")
        if not (_TAG_CHARS.match(tag_key) and _TAG_CHARS.match(tag_value)):
            raise context_error(
                key, f"tag {tag_key!r} has characters outside letters, digits, spaces and _.:/=+-@"
            )
        tags[tag_key] = tag_value
    return tags


def _string_list(key: str, value: Any) -> list[str]:
    """A list from cdk.json, or from -c: a JSON array or comma-separated text ("" is empty)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise context_error(key, "is not a valid JSON array") from None
        else:
            value = [item.strip() for item in text.split(",")] if text else []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise context_error(key, f"expected a list of strings, got {value!r}")
    seen: set[str] = set()
    for item in value:
        if item in seen:
            raise context_error(key, f"{item!r} is listed twice")
        seen.add(item)
    return list(value)


def _principal_arns(key: str, value: Any) -> list[str]:
    arns = _string_list(key, value)
    if len(arns) > MAX_UPLOADER_PRINCIPALS:
        raise context_error(key, f"{len(arns)} principals; at most {MAX_UPLOADER_PRINCIPALS}")
    for arn in arns:
        if _SESSION_ARN.match(arn):
            raise context_error(
                key,
                f"{arn!r} is a session ARN; list the role (arn:aws:iam::<account>:role/<path><name>) "
                "instead: aws:PrincipalArn of a role session is its role's ARN",
            )
        if not _PRINCIPAL_ARN.match(arn):
            raise context_error(
                key, f"{arn!r} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)"
            )
    return arns


def _group_ids(key: str, value: Any) -> list[str]:
    ids = _string_list(key, value)
    for group_id in ids:
        if not _GROUP_ID.match(group_id):
            raise context_error(
                key,
                f"{group_id!r} is not a Greengrass GroupId (1-64 of A-Z a-z 0-9 . _ -; no wildcards: "
                "use deployableGroupTag for sets of groups)",
            )
    if len(group_ids_json(ids)) > MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS:
        raise context_error(
            key,
            f"{len(ids)} GroupIds do not fit the functions' environment (at most "
            f"{MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS} characters as JSON, about 50 UUIDs); "
            "use deployableGroupTag for larger fleets",
        )
    return ids


def _target_arns(key: str, value: Any) -> list[str]:
    arns = _string_list(key, value)
    for arn in arns:
        if not _TARGET_ARN.match(arn):
            raise context_error(
                key,
                f"{arn!r} is not a thing or thing group ARN (arn:aws:iot:<region>:<account>:thing/<name> or "
                "...:thinggroup/<name>; the name 1-128 of a-z A-Z 0-9 : _ -, no wildcards)",
            )
    if len(group_ids_json(arns)) > MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS:
        raise context_error(
            key,
            f"{len(arns)} ARNs do not fit the functions' environment (at most "
            f"{MAX_DEPLOYABLE_GROUP_IDS_JSON_CHARS} characters as JSON); deploy to thing groups instead",
        )
    return arns


def group_ids_json(ids: Iterable[str]) -> str:
    return json.dumps(list(ids), separators=(",", ":"))


def _group_tag(key: str, value: Any) -> tuple[str, str] | None:
    text = _str(key, value).strip()
    if not text:
        return None
    tag_key, equals, tag_value = text.partition("=")
    tag_key, tag_value = tag_key.strip(), tag_value.strip()
    if not equals or not tag_key:
        raise context_error(key, f"{text!r} is not key=value")
    if len(tag_key) > 128 or len(tag_value) > 256:
        raise context_error(key, "tag keys are at most 128 characters, tag values at most 256")
    if not (_TAG_CHARS.match(tag_key) and _TAG_CHARS.match(tag_value)):
        raise context_error(key, f"{text!r} has characters outside letters, digits, spaces and _.:/=+-@")
    return tag_key, tag_value


def _alarm_email(key: str, value: Any) -> str | None:
    email = _str(key, value) or None
    if email is not None and not _EMAIL.match(email):
        raise context_error(key, f"{email!r} is not an e-mail address")
    return email


# Settings with rules beyond their schema entry's type, bounds and choices.
_SPECIAL_PARSERS: Final[Mapping[str, Callable[[str, Any], Any]]] = {
    "stackName": _matching(_STACK_NAME, "a CloudFormation stack name"),
    "defaultTags": _tags,
    "uploaderPrincipalArns": _principal_arns,
    "deployableGroupIds": _group_ids,
    "deployableGroupTag": _group_tag,
    "deployableTargetArns": _target_arns,
    "alarmEmail": _alarm_email,
    "metricsNamespace": _namespace,
}


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
