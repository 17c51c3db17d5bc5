"""Our V2 line rules against botocore's own parameter validation of CreateDeployment.

Whatever botocore refuses, we refuse too: a line we accept becomes a request
(``create_deployment_kwargs`` plus a client token) that botocore's ``ParamValidator`` accepts.
botocore checks types, required members, unknown members and minimums only; we check the
model's maximums, patterns and enums too, the IoT job ranges, and rules of our own. Where we
are stricter, ``STRICTER`` lists each case with its reason, and checks that botocore indeed
accepts it (so the list stays true if botocore tightens).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import botocore.session
import orjson
import pytest
from botocore.validate import ParamValidator
from bulk_deployer.contract import TOKEN_TAG
from bulk_deployer.deployers.greengrass_v2 import check_line, create_deployment_kwargs
from bulk_deployer.deployers.greengrass_v2.records import MAX_LINE_TAGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.deployers.greengrass_v2.lines import ACCOUNT, REGION, STACK, baseline, changed, thing_arn

_INPUT = (
    botocore.session.get_session()
    .get_service_model("greengrassv2")
    .operation_model("CreateDeployment")
    .input_shape
)
TOKEN = "0" * 64  # the deployer's token: at most 64 of [a-zA-Z0-9-]


def botocore_errors(request: dict[str, Any]) -> str:
    report = ParamValidator().validate({**request, "clientToken": TOKEN}, _INPUT)
    return str(report.generate_report()) if report.has_errors() else ""


def as_sent(line: dict[str, Any]) -> dict[str, Any]:
    """What the deployer would send for a line, also for an invalid one (for botocore's verdict)."""
    try:
        return create_deployment_kwargs(line)
    except (AttributeError, TypeError, orjson.JSONEncodeError):
        return {name: value for name, value in line.items() if name != "updateMode"}


def ours(line: dict[str, Any]) -> list[str]:
    return [p.code for p in check_line(line, STACK).problems]


# -- valid lines: we and botocore accept them ---------------------------------------------------

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-"


def _bmp_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Text within a length in UTF-16 code units: characters of the BMP count one each."""
    return st.text(
        st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), min_size=min_size, max_size=max_size
    )


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)
_TAG_TEXT = st.text("abcXYZ019 _.:/=+-@é", min_size=1, max_size=20)
_POINTER = st.lists(st.sampled_from(["a", "b", "~0", "~1", "ü", "0"]), max_size=3).map(
    lambda parts: "".join("/" + p for p in parts)
)
_MERGE_OBJECT = st.dictionaries(st.text(max_size=5), st.integers(-5, 5) | st.text(max_size=5), max_size=3)
_COMPONENT = st.fixed_dictionaries(
    {"componentVersion": _bmp_text(1, 64)},
    optional={
        "configurationUpdate": st.fixed_dictionaries(
            {},
            optional={
                "merge": _MERGE_OBJECT | _MERGE_OBJECT.map(json.dumps),
                "reset": st.lists(_POINTER, max_size=3),
            },
        ),
        "runWith": st.fixed_dictionaries(
            {},
            optional={
                "posixUser": st.sampled_from(["ggc_user", "ggc_user:ggc_group", "1000:1000"]),
                "windowsUser": _TEXT,
                "systemResourceLimits": st.fixed_dictionaries(
                    {},
                    optional={
                        "memory": st.integers(0, 2**40),
                        "cpus": st.integers(0, 64) | st.floats(0, 64, allow_nan=False),
                    },
                ),
            },
        ),
    },
)
_RATE = st.fixed_dictionaries(
    {
        "baseRatePerMinute": st.integers(1, 1000),
        "incrementFactor": st.integers(11, 50).map(lambda tenths: tenths / 10),
        "rateIncreaseCriteria": st.sampled_from(
            ["numberOfNotifiedThings", "numberOfSucceededThings"]
        ).flatmap(lambda name: st.fixed_dictionaries({name: st.integers(1, 2**31 - 1)})),
    }
)
_CRITERIA = st.fixed_dictionaries(
    {
        "failureType": st.sampled_from(["FAILED", "REJECTED", "TIMED_OUT", "ALL"]),
        "action": st.just("CANCEL"),
        "thresholdPercentage": st.integers(0, 10_000).map(lambda hundredths: hundredths / 100),
        "minNumberOfExecutedThings": st.integers(1, 2**31 - 1),
    }
)
_TIMEOUT_SECONDS = st.integers(1, 2**31 - 1)
VALID_LINES = st.fixed_dictionaries(
    {
        "targetArn": st.tuples(
            st.sampled_from(["thing", "thinggroup"]), st.text(_NAME_CHARS, min_size=1, max_size=128)
        ).map(lambda kind_name: f"arn:aws:iot:{REGION}:{ACCOUNT}:{kind_name[0]}/{kind_name[1]}"),
        "components": st.dictionaries(_bmp_text(1, 128), _COMPONENT, max_size=3),
    },
    optional={
        "deploymentName": _bmp_text(1, 256),
        "deploymentPolicies": st.fixed_dictionaries(
            {},
            optional={
                "failureHandlingPolicy": st.sampled_from(["ROLLBACK", "DO_NOTHING"]),
                "componentUpdatePolicy": st.fixed_dictionaries(
                    {},
                    optional={
                        "timeoutInSeconds": _TIMEOUT_SECONDS,
                        "action": st.sampled_from(["NOTIFY_COMPONENTS", "SKIP_NOTIFY_COMPONENTS"]),
                    },
                ),
                "configurationValidationPolicy": st.fixed_dictionaries(
                    {}, optional={"timeoutInSeconds": _TIMEOUT_SECONDS}
                ),
            },
        ),
        "iotJobConfiguration": st.fixed_dictionaries(
            {},
            optional={
                "jobExecutionsRolloutConfig": st.fixed_dictionaries(
                    {}, optional={"exponentialRate": _RATE, "maximumPerMinute": st.integers(1, 1000)}
                ),
                "abortConfig": st.fixed_dictionaries(
                    {"criteriaList": st.lists(_CRITERIA, min_size=1, max_size=3)}
                ),
                "timeoutConfig": st.fixed_dictionaries(
                    {}, optional={"inProgressTimeoutInMinutes": st.integers(1, 10_080)}
                ),
            },
        ),
        "tags": st.dictionaries(
            _TAG_TEXT.filter(lambda key: not key.lower().startswith("aws:")),
            _TAG_TEXT | st.just(""),
            min_size=1,
            max_size=MAX_LINE_TAGS,
        ),
        "updateMode": st.sampled_from(["REPLACE", "MERGE"]),
    },
).map(lambda line: orjson.loads(json.dumps(line)))  # as the validator parses it


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=VALID_LINES)
def test_a_line_of_valid_values_is_accepted_by_us_and_by_botocore(line: dict[str, Any]) -> None:
    assert ours(line) == []
    assert botocore_errors(create_deployment_kwargs(line)) == ""


# -- any line: what botocore refuses, we refuse ---------------------------------------------------

_NASTY = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        1,
        1.5,
        2**31,
        2**63,
        "",
        "x",
        "1",
        [],
        [1],
        {},
        {"x": 1},
        {"": {}},
        "\U0001f600",
    ]
)
_PATHS = st.sampled_from(
    [
        ("targetArn",),
        ("components",),
        ("components", "com.example.Hello"),
        ("components", ""),
        ("components", "com.example.Hello", "componentVersion"),
        ("components", "com.example.Hello", "configurationUpdate"),
        ("components", "com.example.Hello", "configurationUpdate", "merge"),
        ("components", "com.example.Hello", "configurationUpdate", "reset"),
        ("components", "com.example.Hello", "configurationUpdate", "reset", 0),
        ("components", "com.example.Hello", "runWith"),
        ("components", "com.example.Hello", "runWith", "posixUser"),
        ("components", "com.example.Hello", "runWith", "windowsUser"),
        ("components", "com.example.Hello", "runWith", "systemResourceLimits", "memory"),
        ("components", "com.example.Hello", "runWith", "systemResourceLimits", "cpus"),
        ("components", "com.example.Hello", "unknown"),
        ("deploymentName",),
        ("deploymentPolicies",),
        ("deploymentPolicies", "failureHandlingPolicy"),
        ("deploymentPolicies", "componentUpdatePolicy", "timeoutInSeconds"),
        ("deploymentPolicies", "componentUpdatePolicy", "action"),
        ("deploymentPolicies", "configurationValidationPolicy", "timeoutInSeconds"),
        ("iotJobConfiguration",),
        ("iotJobConfiguration", "jobExecutionsRolloutConfig", "maximumPerMinute"),
        ("iotJobConfiguration", "jobExecutionsRolloutConfig", "exponentialRate"),
        ("iotJobConfiguration", "jobExecutionsRolloutConfig", "exponentialRate", "baseRatePerMinute"),
        ("iotJobConfiguration", "jobExecutionsRolloutConfig", "exponentialRate", "incrementFactor"),
        ("iotJobConfiguration", "jobExecutionsRolloutConfig", "exponentialRate", "rateIncreaseCriteria"),
        (
            "iotJobConfiguration",
            "jobExecutionsRolloutConfig",
            "exponentialRate",
            "rateIncreaseCriteria",
            "numberOfSucceededThings",
        ),
        ("iotJobConfiguration", "abortConfig"),
        ("iotJobConfiguration", "abortConfig", "criteriaList"),
        ("iotJobConfiguration", "abortConfig", "criteriaList", 0),
        ("iotJobConfiguration", "abortConfig", "criteriaList", 0, "thresholdPercentage"),
        ("iotJobConfiguration", "abortConfig", "criteriaList", 0, "minNumberOfExecutedThings"),
        ("iotJobConfiguration", "abortConfig", "criteriaList", 0, "failureType"),
        ("iotJobConfiguration", "timeoutConfig", "inProgressTimeoutInMinutes"),
        ("tags",),
        ("tags", "team"),
        ("tags", ""),
        ("updateMode",),
        ("clientToken",),
        ("parentTargetArn",),
        ("somethingElse",),
    ]
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(_PATHS, _NASTY), min_size=1, max_size=3))
def test_whatever_botocore_refuses_we_refuse(mutations: list[tuple[tuple[Any, ...], Any]]) -> None:
    line = baseline(thing_arn("core-1"))
    for path, value in mutations:
        try:
            line = changed(path, copy.deepcopy(value), line)
        except (TypeError, KeyError, IndexError, AttributeError):
            continue  # the path runs through a value that is no longer an object or array
    if botocore_errors(as_sent(line)):
        assert ours(line), line
    if not ours(line):
        assert botocore_errors(create_deployment_kwargs(line)) == ""


# -- where we are stricter than botocore, and why -------------------------------------------------

HELLO = ("components", "com.example.Hello")
RATE = ("iotJobConfiguration", "jobExecutionsRolloutConfig", "exponentialRate")
CRITERION = ("iotJobConfiguration", "abortConfig", "criteriaList", 0)
STRICTER: list[tuple[str, tuple[Any, ...], Any]] = [
    ("the model's ARN pattern (botocore checks no pattern)", ("targetArn",), "not-an-arn"),
    ("a thing name is 1-128 of [a-zA-Z0-9:_-]", ("targetArn",), thing_arn("core 1")),
    ("a target in this stack's account", ("targetArn",), f"arn:aws:iot:{REGION}:210987654321:thing/x"),
    ("a target in this stack's region", ("targetArn",), f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/x"),
    (
        "a component name is at most 128 (no maximum in the model)",
        ("components", "c" * 129),
        {"componentVersion": "1"},
    ),
    ("the model's maximum (botocore checks minimums only)", (*HELLO, "componentVersion"), "v" * 65),
    ("lengths count UTF-16 code units, as Java does", (*HELLO, "componentVersion"), "\U0001f600" * 33),
    ("merge must hold a JSON object", (*HELLO, "configurationUpdate", "merge"), "[1]"),
    ("merge must be strict JSON", (*HELLO, "configurationUpdate", "merge"), "{'a': 1}"),
    ("merge must not name a member twice", (*HELLO, "configurationUpdate", "merge"), '{"a":1,"a":2}'),
    ("reset holds RFC 6901 JSON pointers", (*HELLO, "configurationUpdate", "reset"), ["a/b"]),
    ("a reset pointer is at most 256", (*HELLO, "configurationUpdate", "reset"), ["/" + "p" * 256]),
    ("posixUser is user or user:group", (*HELLO, "runWith", "posixUser"), "a:b:c"),
    (
        "a boolean is not a number (botocore takes True as 1)",
        (*HELLO, "runWith", "systemResourceLimits", "memory"),
        True,
    ),
    ("the model's maximum", ("deploymentName",), "n" * 257),
    (
        "the model's enum (botocore checks no enum)",
        ("deploymentPolicies", "failureHandlingPolicy"),
        "rollback",
    ),
    (
        "a timeout of at least 1 s (CloudFormation's range)",
        ("deploymentPolicies", "componentUpdatePolicy", "timeoutInSeconds"),
        0,
    ),
    (
        "the model's integer is 32 bits",
        ("deploymentPolicies", "configurationValidationPolicy", "timeoutInSeconds"),
        2**31,
    ),
    ("the model's maximum", ("iotJobConfiguration", "jobExecutionsRolloutConfig", "maximumPerMinute"), 1001),
    ("the model's maximum", (*RATE, "baseRatePerMinute"), 1001),
    ("IoT's minimum 1.1 (Greengrass's model allows 1)", (*RATE, "incrementFactor"), 1.0),
    ("one decimal, as both APIs document", (*RATE, "incrementFactor"), 1.25),
    ("exactly one rate-increase criterion", (*RATE, "rateIncreaseCriteria"), {}),
    (
        "exactly one rate-increase criterion",
        (*RATE, "rateIncreaseCriteria"),
        {"numberOfNotifiedThings": 1, "numberOfSucceededThings": 1},
    ),
    ("the model's maximum", (*CRITERION, "thresholdPercentage"), 100.5),
    ("a percentage is not negative (no minimum in the model)", (*CRITERION, "thresholdPercentage"), -1),
    ("two decimals, as both APIs document", (*CRITERION, "thresholdPercentage"), 10.555),
    ("the model's enum", (*CRITERION, "action"), "STOP"),
    (
        "IoT's 1 to 10,080 minutes (no range in the model)",
        ("iotJobConfiguration", "timeoutConfig", "inProgressTimeoutInMinutes"),
        0,
    ),
    ("the model's TagMap minimum 1 (botocore checks no map length)", ("tags",), {}),
    (
        "50 user tags per resource, one of them our token",
        ("tags",),
        {f"k{i}": "v" for i in range(MAX_LINE_TAGS + 1)},
    ),
    ("the model's maximum", ("tags", "k" * 129), "v"),
    ("the model's maximum", ("tags", "team"), "v" * 257),
    ("aws: keys are AWS's", ("tags", "aws:team"), "v"),
    ("our token tag is ours", ("tags", TOKEN_TAG), "v"),
    ("AWS's tag characters", ("tags", "team"), "a;b"),
    ("our token is the client token", ("clientToken",), "abc"),
    ("no subdeployments", ("parentTargetArn",), f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/parent"),
    ("the document limit of a thing target", (*HELLO, "configurationUpdate", "merge"), {"pad": "x" * 7_000}),
]


@pytest.mark.parametrize(
    ("reason", "path", "value"), STRICTER, ids=[f"{i}-{r}" for i, (r, _, _) in enumerate(STRICTER)]
)
def test_where_we_are_stricter_than_botocore(reason: str, path: tuple[Any, ...], value: Any) -> None:
    line = changed(path, value, baseline(thing_arn("core-1")))
    assert ours(line), reason
    assert botocore_errors(as_sent(line)) == "", reason
