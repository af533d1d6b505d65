"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point.

Kept import-light on purpose: Airflow calls this in every process at start-up, so it must not import the
client, httpx or any hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_kie import __version__

#: The ``kie`` connection form (Airflow >= 3.2 reads it from here; older versions from the hook).
KIE_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["login", "schema", "port"],
    "relabeling": {"password": "API key", "host": "API base URL"},
    "placeholders": {
        "password": "your KIE API key (https://kie.ai/api-key)",
        "host": "https://api.kie.ai",
        "upload_base_url": "https://kieai.redpandaai.co",
        "timeout": "30",
        "min_credits": "e.g. 500; empty for no check",
        "callback_base_url": "https://airflow.example.com; empty: no callbacks",
    },
}

#: Help text of the ``min_credits`` extra, shared by both connection forms.
MIN_CREDITS_HELP = (
    "Fail a generation task before any paid submit when the KIE credit balance is below this (checked "
    "with KIE's free credit call, shared for 30 s per worker). Empty or 0: no check. An operator's "
    "min_credits wins."
)

#: The same floor on a ``runway`` connection, against the organisation's balance.
RUNWAY_MIN_CREDITS_HELP = (
    "Fail a generation task before any paid create when the Runway credit balance is below this (checked "
    "with Runway's free organization call, shared for 30 s per worker). Empty or 0: no check. An "
    "operator's min_credits wins."
)

KIE_CONN_FIELDS: dict[str, Any] = {
    "upload_base_url": {
        "label": "Upload base URL",
        "description": "KIE's file-upload host (a different host from the API). Default https://kieai.redpandaai.co",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Request timeout (s)",
        "description": "Per-request read timeout in seconds. Default 30.",
        "schema": {"type": ["number", "null"], "minimum": 1},
    },
    "min_credits": {
        "label": "Minimum credits",
        "description": MIN_CREDITS_HELP,
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "callback_base_url": {
        "label": "Callback base URL",
        "description": (
            "The public base URL of this Airflow's api-server that KIE can reach (e.g. "
            "https://airflow.example.com). Set, every submit asks KIE to call back there and waits end about "
            "a second after KIE finishes; empty disables callbacks."
        ),
        "schema": {"type": ["string", "null"]},
    },
    "webhook_secret": {
        "label": "Webhook HMAC key",
        "description": (
            "Your KIE account's webhook HMAC key. Set, unsigned or wrongly signed "
            "callbacks are refused; empty, callbacks are accepted unsigned (they can only cause a free "
            "status read)."
        ),
        # format "password": Airflow >= 3.2 shows a masked field; "secret" in the name makes the secrets
        # masker hide the value in logs and the UI on every version.
        "schema": {"type": ["string", "null"], "format": "password"},
    },
}


#: The ``runway`` connection form: Runway's own API (https://api.dev.runwayml.com), the second backend.
RUNWAY_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["login", "schema", "port"],
    "relabeling": {"password": "API secret", "host": "API base URL"},
    "placeholders": {
        "password": "your Runway API key (key_..., https://dev.runwayml.com)",
        "host": "https://api.dev.runwayml.com",
        "api_version": "2024-11-06",
        "timeout": "30",
        "min_credits": "e.g. 500; empty for no check",
    },
}

RUNWAY_CONN_FIELDS: dict[str, Any] = {
    "api_version": {
        "label": "API version",
        "description": "Sent as the X-Runway-Version header. Default 2024-11-06.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": KIE_CONN_FIELDS["timeout"],
    "min_credits": {
        "label": "Minimum credits",
        "description": RUNWAY_MIN_CREDITS_HELP,
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's providers manager."""
    return {
        "package-name": "airflow-provider-kie",
        "name": "KIE",
        "description": "Generate, extend and restyle videos with KIE's Runway and Aleph APIs from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "KIE",
                "external-doc-url": "https://docs.kie.ai",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "KIE",
                "python-modules": ["airflow_provider_kie.hooks.kie", "airflow_provider_kie.hooks.runway"],
            }
        ],
        "operators": [
            {
                "integration-name": "KIE",
                "python-modules": [
                    "airflow_provider_kie.operators.runway",
                    "airflow_provider_kie.operators.market",
                    "airflow_provider_kie.operators.veo",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "KIE",
                "python-modules": ["airflow_provider_kie.sensors.kie", "airflow_provider_kie.sensors.runway"],
            }
        ],
        "triggers": [{"integration-name": "KIE", "python-modules": ["airflow_provider_kie.triggers.runway"]}],
        "extra-links": ["airflow_provider_kie.links.KieVideoLink"],
        # Also an ``airflow.plugins`` entry point (pyproject.toml): Airflow reads this list only with
        # ``[core] lazy_discover_providers`` off.
        "plugins": [
            {
                "name": "kie_callbacks",
                "plugin-class": "airflow_provider_kie.callbacks.plugin.KieCallbackPlugin",
            }
        ],
        "connection-types": [
            {
                "connection-type": "kie",
                "hook-class-name": "airflow_provider_kie.hooks.kie.KieHook",
                "hook-name": "KIE",
                "ui-field-behaviour": KIE_UI_FIELD_BEHAVIOUR,
                "conn-fields": KIE_CONN_FIELDS,
            },
            {
                "connection-type": "runway",
                "hook-class-name": "airflow_provider_kie.hooks.runway.RunwayHook",
                "hook-name": "Runway API",
                "ui-field-behaviour": RUNWAY_UI_FIELD_BEHAVIOUR,
                "conn-fields": RUNWAY_CONN_FIELDS,
            },
        ],
    }
