"""One set of stand-ins (moto server, Greengrass emulator) for the whole e2e package, reset per test.

Starting moto and the emulator costs about a second; resetting them and creating the stack's
resources again costs a fraction of that, so every test starts from an empty account with the
runner (event source + tracker schedule) running on compressed time (LocalTiming.fast()).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from infra.config import DeployConfig
from local.observe import Observer
from local.pipeline import LocalPipeline
from local.stack_config import V2_CONTEXT, LocalTiming, load_deploy_config


@pytest.fixture(scope="package")
def stand_ins() -> Iterator[LocalPipeline]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    pipeline = LocalPipeline(timing=LocalTiming.fast(), run=False).start()
    try:
        yield pipeline
    finally:
        pipeline.stop()
        # Later test packages must not inherit handler caches bound to these endpoints.
        pipeline.cold_start()


E2EFactory = Callable[..., Observer]


@pytest.fixture
def make_e2e(stand_ins: LocalPipeline) -> Iterator[E2EFactory]:
    """Reset the stand-ins with test-specific emulator switches / function environment, and run."""

    def make(
        emulator_settings: Mapping[str, Any] | None = None,
        environment_overrides: Mapping[str, str] | None = None,
        run: bool = True,
        config: DeployConfig | None = None,
        v2_emulator_settings: Mapping[str, Any] | None = None,
    ) -> Observer:
        stand_ins.reset(
            emulator_settings=emulator_settings,
            environment_overrides=environment_overrides,
            run=run,
            config=config or load_deploy_config(),
            v2_emulator_settings=v2_emulator_settings,
        )
        return Observer(stand_ins)

    yield make
    stand_ins.stop_functions()
    stand_ins.emulator.clear_faults()
    stand_ins.v2_emulator.clear_faults()


@pytest.fixture
def e2e(make_e2e: E2EFactory) -> Observer:
    return make_e2e()


@pytest.fixture
def v2(make_e2e: E2EFactory) -> Observer:
    """The stand-ins as a Greengrass V2 stack (thing-group deadline: one minute, seconds locally)."""
    return make_e2e(config=load_deploy_config(V2_CONTEXT))


@pytest.fixture
def metrics_seen(stand_ins: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Every EMF metric the functions add, as (name, value). The handler module is imported in
    the function's environment first (Powertools reads its namespace at import)."""
    assert stand_ins.starter is not None
    _ = stand_ins.starter.module
    from bulk_deployer import observability

    seen: list[tuple[str, float]] = []
    original = observability.metrics.add_metric

    def spy(name: str, unit: Any, value: float, **kwargs: Any) -> None:
        seen.append((name, value))
        original(name=name, unit=unit, value=value, **kwargs)

    monkeypatch.setattr(observability.metrics, "add_metric", spy)
    return seen
