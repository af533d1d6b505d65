"""RunwayHook: the ``runway`` connection, its clients, the connection test (against the emulated Runway API),
the hook chosen by connection type, and the API secret kept out of every message."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

import pytest

from airflow_provider_kie.client import KieConfigurationError, TaskKind
from airflow_provider_kie.client.runway_api import (
    DEFAULT_RUNWAY_API_VERSION,
    DEFAULT_RUNWAY_BASE_URL,
    AsyncRunwayClient,
    RunwayClient,
)
from airflow_provider_kie.emulator import RunningEmulator
from airflow_provider_kie.emulator.pytest_plugin import (  # noqa: F401 - fixtures
    kie_emulator_clean,
    kie_emulator_session,
)
from airflow_provider_kie.get_provider_info import RUNWAY_UI_FIELD_BEHAVIOUR, get_provider_info
from airflow_provider_kie.hooks.kie import KieHook
from airflow_provider_kie.hooks.runway import (
    RunwayConnectionSettings,
    RunwayHook,
    generation_hook,
)

SECRET = "key_" + "ab" * 64


def _set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))


@pytest.fixture
def emu(kie_emulator_clean: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:  # noqa: F811
    for name in ("NO_PROXY", "no_proxy"):  # a machine proxy must not see loopback traffic
        monkeypatch.setenv(name, "127.0.0.1,localhost,::1")
    _set_conn(
        monkeypatch,
        "runway_default",
        {
            "conn_type": "runway",
            "password": kie_emulator_clean.runway_api_key,
            "host": kie_emulator_clean.runway_base_url,
        },
    )
    return kie_emulator_clean


def test_defaults_from_a_bare_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "rw", {"conn_type": "runway", "password": SECRET})
    settings = RunwayHook("rw").settings
    assert (settings.base_url, settings.api_version, settings.timeout, settings.min_credits) == (
        DEFAULT_RUNWAY_BASE_URL,
        DEFAULT_RUNWAY_API_VERSION,
        None,
        None,
    )


def test_host_and_extras_reach_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(
        monkeypatch,
        "rw",
        {
            "conn_type": "runway",
            "password": SECRET,
            "host": "http://127.0.0.1:9999/runway-api",
            "extra": {"api_version": "2025-01-01", "extra__runway__timeout": "12", "min_credits": 50},
        },
    )
    hook = RunwayHook("rw")
    client = hook.get_conn()
    assert isinstance(client, RunwayClient) and client is hook.get_conn()  # built once
    assert (client.base_url, client.api_version, client.timeout.read) == (
        "http://127.0.0.1:9999/runway-api",
        "2025-01-01",
        12.0,
    )
    assert hook.settings.min_credits == 50

    async def build() -> AsyncRunwayClient:
        async with await hook.get_async_conn() as async_client:
            return async_client

    async_client = asyncio.run(build())
    assert (async_client.base_url, async_client.api_version) == (client.base_url, client.api_version)


def test_missing_secret_and_bad_extras_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "rw", {"conn_type": "runway"})
    with pytest.raises(KieConfigurationError, match="password field"):
        _ = RunwayHook("rw").settings
    _set_conn(monkeypatch, "rw", {"conn_type": "runway", "password": SECRET, "extra": {"timeout": "soon"}})
    with pytest.raises(KieConfigurationError, match="timeout"):
        _ = RunwayHook("rw").settings
    _set_conn(monkeypatch, "rw", {"conn_type": "runway", "password": SECRET, "extra": {"api_version": "v2"}})
    with pytest.raises(KieConfigurationError, match="api_version"):
        RunwayHook("rw").get_conn()


def test_the_lifecycle_calls_are_runway_api_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "rw", {"conn_type": "runway", "password": SECRET})
    client = RunwayHook("rw").get_conn()
    with pytest.raises(KieConfigurationError, match="Runway API tasks only"):
        client.get_task("abc", TaskKind.RUNWAY)
    assert client.get_download_url("https://cdn.example/a.mp4") == "https://cdn.example/a.mp4"


def test_the_hook_is_chosen_by_connection_type(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "rw", {"conn_type": "runway", "password": SECRET})
    _set_conn(monkeypatch, "k", {"conn_type": "kie", "password": "sk-x"})
    runway, kie = generation_hook("rw"), generation_hook("k")
    assert isinstance(runway, RunwayHook) and runway.kie_conn_id == "rw"
    assert isinstance(kie, KieHook) and kie.kie_conn_id == "k"


def test_connection_test_reports_balance_and_concurrency_limits(
    emu: RunningEmulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    ok, message = RunwayHook().test_connection()

    assert ok, message
    organization = emu.runway_api_stats()
    assert f"credit balance: {organization.credits_balance}" in message
    assert "concurrent generations per model: " in message and "gen4.5 " in message
    assert emu.runway_base_url in message
    assert emu.runway_api_key not in message + caplog.text + "".join(capsys.readouterr())


def test_connection_test_failure_is_clear_and_keyless(
    emu: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "key_" + "cd" * 64
    _set_conn(
        monkeypatch, "runway_default", {"conn_type": "runway", "password": wrong, "host": emu.runway_base_url}
    )
    emu.reconfigure(runway_api=dataclasses.replace(emu.config.runway_api, api_keys={SECRET}))

    ok, message = RunwayHook().test_connection()

    assert not ok and message.startswith("Runway API connection test failed:")
    assert wrong not in message + caplog.text + "".join(capsys.readouterr())


def test_reprs_never_show_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "rw", {"conn_type": "runway", "password": SECRET})
    hook = RunwayHook("rw")
    assert SECRET not in repr(hook) + repr(hook.settings) + repr(hook.get_conn())
    assert SECRET not in repr(RunwayConnectionSettings(SECRET, "https://x", "2024-11-06", None))


def test_form_matches_the_provider_info() -> None:
    behaviour = RunwayHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == RUNWAY_UI_FIELD_BEHAVIOUR["relabeling"]
    assert behaviour["relabeling"]["password"] == "API secret"
    (conn,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "runway"]
    assert conn["hook-class-name"] == "airflow_provider_kie.hooks.runway.RunwayHook"
    assert set(conn["conn-fields"]) == {"api_version", "timeout", "min_credits"}
