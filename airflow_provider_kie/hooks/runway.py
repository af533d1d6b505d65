"""``RunwayHook``: an Airflow ``runway`` connection turned into a configured client of Runway's own API.

The connection holds the Runway API secret (``key_...``) in its password, optionally the API base URL in its
host (default ``https://api.dev.runwayml.com``) and, in its extra, ``api_version`` (sent as
``X-Runway-Version``; default 2024-11-06), ``timeout`` and ``min_credits`` (the same credit floor as a ``kie``
connection's, read from Runway's organisation balance). The hook masks the secret as soon as it reads it.

The generation operators take either connection type through their one ``kie_conn_id`` parameter:
:func:`generation_hook` picks the hook by the connection's type, and the client this hook gives the shared
lifecycle (:class:`~airflow_provider_kie.client.runway_api.RunwayClient`, still importable from here as
``RunwayBackendClient``) answers the few calls that lifecycle makes of a KIE client. The Runway API client
package is imported on first use, not with this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_kie._compat import AirflowException
from airflow_provider_kie.hooks._base import (
    ClientOptions,
    ConnectionHook,
    HookOptions,
    base_url_from_host,
    common_fields,
    common_form_fields,
    defines_its_form,
    read_extra,
)
from airflow_provider_kie.hooks.kie import KieHook

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from typing_extensions import Unpack

    from airflow_provider_kie.client.runway_api import AsyncRunwayClient, RunwayClient, RunwayOrganization

    # The names the lifecycle and the trigger use; the clients answer the lifecycle's calls themselves.
    RunwayBackendClient = RunwayClient
    AsyncRunwayBackendClient = AsyncRunwayClient

__all__ = [
    "RUNWAY_CONN_TYPE",
    "AsyncRunwayBackendClient",
    "GenerationHook",
    "RunwayBackendClient",
    "RunwayConnectionSettings",
    "RunwayHook",
    "generation_hook",
]

RUNWAY_CONN_TYPE = "runway"
#: Extra keys of the ``runway`` connection (Airflow < 3.2 stores form fields prefixed ``extra__runway__``).
EXTRA_API_VERSION = "api_version"

# Module attributes imported on first use: a DAG file that imports the operators does not load the Runway
# API client package unless a runway connection is used (see ``benchmarks/bench_import_cost.py``).
_LAZY = {
    "RunwayBackendClient": "RunwayClient",
    "AsyncRunwayBackendClient": "AsyncRunwayClient",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from airflow_provider_kie.client import runway_api

        return getattr(runway_api, _LAZY[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class RunwayConnectionSettings(ClientOptions):
    """What a ``runway`` connection says, read once and shared by the sync and async client builders."""

    api_key: str = field(repr=False)
    base_url: str
    api_version: str
    timeout: float | None
    #: The connection's credit floor for paid creates (``None``: no check); an operator's own wins.
    min_credits: float | None = None

    @classmethod
    def from_connection(cls, conn: Connection) -> RunwayConnectionSettings:
        """Read a ``runway`` connection; raise :class:`KieConfigurationError` when it has no API secret."""
        from airflow_provider_kie.client.runway_api.http import (
            DEFAULT_RUNWAY_API_VERSION,
            DEFAULT_RUNWAY_BASE_URL,
        )

        fields, extra = common_fields(
            conn, RUNWAY_CONN_TYPE, "API secret: put the Runway API key (key_...) in its password field"
        )
        return cls(
            base_url=base_url_from_host(conn.host, conn.port, conn.schema) or DEFAULT_RUNWAY_BASE_URL,
            api_version=str(
                read_extra(extra, EXTRA_API_VERSION, RUNWAY_CONN_TYPE) or DEFAULT_RUNWAY_API_VERSION
            ),
            **fields,
        )

    def backend_kwargs(self) -> dict[str, Any]:
        """The host and ``X-Runway-Version`` of :class:`RunwayClient` / :class:`AsyncRunwayClient`."""
        return {"base_url": self.base_url, "api_version": self.api_version}


@defines_its_form
class RunwayHook(ConnectionHook[RunwayConnectionSettings, "RunwayClient", "AsyncRunwayClient"]):
    """Interact with Runway's own API through an Airflow connection of type ``runway``.

    :param runway_conn_id: the ``runway`` connection to use. The options (``retry``, ``submit_retry`` for paid
        creates, and ``transport``/``async_transport`` for tests) are
        :class:`~airflow_provider_kie.hooks._base.ConnectionHook`'s.
    """

    conn_name_attr = "runway_conn_id"
    default_conn_name = "runway_default"
    conn_type = RUNWAY_CONN_TYPE
    hook_name = "Runway API"
    settings_class = RunwayConnectionSettings
    service_phrase = "the Runway API"

    def __init__(self, runway_conn_id: str = default_conn_name, **options: Unpack[HookOptions]) -> None:
        self.runway_conn_id = runway_conn_id
        super().__init__(**options)

    @property
    def kie_conn_id(self) -> str:
        """The connection id under the name the lifecycle reads (operators have one ``kie_conn_id``)."""
        return self.runway_conn_id

    @classmethod
    def client_classes(cls) -> tuple[type[RunwayClient], type[AsyncRunwayClient]]:
        """:class:`RunwayClient` and :class:`AsyncRunwayClient`, which also answer the calls the generation
        lifecycle makes of a KIE client (``get_task(id, kind)``, ``get_credits()``...)."""
        from airflow_provider_kie.client.runway_api import AsyncRunwayClient, RunwayClient

        return RunwayClient, AsyncRunwayClient

    @classmethod
    def form_fields(cls) -> list[tuple[str, str, str]]:
        """The API version, the timeout and the credit floor."""
        from airflow_provider_kie.client.runway_api.http import DEFAULT_RUNWAY_API_VERSION
        from airflow_provider_kie.get_provider_info import RUNWAY_MIN_CREDITS_HELP

        version_help = f"Sent as X-Runway-Version; default {DEFAULT_RUNWAY_API_VERSION}"
        return [
            (EXTRA_API_VERSION, "API version", version_help),
            *common_form_fields(RUNWAY_MIN_CREDITS_HELP),
        ]

    async def get_async_conn(self) -> AsyncRunwayClient:
        """A new :class:`AsyncRunwayClient` for this connection; the caller closes it (``async with``)."""
        return await self.get_async_client()

    def describe_connection(self, client: RunwayClient) -> str:
        """Call Runway's organisation endpoint: proves the secret works, reports balance and tier limits."""
        organization = client.get_organization()
        return (
            f"Connected to the Runway API at {self.settings.base_url} (version {self.settings.api_version}); "
            f"credit balance: {organization.credit_balance}; {describe_limits(organization)}"
        )


def describe_limits(organization: RunwayOrganization) -> str:
    """The tier's concurrency limits, per model, as one line for the connection test."""
    limits = [
        f"{name} {model.max_concurrent_generations}"
        for name, model in organization.models.items()
        if model.max_concurrent_generations is not None
    ]
    if not limits:
        return "the tier lists no concurrency limits"
    return "concurrent generations per model: " + ", ".join(limits)


#: The hook behind a generation operator: KIE's, or Runway's own API's.
GenerationHook = KieHook | RunwayHook


def generation_hook(conn_id: str) -> GenerationHook:
    """The hook for ``conn_id`` by its connection type: ``runway`` gives :class:`RunwayHook`, anything else
    :class:`KieHook`. A connection that cannot be read here also gets :class:`KieHook`, which reports the
    problem on first use exactly as before this choice existed. A blocking lookup: worker only."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowException:  # not found (its class moved between Airflow versions), or unreadable
        return KieHook(conn_id)
    if conn.conn_type == RUNWAY_CONN_TYPE:
        return RunwayHook(conn_id)
    return KieHook(conn_id)
