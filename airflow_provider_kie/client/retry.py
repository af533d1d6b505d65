"""When to retry a KIE call, and how long to wait first.

The rule that matters most: a *submit* costs credits, so it is resent only when KIE surely created nothing
(429 rate limit, 455 maintenance, or a connection that failed before the request went out). After a 5xx or
a timeout once the request was sent, the outcome is unknown and the client raises
:class:`~airflow_provider_kie.client.errors.KieSubmitOutcomeUnknownError` instead of paying twice.
Reads and free calls (record-detail, credit, download-url, uploads) retry on anything transient.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from enum import Enum

from airflow_provider_kie.client.backoff import Backoff, check_jitter
from airflow_provider_kie.client.errors import (
    KieBusyError,
    KieError,
    KieResponseError,
    KieServerError,
    KieSubmitOutcomeUnknownError,
    KieTransportError,
    KieUpstreamTimeoutError,
)

__all__ = [
    "DEFAULT_READ_RETRY",
    "DEFAULT_SUBMIT_RETRY",
    "CallKind",
    "RetryPolicy",
    "parse_retry_after",
    "retry_or_raise",
]


class CallKind(str, Enum):
    """How dangerous it is to send a call twice."""

    #: Reading or free: sending it twice does no harm.
    SAFE = "safe"
    #: Creates a paid task: sending it twice may pay twice.
    SUBMIT = "submit"


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a call gets, and the :class:`Backoff` between them (honouring ``Retry-After``).

    :param max_attempts: attempts in all, the first included; 1 disables retries.
    :param base_delay: the wait before the second attempt, in seconds; doubles each time.
    :param max_delay: the longest computed wait.
    :param jitter: each wait is scaled by a random factor in ``[1 - jitter, 1 + jitter]`` so that many
        clients that failed together do not come back together.
    :param max_retry_after: the longest ``Retry-After`` honoured; a longer one ends the retries, since
        blocking a worker that long is worse than failing and letting Airflow retry the task.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        check_jitter(self.jitter)

    @property
    def backoff(self) -> Backoff:
        return Backoff(base=self.base_delay, cap=self.max_delay, jitter=self.jitter)

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); ``retry_after`` is a floor."""
        return self.backoff.delay(attempt, floor=retry_after, rng=rng)

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)


#: Reads and free calls: ride out a few seconds of trouble.
DEFAULT_READ_RETRY = RetryPolicy()
#: Paid submits, only where KIE surely created nothing (429, 455, a connection that never opened). Short on
#: purpose: in a worker, a refusal that outlasts these attempts, or a ``Retry-After`` over 5 s, is better
#: spent deferred (the operators' load backoff) than asleep in a worker slot.
DEFAULT_SUBMIT_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=4.0, max_retry_after=5.0)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: either delta-seconds or an HTTP date. ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _submit_can_resend(error: KieError) -> bool:
    if isinstance(error, KieBusyError):
        return True
    return isinstance(error, KieTransportError) and not error.request_sent


def _submit_outcome_unknown(error: KieError) -> bool:
    if isinstance(error, (KieServerError, KieUpstreamTimeoutError)):
        return True
    if isinstance(error, KieTransportError):
        return error.request_sent
    # An answer we could not read at HTTP 200 or 5xx may sit on top of a created task.
    return isinstance(error, KieResponseError) and (error.http_status >= 500 or error.http_status == 200)


def retry_or_raise(
    kind: CallKind,
    error: KieError,
    attempt: int,
    policy: RetryPolicy,
    endpoint: str,
    rng: random.Random | None = None,
) -> float:
    """Decide what follows failed attempt ``attempt``: return the seconds to wait, or raise.

    Raises ``error`` itself when retrying cannot help or the budget is spent, and
    :class:`KieSubmitOutcomeUnknownError` when a submit failed in a way that may have created a task.
    """
    if kind is CallKind.SUBMIT:
        if _submit_outcome_unknown(error):
            raise KieSubmitOutcomeUnknownError(endpoint, error) from error
        retry = _submit_can_resend(error)
    else:
        retry = error.retryable
    if not retry or attempt >= policy.max_attempts:
        raise error
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None and retry_after > policy.max_retry_after:
        raise error
    return policy.delay(attempt, retry_after, rng)
