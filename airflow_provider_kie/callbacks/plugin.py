"""``KieCallbackPlugin``: serves the callback receiver inside the Airflow api-server, under ``/kie``.

Airflow loads plugins in most of its processes (scheduler, triggerer, workers, the dag processor), and only
the api-server uses ``fastapi_apps``. So this module imports nothing heavy: the app is a small ASGI
callable that imports :mod:`.receiver` (FastAPI, the signature check, the ORM models) on its first request.

The plugin does nothing until a ``kie`` connection sets ``callback_base_url``: the receiver answers 404 for
every other connection.

Airflow finds it two ways: the ``airflow.plugins`` entry point (what the plugins manager reads by default,
since ``[core] lazy_discover_providers`` is on by default) and the provider info's ``plugins`` (read when it
is off, and listed by ``airflow providers plugins``).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_kie.callbacks.urls import URL_PREFIX

__all__ = ["KieCallbackPlugin", "LazyReceiverApp"]


class LazyReceiverApp:
    """An ASGI app that hands every request to :data:`airflow_provider_kie.callbacks.receiver.app`."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from airflow_provider_kie.callbacks.receiver import app

        await app(scope, receive, send)


class KieCallbackPlugin(AirflowPlugin):
    """Registers the KIE callback receiver with the api-server (``POST /kie/callbacks/<conn_id>``)."""

    name = "kie_callbacks"
    fastapi_apps = [{"app": LazyReceiverApp(), "url_prefix": URL_PREFIX, "name": "KIE callbacks"}]
