"""The provider metadata Airflow reads: schema-valid, discoverable, and import-light."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest

from airflow_provider_kie.get_provider_info import get_provider_info


def test_provider_info_is_valid_against_airflows_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_entry_point_is_registered():
    (entry_point,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_kie")
    ]
    assert entry_point.load() is get_provider_info


def test_every_listed_module_and_class_imports():
    import importlib

    info = get_provider_info()
    modules = [
        m
        for section in ("hooks", "operators", "sensors", "triggers")
        for e in info.get(section, [])
        for m in e["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    plugin_classes = [p["plugin-class"] for p in info.get("plugins", [])]
    assert plugin_classes, "the callback receiver's plugin is listed"
    dotted_names = [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", [])
    for dotted in dotted_names + plugin_classes:
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted


def test_kie_connection_type_form():
    types = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}
    assert sorted(types) == ["kie", "runway"]
    conn = types["kie"]
    assert conn["ui-field-behaviour"]["relabeling"]["password"] == "API key"
    assert conn["ui-field-behaviour"]["placeholders"]["host"] == "https://api.kie.ai"
    assert "upload_base_url" in conn["conn-fields"]
    # Callbacks: the api-server's public URL, and the webhook key, masked in the form (Airflow >= 3.2 reads
    # format "password") and by the secrets masker (its name contains "secret").
    assert conn["conn-fields"]["callback_base_url"]["label"] == "Callback base URL"
    secret = conn["conn-fields"]["webhook_secret"]
    assert secret["label"] == "Webhook HMAC key"
    assert secret["schema"]["format"] == "password"


@pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")
def test_the_webhook_key_is_a_sensitive_field_of_the_form():
    from airflow import __version__ as airflow_version

    if tuple(int(part) for part in airflow_version.split(".")[:2]) < (3, 2):
        pytest.skip("Airflow 3.1 reads form fields from the hook (WTForms), not from conn-fields")
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    assert widgets["extra__kie__webhook_secret"].is_sensitive
    assert not widgets["extra__kie__callback_base_url"].is_sensitive


@pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")
def test_airflow_discovers_the_provider_and_its_connection_type():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-kie" in manager.providers
    assert manager.hooks["kie"].hook_class_name == "airflow_provider_kie.hooks.kie.KieHook"
    from airflow import __version__ as airflow_version

    if tuple(int(part) for part in airflow_version.split(".")[:2]) < (3, 2):
        # Airflow 3.1 reads form behaviour from hooks, and only with WTForms installed (its own import in
        # ProvidersManager comes first): without it no provider has one. The hook's part is checked instead.
        from airflow_provider_kie.hooks.kie import KieHook

        assert KieHook.get_ui_field_behaviour()["relabeling"]["host"] == "API base URL"
        assert KieHook.get_connection_form_widgets() == {}  # no WTForms: no widgets, and no ImportError
        return
    assert manager.field_behaviours["kie"]["relabeling"]["host"] == "API base URL"


def test_get_provider_info_does_not_import_httpx_or_the_client():
    # Airflow calls get_provider_info in every process at start-up: it must stay cheap.
    code = (
        "import sys; from airflow_provider_kie.get_provider_info import get_provider_info; "
        "get_provider_info(); "
        "print(any(m.startswith(('httpx', 'airflow_provider_kie.client')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
