"""What the sync and async Runway API clients share: configuration, headers, redaction, retries, waits."""

from __future__ import annotations

import logging
import random
import re
from typing import Any, TypeVar

import httpx

from airflow_provider_kie import __version__
from airflow_provider_kie.client._base import DEFAULT_TIMEOUT, _check_base_url, shared_ssl_context
from airflow_provider_kie.client.calls import Call
from airflow_provider_kie.client.envelope import body_excerpt
from airflow_provider_kie.client.errors import (
    KieConfigurationError,
    KieError,
    KieResponseError,
    KieTaskCancelledError,
    KieTaskFailedError,
    KieWaitTimeoutError,
)
from airflow_provider_kie.client.polling import PollPolicy, PollTracker
from airflow_provider_kie.client.records import TaskRecord, TaskState
from airflow_provider_kie.client.retry import (
    DEFAULT_READ_RETRY,
    DEFAULT_SUBMIT_RETRY,
    CallKind,
    RetryPolicy,
    retry_or_raise,
)
from airflow_provider_kie.client.runway_api.http import SERVICE

__all__ = [
    "DEFAULT_RUNWAY_API_VERSION",
    "DEFAULT_RUNWAY_BASE_URL",
    "RUNWAY_USER_AGENT",
    "BaseRunwayClient",
]

log = logging.getLogger("airflow_provider_kie.client.runway_api")

T = TypeVar("T")

DEFAULT_RUNWAY_BASE_URL = "https://api.dev.runwayml.com"
#: The API version every request names in ``X-Runway-Version`` (the runwayml SDK's default); Runway keeps
#: an old version for four months after a new one (https://docs.dev.runwayml.com/api-details/versioning/).
DEFAULT_RUNWAY_API_VERSION = "2024-11-06"
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


class BaseRunwayClient:
    """Configuration and bookkeeping common to :class:`RunwayClient` and :class:`AsyncRunwayClient`.

    :param api_key: the Runway API key (``key_...``). Sent only in the Authorization header; never in reprs or
        errors.
    :param base_url: Runway's API host (the emulator's ``runway_base_url`` in tests).
    :param api_version: the ``X-Runway-Version`` header; required (a missing one fails here, before any
        request).
    :param timeout: per-request timeouts of reads (creates get at least :data:`CREATE_TIMEOUT`).
    :param retry: retry policy of safe calls (task reads, cancel, organization).
    :param submit_retry: retry policy of creates, applied only where Runway surely created nothing (429, a
        connection that never opened).
    :param user_agent: overrides the default ``airflow-provider-kie/<version>`` User-Agent.
    :param rng: random source for jitter; pass a seeded one for reproducible tests.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_RUNWAY_BASE_URL,
        api_version: str | None = DEFAULT_RUNWAY_API_VERSION,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        submit_retry: RetryPolicy | None = None,
        user_agent: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise KieConfigurationError(f"a {SERVICE} key is required (Runway's developer portal, key_...)")
        self._api_key = api_key.strip()
        self.api_version = check_api_version(api_version)
        self.base_url = _check_base_url("base_url", base_url)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = retry or DEFAULT_READ_RETRY
        self.submit_retry = submit_retry or DEFAULT_SUBMIT_RETRY
        self.user_agent = user_agent or RUNWAY_USER_AGENT
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_version={self.api_version!r})"

    def _client_kwargs(self) -> dict[str, Any]:
        """Options of an httpx client this object owns. No credentials in it: they go with each request,
        so a shared client (one per triggerer) can serve several keys."""
        return {"timeout": self.timeout, "verify": shared_ssl_context(), "follow_redirects": False}

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            VERSION_HEADER: self.api_version,
            "User-Agent": self.user_agent,
            "Accept": "application/json",
        }

    def _request_kwargs(self, call: Call[Any]) -> dict[str, Any]:
        """Everything ``httpx.Client.request`` needs for ``call`` but the method."""
        kwargs: dict[str, Any] = {"url": self.base_url + call.path, "headers": self._headers()}
        kwargs["timeout"] = self._create_timeout() if call.kind is CallKind.SUBMIT else self.timeout
        if call.json is not None:
            kwargs["json"] = call.json
        if call.params is not None:
            kwargs["params"] = call.params
        return kwargs

    def _create_timeout(self) -> httpx.Timeout:
        """The read timeout, lengthened to :data:`CREATE_TIMEOUT` where it is shorter."""
        read = max(self.timeout.read or 0.0, CREATE_TIMEOUT.read or 0.0)
        write = max(self.timeout.write or 0.0, CREATE_TIMEOUT.write or 0.0)
        return httpx.Timeout(
            None, connect=self.timeout.connect, read=read, write=write, pool=self.timeout.pool
        )

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced: applied to every body excerpt before it reaches an error."""
        return text.replace(self._api_key, "***") if self._api_key in text else text

    def _parse(self, call: Call[T], data: Any) -> T:
        """``call.parse(data)``; an answer it cannot read is quoted redacted and shortened."""
        try:
            return call.parse(data)
        except KieResponseError as exc:
            raise KieResponseError(
                exc.problem,
                http_status=exc.http_status,
                endpoint=exc.endpoint,
                body_excerpt=body_excerpt(exc.body_excerpt, self.redact),
                not_json=exc.not_json,
                service=SERVICE,
            ) from None

    def _next_delay(self, call: Call[Any], error: KieError, attempt: int) -> float:
        """Seconds before the next attempt of ``call``, or raise the error that ends it (creates that may
        have been charged end in :class:`KieSubmitOutcomeUnknownError`)."""
        policy = self.submit_retry if call.kind is CallKind.SUBMIT else self.retry
        delay = retry_or_raise(call.kind, error, attempt, policy, call.path, self._rng)
        log.warning(
            "%s %s %s failed (%s); retrying in %.1f s (attempt %d of %d)",
            SERVICE,
            call.method,
            call.path,
            error,
            delay,
            attempt + 1,
            policy.max_attempts,
        )
        return delay

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

        Unlike the runwayml SDK's sync waiter, a ``CANCELLED`` task ends the wait at once (as a failure
        that :attr:`TaskRecord.cancelled` marks, or :class:`KieTaskCancelledError`).
        """
        if isinstance(outcome, KieError):
            delay = tracker.on_error(outcome, self._rng)  # raises when more polling cannot help
            log.warning(
                "Polling %s task %s failed (%s); next poll in %.0f s", SERVICE, task_id, outcome, delay
            )
        else:
            if tracker.on_record(outcome):
                progress = "" if outcome.progress is None else f", {outcome.progress:.0%}"
                log.info(
                    "%s task %s is %s (%s%s)",
                    SERVICE,
                    task_id,
                    outcome.state.value,
                    outcome.raw_state,
                    progress,
                )
            if outcome.is_terminal:
                return self._check_outcome(outcome, raise_on_failure)
            delay = tracker.next_delay(self._rng)
        if timeout is not None and waited + delay > timeout:
            raise KieWaitTimeoutError(task_id, waited, tracker.last_raw_state or "unknown", service=SERVICE)
        return delay

    @staticmethod
    def _check_outcome(record: TaskRecord, raise_on_failure: bool) -> TaskRecord:
        if raise_on_failure and record.state is TaskState.FAILED:
            error = KieTaskCancelledError if record.cancelled else KieTaskFailedError
            raise error(record.task_id, record.fail_code, record.fail_msg, service=SERVICE)
        return record

    @staticmethod
    def _tracker(poll: PollPolicy | None) -> PollTracker:
        return PollTracker(poll or PollPolicy())
