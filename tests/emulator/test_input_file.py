"""The input file: documented rules and messages, and the switches for undocumented shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.greengrass_emulator import GreengrassEmulator

from .conftest import World, client_for, line, wait_status

GOOD = ("g", "v")  # a well-formed record naming no real group (an invalid input record)


def run(gg: Any, world: World, body: bytes | str, key: str = "in.jsonl") -> dict[str, Any]:
    input_uri = world.upload(key, body)
    bulk_id = gg.start_bulk_deployment(
        AmznClientToken=key, ExecutionRoleArn=world.role(), InputFileUri=input_uri
    )["BulkDeploymentId"]
    return wait_status(gg, bulk_id, "Completed", "Failed")


def test_missing_file_fails_the_bulk_deployment(gg: Any, world: World) -> None:
    bulk_id = gg.start_bulk_deployment(
        ExecutionRoleArn=world.role(),
        InputFileUri="https://bulk-input.s3.us-east-1.amazonaws.com/nothing-here.jsonl",
    )["BulkDeploymentId"]
    status = wait_status(gg, bulk_id, "Completed", "Failed")
    assert status["BulkDeploymentStatus"] == "Failed"
    assert status["ErrorMessage"].startswith("InvalidInputFile: Unable to read the input file from S3")
    assert status["BulkDeploymentMetrics"]["RecordsProcessed"] == 0


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("not json", "Failed to parse input file at line number: 2"),
        ("[1, 2]", "Failed to parse input file at line number: 2"),
        ("", "Failed to parse input file at line number: 2"),  # blank line (default switch)
        (
            json.dumps({"GroupVersionId": "v", "DeploymentType": "NewDeployment"}),
            "InvalidInputFile: Missing GroupId at line number: 2",
        ),
        (
            json.dumps({"GroupId": "g", "DeploymentType": "NewDeployment"}),
            "InvalidInputFile: Missing GroupId at line number: 2",
        ),
        (
            line("g", "v", "Redeployment"),
            "InvalidInputFile: Invalid deployment type at line number : 2. Only valid type is 'NewDeployment'.",
        ),
        (
            json.dumps({"GroupId": "g", "GroupVersionId": "v"}),
            "InvalidInputFile: Invalid deployment type at line number : 2. Only valid type is 'NewDeployment'.",
        ),
        (
            line("g" * 250, "v"),
            "Line 2 is too long in S3 File. Valid line is less than 256 chars.",
        ),
    ],
)
def test_first_bad_line_fails_with_the_documented_message(
    gg: Any, world: World, emulator: GreengrassEmulator, second_line: str, message: str
) -> None:
    groups = world.groups(1)
    body = line(*groups[0]) + "\n" + second_line + "\n" + "also bad\n"
    status = run(gg, world, body)
    assert status["BulkDeploymentStatus"] == "Failed"
    assert status["ErrorMessage"] == message
    # By default the whole file is checked before any group is deployed.
    assert world.moto_gg.list_deployments(GroupId=groups[0][0])["Deployments"] == []
    assert emulator.deployments()[0]["GroupDeployments"] == []


def test_line_length_boundary(gg: Any, world: World) -> None:
    record = line(*GOOD)
    longest = record[:-1] + " " * (255 - len(record)) + "}"  # 255 characters: still valid
    assert len(longest) == 255
    assert run(gg, world, longest + "\n", "ok.jsonl")["BulkDeploymentStatus"] == "Completed"
    too_long = longest[:-1] + " }"
    status = run(gg, world, too_long + "\n", "long.jsonl")
    assert status["ErrorMessage"] == "Line 1 is too long in S3 File. Valid line is less than 256 chars."


def test_line_length_counts_characters_not_bytes(gg: Any, world: World) -> None:
    record = json.dumps(
        {"GroupId": "é" * 150, "GroupVersionId": "v", "DeploymentType": "NewDeployment"}, ensure_ascii=False
    )
    assert len(record) < 256 < len(record.encode())
    assert run(gg, world, record + "\n")["BulkDeploymentStatus"] == "Completed"


def _emoji_line(units: int) -> str:
    """A well-formed record of ``units`` UTF-16 code units, most of them emoji (two units each)."""
    fields = {"GroupId": "g", "GroupVersionId": "v", "DeploymentType": "NewDeployment", "Note": ""}
    emoji, odd = divmod(units - len(json.dumps(fields)), 2)
    fields["Note"] = "\U0001f600" * emoji + "x" * odd
    return json.dumps(fields, ensure_ascii=False)


def test_line_length_counts_utf16_code_units_as_java_does(gg: Any, world: World) -> None:
    longest, too_long = _emoji_line(255), _emoji_line(256)
    assert len(too_long) < 200  # characters: only Java's count, an emoji as two units, reaches 256
    assert run(gg, world, longest + "\n", "ok.jsonl")["BulkDeploymentStatus"] == "Completed"
    status = run(gg, world, too_long + "\n", "long.jsonl")
    assert status["ErrorMessage"] == "Line 1 is too long in S3 File. Valid line is less than 256 chars."


@pytest.mark.parametrize(
    ("between", "after", "bad_line"),
    [
        ("\n", "\r\n", 3),  # a CR where JSON allows whitespace, inside line 3 (below)
        ("\r", "\r", 1),  # CR-only line ends: one line, holding two records and two CRs
        ("\r\r\n", "\n", 1),  # the first CR is not part of the CRLF
        ("\n", "\r", 2),  # the last line ends with a CR and no LF
    ],
)
def test_a_carriage_return_outside_a_crlf_fails_its_line(
    gg: Any, world: World, between: str, after: str, bad_line: int
) -> None:
    groups = world.groups(2)
    body = line(*groups[0]) + between + line(*groups[1]) + after
    if bad_line == 3:
        body += line(*GOOD).replace(": ", ":\r", 1) + "\n"
    status = run(gg, world, body)
    assert (status["BulkDeploymentStatus"], status["ErrorMessage"]) == (
        "Failed",
        f"Failed to parse input file at line number: {bad_line}",
    )
    for group_id, _ in groups:
        assert world.moto_gg.list_deployments(GroupId=group_id)["Deployments"] == []


def test_invalid_utf8_is_a_parse_failure(gg: Any, world: World) -> None:
    status = run(
        gg, world, b'{"GroupId": "\xff", "GroupVersionId": "v", "DeploymentType": "NewDeployment"}\n'
    )
    assert status["ErrorMessage"] == "Failed to parse input file at line number: 1"


def test_file_size_limit(make_emulator: Any, world: World) -> None:
    gg = client_for(make_emulator(max_file_bytes=200))
    status = run(gg, world, (line(*GOOD) + "\n") * 4)  # 4 * 67 bytes >= 200
    assert status["BulkDeploymentStatus"] == "Failed"
    assert status["ErrorMessage"].startswith("InvalidInputFile: Input file is too large")


def test_crlf_line_ends_and_no_final_newline_are_accepted(gg: Any, world: World) -> None:
    groups = world.groups(2)
    status = run(gg, world, line(*groups[0]) + "\r\n" + line(*groups[1]))
    assert status["BulkDeploymentStatus"] == "Completed"
    assert status["BulkDeploymentMetrics"] == {
        "InvalidInputRecords": 0,
        "RecordsProcessed": 2,
        "RetryAttempts": 0,
    }


def test_empty_file_completes_with_no_records(gg: Any, world: World) -> None:
    status = run(gg, world, "")
    assert status["BulkDeploymentStatus"] == "Completed"
    assert status["BulkDeploymentMetrics"]["RecordsProcessed"] == 0


def test_blank_lines_switch(make_emulator: Any, world: World) -> None:
    gg = client_for(make_emulator(blank_lines="skip"))
    body = "\n" + line(*GOOD) + "\n \t \r\n" + line(*GOOD) + "\n"
    status = run(gg, world, body)
    assert status["BulkDeploymentStatus"] == "Completed"
    assert status["BulkDeploymentMetrics"]["RecordsProcessed"] == 2
    # Only JSON whitespace is blank: a vertical tab or form feed is not skipped but fails its line.
    for blank_looking in ("\x0b", " \x0c\t"):
        status = run(gg, world, line(*GOOD) + "\n" + blank_looking + "\n", "vt-ff.jsonl")
        assert status["ErrorMessage"] == "Failed to parse input file at line number: 2"


@pytest.mark.parametrize(("strip_bom", "expected"), [(False, "Failed"), (True, "Completed")])
def test_byte_order_mark_switch(make_emulator: Any, world: World, strip_bom: bool, expected: str) -> None:
    gg = client_for(make_emulator(strip_bom=strip_bom))
    status = run(gg, world, b"\xef\xbb\xbf" + line(*GOOD).encode() + b"\n")
    assert status["BulkDeploymentStatus"] == expected
    if expected == "Failed":
        assert status["ErrorMessage"] == "Failed to parse input file at line number: 1"


def test_extra_fields_are_accepted(gg: Any, world: World) -> None:
    record = json.dumps(
        {"GroupId": "g", "GroupVersionId": "v", "DeploymentType": "NewDeployment", "Note": "x"}
    )
    assert run(gg, world, record + "\n")["BulkDeploymentStatus"] == "Completed"


def test_checking_lines_as_they_come_deploys_the_lines_before_the_bad_one(
    make_emulator: Any, world: World
) -> None:
    emulator = make_emulator(validate_before_deploying=False)
    gg = client_for(emulator)
    groups = world.groups(2)
    body = line(*groups[0]) + "\n" + line(*groups[1]) + "\n" + "oops\n" + line(*groups[0]) + "\n"
    status = run(gg, world, body)
    assert status["BulkDeploymentStatus"] == "Failed"
    assert status["ErrorMessage"] == "Failed to parse input file at line number: 3"
    assert status["BulkDeploymentMetrics"]["RecordsProcessed"] == 2
    for group_id, _ in groups:
        assert len(world.moto_gg.list_deployments(GroupId=group_id)["Deployments"]) == 1
