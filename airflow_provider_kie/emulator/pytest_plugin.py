"""Pytest fixtures serving the KIE emulator; not auto-registered.

Enable them in your own ``conftest.py`` (the root one)::

    pytest_plugins = ["airflow_provider_kie.emulator.pytest_plugin"]

Fixtures:

* ``kie_emulator_config`` - the :class:`EmulatorConfig` used by ``kie_emulator``; override it in a conftest or
  test module to change keys, credits, limits or faults. Default: :func:`fast_test_config`.
* ``kie_emulator`` - a fresh emulator per test (:class:`RunningEmulator`: ``.base_url``, ``.upload_base_url``,
  ``.state``, ``.api_key``, ``.set_faults()``, ``.stats()``...).
* ``kie_emulator_session`` - one emulator for the whole session with :func:`fast_test_config` (cheaper);
* ``kie_emulator_clean`` - that session emulator, reset before the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_kie.emulator.config import EmulatorConfig
from airflow_provider_kie.emulator.server import RunningEmulator, running_emulator

#: Scale of :func:`fast_test_config`: a 75 s Runway generation takes 0.15 s, an Aleph one 0.27 s.
FAST_TIME_SCALE = 0.002


def fast_test_config(**overrides: Any) -> EmulatorConfig:
    """A config for tests: KIE's behaviour on a clock 500x faster. Keyword arguments override fields."""
    values: dict[str, Any] = {"time_scale": FAST_TIME_SCALE, **overrides}
    return EmulatorConfig(**values)


@pytest.fixture
def kie_emulator_config() -> EmulatorConfig:
    """The configuration of ``kie_emulator`` (override to customise)."""
    return fast_test_config()


@pytest.fixture
def kie_emulator(kie_emulator_config: EmulatorConfig) -> Iterator[RunningEmulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    with running_emulator(kie_emulator_config) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def kie_emulator_session() -> Iterator[RunningEmulator]:
    """One emulator shared by the whole session (state carries over between tests)."""
    with running_emulator(fast_test_config()) as emulator:
        yield emulator


@pytest.fixture
def kie_emulator_clean(kie_emulator_session: RunningEmulator) -> RunningEmulator:
    """The session emulator, reset (tasks, counters, credits, faults) before the test."""
    kie_emulator_session.reset()
    return kie_emulator_session
