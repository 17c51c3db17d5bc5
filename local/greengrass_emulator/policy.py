"""A small IAM policy evaluator: enough to decide what Greengrass may do with the execution role.

Why: the service assumes the execution role as `greengrass.amazonaws.com`, reads the input file
with it and creates each group deployment with it. A role that does not trust the service, or
lacks `s3:GetObject` / `greengrass:CreateDeployment`, must fail locally the way it fails in AWS.
Supported: Allow/Deny, Action/NotAction, Resource/NotResource, Principal (Service, AWS "*", "*"),
wildcards `*` and `?`, and the String*/Arn* condition operators (with IfExists). Anything else
makes the statement not apply (documented in docs/local.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

GREENGRASS_PRINCIPAL = "greengrass.amazonaws.com"

_OPERATORS = {
    "StringEquals": (False, False, False),  # (like, negated, ignore_case)
    "StringNotEquals": (False, True, False),
    "StringEqualsIgnoreCase": (False, False, True),
    "StringNotEqualsIgnoreCase": (False, True, True),
    "StringLike": (True, False, False),
    "StringNotLike": (True, True, False),
    "ArnEquals": (True, False, False),
    "ArnLike": (True, False, False),
    "ArnNotEquals": (True, True, False),
    "ArnNotLike": (True, True, False),
}


def load_document(document: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """IAM returns documents URL-encoded; botocore usually decodes them already."""
    if isinstance(document, str):
        text = document if document.lstrip().startswith("{") else unquote(document)
        loaded: Mapping[str, Any] = json.loads(text)
        return loaded
    return document


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, Mapping) else list(found)


def trusts_service(document: str | Mapping[str, Any], service: str, context: Mapping[str, str]) -> bool:
    """Does this trust policy let `service` call sts:AssumeRole, given the request context?"""
    allowed = False
    for st in statements(load_document(document)):
        if not _principal_matches(st, service):
            continue
        if not _action_matches(st, "sts:AssumeRole") or not conditions_hold(st.get("Condition"), context):
            continue
        if st.get("Effect") == "Deny":
            return False
        allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def is_allowed(documents: Iterable[str | Mapping[str, Any]], action: str, resource: str) -> bool:
    """Identity-policy decision for one action on one resource: an explicit Deny wins.

    Conditions in permission policies are not evaluated (treated as satisfied).
    """
    allowed = False
    for document in documents:
        for st in statements(load_document(document)):
            if not _action_matches(st, action) or not _resource_matches(st, resource):
                continue
            if st.get("Effect") == "Deny":
                return False
            allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def conditions_hold(condition: Mapping[str, Any] | None, context: Mapping[str, str]) -> bool:
    if not condition:
        return True
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, tests in condition.items():
        base = operator.removesuffix("IfExists")
        if base not in _OPERATORS or not isinstance(tests, Mapping):
            return False  # unsupported operators never hold: the statement does not apply
        like, negated, ignore_case = _OPERATORS[base]
        for key, expected in tests.items():
            value = lowered.get(key.lower())
            if value is None:
                if operator.endswith("IfExists") or negated:
                    continue
                return False
            patterns = [expected] if isinstance(expected, str) else list(expected)
            hit = any(_match(str(p), value, like=like, ignore_case=ignore_case) for p in patterns)
            if hit == negated:
                return False
    return True


def _principal_matches(st: Mapping[str, Any], service: str) -> bool:
    principal = st.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if _as_list(principal.get("AWS")) == ["*"]:
        return True
    return service in _as_list(principal.get("Service"))


def _action_matches(st: Mapping[str, Any], action: str) -> bool:
    return _element_matches(st, "Action", action, ignore_case=True)  # actions are case-insensitive


def _resource_matches(st: Mapping[str, Any], resource: str) -> bool:
    return _element_matches(st, "Resource", resource, ignore_case=False)


def _element_matches(st: Mapping[str, Any], element: str, value: str, *, ignore_case: bool) -> bool:
    """`element` (Action, Resource) lists patterns `value` must match; `Not<element>`, patterns it
    must not match; a statement with neither does not apply."""
    negated = f"Not{element}"
    if element in st:
        return any(_match(p, value, like=True, ignore_case=ignore_case) for p in _as_list(st[element]))
    if negated in st:
        return not any(_match(p, value, like=True, ignore_case=ignore_case) for p in _as_list(st[negated]))
    return False


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _match(pattern: str, value: str, *, like: bool, ignore_case: bool) -> bool:
    if not like:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _compile(pattern, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=512)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)
