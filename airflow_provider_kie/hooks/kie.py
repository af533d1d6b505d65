"""``KieHook``: an Airflow ``kie`` connection turned into a configured KIE client.

The connection holds the API key in its password, the API base URL in its host (default
``https://api.kie.ai``) and, in its extra, the upload host's base URL, the request timeout and an optional
credit floor (``min_credits``: below it a generation operator fails before any paid submit). The hook masks
the key with Airflow's secret masker as soon as it reads it, so it cannot reach a task log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_kie.callbacks.urls import callback_base_url
from airflow_provider_kie.client import (
    DEFAULT_BASE_URL,
    DEFAULT_UPLOAD_BASE_URL,
    AsyncKieClient,
    KieClient,
)
from airflow_provider_kie.hooks._base import (
    ClientOptions,
    ConnectionHook,
    HookOptions,
    base_url_from_host,
    common_fields,
    common_form_fields,
    defines_its_form,
    min_credits_extra,
    read_extra,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from typing_extensions import Unpack

__all__ = ["KieConnectionSettings", "KieHook"]

#: Extra keys of the ``kie`` connection. Airflow < 3.2 stores form fields with an ``extra__kie__`` prefix.
EXTRA_UPLOAD_BASE_URL = "upload_base_url"
EXTRA_BASE_URL = "base_url"
KIE_CONN_TYPE = "kie"

# The names this module had before the shared base took them; kept for code that imports them from here.
_base_url_from_host = base_url_from_host
_min_credits = min_credits_extra


@dataclass(frozen=True)
class KieConnectionSettings(ClientOptions):
    """What a ``kie`` connection says, read once and shared by the sync and async client builders."""

    api_key: str = field(repr=False)
    base_url: str
    upload_base_url: str
    timeout: float | None
    #: The connection's credit floor for paid submits (``None``: no check); an operator's own wins.
    min_credits: float | None = None
    #: The api-server's public base URL for KIE's callbacks (``None``: callbacks off for this connection).
    callback_base_url: str | None = None

    @classmethod
    def from_connection(cls, conn: Connection) -> KieConnectionSettings:
        """Read a ``kie`` connection; raise :class:`KieConfigurationError` when it has no API key."""
        fields, extra = common_fields(
            conn, KIE_CONN_TYPE, "API key: put the KIE API key in its password field"
        )
        base_url = (
            read_extra(extra, EXTRA_BASE_URL, KIE_CONN_TYPE)
            or base_url_from_host(conn.host, conn.port, conn.schema)
            or DEFAULT_BASE_URL
        )
        upload_base_url = read_extra(extra, EXTRA_UPLOAD_BASE_URL, KIE_CONN_TYPE) or DEFAULT_UPLOAD_BASE_URL
        return cls(
            base_url=str(base_url),
            upload_base_url=str(upload_base_url),
            callback_base_url=callback_base_url(extra),
            **fields,
        )

    def backend_kwargs(self) -> dict[str, Any]:
        """The API and upload hosts of :class:`KieClient` / :class:`AsyncKieClient`."""
        return {"base_url": self.base_url, "upload_base_url": self.upload_base_url}


@defines_its_form
class KieHook(ConnectionHook[KieConnectionSettings, KieClient, AsyncKieClient]):
    """Interact with KIE's API through an Airflow connection of type ``kie``.

    :param kie_conn_id: the ``kie`` connection to use. The options (``retry``, ``submit_retry``, and
        ``transport``/``async_transport`` for tests) are those of
        :class:`~airflow_provider_kie.hooks._base.ConnectionHook`.
    """

    conn_name_attr = "kie_conn_id"
    default_conn_name = "kie_default"
    conn_type = KIE_CONN_TYPE
    hook_name = "KIE"
    settings_class = KieConnectionSettings
    service_phrase = "KIE"

    def __init__(self, kie_conn_id: str = default_conn_name, **options: Unpack[HookOptions]) -> None:
        self.kie_conn_id = kie_conn_id
        super().__init__(**options)

    @classmethod
    def client_classes(cls) -> tuple[type[KieClient], type[AsyncKieClient]]:
        """:class:`KieClient` and :class:`AsyncKieClient`."""
        return KieClient, AsyncKieClient

    @classmethod
    def form_fields(cls) -> list[tuple[str, str, str]]:
        """The upload host, the timeout, the credit floor and the callback settings (without Flask-AppBuilder
        and WTForms, set them in the Extra JSON)."""
        from airflow_provider_kie.get_provider_info import KIE_CONN_FIELDS, MIN_CREDITS_HELP

        upload_help = f"KIE's file-upload host; default {DEFAULT_UPLOAD_BASE_URL}"
        callbacks = [
            (key, KIE_CONN_FIELDS[key]["label"], KIE_CONN_FIELDS[key]["description"])
            for key in ("callback_base_url", "webhook_secret")
        ]
        return [
            (EXTRA_UPLOAD_BASE_URL, "Upload base URL", upload_help),
            *common_form_fields(MIN_CREDITS_HELP),
            *callbacks,
        ]

    def describe_connection(self, client: KieClient) -> str:
        """Call KIE's credit endpoint: proves the key works and reports the balance."""
        credits = client.get_credits()
        return f"Connected to KIE at {self.settings.base_url}; credit balance: {credits}"
