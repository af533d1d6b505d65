"""What every client shares (:class:`ClientCore`: key, retries, redaction, reading a failure, waiting), and
what the sync and async KIE clients add (:class:`BaseKieClient`: hosts, headers, KIE's envelope)."""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar
from urllib.parse import urlsplit

import httpx

from airflow_provider_kie import __version__
from airflow_provider_kie.client.calls import Call
from airflow_provider_kie.client.envelope import body_excerpt, decode_envelope
from airflow_provider_kie.client.errors import (
    KieAPIError,
    KieConfigurationError,
    KieError,
    KieResponseError,
    KieTaskCancelledError,
    KieTaskFailedError,
    KieTransportError,
)
from airflow_provider_kie.client.polling import PollTracker
from airflow_provider_kie.client.records import TaskKind, TaskRecord, TaskState
from airflow_provider_kie.client.retry import (
    DEFAULT_READ_RETRY,
    DEFAULT_SUBMIT_RETRY,
    CallKind,
    RetryPolicy,
    retry_or_raise,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "USER_AGENT",
    "BaseKieClient",
    "ClientCore",
    "ClientOptions",
    "Recovered",
    "shared_ssl_context",
]

log = logging.getLogger("airflow_provider_kie.client")

T = TypeVar("T")
H = TypeVar("H")

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


class ClientOptions(TypedDict, total=False):
    """What every client takes after its key and hosts."""

    #: Per-request timeouts of API calls (:data:`DEFAULT_TIMEOUT` when missing).
    timeout: httpx.Timeout | float
    #: Retry policy of safe calls (reads, free calls, uploads).
    retry: RetryPolicy | None
    #: Retry policy of paid submits, applied only where the service surely created nothing.
    submit_retry: RetryPolicy | None
    #: Overrides the default ``airflow-provider-kie/<version>`` User-Agent.
    user_agent: str | None
    #: Random source for jitter; pass a seeded one for reproducible tests.
    rng: random.Random | None


