"""``KieHook``: an Airflow ``kie`` connection turned into a configured KIE client.

The connection holds the API key in its password, the API base URL in its host (default
``https://api.kie.ai``) and, in its extra, the upload host's base URL, the request timeout and an optional
credit floor (``min_credits``: below it a generation operator fails before any paid submit). The hook masks
the key with Airflow's secret masker as soon as it reads it, so it cannot reach a task log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from airflow_provider_kie._compat import amask_secret, mask_secret
from airflow_provider_kie.client import (
    DEFAULT_BASE_URL,
    DEFAULT_UPLOAD_BASE_URL,
    AsyncKieClient,
    KieClient,
    KieConfigurationError,
    KieError,
    RetryPolicy,
)

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Connection

__all__ = ["KieConnectionSettings", "KieHook"]

#: Extra keys of the ``kie`` connection. Airflow < 3.2 stores form fields with an ``extra__kie__`` prefix.
EXTRA_UPLOAD_BASE_URL = "upload_base_url"
EXTRA_BASE_URL = "base_url"
EXTRA_TIMEOUT = "timeout"
EXTRA_MIN_CREDITS = "min_credits"


def _extra(extra: dict[str, Any], key: str) -> Any:
    value = extra.get(key)
    if value in (None, ""):
        value = extra.get(f"extra__kie__{key}")
    return None if value in (None, "") else value


def _base_url_from_host(host: str | None, port: int | None, schema: str | None) -> str | None:
    """The API base URL from a connection's host: a full URL, or a bare host that defaults to https."""
    if not host:
        return None
    host = host.strip().rstrip("/")
    if "://" not in host:
        scheme = schema if schema in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    if port and urlsplit(host).port is None:
        host = f"{host}:{port}"
    return host


@dataclass(frozen=True)
class KieConnectionSettings:
    """What a ``kie`` connection says, read once and shared by the sync and async client builders."""

    api_key: str = field(repr=False)
    base_url: str
    upload_base_url: str
    timeout: float | None
    #: The connection's credit floor for paid submits (``None``: no check); an operator's own wins.
    min_credits: float | None = None

    @classmethod
    def from_connection(cls, conn: Connection) -> KieConnectionSettings:
        """Read a ``kie`` connection; raise :class:`KieConfigurationError` when it has no API key."""
        if not conn.password:
            raise KieConfigurationError(
                f"Connection {conn.conn_id!r} has no API key: put the KIE API key in its password field"
            )
        extra = conn.extra_dejson or {}
        base_url = (
            _extra(extra, EXTRA_BASE_URL)
            or _base_url_from_host(conn.host, conn.port, conn.schema)
            or DEFAULT_BASE_URL
        )
        timeout = _extra(extra, EXTRA_TIMEOUT)
        try:
            timeout_s = float(timeout) if timeout is not None else None
        except (TypeError, ValueError):
            raise KieConfigurationError(
                f"Connection {conn.conn_id!r}: extra 'timeout' must be a number of seconds"
            ) from None
        return cls(
            api_key=conn.password,
            base_url=str(base_url),
            upload_base_url=str(_extra(extra, EXTRA_UPLOAD_BASE_URL) or DEFAULT_UPLOAD_BASE_URL),
            timeout=timeout_s,
            min_credits=_min_credits(conn.conn_id, _extra(extra, EXTRA_MIN_CREDITS)),
        )


def _min_credits(conn_id: str, value: Any) -> float | None:
    """The extra's credit floor; ``None`` when unset or 0 (no check)."""
    if value is None:
        return None
    try:
        floor = float(value)
    except (TypeError, ValueError):
        floor = -1.0
    if isinstance(value, bool) or not 0 <= floor < float("inf"):
        raise KieConfigurationError(
            f"Connection {conn_id!r}: extra 'min_credits' must be a non-negative number of credits"
        )
    return floor or None


