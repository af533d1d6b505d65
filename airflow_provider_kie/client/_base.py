"""What the sync and async KIE clients share: configuration, URLs, headers, redaction, retry bookkeeping."""

from __future__ import annotations

import functools
import logging
import random
import ssl
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from airflow_provider_kie import __version__
from airflow_provider_kie.client.calls import Call
from airflow_provider_kie.client.envelope import body_excerpt
from airflow_provider_kie.client.errors import (
    KieConfigurationError,
    KieError,
    KieResponseError,
    KieTaskFailedError,
    KieTransportError,
)
from airflow_provider_kie.client.records import TaskRecord, TaskState
from airflow_provider_kie.client.retry import (
    DEFAULT_READ_RETRY,
    DEFAULT_SUBMIT_RETRY,
    CallKind,
    RetryPolicy,
    retry_or_raise,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "USER_AGENT",
    "BaseKieClient",
    "shared_ssl_context",
]

log = logging.getLogger("airflow_provider_kie.client")

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.kie.ai"
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
#: KIE answers in well under a second when healthy; 30 s read covers its slow moments.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: Uploads send whole files; give the body time to go out.
UPLOAD_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
#: The CDN in front of KIE has blocked clients without a normal User-Agent.
USER_AGENT = f"airflow-provider-kie/{__version__} httpx/{httpx.__version__}"


@functools.lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """One SSL context per process: building one loads the CA bundle (~25 ms, ~1 MB), so clients share it."""
    return httpx.create_ssl_context()


def _check_base_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KieConfigurationError(f"{name} must be an http(s) URL with a host (got {url!r})")
    return url.rstrip("/")


class BaseKieClient:
    """Configuration and bookkeeping common to :class:`KieClient` and :class:`AsyncKieClient`.

    :param api_key: the KIE API key. Kept only in the Authorization header; never in reprs or errors.
    :param base_url: KIE's API host.
    :param upload_base_url: KIE's file-upload host (a different host from the API).
    :param timeout: per-request timeouts for API calls.
    :param retry: retry policy for safe calls (reads, free calls, uploads).
    :param submit_retry: retry policy for paid submits, applied only where KIE surely created nothing.
    :param user_agent: overrides the default ``airflow-provider-kie/<version>`` User-Agent.
    :param rng: random source for jitter; pass a seeded one for reproducible tests.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        submit_retry: RetryPolicy | None = None,
        user_agent: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise KieConfigurationError("a KIE API key is required (the kie connection's password)")
        self._api_key = api_key.strip()
        self.base_url = _check_base_url("base_url", base_url)
        self.upload_base_url = _check_base_url("upload_base_url", upload_base_url)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = retry or DEFAULT_READ_RETRY
        self.submit_retry = submit_retry or DEFAULT_SUBMIT_RETRY
        self.user_agent = user_agent or USER_AGENT
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, upload_base_url={self.upload_base_url!r})"

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "headers": {
                "Authorization": f"Bearer {self._api_key}",
                "User-Agent": self.user_agent,
                "Accept": "application/json",
            },
            "timeout": self.timeout,
            "verify": shared_ssl_context(),
            "follow_redirects": False,
        }

    def _url(self, call: Call[Any]) -> str:
        base = self.upload_base_url if call.host == "upload" else self.base_url
        return base + call.path

    def _timeout(self, call: Call[Any]) -> httpx.Timeout:
        return UPLOAD_TIMEOUT if call.host == "upload" else self.timeout

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced: applied to every body excerpt before it reaches an error."""
        return text.replace(self._api_key, "***") if self._api_key in text else text

    def _parse(self, call: Call[T], data: Any) -> T:
        """``call.parse(data)``; an answer it cannot read is quoted redacted and shortened, like a body."""
        try:
            return call.parse(data)
        except KieResponseError as exc:
            raise KieResponseError(
                exc.problem,
                http_status=exc.http_status,
                endpoint=exc.endpoint,
                body_excerpt=body_excerpt(exc.body_excerpt, self.redact),
                not_json=exc.not_json,
            ) from None

    def _next_delay(self, call: Call[Any], error: KieError, attempt: int) -> float:
        """Seconds to wait before the next attempt of ``call``, or raise the error that ends it."""
        policy = self.submit_retry if call.kind is CallKind.SUBMIT else self.retry
        delay = retry_or_raise(call.kind, error, attempt, policy, call.path, self._rng)
        log.warning(
            "KIE %s %s failed (%s); retrying in %.1f s (attempt %d of %d)",
            call.method,
            call.path,
            error,
            delay,
            attempt + 1,
            policy.max_attempts,
        )
        return delay

    @staticmethod
    def _check_outcome(record: TaskRecord, raise_on_failure: bool) -> TaskRecord:
        if raise_on_failure and record.state is TaskState.FAILED:
            raise KieTaskFailedError(record.task_id, record.fail_code, record.fail_msg)
        return record


def transport_error(exc: httpx.RequestError, endpoint: str) -> KieTransportError:
    """Map an httpx transport failure to :class:`KieTransportError`, noting whether the request left.

    Only a failure to connect (refused, connect timeout, no pooled connection free) proves that nothing
    reached KIE; a read timeout or a dropped connection may come after KIE accepted the request, and an
    answer whose body could not be decoded (``httpx.DecodingError``) certainly did.
    """
    not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    detail = str(exc) or "no detail"
    return KieTransportError(
        f"KIE {endpoint}: {type(exc).__name__} ({detail})", endpoint=endpoint, request_sent=not not_sent
    )
