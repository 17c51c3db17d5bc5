from __future__ import annotations

import pytest
from bulk_deployer.config import ConfigurationError, StarterSettings, check_prefixes
from bulk_deployer.deployers.greengrass_v1 import input_file_uri
from bulk_deployer.tags import MAX_TAGS, clean_tag_key, merge_tags

ENV = {
    "LEDGER_TABLE_NAME": "ledger",
    "EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/gg-bulk",
    "AWS_REGION": "eu-west-1",
}


def test_required_tag_wins_and_invalid_characters_are_replaced() -> None:
    tags = merge_tags(
        {"team": "fleet#1", "aws:reserved": "x", "bulk-deployer:token": "forged"},
        {"owner": "ops (night)", "": "empty key"},
        required={"bulk-deployer:token": "t" * 64},
    )
    assert tags == {"team": "fleet_1", "owner": "ops _night_", "bulk-deployer:token": "t" * 64}


def test_too_many_tags_keep_the_required_one() -> None:
    many = {f"k{i}": "v" for i in range(80)}
    tags = merge_tags(many, required={"bulk-deployer:token": "t"})
    assert len(tags) == MAX_TAGS
    assert tags["bulk-deployer:token"] == "t"


def test_tag_keys_are_truncated_and_reserved_keys_dropped() -> None:
    assert clean_tag_key("k" * 200) == "k" * 128
    assert clean_tag_key("AWS:cloudformation:stack") is None


@pytest.mark.parametrize(
    ("region", "uri"),
    [
        ("us-east-1", "https://bkt.s3.us-east-1.amazonaws.com/staged/abc.jsonl"),
        ("cn-north-1", "https://bkt.s3.cn-north-1.amazonaws.com.cn/staged/abc.jsonl"),
    ],
)
def test_input_file_uri_per_partition(region: str, uri: str) -> None:
    assert input_file_uri("bkt", "staged/abc.jsonl", region) == uri


def test_input_file_uri_percent_encodes_the_key() -> None:
    assert input_file_uri("b", "in/a b+c%ü.jsonl", "eu-west-1").endswith("/in/a%20b%2Bc%25%C3%BC.jsonl")


def test_settings_from_env_with_defaults() -> None:
    settings = StarterSettings.from_env(ENV)
    assert settings.incoming_prefix == "incoming/"
    assert settings.ledger_ttl_days == 400
    assert settings.region == "eu-west-1"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"LEDGER_TABLE_NAME": ""}, "LEDGER_TABLE_NAME"),
        ({"EXECUTION_ROLE_ARN": "not-an-arn"}, "EXECUTION_ROLE_ARN"),
        ({"LEDGER_TTL_DAYS": "soon"}, "LEDGER_TTL_DAYS"),
        ({"START_MAX_REFUSALS": "0"}, "START_MAX_REFUSALS"),
        ({"DEFAULT_TAGS": "[1]"}, "DEFAULT_TAGS"),
        ({"DEFAULT_TAGS": "{"}, "DEFAULT_TAGS"),
        ({"STAGED_PREFIX": "incoming/staged/"}, "staged prefix"),
        ({"AWS_REGION": "Mars"}, "AWS_REGION"),
    ],
)
def test_a_bad_setting_fails_naming_itself(override: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        StarterSettings.from_env({**ENV, **override})


def test_missing_variable_is_named() -> None:
    env = dict(ENV)
    del env["EXECUTION_ROLE_ARN"]
    with pytest.raises(ConfigurationError, match="EXECUTION_ROLE_ARN is required"):
        StarterSettings.from_env(env)


@pytest.mark.parametrize(
    ("incoming", "staged", "reports"),
    [
        ("in/", "in/", "r/"),
        ("in/", "in/staged/", "r/"),
        ("", "s/", "r/"),
        ("in", "s/", "r/"),
        ("in/", "s/", "/r/"),
    ],
)
def test_overlapping_or_malformed_prefixes_are_refused(incoming: str, staged: str, reports: str) -> None:
    with pytest.raises(ConfigurationError):
        check_prefixes(incoming, staged, reports)


def test_deployable_group_ids_are_a_json_array() -> None:
    settings = StarterSettings.from_env({**ENV, "DEPLOYABLE_GROUP_IDS": '["g-1", "g-2"]'})
    assert settings.deployable_group_ids == frozenset({"g-1", "g-2"})
    assert StarterSettings.from_env(ENV).deployable_group_ids is None
    for bad in ("g-1", "[]", '[""]', "[1]"):
        with pytest.raises(ConfigurationError, match="DEPLOYABLE_GROUP_IDS"):
            StarterSettings.from_env({**ENV, "DEPLOYABLE_GROUP_IDS": bad})
