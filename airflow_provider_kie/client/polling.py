"""How often to ask KIE whether a task has finished.

KIE clips take minutes; Runway's own guidance is to poll no faster than every 5 s, with jitter, and to back
off on errors. Jitter matters most when a campaign submits many clips at once: without it, every wait
wakes in the same instant and the polls arrive as a burst.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["PollPolicy"]


@dataclass(frozen=True)
class PollPolicy:
    """Poll schedule for one task.

    :param interval: the mean seconds between polls.
    :param first_poll_after: seconds before the first poll; 0 polls at once (an operator resuming a wait
        wants the current state immediately).
    :param jitter: each wait is scaled by a random factor in ``[1 - jitter, 1 + jitter]``.
    :param error_backoff_max: the longest wait after consecutive failed polls, which double the interval.
    """

    interval: float = 10.0
    first_poll_after: float = 0.0
    jitter: float = 0.2
    error_backoff_max: float = 120.0

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("interval must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def _jittered(self, seconds: float, rng: random.Random | None) -> float:
        source: random.Random = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        return seconds * source.uniform(1 - self.jitter, 1 + self.jitter)

    def next_delay(self, consecutive_errors: int = 0, rng: random.Random | None = None) -> float:
        """Seconds until the next poll, after ``consecutive_errors`` failed polls in a row."""
        if consecutive_errors:
            return self._jittered(min(self.error_backoff_max, self.interval * 2**consecutive_errors), rng)
        return self._jittered(self.interval, rng)