class ClientCore:
    """What every client of this package does the same way, whichever backend it talks to.

    The key (kept only for the Authorization header and redaction), timeouts, the two retry policies, one
    send/retry path and one wait. A backend says where a call goes (:meth:`_url`, :meth:`_timeout`,
    :meth:`_request_headers`) and how to read an answer (:meth:`_decode`: KIE's ``{code, msg, data}``
    envelope, or Runway's plain JSON and HTTP status); the sync and async sending loops are in
    :mod:`.sending`.
    """

    #: Who answers: errors and log lines name it.
    service: ClassVar[str] = "KIE"
    #: The task kind that ``wait_for_task`` reads when given none.
    default_kind: ClassVar[TaskKind] = TaskKind.RUNWAY
    #: Whether a wait that times out reports the backend's own state ("THROTTLED") or the provider's
    #: ("pending").
    timeout_reports_raw_state: ClassVar[bool] = False
    log: ClassVar[logging.Logger] = log

    def __init__(
        self,
        api_key: str,
        *,
        missing_key: str,
        default_submit_retry: RetryPolicy,
        default_user_agent: str,
        **options: Unpack[ClientOptions],
    ) -> None:
        if not api_key or not api_key.strip():
            raise KieConfigurationError(missing_key)
        self._api_key = api_key.strip()
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = options.get("retry") or DEFAULT_READ_RETRY
        self.submit_retry = options.get("submit_retry") or default_submit_retry
        self.user_agent = options.get("user_agent") or default_user_agent
        self._rng = options.get("rng") or random.Random()  # noqa: S311 - jitter, not cryptography

    # -- what a backend says -----------------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        """Options of an httpx client this object makes."""
        raise NotImplementedError

    def _adopt(self, http: H | None, make: Callable[..., H]) -> H:
        """The httpx client to send through: ``http`` (shared: never closed here), else one made by ``make``
        with :meth:`_client_kwargs` (closed with this object)."""
        self._owns_http = http is None
        return http or make(**self._client_kwargs())

    def _url(self, call: Call[Any]) -> str:
        raise NotImplementedError

    def _timeout(self, call: Call[Any]) -> httpx.Timeout:
        raise NotImplementedError

    def _request_headers(self) -> dict[str, str] | None:
        """Headers sent with each request (``None``: the httpx client's own are enough)."""
        return None

    def _decode(self, response: httpx.Response, endpoint: str) -> Any:
        """The answer's data, or raise the error the response stands for."""
        raise NotImplementedError

    # -- one attempt -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _request(self, call: Call[Any]) -> Iterator[dict[str, Any]]:
        """Every keyword argument of ``httpx.Client.request`` for one attempt of ``call``."""
        with call.request_kwargs() as kwargs:
            headers = self._request_headers()
            if headers is not None:
                kwargs["headers"] = headers
            yield {"method": call.method, "url": self._url(call), "timeout": self._timeout(call), **kwargs}

    def _answer(self, call: Call[T], response: httpx.Response) -> T:
        return self._parse(call, self._decode(response, call.path))

    def _failure(self, call: Call[T], exc: httpx.RequestError | KieError) -> KieError | Recovered[T]:
        """What a failed attempt means: the error to retry or raise, or the answer ``call.recover`` reads
        in a refusal (Veo's "1080P is processing", a cancel of an unknown task)."""
        if isinstance(exc, httpx.RequestError):  # TransportError, and DecodingError of a bad body
            return transport_error(exc, call.path, self.service)
        if isinstance(exc, KieAPIError) and call.recover is not None:
            try:
                return Recovered(call.recover(exc))
            except KieAPIError:
                pass  # not an answer after all: retry or raise as any refusal
        return exc

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
                service=self.service,
            ) from None

    def _next_delay(self, call: Call[Any], error: KieError, attempt: int) -> float:
        """Seconds to wait before the next attempt of ``call``, or raise the error that ends it (a paid
        submit that may have been charged ends in :class:`KieSubmitOutcomeUnknownError`)."""
        policy = self.submit_retry if call.kind is CallKind.SUBMIT else self.retry
        delay = retry_or_raise(call.kind, error, attempt, policy, call.path, self._rng)
        self.log.warning(
            "%s %s %s failed (%s); retrying in %.1f s (attempt %d of %d)",
            self.service,
            call.method,
            call.path,
            error,
            delay,
            attempt + 1,
            policy.max_attempts,
        )
        return delay

    # -- waiting -----------------------------------------------------------------------------------------
    def _wait_step(
        self,
        tracker: PollTracker,
        task_id: str,
        outcome: TaskRecord | KieError,
        *,
        waited: float,
        timeout: float | None,
        raise_on_failure: bool,
    ) -> TaskRecord | float:
        """One step of ``wait_for_task`` after a poll: the finished record, or the seconds to sleep.

        A cancelled task (Runway's ``CANCELLED``) ends the wait at once, as a failure that
        :attr:`TaskRecord.cancelled` marks, or :class:`KieTaskCancelledError`.
        """
        step = tracker.after_poll(
            task_id,
            outcome,
            waited=waited,
            timeout=timeout,
            log=self.log,
            rng=self._rng,
            service=self.service,
            report_raw_state=self.timeout_reports_raw_state,
        )
        if isinstance(step, TaskRecord) and raise_on_failure and step.state is TaskState.FAILED:
            error = KieTaskCancelledError if step.cancelled else KieTaskFailedError
            raise error(step.task_id, step.fail_code, step.fail_msg, service=self.service)
        return step


@dataclass(frozen=True)
class Recovered(Generic[T]):
    """An answer read from a refusal by ``Call.recover``."""

    value: T


class BaseKieClient(ClientCore):
    """Configuration and bookkeeping common to :class:`KieClient` and :class:`AsyncKieClient`.

    :param api_key: the KIE API key. Kept only in the Authorization header; never in reprs or errors.
    :param base_url: KIE's API host.
    :param upload_base_url: KIE's file-upload host (a different host from the API).
    :param options: :class:`ClientOptions` (``timeout``, ``retry``, ``submit_retry``, ``user_agent``,
        ``rng``).
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(
            api_key,
            missing_key="a KIE API key is required (the kie connection's password)",
            default_submit_retry=DEFAULT_SUBMIT_RETRY,
            default_user_agent=USER_AGENT,
            **options,
        )
        self.base_url = _check_base_url("base_url", base_url)
        self.upload_base_url = _check_base_url("upload_base_url", upload_base_url)

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

    def _decode(self, response: httpx.Response, endpoint: str) -> Any:
        return decode_envelope(response, endpoint, self.redact)


def transport_error(exc: httpx.RequestError, endpoint: str, service: str = "KIE") -> KieTransportError:
    """Map an httpx transport failure to :class:`KieTransportError`, noting whether the request left.

    Only a failure to connect (refused, connect timeout, no pooled connection free) proves that nothing
    reached the service; a read timeout or a dropped connection may come after it accepted (and charged) the
    request, and an answer whose body could not be decoded (``httpx.DecodingError``) certainly did.
    """
    not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    detail = str(exc) or "no detail"
    return KieTransportError(
        f"{service} {endpoint}: {type(exc).__name__} ({detail})",
        endpoint=endpoint,
        request_sent=not not_sent,
        service=service,
    )
