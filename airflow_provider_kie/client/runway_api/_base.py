"""What the sync and async Runway API clients share: configuration, headers, redaction, retries, waits."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_kie import __version__
from airflow_provider_kie.client._base import ClientCore, ClientOptions, _check_base_url, shared_ssl_context
from airflow_provider_kie.client.calls import Call
from airflow_provider_kie.client.errors import KieConfigurationError
from airflow_provider_kie.client.records import TaskKind
from airflow_provider_kie.client.retry import DEFAULT_SUBMIT_RETRY, CallKind
from airflow_provider_kie.client.runway_api.http import (
    DEFAULT_RUNWAY_API_VERSION,
    DEFAULT_RUNWAY_BASE_URL,
    SERVICE,
    decode_response,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_RUNWAY_API_VERSION",
    "DEFAULT_RUNWAY_BASE_URL",
    "RUNWAY_USER_AGENT",
    "BaseRunwayClient",
]

log = logging.getLogger("airflow_provider_kie.client.runway_api")

VERSION_HEADER = "X-Runway-Version"
RUNWAY_USER_AGENT = f"airflow-provider-kie/{__version__} httpx/{httpx.__version__}"
#: Creates may carry data URIs of up to 5 MB and must not time out on a slow uplink: a read timeout after
#: the body went out leaves the outcome unknown, which is worse than waiting longer.
CREATE_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_api_version(api_version: str | None) -> str:
    """The ``X-Runway-Version`` value to send; :class:`KieConfigurationError` before any request when it is
    missing or not a date."""
    text = (api_version or "").strip()
    if not text:
        raise KieConfigurationError(
            f"the {SERVICE} needs an API version: set api_version (sent as the {VERSION_HEADER} header, "
            f"e.g. {DEFAULT_RUNWAY_API_VERSION}); Runway refuses requests without it"
        )
    if not _VERSION.match(text):
        raise KieConfigurationError(
            f"api_version must be a {VERSION_HEADER} date such as {DEFAULT_RUNWAY_API_VERSION} (got {text!r})"
        )
    return text


class BaseRunwayClient(ClientCore):
    """Configuration common to :class:`RunwayClient` and :class:`AsyncRunwayClient`: where a call goes and
    how Runway's plain JSON answers read; sending, retrying and waiting are the KIE client's
    (:class:`~airflow_provider_kie.client._base.ClientCore`).

    :param api_key: the Runway API key (``key_...``). Sent only in the Authorization header; never in reprs or
        errors.
    :param base_url: Runway's API host (the emulator's ``runway_base_url`` in tests).
    :param api_version: the ``X-Runway-Version`` header; required (a missing one fails here, before any
        request).
    :param options: :class:`~airflow_provider_kie.client._base.ClientOptions`: ``timeout`` of reads (creates
        get at least :data:`CREATE_TIMEOUT`), ``retry`` of safe calls (task reads, cancel, organization),
        ``submit_retry`` of creates (applied only where Runway surely created nothing: 429, a connection that
        never opened), ``user_agent``, ``rng``.
    """

    service = SERVICE
    default_kind = TaskKind.RUNWAY_API
    # "still THROTTLED" says more than "still pending": Runway queues a tier's excess tasks.
    timeout_reports_raw_state = True
    log = log

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_RUNWAY_BASE_URL,
        api_version: str | None = DEFAULT_RUNWAY_API_VERSION,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(
            api_key,
            missing_key=f"a {SERVICE} key is required (Runway's developer portal, key_...)",
            default_submit_retry=DEFAULT_SUBMIT_RETRY,
            default_user_agent=RUNWAY_USER_AGENT,
            **options,
        )
        self.api_version = check_api_version(api_version)
        self.base_url = _check_base_url("base_url", base_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_version={self.api_version!r})"

    def _client_kwargs(self) -> dict[str, Any]:
        """Options of an httpx client this object owns. No credentials in it: they go with each request,
        so a shared client (one per triggerer) can serve several keys."""
        return {"timeout": self.timeout, "verify": shared_ssl_context(), "follow_redirects": False}

    def _request_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            VERSION_HEADER: self.api_version,
            "User-Agent": self.user_agent,
            "Accept": "application/json",
        }

    def _url(self, call: Call[Any]) -> str:
        return self.base_url + call.path

    def _timeout(self, call: Call[Any]) -> httpx.Timeout:
        """Reads get the configured timeout; creates the read timeout lengthened to :data:`CREATE_TIMEOUT`
        where it is shorter."""
        if call.kind is not CallKind.SUBMIT:
            return self.timeout
        read = max(self.timeout.read or 0.0, CREATE_TIMEOUT.read or 0.0)
        write = max(self.timeout.write or 0.0, CREATE_TIMEOUT.write or 0.0)
        return httpx.Timeout(
            None, connect=self.timeout.connect, read=read, write=write, pool=self.timeout.pool
        )

    def _decode(self, response: httpx.Response, endpoint: str) -> Any:
        return decode_response(response, endpoint, self.redact)


def only_runway_api(kind: TaskKind | str | None) -> None:
    """Refuse a task kind other than ``runway_api``. The generation lifecycle passes its family's kind; on
    this backend it can only be Runway API tasks, and reading a KIE task id here would ask Runway about an id
    it never issued."""
    if kind is not None and TaskKind(kind) is not TaskKind.RUNWAY_API:
        raise KieConfigurationError(f"a runway connection reads Runway API tasks only, not {TaskKind(kind)}")
