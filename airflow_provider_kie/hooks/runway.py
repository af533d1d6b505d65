"""``RunwayHook``: an Airflow ``runway`` connection turned into a configured client of Runway's own API.

The connection holds the Runway API secret (``key_...``) in its password, optionally the API base URL in its
host (default ``https://api.dev.runwayml.com``) and, in its extra, ``api_version`` (sent as
``X-Runway-Version``; default 2024-11-06), ``timeout`` and ``min_credits`` (the same credit floor as a ``kie``
connection's, read from Runway's organisation balance). The hook masks the secret as soon as it reads it.

The generation operators take either connection type through their one ``kie_conn_id`` parameter:
:func:`generation_hook` picks the hook by the connection's type, and the client this hook gives the shared
lifecycle (:class:`RunwayBackendClient`) answers the few calls that lifecycle makes of a KIE client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_kie._compat import AirflowException, amask_secret, mask_secret
from airflow_provider_kie.client import (
    KieConfigurationError,
    KieError,
    PollPolicy,
    RetryPolicy,
    TaskKind,
    TaskRecord,
)
from airflow_provider_kie.client.runway_api import (
    DEFAULT_RUNWAY_API_VERSION,
    DEFAULT_RUNWAY_BASE_URL,
    AsyncRunwayClient,
    RunwayClient,
    RunwayOrganization,
)
from airflow_provider_kie.hooks.kie import KieHook, _base_url_from_host, _min_credits

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Connection

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
EXTRA_TIMEOUT = "timeout"
EXTRA_MIN_CREDITS = "min_credits"


def _extra(extra: dict[str, Any], key: str) -> Any:
    value = extra.get(key)
    if value in (None, ""):
        value = extra.get(f"extra__runway__{key}")
    return None if value in (None, "") else value


@dataclass(frozen=True)
class RunwayConnectionSettings:
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
        if not conn.password:
            raise KieConfigurationError(
                f"Connection {conn.conn_id!r} has no API secret: put the Runway API key (key_...) in its "
                "password field"
            )
        extra = conn.extra_dejson or {}
        timeout = _extra(extra, EXTRA_TIMEOUT)
        try:
            timeout_s = float(timeout) if timeout is not None else None
        except (TypeError, ValueError):
            raise KieConfigurationError(
                f"Connection {conn.conn_id!r}: extra 'timeout' must be a number of seconds"
            ) from None
        return cls(
            api_key=conn.password,
            base_url=_base_url_from_host(conn.host, conn.port, conn.schema) or DEFAULT_RUNWAY_BASE_URL,
            api_version=str(_extra(extra, EXTRA_API_VERSION) or DEFAULT_RUNWAY_API_VERSION),
            timeout=timeout_s,
            min_credits=_min_credits(conn.conn_id, _extra(extra, EXTRA_MIN_CREDITS)),
        )

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`RunwayClient` / :class:`AsyncRunwayClient` (the key aside)."""
        kwargs: dict[str, Any] = {"base_url": self.base_url, "api_version": self.api_version}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return kwargs


def _only_runway_api(kind: TaskKind | str | None) -> None:
    # The lifecycle passes the family's kind; on this backend it can only be Runway API tasks, and reading a
    # KIE task id here would ask Runway about an id it never issued.
    if kind is not None and TaskKind(kind) is not TaskKind.RUNWAY_API:
        raise KieConfigurationError(f"a runway connection reads Runway API tasks only, not {TaskKind(kind)}")


class RunwayBackendClient(RunwayClient):
    """A :class:`RunwayClient` that also answers the calls the generation lifecycle makes of a KIE client.

    The lifecycle (:mod:`airflow_provider_kie.operators.base`, :mod:`airflow_provider_kie.lifecycle`) reads
    tasks as ``get_task(id, kind)``, waits as ``wait_for_task(id, kind, ...)``, checks a credit floor with
    ``get_credits()`` and refreshes expired links with ``get_download_url(url)``. Answering those here keeps
    that lifecycle one for both backends, without a branch per call.
    """

    def get_task(self, task_id: str, kind: TaskKind | str | None = None) -> TaskRecord:
        """The task as it is now; ``kind`` (the lifecycle's) must be ``runway_api`` when given."""
        _only_runway_api(kind)
        return super().get_task(task_id)

    def wait_for_task(
        self,
        task_id: str,
        kind: TaskKind | str | None = None,
        *,
        poll: PollPolicy | None = None,
        timeout: float | None = None,
        raise_on_failure: bool = True,
    ) -> TaskRecord:
        """:meth:`RunwayClient.wait_for_task`, taking the lifecycle's ``kind`` (``THROTTLED`` is a wait)."""
        _only_runway_api(kind)
        return super().wait_for_task(task_id, poll=poll, timeout=timeout, raise_on_failure=raise_on_failure)

    def get_credits(self) -> int:
        """The organisation's credit balance (1 credit = $0.01), for the ``min_credits`` floor."""
        return self.get_organization().credit_balance

    def get_download_url(self, url: str) -> str:
        """Runway's output links are signed direct links with no refresh call: a retried download reuses the
        link (a retry of the Airflow task re-reads the task, which signs new ones)."""
        return url


class AsyncRunwayBackendClient(AsyncRunwayClient):
    """An :class:`AsyncRunwayClient` whose ``get_task`` takes the trigger's ``kind`` (``runway_api``)."""

    async def get_task(self, task_id: str, kind: TaskKind | str | None = None) -> TaskRecord:
        """The task as it is now; ``kind`` must be ``runway_api`` when given."""
        _only_runway_api(kind)
        return await super().get_task(task_id)


