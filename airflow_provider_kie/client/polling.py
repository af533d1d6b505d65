"""How often to ask KIE whether a task has finished.

KIE clips take minutes; Runway's own guidance is to poll no faster than every 5 s, with jitter, and to back
off on errors. Jitter matters most when a campaign submits many clips at once: without it, every wait
wakes in the same instant and the polls arrive as a burst.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_kie.client.errors import KieError, KieTaskNotFoundError

if TYPE_CHECKING:
    from airflow_provider_kie.client.records import TaskRecord

__all__ = ["PollPolicy", "PollTracker"]


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


@dataclass
class PollTracker:
    """The decisions of one wait, without I/O: shared by both clients' ``wait_for_task`` and the trigger.

    Feed it each poll's outcome; it says whether the state changed (log it), how long to wait next, and
    when an error means waiting can no longer help (it raises that error).

    :param policy: the poll schedule.
    :param not_found_grace: polls allowed to answer "recordInfo is null": KIE can take a moment to show a
        task it has just accepted.
    """

    policy: PollPolicy
    not_found_grace: int = 3
    last_raw_state: str | None = None
    #: The provider lifecycle state of the last successful poll (``running``...), for timeout messages.
    last_state: str | None = None
    consecutive_errors: int = 0
    not_found: int = 0

    def on_record(self, record: TaskRecord) -> bool:
        """Note a successful poll; True when KIE's state differs from the previous poll's."""
        self.consecutive_errors = self.not_found = 0
        changed = record.raw_state != self.last_raw_state
        self.last_raw_state = record.raw_state
        self.last_state = record.state.value
        return changed

    def on_error(self, error: KieError, rng: random.Random | None = None) -> float:
        """Seconds to wait after a failed poll; raises ``error`` when more polling cannot help."""
        if isinstance(error, KieTaskNotFoundError):
            self.not_found += 1
            if self.not_found > self.not_found_grace:
                raise error
            return self.policy.next_delay(rng=rng)
        if not error.retryable:
            raise error
        self.consecutive_errors += 1
        return self.policy.next_delay(self.consecutive_errors, rng)

    def next_delay(self, rng: random.Random | None = None) -> float:
        """Seconds until the next poll after a poll that succeeded."""
        return self.policy.next_delay(rng=rng)
