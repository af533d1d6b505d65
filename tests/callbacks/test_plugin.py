"""The plugin: found by Airflow's plugins manager and providers manager, mounted under /kie, import-light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from airflow_provider_kie.callbacks.plugin import KieCallbackPlugin, LazyReceiverApp
from airflow_provider_kie.get_provider_info import get_provider_info

PLUGIN_CLASS = "airflow_provider_kie.callbacks.plugin.KieCallbackPlugin"


def run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (the plugins manager caches what it loaded per process)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_the_plugin_serves_one_app_under_kie():
    from airflow.plugins_manager import AirflowPlugin

    assert issubclass(KieCallbackPlugin, AirflowPlugin)
    KieCallbackPlugin.validate()  # what the plugins manager checks (a name is set)
    (app,) = KieCallbackPlugin.fastapi_apps
    assert app["url_prefix"] == "/kie"
    assert app["name"] == "KIE callbacks"
    assert isinstance(app["app"], LazyReceiverApp)


def test_the_provider_info_lists_the_plugin():
    assert get_provider_info()["plugins"] == [{"name": "kie_callbacks", "plugin-class": PLUGIN_CLASS}]


def test_importing_the_plugin_loads_neither_the_receiver_nor_the_client():
    # Airflow imports plugins in the scheduler, triggerer and workers too: only the api-server needs the app.
    out = run_python(
        """
        import sys
        import airflow_provider_kie.callbacks.plugin
        heavy = ("airflow_provider_kie.callbacks.receiver", "airflow_provider_kie.client")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    assert out == "[]"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_providers_manager_knows_the_plugin():
    from airflow.providers_manager import ProvidersManager

    plugins = {plugin.name: plugin for plugin in ProvidersManager().plugins}
    assert plugins["kie_callbacks"].plugin_class == PLUGIN_CLASS


_MOUNT = """
    import json, warnings
    warnings.simplefilter("ignore")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from airflow import plugins_manager
    from airflow.api_fastapi.app import init_plugins

    plugins_manager.ensure_plugins_loaded()
    try:
        loaded = plugins_manager._get_plugins()[0]  # Airflow >= 3.2
    except AttributeError:
        loaded = plugins_manager.plugins  # Airflow 3.1
    names = [p.name for p in loaded if p.name == "kie_callbacks"]
    app = FastAPI()
    init_plugins(app)  # what the api-server does at start-up
    mounts = [route.path for route in app.routes if type(route).__name__ == "Mount"]
    with TestClient(app) as client:
        response = client.post("/kie/callbacks/no_such_connection", json={"taskId": "t1"})
    print(json.dumps({"names": names, "mounts": mounts, "status": response.status_code,
                      "body": response.json()}))
"""


@pytest.mark.parametrize("lazy", ["True", "False"], ids=["entry-point", "provider-info"])
def test_the_api_server_mounts_the_receiver_under_kie(airflow_db, lazy):
    # With lazy provider discovery (Airflow's default) the plugins manager reads the airflow.plugins entry
    # point; without it, the provider info's "plugins" as well (the duplicate is skipped by name).
    out = json.loads(run_python(_MOUNT, AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS=lazy))
    assert out["names"] == ["kie_callbacks"]
    assert "/kie" in out["mounts"]
    assert out["status"] == 404
    assert out["body"]["detail"] == "callbacks not enabled for this connection"
