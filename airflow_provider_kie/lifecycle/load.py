"""Step 3's "KIE is busy" backoff: how long to wait before submitting again, and when to stop.

KIE turns new work away for load in two ways that cost nothing: a 429/455 answer to the submit
(:class:`~airflow_provider_kie.client.KieBusyError`), and a task it fails at once for the account's
concurrency cap. Either way the operator waits and submits again: deferred (holding no worker slot) when
deferrable, asleep in the worker otherwise, until ``rate_limit_timeout``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kie.client import Backoff

__all__ = ["LOAD_BACKOFF", "LoadBackoff", "RateLimitTimeout"]

#: 7.5-15 s after the first refusal, doubling to 2.5-5 min: KIE's rate window is 10 s, its queues drain in
#: minutes. (A mean of 11.25 s with a third either way: the spread this backoff had before it shared the
#: formula, which the campaign benchmark measured.)
LOAD_BACKOFF = Backoff(base=11.25, cap=225.0, jitter=1 / 3)


class RateLimitTimeout(Exception):
    """KIE kept refusing for longer than ``rate_limit_timeout``; the message says for how long and why."""


@dataclass(frozen=True)
class LoadBackoff:
    """The refusals one task has met so far. Travels through deferrals as two primitives (``kwargs()``).

    :param attempt: the submit attempt about to be made (1 for the first).
    :param first_try_at: unix time of the first attempt; ``rate_limit_timeout`` counts from it.
    """

    attempt: int = 1
    first_try_at: float = field(default_factory=time.time)

    @classmethod
    def from_kwargs(cls, attempt: int = 1, first_try_at: float | None = None, **_: Any) -> LoadBackoff:
        """Rebuild from a deferral's kwargs (names kept from earlier versions: in-flight tasks carry them)."""
        return cls(attempt, first_try_at or time.time())

    def kwargs(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "first_try_at": self.first_try_at}

    def next(
        self, reason: str, timeout: float, retry_after: float | None = None
    ) -> tuple[float, LoadBackoff]:
        """Seconds to wait before the next submit, and the state after it.

        :raises RateLimitTimeout: when that wait would end past ``timeout`` seconds from the first attempt.
        """
        delay = LOAD_BACKOFF.delay(self.attempt, floor=retry_after)
        elapsed = time.time() - self.first_try_at
        if elapsed + delay > timeout:
            raise RateLimitTimeout(
                f"KIE kept refusing new clips for {elapsed:.0f} s ({reason}); gave up after "
                f"rate_limit_timeout={timeout:.0f} s"
            )
        return delay, LoadBackoff(self.attempt + 1, self.first_try_at)
