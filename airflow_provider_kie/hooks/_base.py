"""What the ``kie`` and ``runway`` hooks share: reading a connection, masking its key, building clients.

Each backend's hook names its connection type, its settings class and its client classes; this base reads
the connection (blocking on a worker, without blocking in the triggerer), builds the sync client once and an
async client per caller, and runs the connection test. Only what the backends really do differently stays in
their modules: the extras they read, the form fields, and what the connection test asks and reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypedDict, TypeVar
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from airflow_provider_kie._compat import amask_secret, mask_secret
from airflow_provider_kie.client.errors import KieConfigurationError, KieError
from airflow_provider_kie.client.retry import RetryPolicy

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Connection
    from typing_extensions import Unpack

__all__ = [
    "ClientOptions",
    "ConnectionHook",
    "ConnectionSettings",
    "HookOptions",
    "base_url_from_host",
    "common_fields",
    "common_form_fields",
    "min_credits_extra",
]

#: Extra keys both connection types have.
EXTRA_TIMEOUT = "timeout"
EXTRA_MIN_CREDITS = "min_credits"
TIMEOUT_HELP = "Per-request read timeout in seconds; default 30"


class ConnectionSettings(Protocol):
    """What a hook needs of its backend's settings: the key, where to send, and the client options."""

    @property
    def api_key(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @classmethod
    def from_connection(cls, conn: Connection) -> Any: ...

    def client_kwargs(self) -> dict[str, Any]: ...


class ClientOptions:
    """:meth:`client_kwargs` for a settings dataclass: its backend's own options, and the timeout when the
    connection sets one (else the client's default)."""

    timeout: float | None

    def backend_kwargs(self) -> dict[str, Any]:
        """The backend's own client options (hosts, API version)."""
        raise NotImplementedError

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the backend's clients (the key and the retry policies aside)."""
        kwargs = self.backend_kwargs()
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return kwargs


class HookOptions(TypedDict, total=False):
    """The options every backend's hook takes after its connection id (see :class:`ConnectionHook`)."""

    retry: RetryPolicy | None
    submit_retry: RetryPolicy | None
    transport: httpx.BaseTransport | None
    async_transport: httpx.AsyncBaseTransport | None


def read_extra(extra: dict[str, Any], key: str, conn_type: str) -> Any:
    """``extra[key]``, or the ``extra__<conn_type>__<key>`` name Airflow < 3.2's form stores it under;
    ``None`` when unset or empty."""
    value = extra.get(key)
    if value in (None, ""):
        value = extra.get(f"extra__{conn_type}__{key}")
    return None if value in (None, "") else value


def base_url_from_host(host: str | None, port: int | None, schema: str | None) -> str | None:
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


def min_credits_extra(conn_id: str, value: Any) -> float | None:
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


def common_form_fields(min_credits_help: str) -> list[tuple[str, str, str]]:
    """The connection form's fields every backend has: the timeout and the credit floor."""
    return [
        (EXTRA_TIMEOUT, "Request timeout (s)", TIMEOUT_HELP),
        (EXTRA_MIN_CREDITS, "Minimum credits", min_credits_help),
    ]


def common_fields(
    conn: Connection, conn_type: str, missing_key: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings every connection type has (``api_key``, ``timeout``, ``min_credits``), and its extra.

    :param missing_key: the message's end when the password is empty (where to put which key).
    :raises KieConfigurationError: no key, or a ``timeout``/``min_credits`` extra that is not a number.
    """
    if not conn.password:
        raise KieConfigurationError(f"Connection {conn.conn_id!r} has no {missing_key}")
    extra = conn.extra_dejson or {}
    timeout = read_extra(extra, EXTRA_TIMEOUT, conn_type)
    try:
        timeout_s = float(timeout) if timeout is not None else None
    except (TypeError, ValueError):
        raise KieConfigurationError(
            f"Connection {conn.conn_id!r}: extra 'timeout' must be a number of seconds"
        ) from None
    fields = {
        "api_key": conn.password,
        "timeout": timeout_s,
        "min_credits": min_credits_extra(conn.conn_id, read_extra(extra, EXTRA_MIN_CREDITS, conn_type)),
    }
    return fields, extra


S = TypeVar("S", bound=ConnectionSettings)
#: The sync client: a context manager (the connection test closes the one it builds).
C = TypeVar("C", bound=AbstractContextManager[Any])
AC = TypeVar("AC")


class ConnectionHook(BaseHook, Generic[S, C, AC]):
    """A backend's connection turned into configured clients. Subclasses set the class attributes below,
    Airflow's ``conn_name_attr``/``default_conn_name``/``conn_type``/``hook_name``, and the three hooks
    :meth:`client_classes`, :meth:`form_fields` and :meth:`describe_connection`; their ``__init__`` takes the
    connection id under the name ``conn_name_attr`` gives, then these options:

    :param retry: retry policy for safe calls; the client's default when ``None``.
    :param submit_retry: retry policy for paid submits; the client's default when ``None``.
    :param transport: replaces the network for the sync client (tests); leave ``None``.
    :param async_transport: replaces the network for the async client (tests); leave ``None``.
    """

    # Airflow's hook attributes, which every subclass sets.
    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    #: The backend's settings class (reads the connection).
    settings_class: ClassVar[type[Any]]
    #: How log lines name the backend ("Using KIE at ...").
    service_phrase: ClassVar[str]

    def __init__(self, **options: Unpack[HookOptions]) -> None:
        super().__init__()
        self.retry = options.get("retry")
        self.submit_retry = options.get("submit_retry")
        self._transport = options.get("transport")
        self._async_transport = options.get("async_transport")

    @property
    def conn_id(self) -> str:
        """The connection's id, whatever the backend calls its parameter."""
        return str(getattr(self, self.conn_name_attr))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.conn_name_attr}={self.conn_id!r})"

    # -- what each backend says -----------------------------------------------------------------------
    @classmethod
    def client_classes(cls) -> tuple[Callable[..., C], Callable[..., AC]]:
        """The sync and async client classes (imported here, so a DAG file does not pay for both)."""
        raise NotImplementedError

    @classmethod
    def form_fields(cls) -> list[tuple[str, str, str]]:
        """The connection form's extra fields as ``(extra key, label, description)``."""
        raise NotImplementedError

    def describe_connection(self, client: C) -> str:
        """Ask the backend something that proves the key works; the connection test's success message."""
        raise NotImplementedError

    # -- connection form -------------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout, for Airflow versions that read it from the hook (before 3.2)."""
        from airflow_provider_kie import get_provider_info

        # KIE_UI_FIELD_BEHAVIOUR, RUNWAY_UI_FIELD_BEHAVIOUR: what Airflow >= 3.2 reads from the provider info.
        behaviour = getattr(get_provider_info, f"{cls.conn_type.upper()}_UI_FIELD_BEHAVIOUR")
        return {
            "hidden_fields": behaviour["hidden-fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields, for Airflow versions that read them from the hook (before 3.2).

        They need Flask-AppBuilder and WTForms, which Airflow 3.1 does not install by default. Without them
        the form has no extra fields (set them in the Extra JSON), but must still get its labels: Airflow 3.1
        drops :meth:`get_ui_field_behaviour` too when this raises ImportError.
        """
        try:
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import PasswordField, StringField
        except ImportError:
            return {}

        widgets: dict[str, Any] = {}
        for key, label, description in cls.form_fields():
            if "secret" in key:  # masked like the password field (and by Airflow's secrets masker)
                widgets[key] = PasswordField(
                    lazy_gettext(label), widget=BS3PasswordFieldWidget(), description=description
                )
            else:
                widgets[key] = StringField(
                    lazy_gettext(label), widget=BS3TextFieldWidget(), description=description
                )
        return widgets

    # -- clients ---------------------------------------------------------------------------------------
    def _client_kwargs(self, settings: S) -> dict[str, Any]:
        return {**settings.client_kwargs(), "retry": self.retry, "submit_retry": self.submit_retry}

    @cached_property
    def settings(self) -> S:
        """The connection's settings, read once (blocking lookup: not for the triggerer's event loop)."""
        settings: S = self.settings_class.from_connection(self.get_connection(self.conn_id))
        mask_secret(settings.api_key)
        return settings

    def get_conn(self) -> C:
        """A blocking client for this connection, built once per hook."""
        return self._client

    @cached_property
    def _client(self) -> C:
        settings = self.settings
        self.log.info("Using %s at %s (connection %r)", self.service_phrase, settings.base_url, self.conn_id)
        client_class, _ = self.client_classes()
        return client_class(settings.api_key, transport=self._transport, **self._client_kwargs(settings))

    async def aget_settings(self) -> S:
        """Read the connection without blocking the event loop (for triggers)."""
        aget = getattr(BaseHook, "aget_connection", None)
        if aget is not None:
            conn = await aget(self.conn_id)
        else:  # Airflow 3.1 has no async lookup: keep the blocking one off the event loop.
            conn = await asyncio.to_thread(self.get_connection, self.conn_id)
        settings: S = self.settings_class.from_connection(conn)
        await amask_secret(settings.api_key)
        return settings

    async def get_async_client(self) -> AC:
        """A new async client for this connection; the caller closes it (``async with``)."""
        return self.async_client_for(await self.aget_settings())

    def async_client_for(self, settings: S) -> AC:
        """A new async client for settings already read with :meth:`aget_settings`."""
        _, async_client_class = self.client_classes()
        return async_client_class(
            settings.api_key, transport=self._async_transport, **self._client_kwargs(settings)
        )

    # -- connection test -------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Ask the backend what :meth:`describe_connection` asks; the key never reaches the message (the
        clients' errors are redacted)."""
        client_class, _ = self.client_classes()
        try:
            with client_class(
                self.settings.api_key,
                transport=self._transport,
                **{**self._client_kwargs(self.settings), "retry": RetryPolicy(max_attempts=2)},
            ) as client:
                message = self.describe_connection(client)
        except KieError as exc:
            return False, f"{self.hook_name} connection test failed: {exc}"
        # `airflow connections test` prints the message only on failure; the log line shows it on success.
        self.log.info(message)
        return True, message


H = TypeVar("H", bound=type)


def defines_its_form(hook_class: H) -> H:
    """Give ``hook_class`` its own ``get_ui_field_behaviour`` / ``get_connection_form_widgets``.

    Airflow 3.1's ProvidersManager reads a hook's form only from methods in the class's own ``__dict__``
    ("only from the parent hook that provides those"): inherited ones leave 3.1's UI with the generic form.
    """
    for name in ("get_ui_field_behaviour", "get_connection_form_widgets"):
        setattr(hook_class, name, classmethod(getattr(ConnectionHook, name).__func__))
    return hook_class
