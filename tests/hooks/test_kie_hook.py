"""KieHook: connection parsing, client construction, async lookup, connection test, secret hygiene."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from airflow_provider_kie.client import DEFAULT_UPLOAD_BASE_URL, KieClient, KieConfigurationError
from airflow_provider_kie.hooks.kie import KieConnectionSettings, KieHook

API_KEY = "sk-hook-test-0123456789"


def _set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: str | dict[str, object]) -> None:
    env_value = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", env_value)


def _credit_transport(seen: list[httpx.Request], code: int = 200, data: object = 1234) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"code": code, "msg": "success" if code == 200 else "denied", "data": data}
        )

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("conn", "base_url", "upload_base_url"),
    [
        pytest.param(f"kie://:{API_KEY}@", "https://api.kie.ai", DEFAULT_UPLOAD_BASE_URL, id="uri-defaults"),
        pytest.param(
            f"kie://:{API_KEY}@api.kie.ai", "https://api.kie.ai", DEFAULT_UPLOAD_BASE_URL, id="uri-host"
        ),
        pytest.param(
            f"kie://:{API_KEY}@127.0.0.1:8089/http?upload_base_url=http%3A%2F%2F127.0.0.1%3A8089%2Fupload-host",
            "http://127.0.0.1:8089",
            "http://127.0.0.1:8089/upload-host",
            id="uri-schema-as-scheme-with-port",
        ),
        pytest.param(
            {"conn_type": "kie", "password": API_KEY, "host": "http://127.0.0.1:8089"},
            "http://127.0.0.1:8089",
            DEFAULT_UPLOAD_BASE_URL,
            id="json-full-url-host",
        ),
        pytest.param(
            {
                "conn_type": "kie",
                "password": API_KEY,
                "extra": {
                    "extra__kie__upload_base_url": "https://up.example",
                    "base_url": "https://proxy.example/",
                },
            },
            "https://proxy.example",
            "https://up.example",
            id="json-prefixed-extra-and-base-url-override",
        ),
    ],
)
def test_settings_from_connection_forms(monkeypatch, conn, base_url, upload_base_url):
    _set_conn(monkeypatch, "kie_forms", conn)
    settings = KieHook("kie_forms").settings
    assert settings.api_key == API_KEY
    assert settings.base_url.rstrip("/") == base_url
    assert settings.upload_base_url == upload_base_url


def test_missing_api_key_is_a_configuration_error_naming_the_field(monkeypatch):
    _set_conn(monkeypatch, "kie_nokey", {"conn_type": "kie", "host": "https://api.kie.ai"})
    with pytest.raises(KieConfigurationError, match="password"):
        _ = KieHook("kie_nokey").settings


def test_bad_timeout_extra_is_rejected(monkeypatch):
    _set_conn(
        monkeypatch, "kie_badtimeout", {"conn_type": "kie", "password": API_KEY, "extra": {"timeout": "soon"}}
    )
    with pytest.raises(KieConfigurationError, match="timeout"):
        _ = KieHook("kie_badtimeout").settings


def test_timeout_extra_reaches_the_client(monkeypatch):
    _set_conn(
        monkeypatch, "kie_timeout", {"conn_type": "kie", "password": API_KEY, "extra": {"timeout": "7.5"}}
    )
    client = KieHook("kie_timeout").get_conn()
    assert client.timeout.read == 7.5


def test_get_conn_builds_one_configured_client(monkeypatch):
    _set_conn(
        monkeypatch, "kie_client", {"conn_type": "kie", "password": API_KEY, "host": "http://127.0.0.1:1"}
    )
    seen: list[httpx.Request] = []
    hook = KieHook("kie_client", transport=_credit_transport(seen))
    client = hook.get_conn()
    assert isinstance(client, KieClient)
    assert hook.get_conn() is client
    assert client.get_credits() == 1234
    assert str(seen[0].url) == "http://127.0.0.1:1/api/v1/chat/credit"
    assert seen[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_api_key_is_registered_with_the_secret_masker(monkeypatch, mocker):
    _set_conn(monkeypatch, "kie_mask", {"conn_type": "kie", "password": API_KEY})
    mask = mocker.patch("airflow.sdk.log.mask_secret")
    _ = KieHook("kie_mask").settings
    mask.assert_any_call(API_KEY)


def test_async_client_uses_the_async_connection_lookup(monkeypatch, mocker):
    _set_conn(
        monkeypatch, "kie_async", {"conn_type": "kie", "password": API_KEY, "host": "http://127.0.0.1:2"}
    )
    # The blocking lookup must not run inside the triggerer's event loop.
    blocking = mocker.patch.object(KieHook, "get_connection", side_effect=AssertionError("blocking lookup"))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": 200, "msg": "success", "data": 77})

    async def run() -> int:
        client = await KieHook("kie_async", async_transport=httpx.MockTransport(handler)).get_async_client()
        async with client:
            return await client.get_credits()

    assert asyncio.run(run()) == 77
    blocking.assert_not_called()
    assert str(seen[0].url) == "http://127.0.0.1:2/api/v1/chat/credit"


def test_test_connection_reports_the_balance(monkeypatch):
    _set_conn(monkeypatch, "kie_ok", {"conn_type": "kie", "password": API_KEY, "host": "http://127.0.0.1:3"})
    ok, message = KieHook("kie_ok", transport=_credit_transport([], data=4321)).test_connection()
    assert ok is True
    assert "4321" in message
    assert "http://127.0.0.1:3" in message


def test_test_connection_failure_is_clear_and_keyless(monkeypatch, caplog, capsys):
    _set_conn(monkeypatch, "kie_bad", {"conn_type": "kie", "password": API_KEY})

    def handler(request: httpx.Request) -> httpx.Response:
        # KIE answers a wrong key with HTTP 200 and code 401; make the message echo the key to be sure.
        return httpx.Response(200, json={"code": 401, "msg": f"Invalid key {API_KEY}", "data": None})

    caplog.set_level(logging.DEBUG)
    ok, message = KieHook("kie_bad", transport=httpx.MockTransport(handler)).test_connection()
    assert ok is False
    assert "401" in message
    assert API_KEY not in message
    # Airflow logs through structlog to stdout/stderr, stdlib loggers through caplog: check both.
    captured = capsys.readouterr()
    assert "retrying" not in captured.out + caplog.text  # a 401 is not retried
    assert API_KEY not in captured.out + captured.err + caplog.text


def test_reprs_never_show_the_key(monkeypatch):
    _set_conn(monkeypatch, "kie_repr", {"conn_type": "kie", "password": API_KEY})
    hook = KieHook("kie_repr")
    assert API_KEY not in repr(hook)
    assert API_KEY not in repr(hook.get_conn())
    assert API_KEY not in repr(hook.settings)
    assert "kie_repr" in repr(hook)


def test_settings_repr_hides_the_key():
    settings = KieConnectionSettings(
        api_key=API_KEY, base_url="https://api.kie.ai", upload_base_url="u", timeout=None
    )
    assert API_KEY not in repr(settings)


def test_ui_field_behaviour_matches_the_provider_info():
    behaviour = KieHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"password": "API key", "host": "API base URL"}
    assert behaviour["placeholders"]["host"] == "https://api.kie.ai"
    assert set(behaviour["hidden_fields"]) == {"login", "schema", "port"}


@pytest.mark.parametrize(
    "hook_class", ["airflow_provider_kie.hooks.kie.KieHook", "airflow_provider_kie.hooks.runway.RunwayHook"]
)
def test_each_hook_class_defines_its_form_itself_as_airflow_31_requires(hook_class: str) -> None:
    # Airflow 3.1's ProvidersManager reads the form only from methods in the hook class's own __dict__: an
    # inherited one leaves the UI with the generic form (seen in 3.1's web UI when the base hook had them).
    import importlib

    module, name = hook_class.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert "get_ui_field_behaviour" in cls.__dict__
    assert "get_connection_form_widgets" in cls.__dict__
    assert cls.get_ui_field_behaviour()["hidden_fields"] == ["login", "schema", "port"]
