"""One Greengrass V2 input line: every rule, each with a passing and a failing case at its bound."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import orjson
import pytest
from bulk_deployer.contract import FILE_TOKEN_TAG, TOKEN_TAG
from bulk_deployer.deployers.greengrass_v2 import (
    StackRules,
    UpdateMode,
    check_line,
    create_deployment_kwargs,
    document_bytes,
    update_mode,
)
from bulk_deployer.deployers.greengrass_v2.records import (
    LARGE_DOCUMENT_BYTES,
    MAX_LINE_TAGS,
    MAX_MEMORY_KB,
    MAX_MERGE_CHARS,
    THING_DOCUMENT_BYTES,
    THING_GROUP_DOCUMENT_BYTES,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.deployers.greengrass_v2.lines import (
    ACCOUNT,
    DELETE,
    GROUP_ARN,
    REGION,
    STACK,
    baseline,
    changed,
    group_arn,
    minimal,
    thing_arn,
)

HELLO = ("components", "com.example.Hello")
ROLLOUT = ("iotJobConfiguration", "jobExecutionsRolloutConfig")
RATE = (*ROLLOUT, "exponentialRate")
CRITERIA = ("iotJobConfiguration", "abortConfig", "criteriaList", 0)
LARGE = replace(STACK, allow_large_documents=True)


def codes(line: dict[str, Any], stack: StackRules = STACK) -> list[str]:
    return [p.code for p in check_line(line, stack).problems]


def test_the_baseline_and_a_minimal_line_are_valid() -> None:
    assert codes(baseline()) == []
    assert codes(minimal()) == []
    assert codes(minimal(thing_arn("core-1"))) == []
    assert check_line(baseline(), STACK).target_arn == GROUP_ARN


# (path, value, the codes expected: none when the value is valid)
CASES: list[tuple[tuple[Any, ...], Any, list[str]]] = [
    # -- targetArn
    (("targetArn",), DELETE, ["missing_target_arn"]),
    (("targetArn",), None, ["missing_target_arn"]),
    (("targetArn",), "", ["missing_target_arn"]),
    (("targetArn",), 42, ["missing_target_arn"]),
    (("targetArn",), thing_arn("a" * 128), []),
    (("targetArn",), thing_arn("a" * 129), ["invalid_target_arn"]),
    (("targetArn",), thing_arn("core:1_A-b"), []),
    (("targetArn",), thing_arn(""), ["invalid_target_arn"]),
    (("targetArn",), thing_arn("core 1"), ["invalid_target_arn"]),
    (("targetArn",), thing_arn("core/1"), ["invalid_target_arn"]),
    (("targetArn",), thing_arn("core.1"), ["invalid_target_arn"]),
    (("targetArn",), group_arn("g" * 128), []),
    (("targetArn",), f"arn:aws:iot:{REGION}:{ACCOUNT}:thingtype/x", ["invalid_target_arn"]),
    (("targetArn",), f"arn:aws:greengrass:{REGION}:{ACCOUNT}:thing/x", ["invalid_target_arn"]),
    (("targetArn",), thing_arn("x") + "\n", ["invalid_target_arn"]),
    (("targetArn",), f"arn:aws-cn:iot:{REGION}:{ACCOUNT}:thing/x", ["target_outside_stack"]),
    (("targetArn",), f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/x", ["target_outside_stack"]),
    (("targetArn",), f"arn:aws:iot:{REGION}:210987654321:thing/x", ["target_outside_stack"]),
    # -- components
    (("components",), DELETE, ["missing_components"]),
    (("components",), None, ["missing_components"]),
    (("components",), [], ["missing_components"]),
    (("components",), {}, []),  # an explicit "nothing": REPLACE then removes every component
    (("components", "c" * 128), {"componentVersion": "1.0.0"}, []),
    (("components", "c" * 129), {"componentVersion": "1.0.0"}, ["invalid_component_name"]),
    (("components", "\U0001f600" * 64), {"componentVersion": "1.0.0"}, []),  # 128 UTF-16 units
    (("components", "\U0001f600" * 64 + "c"), {"componentVersion": "1.0.0"}, ["invalid_component_name"]),
    (("components", ""), {"componentVersion": "1.0.0"}, ["invalid_component_name"]),
    ((*HELLO,), "1.0.0", ["invalid_component"]),
    ((*HELLO, "componentVersion"), DELETE, ["invalid_component_version"]),
    ((*HELLO, "componentVersion"), "v" * 64, []),
    ((*HELLO, "componentVersion"), "v" * 65, ["invalid_component_version"]),
    ((*HELLO, "componentVersion"), "", ["invalid_component_version"]),
    ((*HELLO, "componentVersion"), 1, ["invalid_component_version"]),
    ((*HELLO, "version"), "1.0.0", ["unknown_member"]),
    # -- configurationUpdate
    ((*HELLO, "configurationUpdate"), {}, []),
    ((*HELLO, "configurationUpdate"), "merge", ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "replace"), {}, ["unknown_member"]),
    ((*HELLO, "configurationUpdate", "merge"), {}, []),
    ((*HELLO, "configurationUpdate", "merge"), '{"greeting": "hi", "n": [1, 2]}', []),
    ((*HELLO, "configurationUpdate", "merge"), "{}", []),
    ((*HELLO, "configurationUpdate", "merge"), "", ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "merge"), "[1]", ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "merge"), "{'a': 1}", ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "merge"), '{"a": NaN}', ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "merge"), '{"a": 1, "a": 2}', ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "merge"), '{"a": 1} x', ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "merge"), [], ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "merge"), None, ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "reset"), [], []),
    ((*HELLO, "configurationUpdate", "reset"), ["", "/", "/a/b", "/a~0b~1c", "/ü/0"], []),
    ((*HELLO, "configurationUpdate", "reset"), ["/" + "p" * 255], []),
    ((*HELLO, "configurationUpdate", "reset"), ["/" + "p" * 256], ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "reset"), ["a/b"], ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "reset"), ["/a~2"], ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "reset"), ["/a~"], ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "reset"), [1], ["invalid_configuration_update"]),
    ((*HELLO, "configurationUpdate", "reset"), "/a", ["invalid_configuration_update"]),
    # -- runWith
    ((*HELLO, "runWith"), {}, []),
    ((*HELLO, "runWith", "posixUser"), "ggc_user", []),
    ((*HELLO, "runWith", "posixUser"), "1000:1000", []),
    ((*HELLO, "runWith", "posixUser"), "a:b:c", ["invalid_run_with"]),
    ((*HELLO, "runWith", "posixUser"), ":group", ["invalid_run_with"]),
    ((*HELLO, "runWith", "posixUser"), "user:", ["invalid_run_with"]),
    ((*HELLO, "runWith", "posixUser"), "", ["invalid_run_with"]),
    ((*HELLO, "runWith", "windowsUser"), "ggc_user", []),
    ((*HELLO, "runWith", "windowsUser"), "", ["invalid_run_with"]),
    ((*HELLO, "runWith", "user"), "x", ["unknown_member"]),
    ((*HELLO, "runWith", "systemResourceLimits"), {}, []),
    ((*HELLO, "runWith", "systemResourceLimits", "memory"), 0, []),
    ((*HELLO, "runWith", "systemResourceLimits", "memory"), MAX_MEMORY_KB, []),
    ((*HELLO, "runWith", "systemResourceLimits", "memory"), MAX_MEMORY_KB + 1, ["invalid_run_with"]),
    ((*HELLO, "runWith", "systemResourceLimits", "memory"), -1, ["invalid_run_with"]),
    ((*HELLO, "runWith", "systemResourceLimits", "memory"), 1.5, ["invalid_run_with"]),
    ((*HELLO, "runWith", "systemResourceLimits", "memory"), 1024.0, ["invalid_run_with"]),
    ((*HELLO, "runWith", "systemResourceLimits", "memory"), True, ["invalid_run_with"]),
    ((*HELLO, "runWith", "systemResourceLimits", "cpus"), 0, []),
    ((*HELLO, "runWith", "systemResourceLimits", "cpus"), 2, []),
    ((*HELLO, "runWith", "systemResourceLimits", "cpus"), -0.1, ["invalid_run_with"]),
    ((*HELLO, "runWith", "systemResourceLimits", "cpus"), "1", ["invalid_run_with"]),
    ((*HELLO, "runWith", "systemResourceLimits", "disk"), 1, ["unknown_member"]),
    # -- deploymentName
    (("deploymentName",), "n", []),
    (("deploymentName",), "n" * 256, []),
    (("deploymentName",), "n" * 257, ["invalid_deployment_name"]),
    (("deploymentName",), "", ["invalid_deployment_name"]),
    (("deploymentName",), None, ["invalid_deployment_name"]),
    # -- deploymentPolicies
    (("deploymentPolicies",), {}, []),
    (("deploymentPolicies",), [], ["invalid_deployment_policies"]),
    (("deploymentPolicies", "failureHandlingPolicy"), "DO_NOTHING", []),
    (("deploymentPolicies", "failureHandlingPolicy"), "rollback", ["invalid_deployment_policies"]),
    (("deploymentPolicies", "componentUpdatePolicy", "action"), "SKIP_NOTIFY_COMPONENTS", []),
    (("deploymentPolicies", "componentUpdatePolicy", "action"), "NOTIFY", ["invalid_deployment_policies"]),
    (("deploymentPolicies", "componentUpdatePolicy", "timeoutInSeconds"), 1, []),
    (("deploymentPolicies", "componentUpdatePolicy", "timeoutInSeconds"), 2**31 - 1, []),
    (("deploymentPolicies", "componentUpdatePolicy", "timeoutInSeconds"), 0, ["invalid_deployment_policies"]),
    (
        ("deploymentPolicies", "componentUpdatePolicy", "timeoutInSeconds"),
        2**31,
        ["invalid_deployment_policies"],
    ),
    (
        ("deploymentPolicies", "componentUpdatePolicy", "timeoutInSeconds"),
        60.0,
        ["invalid_deployment_policies"],
    ),
    (("deploymentPolicies", "configurationValidationPolicy", "timeoutInSeconds"), 1, []),
    (
        ("deploymentPolicies", "configurationValidationPolicy", "timeoutInSeconds"),
        0,
        ["invalid_deployment_policies"],
    ),
    (("deploymentPolicies", "configurationValidationPolicy", "action"), "X", ["unknown_member"]),
    (("deploymentPolicies", "rollback"), True, ["unknown_member"]),
    # -- iotJobConfiguration: rollout
    (("iotJobConfiguration",), {}, []),
    ((*ROLLOUT, "maximumPerMinute"), 1, []),
    ((*ROLLOUT, "maximumPerMinute"), 1000, []),
    ((*ROLLOUT, "maximumPerMinute"), 0, ["invalid_job_configuration"]),
    ((*ROLLOUT, "maximumPerMinute"), 1001, ["invalid_job_configuration"]),
    ((*RATE, "baseRatePerMinute"), 1, []),
    ((*RATE, "baseRatePerMinute"), 1000, []),
    ((*RATE, "baseRatePerMinute"), 0, ["invalid_job_configuration"]),
    ((*RATE, "baseRatePerMinute"), 1001, ["invalid_job_configuration"]),
    ((*RATE, "baseRatePerMinute"), DELETE, ["invalid_job_configuration"]),
    ((*RATE, "incrementFactor"), 1.1, []),
    ((*RATE, "incrementFactor"), 5, []),
    ((*RATE, "incrementFactor"), 3.7, []),
    ((*RATE, "incrementFactor"), 1.0, ["invalid_job_configuration"]),  # Greengrass's minimum, not IoT's
    ((*RATE, "incrementFactor"), 5.1, ["invalid_job_configuration"]),
    ((*RATE, "incrementFactor"), 1.15, ["invalid_job_configuration"]),  # one decimal
    ((*RATE, "incrementFactor"), "2", ["invalid_job_configuration"]),
    ((*RATE, "incrementFactor"), DELETE, ["invalid_job_configuration"]),
    ((*RATE, "rateIncreaseCriteria"), {"numberOfNotifiedThings": 1}, []),
    ((*RATE, "rateIncreaseCriteria"), {}, ["invalid_job_configuration"]),
    (
        (*RATE, "rateIncreaseCriteria"),
        {"numberOfNotifiedThings": 1, "numberOfSucceededThings": 1},
        ["invalid_job_configuration"],
    ),
    ((*RATE, "rateIncreaseCriteria"), {"numberOfSucceededThings": 0}, ["invalid_job_configuration"]),
    ((*RATE, "rateIncreaseCriteria"), DELETE, ["invalid_job_configuration"]),
    ((*ROLLOUT, "rate"), 1, ["unknown_member"]),
    # -- iotJobConfiguration: abort
    (("iotJobConfiguration", "abortConfig", "criteriaList"), [], ["invalid_job_configuration"]),
    (("iotJobConfiguration", "abortConfig", "criteriaList"), DELETE, ["invalid_job_configuration"]),
    ((*CRITERIA, "failureType"), "ALL", []),
    ((*CRITERIA, "failureType"), "TIMED_OUT", []),
    ((*CRITERIA, "failureType"), "CANCELED", ["invalid_job_configuration"]),
    ((*CRITERIA, "action"), "STOP", ["invalid_job_configuration"]),
    ((*CRITERIA, "thresholdPercentage"), 100, []),
    ((*CRITERIA, "thresholdPercentage"), 0, []),
    ((*CRITERIA, "thresholdPercentage"), 10.99, []),
    ((*CRITERIA, "thresholdPercentage"), 100.01, ["invalid_job_configuration"]),
    ((*CRITERIA, "thresholdPercentage"), -0.01, ["invalid_job_configuration"]),
    ((*CRITERIA, "thresholdPercentage"), 10.999, ["invalid_job_configuration"]),
    ((*CRITERIA, "minNumberOfExecutedThings"), 1, []),
    ((*CRITERIA, "minNumberOfExecutedThings"), 0, ["invalid_job_configuration"]),
    ((*CRITERIA, "minNumberOfExecutedThings"), DELETE, ["invalid_job_configuration"]),
    ((*CRITERIA, "note"), "x", ["unknown_member"]),
    # -- iotJobConfiguration: timeout
    (("iotJobConfiguration", "timeoutConfig", "inProgressTimeoutInMinutes"), 1, []),
    (("iotJobConfiguration", "timeoutConfig", "inProgressTimeoutInMinutes"), 10_080, []),
    (
        ("iotJobConfiguration", "timeoutConfig", "inProgressTimeoutInMinutes"),
        0,
        ["invalid_job_configuration"],
    ),
    (
        ("iotJobConfiguration", "timeoutConfig", "inProgressTimeoutInMinutes"),
        10_081,
        ["invalid_job_configuration"],
    ),
    (("iotJobConfiguration", "presignedUrlConfig"), {}, ["unknown_member"]),
    # -- tags
    (("tags",), {}, ["invalid_tags"]),
    (("tags",), {f"k{i}": "v" for i in range(MAX_LINE_TAGS)}, []),
    (("tags",), {f"k{i}": "v" for i in range(MAX_LINE_TAGS + 1)}, ["invalid_tags"]),
    (("tags",), [], ["invalid_tags"]),
    (("tags", "k" * 128), "v", []),
    (("tags", "k" * 129), "v", ["invalid_tags"]),
    (("tags", ""), "v", ["invalid_tags"]),
    (("tags", "team"), "v" * 256, []),
    (("tags", "team"), "v" * 257, ["invalid_tags"]),
    (("tags", "team"), "", []),
    (("tags", "team"), None, ["invalid_tags"]),
    (("tags", "team"), 3, ["invalid_tags"]),
    (("tags", "cost center/é:=+-@_."), "a b", []),
    (("tags", "team!"), "v", ["invalid_tags"]),
    (("tags", "team"), "v;", ["invalid_tags"]),
    (("tags", "aws:created"), "v", ["reserved_tag_key"]),
    (("tags", "AWS:created"), "v", ["reserved_tag_key"]),
    (("tags", TOKEN_TAG), "t", ["reserved_tag_key"]),
    (("tags", TOKEN_TAG.upper()), "t", ["reserved_tag_key"]),
    (("tags", FILE_TOKEN_TAG), "t", ["reserved_tag_key"]),
    # -- updateMode and members we refuse
    (("updateMode",), "MERGE", []),
    (("updateMode",), DELETE, []),
    (("updateMode",), "merge", ["invalid_update_mode"]),
    (("updateMode",), None, ["invalid_update_mode"]),
    (("clientToken",), "abc", ["unknown_member"]),
    (("parentTargetArn",), group_arn("parent"), ["unknown_member"]),
    (("GroupId",), "g-1", ["unknown_member"]),
]


@pytest.mark.parametrize(("path", "value", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_each_rule_at_its_bound(path: tuple[Any, ...], value: Any, expected: list[str]) -> None:
    assert codes(changed(path, value)) == expected


def test_every_code_of_a_line_is_exercised() -> None:
    exercised = {code for _, _, expected in CASES for code in expected}
    assert exercised >= {
        "missing_target_arn",
        "invalid_target_arn",
        "target_outside_stack",
        "missing_components",
        "invalid_component",
        "invalid_component_name",
        "invalid_component_version",
        "invalid_configuration_update",
        "invalid_run_with",
        "invalid_deployment_name",
        "invalid_deployment_policies",
        "invalid_job_configuration",
        "invalid_tags",
        "reserved_tag_key",
        "invalid_update_mode",
        "unknown_member",
    }


def test_messages_name_the_member_and_what_was_expected() -> None:
    line = changed((*RATE, "incrementFactor"), 1.0)
    line = changed((*HELLO, "configurationUpdate", "merge"), "[1]", line)
    line = changed(("clientToken",), "abc", line)
    line = changed(("parentTargetArn",), group_arn("parent"), line)
    line = changed(("targetArn",), f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/x", line)
    messages = [p.message for p in check_line(line, STACK).problems]
    assert messages == [
        "targetArn is in region 'us-east-1'; this stack deploys in partition 'aws', region 'eu-west-1', "
        "account '123456789012'",
        "clientToken is set by bulk-deployer: each target's deployment gets its own token, derived from "
        "the file's (remove it)",
        "parentTargetArn is not supported: bulk-deployer creates no subdeployments (remove it)",
        'components["com.example.Hello"].configurationUpdate.merge must hold a JSON object, got a string '
        "holding an array",
        "iotJobConfiguration.jobExecutionsRolloutConfig.exponentialRate.incrementFactor must be from 1.1 "
        "to 5, got 1",
    ]


def test_a_v1_line_is_refused_with_every_missing_and_unknown_member_named() -> None:
    problems = check_line({"GroupId": "g", "GroupVersionId": "v", "DeploymentType": "NewDeployment"}, STACK)
    assert [(p.code, p.message.split()[0]) for p in problems.problems] == [
        ("missing_target_arn", "targetArn"),
        ("unknown_member", "GroupId"),
        ("unknown_member", "GroupVersionId"),
        ("unknown_member", "DeploymentType"),
        ("missing_components", "components"),
    ]
    assert problems.target_arn is None


def test_the_allow_list_holds_full_target_arns() -> None:
    stack = replace(STACK, allowed_targets=frozenset({GROUP_ARN, thing_arn("core-1")}))
    assert codes(baseline(), stack) == []
    assert codes(minimal(thing_arn("core-1")), stack) == []
    assert codes(minimal(thing_arn("core-2")), stack) == ["target_not_allowed"]
    assert codes(minimal(group_arn("core-1")), stack) == ["target_not_allowed"]  # a group of that name
    # A target outside the account is named as such, not as "not allowed".
    outside = f"arn:aws:iot:{REGION}:210987654321:thing/core-1"
    assert codes(minimal(outside), replace(stack, allowed_targets=frozenset({outside}))) == [
        "target_outside_stack"
    ]


def _merge_of_length(chars: int) -> str:
    prefix, suffix = '{"pad":"', '"}'
    return prefix + "x" * (chars - len(prefix) - len(suffix)) + suffix


@pytest.mark.parametrize("as_object", [False, True])
def test_a_merge_takes_at_most_the_apis_length_as_a_string(as_object: bool) -> None:
    def line(chars: int) -> dict[str, Any]:
        merge = _merge_of_length(chars)
        return changed((*HELLO, "configurationUpdate", "merge"), json.loads(merge) if as_object else merge)

    # Any merge this long makes the document too large; the merge's own rule is what is tested here.
    assert "invalid_configuration_update" not in codes(line(MAX_MERGE_CHARS), LARGE)
    assert "invalid_configuration_update" in codes(line(MAX_MERGE_CHARS + 1), LARGE)


def test_a_merge_object_too_deep_to_write_is_refused_not_raised() -> None:
    deep: Any = "x"
    for _ in range(300):
        deep = {"k": deep}
    assert codes(changed((*HELLO, "configurationUpdate", "merge"), deep)) == ["invalid_configuration_update"]
    assert codes(changed(("deploymentPolicies",), deep)) == ["unknown_member"]


def _with_document_bytes(target: str, size: int) -> dict[str, Any]:
    """A minimal line whose deployment document is exactly ``size`` bytes."""
    line = changed((*HELLO, "configurationUpdate", "merge"), {"pad": ""}, minimal(target))
    pad = size - document_bytes(line)
    line = changed((*HELLO, "configurationUpdate", "merge", "pad"), "x" * pad, line)
    assert document_bytes(line) == size
    return line


@pytest.mark.parametrize(
    ("target", "limit"),
    [(thing_arn("core-1"), THING_DOCUMENT_BYTES), (GROUP_ARN, THING_GROUP_DOCUMENT_BYTES)],
)
def test_the_document_limit_of_each_target_kind(target: str, limit: int) -> None:
    assert codes(_with_document_bytes(target, limit)) == []
    assert codes(_with_document_bytes(target, limit + 1)) == ["document_too_large"]
    assert codes(_with_document_bytes(target, limit + 1), LARGE) == []
    (problem,) = check_line(_with_document_bytes(target, limit + 1), STACK).problems
    assert f"{limit + 1:,} bytes" in problem.message
    assert "nucleus 2.3.0" in problem.message and "greengrass:GetDeploymentConfiguration" in problem.message


def test_a_large_document_when_allowed_is_at_most_ten_megabytes() -> None:
    assert codes(_with_document_bytes(GROUP_ARN, LARGE_DOCUMENT_BYTES), LARGE) == []
    assert codes(_with_document_bytes(GROUP_ARN, LARGE_DOCUMENT_BYTES + 1), LARGE) == ["document_too_large"]


def test_the_document_is_the_compact_json_of_components_policies_and_job_configuration() -> None:
    line = baseline()
    request = create_deployment_kwargs(line)
    expected = {k: request[k] for k in ("components", "deploymentPolicies", "iotJobConfiguration")}
    assert document_bytes(line) == len(json.dumps(expected, separators=(",", ":")).encode())
    # Tags, name, target and mode are not part of it.
    assert document_bytes(changed(("tags",), {"k": "v" * 200})) == document_bytes(line)


# -- the request the deployer sends ----------------------------------------------------------


def test_a_valid_line_becomes_the_exact_create_deployment_kwargs() -> None:
    line = baseline()
    before = copy.deepcopy(line)
    request = create_deployment_kwargs(line)
    assert line == before  # the line is not changed
    expected = copy.deepcopy(line)
    del expected["updateMode"]
    expected["components"]["com.example.Hello"]["configurationUpdate"]["merge"] = '{"greeting":"hello"}'
    assert request == expected
    assert "clientToken" not in request
    # A merge given as the API's string is sent as given, byte for byte.
    spaced = '{ "greeting" : "hello" }'
    request = create_deployment_kwargs(changed((*HELLO, "configurationUpdate", "merge"), spaced))
    assert request["components"]["com.example.Hello"]["configurationUpdate"]["merge"] == spaced
    # The request shares nothing with the line: changing one leaves the other.
    request["components"]["com.example.Hello"]["componentVersion"] = "9.9.9"
    assert line["components"]["com.example.Hello"]["componentVersion"] == "1.0.0"


def test_a_merge_object_is_sent_as_compact_json_that_parses_back_to_it() -> None:
    merge = {"ü": [1, 2.5, None, True], "nested": {"a": "\u2028"}}
    request = create_deployment_kwargs(changed((*HELLO, "configurationUpdate", "merge"), merge))
    sent = request["components"]["com.example.Hello"]["configurationUpdate"]["merge"]
    assert isinstance(sent, str) and json.loads(sent) == merge and " " not in sent


def test_the_update_mode_defaults_to_replace() -> None:
    assert update_mode(minimal()) is UpdateMode.REPLACE
    assert update_mode(changed(("updateMode",), "MERGE")) is UpdateMode.MERGE
    assert update_mode(changed(("updateMode",), "REPLACE")) is UpdateMode.REPLACE


# -- never raises ------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_MEMBER_NAMES = st.sampled_from(
    [
        "targetArn",
        "components",
        "deploymentName",
        "deploymentPolicies",
        "iotJobConfiguration",
        "tags",
        "updateMode",
        "clientToken",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    line=st.dictionaries(_MEMBER_NAMES, _JSON, max_size=6),
    component=st.dictionaries(
        st.sampled_from(["componentVersion", "configurationUpdate", "runWith", "x"]), _JSON, max_size=4
    ),
)
def test_any_json_object_gets_a_verdict_never_an_exception(
    line: dict[str, Any], component: dict[str, Any]
) -> None:
    for drawn in (line, {**line, "targetArn": GROUP_ARN, "components": {"c": component}}):
        candidate = orjson.loads(json.dumps(drawn))  # as the validator would have parsed it
        result = check_line(candidate, STACK)
        assert all(p.code and p.message for p in result.problems)
        if not result.problems:
            create_deployment_kwargs(candidate)
