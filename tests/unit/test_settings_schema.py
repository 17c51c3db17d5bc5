"""The runtime side of the settings schema: each function reads only its variables, with the
schema's types, defaults and bounds."""

from __future__ import annotations

import dataclasses

import pytest
from bulk_deployer.config import ConfigurationError, DispatchSettings, StarterSettings
from bulk_deployer.settings_schema import BY_ENV, SETTINGS, Reader, Setting, default_of
from bulk_deployer.tracker_config import TrackerSettings

STARTER_ENV = {
    "LEDGER_TABLE_NAME": "ledger",
    "EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/gg-bulk",
    "AWS_REGION": "eu-west-1",
}
TRACKER_ENV = {"LEDGER_TABLE_NAME": "ledger", "INPUT_BUCKET_NAME": "fleet-input", "AWS_REGION": "eu-west-1"}
# Read by Powertools, not by the functions' settings objects.
POWERTOOLS = {"POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


def _env_fields(settings_class: type[DispatchSettings]) -> set[str]:
    return {f.name.upper() for f in dataclasses.fields(settings_class) if f.name.upper() in BY_ENV}


def _read_by(reader: Reader) -> set[str]:
    return {s.env for s in SETTINGS if s.env and reader in s.readers and s.env not in POWERTOOLS}


def test_each_function_reads_exactly_the_settings_the_schema_gives_it() -> None:
    assert _env_fields(StarterSettings) == _read_by(Reader.STARTER)
    assert _env_fields(TrackerSettings) == _read_by(Reader.TRACKER)
    assert not {f.name for f in dataclasses.fields(StarterSettings)} & {
        "input_bucket",
        "tracker_poll_seconds",
        "report_page_size",
    }


def test_the_starter_neither_gets_nor_checks_the_trackers_settings() -> None:
    # A malformed tracker value (or a missing bucket) is the tracker's problem, not the starter's.
    settings = StarterSettings.from_env(
        STARTER_ENV | {"TRACKER_POLL_SECONDS": "soon", "REPORT_PAGE_SIZE": "0"}
    )
    assert settings.ledger_table_name == "ledger"
    with pytest.raises(ConfigurationError, match="TRACKER_POLL_SECONDS"):
        TrackerSettings.from_env(TRACKER_ENV | {"TRACKER_POLL_SECONDS": "soon"})


def test_the_tracker_needs_its_bucket_but_not_the_execution_role() -> None:
    settings = TrackerSettings.from_env(TRACKER_ENV)
    assert settings.input_bucket == "fleet-input"
    with pytest.raises(ConfigurationError, match="INPUT_BUCKET_NAME is required"):
        TrackerSettings.from_env({k: v for k, v in TRACKER_ENV.items() if k != "INPUT_BUCKET_NAME"})


def _bounded() -> list[Setting]:
    return [s for s in SETTINGS if s.env and s.type in (int, float) and s.low is not None]


def _reader_of(entry: Setting) -> tuple[type[DispatchSettings], dict[str, str]]:
    return (
        (StarterSettings, STARTER_ENV) if Reader.STARTER in entry.readers else (TrackerSettings, TRACKER_ENV)
    )


@pytest.mark.parametrize("entry", _bounded(), ids=lambda s: s.env)
def test_runtime_bounds_are_the_schemas(entry: Setting) -> None:
    """The runtime used to accept 0-60 where the stack accepts only 0.1-60, and any number above
    a minimum where the stack has a maximum: now one set of bounds serves both."""
    assert entry.env is not None and entry.low is not None and entry.high is not None
    settings_class, env = _reader_of(entry)
    attribute = entry.env.lower()
    if not entry.low_exclusive:
        assert getattr(settings_class.from_env(env | {entry.env: str(entry.low)}), attribute) == entry.low
    assert getattr(settings_class.from_env(env | {entry.env: str(entry.high)}), attribute) == entry.high
    step = 0.5 if entry.type is float else 1
    too_low = entry.low if entry.low_exclusive else entry.low - step
    for outside in (too_low, entry.high + step):
        text = str(int(outside)) if entry.type is int else str(outside)
        with pytest.raises(ConfigurationError, match=entry.env):
            settings_class.from_env(env | {entry.env: text})


def test_the_drifted_values_now_agree_with_the_stack() -> None:
    # Runtime accepted a zero poll interval and 900 s leases by default; the stack gives 0.1-60 and
    # derives both leases (300 s) from the functions' timeouts.
    with pytest.raises(ConfigurationError, match="TRACKER_POLL_SECONDS"):
        TrackerSettings.from_env(TRACKER_ENV | {"TRACKER_POLL_SECONDS": "0"})
    assert StarterSettings.from_env(STARTER_ENV).processing_lease_seconds == default_of(
        "starterTimeoutSeconds"
    )
    assert TrackerSettings.from_env(TRACKER_ENV).tracker_lease_seconds == default_of("trackerTimeoutSeconds")


def test_defaults_are_the_schemas() -> None:
    starter, tracker = StarterSettings.from_env(STARTER_ENV), TrackerSettings.from_env(TRACKER_ENV)
    for name in _env_fields(StarterSettings):
        expected = default_of(name)
        value = getattr(starter, name.lower())
        assert value == (None if BY_ENV[name].type is list else expected), name
    for name in _env_fields(TrackerSettings):
        assert getattr(tracker, name.lower()) == default_of(name), name


# ---------------------------------------------------------------- the rename: START_MAX_REFUSALS


def test_start_max_refusals_is_read_by_both_functions() -> None:
    assert StarterSettings.from_env(STARTER_ENV | {"START_MAX_REFUSALS": "5"}).start_max_refusals == 5
    assert TrackerSettings.from_env(TRACKER_ENV | {"START_MAX_REFUSALS": "7"}).start_max_refusals == 7
    with pytest.raises(ConfigurationError, match="START_MAX_REFUSALS"):
        StarterSettings.from_env(STARTER_ENV | {"START_MAX_REFUSALS": "11"})


def test_the_old_variable_start_max_attempts_still_works_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="START_MAX_ATTEMPTS is deprecated: it is now START_MAX_REFUSALS"):
        settings = StarterSettings.from_env(STARTER_ENV | {"START_MAX_ATTEMPTS": "4"})
    assert settings.start_max_refusals == 4
    # The new name wins, silently.
    both = StarterSettings.from_env(STARTER_ENV | {"START_MAX_ATTEMPTS": "4", "START_MAX_REFUSALS": "6"})
    assert both.start_max_refusals == 6


