"""Who may deploy what: uploaderPrincipalArns, deployableGroupIds, deployableGroupTag.

The default synthesis shows each switch off, the variant (tests/infra/conftest.py) each one on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bulk_deployer.config import ConfigurationError, StarterSettings
from bulk_deployer.deployers.greengrass_v1.validation import validate_bytes
from infra_helpers import Synth, as_list, render

from infra.config import DeployConfig

GROUP_ARN = "arn:${AWS::Partition}:greengrass:${AWS::Region}:${AWS::AccountId}:/greengrass/groups/"
VARIANT_GROUPS = ["4fd4c5a8-6f6b-4d70-9c3e-7a8f0c6e2b11", "9a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"]
VARIANT_UPLOADERS = ["arn:aws:iam::123456789012:role/fleet-uploader", "arn:aws:iam::123456789012:user/ops/*"]
ROLE = "arn:aws:iam::123456789012:role/uploader"

# ---------------------------------------------------------------- configuration


def test_every_switch_is_off_by_default() -> None:
    config = DeployConfig.from_context({})
    assert config.uploader_principal_arns == ()
    assert config.deployable_group_ids == ()
    assert config.deployable_group_tag is None


@pytest.mark.parametrize(
    "value",
    [
        [ROLE, "arn:aws:iam::123456789012:user/alice"],
        f'["{ROLE}", "arn:aws:iam::123456789012:user/alice"]',
        f" {ROLE} , arn:aws:iam::123456789012:user/alice ",
    ],
)
def test_uploader_list_forms(value: Any) -> None:
    config = DeployConfig.from_context({"uploaderPrincipalArns": value})
    assert config.uploader_principal_arns == (ROLE, "arn:aws:iam::123456789012:user/alice")


@pytest.mark.parametrize("value", ["", "[]", []])
def test_empty_lists_switch_off(value: Any) -> None:
    config = DeployConfig.from_context({"uploaderPrincipalArns": value, "deployableGroupIds": value})
    assert (config.uploader_principal_arns, config.deployable_group_ids) == ((), ())


def test_uploader_arns_may_carry_paths_and_wildcards() -> None:
    arns = ["arn:aws:iam::123456789012:role/teams/iot/deployer", "arn:aws-cn:iam::123456789012:role/upload-*"]
    assert DeployConfig.from_context({"uploaderPrincipalArns": arns}).uploader_principal_arns == tuple(arns)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["arn:aws:sts::123456789012:assumed-role/uploader/session"], "session ARN; list the role"),
        (["arn:aws:iam::123456789012:group/uploaders"], "not an IAM role or user ARN"),
        (["arn:aws:iam::123456789012:root"], "not an IAM role or user ARN"),
        (["arn:aws:iam::*:role/uploader"], "not an IAM role or user ARN"),
        (["uploader"], "not an IAM role or user ARN"),
        ([ROLE, ROLE], "listed twice"),
        ([1], "list of strings"),
        ("[not json", "not a valid JSON array"),
        ({"a": ROLE}, "list of strings"),
        ([f"arn:aws:iam::123456789012:role/r{i}" for i in range(101)], "at most 100"),
    ],
)
def test_bad_uploader_arns_name_the_key(value: Any, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="context key 'uploaderPrincipalArns'") as caught:
        DeployConfig.from_context({"uploaderPrincipalArns": value})
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["*"], "no wildcards"),
        (["group-?"], "no wildcards"),
        (["a/b"], "not a Greengrass GroupId"),
        (["${AWS::AccountId}"], "not a Greengrass GroupId"),
        ([""], "not a Greengrass GroupId"),
        (["x" * 65], "not a Greengrass GroupId"),
        (["g-1", "g-1"], "listed twice"),
        ([f"{i:08d}-6f6b-4d70-9c3e-7a8f0c6e2b11" for i in range(52)], "use deployableGroupTag"),
    ],
)
def test_bad_group_ids_name_the_key(value: Any, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="context key 'deployableGroupIds'") as caught:
        DeployConfig.from_context({"deployableGroupIds": value})
    assert problem in str(caught.value)


def test_fifty_uuids_fit_the_environment() -> None:
    ids = [f"{i:08d}-6f6b-4d70-9c3e-7a8f0c6e2b11" for i in range(50)]
    config = DeployConfig.from_context({"deployableGroupIds": ids})
    table = "BulkDeployer-StorageLedger0123ABCD-0123456789ABC"
    topic = "arn:aws:sns:eu-west-1:123456789012:BulkDeployer-NotificationsOutcomesTopic0-0123456789AB"
    starter = config.starter_environment(
        ledger_table_name=table,
        execution_role_arn="arn:aws:iam::123456789012:role/BulkDeployer-GreengrassExecutionRole0123-0123456789AB",
        outcomes_topic_arn=topic,
        intake_dead_letter_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/BulkDeployer-IntakeDeadLetterQueue0123-0123456789AB.fifo",
    )
    tracker = config.tracker_environment(
        ledger_table_name=table,
        input_bucket_name="bulkdeployer-storagebucket0123abcd-0123456789ab",
        outcomes_topic_arn=topic,
    )
    # Lambda: at most 4 KB of environment variables (names and values) per function.
    for env in (starter, tracker):
        assert sum(len(k) + len(v) for k, v in env.items()) < 4096


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fleet=eu-west", ("fleet", "eu-west")),
        (" fleet = eu-west ", ("fleet", "eu-west")),
        ("bulk-deployer:deployable=yes=really", ("bulk-deployer:deployable", "yes=really")),
        ("deployable=", ("deployable", "")),
        ("", None),
    ],
)
def test_group_tag_forms(value: str, expected: tuple[str, str] | None) -> None:
    assert DeployConfig.from_context({"deployableGroupTag": value}).deployable_group_tag == expected


@pytest.mark.parametrize("value", ["fleet", "=eu", "fleet=eu<west", f"{'k' * 129}=v", "k=" + "v" * 257, 7])
def test_bad_group_tags_name_the_key(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="context key 'deployableGroupTag'"):
        DeployConfig.from_context({"deployableGroupTag": value})


def test_the_starter_reads_back_what_the_stack_writes() -> None:
    config = DeployConfig.from_context({"deployableGroupIds": VARIANT_GROUPS})
    env = config.starter_environment(
        ledger_table_name="ledger", execution_role_arn="arn:aws:iam::123456789012:role/execution"
    )
    settings = StarterSettings.from_env(env | {"AWS_REGION": "eu-west-1"})
    assert settings.deployable_group_ids == frozenset(VARIANT_GROUPS)
    record = '{{"GroupId":"{}","GroupVersionId":"v","DeploymentType":"NewDeployment"}}\n'
    allowed = validate_bytes(
        record.format(VARIANT_GROUPS[0]).encode(), allowed_groups=settings.deployable_group_ids
    )
    other = validate_bytes(record.format("not-listed").encode(), allowed_groups=settings.deployable_group_ids)
    assert allowed.valid
    assert [(e.line, e.code) for e in other.errors] == [(1, "group_not_allowed")]


# ---------------------------------------------------------------- uploaders: the bucket policy


def _bucket_statements(synth: Synth) -> list[dict[str, Any]]:
    return list(synth.props("bucket_policy")["PolicyDocument"]["Statement"])


def _principal_conditions(synth: Synth) -> list[dict[str, Any]]:
    # The uploader statement (ArnNotLike); the staged/reports statements use ArnNotEquals.
    return [s for s in _bucket_statements(synth) if "ArnNotLike" in s.get("Condition", {})]


def test_anyone_the_account_allows_may_upload_by_default(synth: Synth) -> None:
    assert _principal_conditions(synth) == []


def test_only_listed_principals_may_write_incoming_objects(variant: Synth) -> None:
    (statement,) = _principal_conditions(variant)
    assert statement["Sid"] == "DenyIncomingWritesByUnlistedPrincipals"
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert "NotPrincipal" not in statement
    assert statement["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": VARIANT_UPLOADERS}}
    assert sorted(as_list(statement["Action"])) == sorted(
        ["s3:PutObject", "s3:ReplicateObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
    )
    assert [render(r) for r in as_list(statement["Resource"])] == [f"{variant.arn('bucket')}/drop/*"]


@pytest.mark.parametrize("which", ["synth", "variant"])
def test_no_role_of_the_stack_writes_under_the_incoming_prefix(
    which: str, request: pytest.FixtureRequest
) -> None:
    # The uploader Deny would lock out any role of the stack that wrote incoming objects: none does.
    synth: Synth = request.getfixturevalue(which)
    incoming = f"{synth.arn('bucket')}/{synth.stack.config.incoming_prefix}"
    writes = {
        "s3:PutObject",
        "s3:ReplicateObject",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:*",
    }
    for resource in synth.resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if writes & set(as_list(statement["Action"])):
                for target in (render(r) for r in as_list(statement["Resource"])):
                    assert not target.startswith(incoming) and target != f"{synth.arn('bucket')}/*", target


@pytest.mark.parametrize("which", ["synth", "variant"])
def test_no_custom_resource_needs_to_write_the_bucket(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    kinds = {resource["Type"] for resource in synth.resources.values()}
    assert not {
        kind for kind in kinds if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"
    }


# ---------------------------------------------------------------- deployable groups: the execution role


def test_execution_role_may_deploy_any_group_by_default(synth: Synth) -> None:
    statement = synth.statement_granting("execution_role", "greengrass:CreateDeployment")
    assert [render(r) for r in as_list(statement["Resource"])] == [f"{GROUP_ARN}*"]
    assert "Condition" not in statement


def test_execution_role_may_deploy_exactly_the_listed_groups_with_the_tag(variant: Synth) -> None:
    statement = variant.statement_granting("execution_role", "greengrass:CreateDeployment")
    assert [render(r) for r in as_list(statement["Resource"])] == [f"{GROUP_ARN}{g}" for g in VARIANT_GROUPS]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/fleet": "eu-west"}}
    assert as_list(statement["Action"]) == ["greengrass:CreateDeployment"]


def test_the_starter_gets_the_deployable_groups(variant: Synth) -> None:
    env = variant.props("function")["Environment"]["Variables"]
    assert json.loads(env["DEPLOYABLE_GROUP_IDS"]) == VARIANT_GROUPS
    # Only the starter validates files; the tracker neither gets nor reads the list.
    assert "DEPLOYABLE_GROUP_IDS" not in variant.props("tracker_function")["Environment"]["Variables"]


@pytest.mark.parametrize("function", ["function", "tracker_function"])
def test_no_allow_list_by_default(synth: Synth, function: str) -> None:
    assert "DEPLOYABLE_GROUP_IDS" not in synth.props(function)["Environment"]["Variables"]


def test_the_group_wildcard_is_acknowledged_only_while_it_exists(synth: Synth, variant: Synth) -> None:
    def acknowledged(which: Synth) -> bool:
        report = json.loads((which.outdir / "validation-report.json").read_text())
        return any(
            "/greengrass/groups/*" in s["acknowledgedId"]
            for r in report["pluginReports"]
            for s in r["suppressedViolations"]
        )

    assert acknowledged(synth)
    assert not acknowledged(variant)


# ---------------------------------------------------------------- staged copies and reports: only the functions


def _writers_only(synth: Synth, sid: str) -> dict[str, Any]:
    (statement,) = [s for s in _bucket_statements(synth) if s.get("Sid") == sid]
    return statement


@pytest.mark.parametrize("which", ["synth", "variant"])
def test_only_the_starter_writes_staged_copies_and_only_the_functions_write_reports(
    which: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(which)
    config = synth.stack.config
    bucket = synth.arn("bucket")
    for sid, prefix, roles in (
        ("DenyStagedWritesByOthersThanTheStarter", config.staged_prefix, ["starter_role"]),
        ("DenyReportWritesByOthersThanTheFunctions", config.reports_prefix, ["starter_role", "tracker_role"]),
    ):
        statement = _writers_only(synth, sid)
        assert (statement["Effect"], statement["Principal"]) == ("Deny", {"AWS": "*"})
        assert sorted(as_list(statement["Action"])) == ["s3:PutObject", "s3:ReplicateObject"]
        assert [render(r) for r in as_list(statement["Resource"])] == [f"{bucket}/{prefix}*"]
        listed = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        assert [render(arn) for arn in as_list(listed)] == [synth.arn(role) for role in roles]


@pytest.mark.parametrize("which", ["synth", "variant"])
def test_no_function_is_locked_out_of_what_it_writes(which: str, request: pytest.FixtureRequest) -> None:
    # Every object write a function role is allowed is to a prefix whose Deny lists that role.
    synth: Synth = request.getfixturevalue(which)
    bucket = synth.arn("bucket")
    denies = {
        render(as_list(s["Resource"])[0]): {
            render(a) for a in as_list(s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
        }
        for s in _bucket_statements(synth)
        if "ArnNotEquals" in s.get("Condition", {})
    }
    for role in ("starter_role", "tracker_role"):
        for target in synth.grants(role).get("s3:PutObject", set()):
            assert target.startswith(bucket)
            assert synth.arn(role) in denies[target], (role, target)