class KieHook(BaseHook):
    """Interact with KIE's API through an Airflow connection of type ``kie``.

    :param kie_conn_id: the ``kie`` connection to use.
    :param retry: retry policy for safe calls; the client's default when ``None``.
    :param submit_retry: retry policy for paid submits; the client's default when ``None``.
    :param transport: replaces the network for the sync client (tests); leave ``None``.
    :param async_transport: replaces the network for the async client (tests); leave ``None``.
    """

    conn_name_attr = "kie_conn_id"
    default_conn_name = "kie_default"
    conn_type = "kie"
    hook_name = "KIE"

    def __init__(
        self,
        kie_conn_id: str = default_conn_name,
        *,
        retry: RetryPolicy | None = None,
        submit_retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__()
        self.kie_conn_id = kie_conn_id
        self.retry = retry
        self.submit_retry = submit_retry
        self._transport = transport
        self._async_transport = async_transport

    def __repr__(self) -> str:
        return f"KieHook(kie_conn_id={self.kie_conn_id!r})"

    # -- connection form -------------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout, for Airflow versions that read it from the hook (before 3.2)."""
        from airflow_provider_kie.get_provider_info import KIE_UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": KIE_UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": KIE_UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": KIE_UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields, for Airflow versions that read them from the hook (before 3.2).

        They need Flask-AppBuilder and WTForms, which Airflow 3.1 does not install by default. Without them
        the form has no extra fields (set ``upload_base_url``, ``timeout`` and ``min_credits`` in the Extra
        JSON), but must still get its labels: Airflow 3.1 drops :meth:`get_ui_field_behaviour` too when this
        raises ImportError.
        """
        from airflow_provider_kie.get_provider_info import MIN_CREDITS_HELP

        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import StringField
        except ImportError:
            return {}

        return {
            EXTRA_UPLOAD_BASE_URL: StringField(
                lazy_gettext("Upload base URL"),
                widget=BS3TextFieldWidget(),
                description=f"KIE's file-upload host; default {DEFAULT_UPLOAD_BASE_URL}",
            ),
            EXTRA_TIMEOUT: StringField(
                lazy_gettext("Request timeout (s)"),
                widget=BS3TextFieldWidget(),
                description="Per-request read timeout in seconds; default 30",
            ),
            EXTRA_MIN_CREDITS: StringField(
                lazy_gettext("Minimum credits"),
                widget=BS3TextFieldWidget(),
                description=MIN_CREDITS_HELP,
            ),
        }

    # -- clients ---------------------------------------------------------------------------------------
    def _client_kwargs(self, settings: KieConnectionSettings) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "base_url": settings.base_url,
            "upload_base_url": settings.upload_base_url,
            "retry": self.retry,
            "submit_retry": self.submit_retry,
        }
        if settings.timeout is not None:
            kwargs["timeout"] = settings.timeout
        return kwargs

    @cached_property
    def settings(self) -> KieConnectionSettings:
        """The connection's settings, read once (blocking lookup: not for the triggerer's event loop)."""
        settings = KieConnectionSettings.from_connection(self.get_connection(self.kie_conn_id))
        mask_secret(settings.api_key)
        return settings

    def get_conn(self) -> KieClient:
        """A blocking :class:`KieClient` for this connection, built once per hook."""
        return self._client

    @cached_property
    def _client(self) -> KieClient:
        settings = self.settings
        self.log.info("Using KIE at %s (connection %r)", settings.base_url, self.kie_conn_id)
        return KieClient(settings.api_key, transport=self._transport, **self._client_kwargs(settings))

    async def aget_settings(self) -> KieConnectionSettings:
        """Read the connection without blocking the event loop (for triggers)."""
        aget = getattr(BaseHook, "aget_connection", None)
        if aget is not None:
            conn = await aget(self.kie_conn_id)
        else:  # Airflow 3.1 has no async lookup: keep the blocking one off the event loop.
            conn = await asyncio.to_thread(self.get_connection, self.kie_conn_id)
        settings = KieConnectionSettings.from_connection(conn)
        await amask_secret(settings.api_key)
        return settings

    async def get_async_client(self) -> AsyncKieClient:
        """A new :class:`AsyncKieClient` for this connection; the caller closes it (``async with``)."""
        return self.async_client_for(await self.aget_settings())

    def async_client_for(self, settings: KieConnectionSettings) -> AsyncKieClient:
        """A new :class:`AsyncKieClient` for settings already read with :meth:`aget_settings`."""
        return AsyncKieClient(
            settings.api_key, transport=self._async_transport, **self._client_kwargs(settings)
        )

    # -- connection test -------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Call KIE's credit endpoint: proves the key works and reports the balance."""
        try:
            with KieClient(
                self.settings.api_key,
                transport=self._transport,
                **{**self._client_kwargs(self.settings), "retry": RetryPolicy(max_attempts=2)},
            ) as client:
                credits = client.get_credits()
        except KieError as exc:
            return False, f"KIE connection test failed: {exc}"
        message = f"Connected to KIE at {self.settings.base_url}; credit balance: {credits}"
        # `airflow connections test` prints the message only on failure; the log line shows it on success.
        self.log.info(message)
        return True, message
