"""The one backoff formula: exponential growth, capped, with jitter, never below a server's floor.

Every layer that waits before trying again uses it: the client between attempts of one call
(:class:`~airflow_provider_kie.client.retry.RetryPolicy`), the wait between failed polls
(:class:`~airflow_provider_kie.client.polling.PollPolicy`), the operators' "KIE is busy" backoff before a
new submit, and the download of finished media. Only their numbers differ (README, "Retries").
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff", "check_jitter"]


def check_jitter(jitter: float) -> None:
    """Every policy's jitter is a fraction in ``[0, 1)``: at 1 a wait could shrink to nothing."""
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before attempt ``n + 1``, after ``n`` failures in a row.

    :param base: the wait after the first failure; doubles with each further one.
    :param cap: the longest wait the doubling reaches.
    :param jitter: each wait is scaled by a random factor in ``[1 - jitter, 1 + jitter]``, so that many
        callers that failed together do not come back together.
    """

    base: float
    cap: float
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise ValueError("base and cap must be positive")
        check_jitter(self.jitter)

    def delay(self, failures: int, *, floor: float | None = None, rng: random.Random | None = None) -> float:
        """The wait after ``failures`` (>= 1) failures in a row.

        :param floor: seconds the other side asked for (``Retry-After``): coming back sooner would only be
            refused again, so the wait is at least that, plus jitter on top (never below it).
        """
        source: random.Random = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        ceiling = min(self.cap, self.base * 2.0 ** (max(1, failures) - 1))
        seconds = ceiling * source.uniform(1 - self.jitter, 1 + self.jitter)
        if floor is not None:
            seconds = max(seconds, floor * (1 + source.uniform(0, self.jitter)))
        return seconds