# ---------------------------------------------------------------- Greengrass V1 or V2

V2_STARTER_ENV = {k: v for k, v in STARTER_ENV.items() if k != "EXECUTION_ROLE_ARN"} | {
    "GREENGRASS": "v2",
    "STACK_ACCOUNT_ID": "123456789012",
}
TARGETS = (
    '["arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet", "arn:aws:iot:eu-west-1:123456789012:thing/c1"]'
)


def test_both_functions_know_which_greengrass_they_deploy_with() -> None:
    assert StarterSettings.from_env(STARTER_ENV).greengrass == "v1"  # unset: v1, as before
    assert TrackerSettings.from_env(TRACKER_ENV | {"GREENGRASS": "v2"}).greengrass == "v2"
    for function, env in ((StarterSettings, V2_STARTER_ENV), (TrackerSettings, TRACKER_ENV)):
        with pytest.raises(ConfigurationError, match="GREENGRASS=v3 is not one of v1, v2"):
            function.from_env(env | {"GREENGRASS": "v3"})


def test_a_v2_starter_takes_no_execution_role() -> None:
    # A V2 stack gives none: the starter starts without it (it used to require one).
    assert StarterSettings.from_env(V2_STARTER_ENV).execution_role_arn == ""
    with pytest.raises(ConfigurationError, match="Greengrass V2 deployments take no execution role"):
        StarterSettings.from_env(V2_STARTER_ENV | {"EXECUTION_ROLE_ARN": STARTER_ENV["EXECUTION_ROLE_ARN"]})
    # V1 still requires one.
    with pytest.raises(ConfigurationError, match="EXECUTION_ROLE_ARN is required"):
        StarterSettings.from_env(V2_STARTER_ENV | {"GREENGRASS": "v1"})


def test_a_v2_starter_needs_the_stacks_account_and_a_v1_starter_does_not() -> None:
    assert StarterSettings.from_env(V2_STARTER_ENV).stack_account_id == "123456789012"
    for wrong in ("", "12345", "12345678901x"):
        with pytest.raises(ConfigurationError, match="STACK_ACCOUNT_ID"):
            StarterSettings.from_env(V2_STARTER_ENV | {"STACK_ACCOUNT_ID": wrong})
    assert StarterSettings.from_env(STARTER_ENV).stack_account_id == ""


def test_v2_starter_settings_are_read() -> None:
    settings = StarterSettings.from_env(
        V2_STARTER_ENV | {"DEPLOYABLE_TARGET_ARNS": TARGETS, "ALLOW_LARGE_DEPLOYMENT_DOCUMENTS": "true"}
    )
    assert settings.deployable_target_arns == {
        "arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet",
        "arn:aws:iot:eu-west-1:123456789012:thing/c1",
    }
    assert settings.allow_large_deployment_documents is True
    assert StarterSettings.from_env(V2_STARTER_ENV).allow_large_deployment_documents is False
    with pytest.raises(
        ConfigurationError, match="ALLOW_LARGE_DEPLOYMENT_DOCUMENTS='yes' is not true or false"
    ):
        StarterSettings.from_env(V2_STARTER_ENV | {"ALLOW_LARGE_DEPLOYMENT_DOCUMENTS": "yes"})
    with pytest.raises(ConfigurationError, match="DEPLOYABLE_TARGET_ARNS must be a non-empty JSON array"):
        StarterSettings.from_env(V2_STARTER_ENV | {"DEPLOYABLE_TARGET_ARNS": "[]"})


def test_each_function_takes_half_of_the_request_budget() -> None:
    # Both functions call Greengrass V2 and IoT at the same time: together they stay within the share.
    starter = StarterSettings.from_env(V2_STARTER_ENV | {"GREENGRASS_REQUESTS_PER_SECOND": "7"})
    tracker = TrackerSettings.from_env(TRACKER_ENV | {"GREENGRASS_REQUESTS_PER_SECOND": "7"})
    assert starter.function_requests_per_second + tracker.function_requests_per_second == 7
    assert TrackerSettings.from_env(TRACKER_ENV).function_requests_per_second == 5