class RunwayHook(BaseHook):
    """Interact with Runway's own API through an Airflow connection of type ``runway``.

    :param runway_conn_id: the ``runway`` connection to use.
    :param retry: retry policy for safe calls; the client's default when ``None``.
    :param submit_retry: retry policy for paid creates; the client's default when ``None``.
    :param transport: replaces the network for the sync client (tests); leave ``None``.
    :param async_transport: replaces the network for the async client (tests); leave ``None``.
    """

    conn_name_attr = "runway_conn_id"
    default_conn_name = "runway_default"
    conn_type = RUNWAY_CONN_TYPE
    hook_name = "Runway API"

    def __init__(
        self,
        runway_conn_id: str = default_conn_name,
        *,
        retry: RetryPolicy | None = None,
        submit_retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__()
        self.runway_conn_id = runway_conn_id
        self.retry = retry
        self.submit_retry = submit_retry
        self._transport = transport
        self._async_transport = async_transport

    def __repr__(self) -> str:
        return f"RunwayHook(runway_conn_id={self.runway_conn_id!r})"

    @property
    def kie_conn_id(self) -> str:
        """The connection id under the name the lifecycle reads (operators have one ``kie_conn_id``)."""
        return self.runway_conn_id

    # -- connection form -------------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout, for Airflow versions that read it from the hook (before 3.2)."""
        from airflow_provider_kie.get_provider_info import RUNWAY_UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": RUNWAY_UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": RUNWAY_UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": RUNWAY_UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields, for Airflow versions that read them from the hook (before 3.2).

        Without Flask-AppBuilder and WTForms (Airflow 3.1 does not install them by default) the form has no
        extra fields, and must not raise ImportError (Airflow 3.1 would drop the labels too).
        """
        from airflow_provider_kie.get_provider_info import RUNWAY_MIN_CREDITS_HELP

        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import StringField
        except ImportError:
            return {}

        return {
            EXTRA_API_VERSION: StringField(
                lazy_gettext("API version"),
                widget=BS3TextFieldWidget(),
                description=f"Sent as X-Runway-Version; default {DEFAULT_RUNWAY_API_VERSION}",
            ),
            EXTRA_TIMEOUT: StringField(
                lazy_gettext("Request timeout (s)"),
                widget=BS3TextFieldWidget(),
                description="Per-request read timeout in seconds; default 30",
            ),
            EXTRA_MIN_CREDITS: StringField(
                lazy_gettext("Minimum credits"),
                widget=BS3TextFieldWidget(),
                description=RUNWAY_MIN_CREDITS_HELP,
            ),
        }

    # -- clients ---------------------------------------------------------------------------------------
    def _client_kwargs(self, settings: RunwayConnectionSettings) -> dict[str, Any]:
        return {**settings.client_kwargs(), "retry": self.retry, "submit_retry": self.submit_retry}

    @cached_property
    def settings(self) -> RunwayConnectionSettings:
        """The connection's settings, read once (blocking lookup: not for the triggerer's event loop)."""
        settings = RunwayConnectionSettings.from_connection(self.get_connection(self.runway_conn_id))
        mask_secret(settings.api_key)
        return settings

    def get_conn(self) -> RunwayBackendClient:
        """A blocking :class:`RunwayClient` (:class:`RunwayBackendClient`) for this connection, built once."""
        return self._client

    @cached_property
    def _client(self) -> RunwayBackendClient:
        settings = self.settings
        self.log.info("Using the Runway API at %s (connection %r)", settings.base_url, self.runway_conn_id)
        return RunwayBackendClient(
            settings.api_key, transport=self._transport, **self._client_kwargs(settings)
        )

    async def aget_settings(self) -> RunwayConnectionSettings:
        """Read the connection without blocking the event loop (for triggers)."""
        aget = getattr(BaseHook, "aget_connection", None)
        if aget is not None:
            conn = await aget(self.runway_conn_id)
        else:  # Airflow 3.1 has no async lookup: keep the blocking one off the event loop.
            conn = await asyncio.to_thread(self.get_connection, self.runway_conn_id)
        settings = RunwayConnectionSettings.from_connection(conn)
        await amask_secret(settings.api_key)
        return settings

    async def get_async_conn(self) -> AsyncRunwayBackendClient:
        """A new :class:`AsyncRunwayClient` for this connection; the caller closes it (``async with``)."""
        return self.async_client_for(await self.aget_settings())

    def async_client_for(self, settings: RunwayConnectionSettings) -> AsyncRunwayBackendClient:
        """A new :class:`AsyncRunwayClient` for settings already read with :meth:`aget_settings`."""
        return AsyncRunwayBackendClient(
            settings.api_key, transport=self._async_transport, **self._client_kwargs(settings)
        )

    # -- connection test -------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Call Runway's organisation endpoint: proves the secret works, reports balance and tier limits."""
        try:
            with RunwayClient(
                self.settings.api_key,
                transport=self._transport,
                **{**self._client_kwargs(self.settings), "retry": RetryPolicy(max_attempts=2)},
            ) as client:
                organization = client.get_organization()
        except KieError as exc:  # the client's errors are redacted: no key in them
            return False, f"Runway API connection test failed: {exc}"
        message = (
            f"Connected to the Runway API at {self.settings.base_url} (version {self.settings.api_version}); "
            f"credit balance: {organization.credit_balance}; {describe_limits(organization)}"
        )
        # `airflow connections test` prints the message only on failure; the log line shows it on success.
        self.log.info(message)
        return True, message


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
