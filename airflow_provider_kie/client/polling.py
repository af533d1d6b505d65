"""How often to ask KIE whether a task has finished.

KIE clips take minutes; Runway's own guidance is to poll no faster than every 5 s, with jitter, and to back
off on errors. Jitter matters most when a campaign submits many clips at once: without it, every wait
wakes in the same instant and the polls arrive as a burst.

By default the schedule follows what KIE says about the task, because a poll can only detect a change that
is possible at that moment:

- while KIE reports the task waiting or queued (``wait``/``queueing``), it cannot succeed yet: poll every
  ``pending_interval`` (15 s), enough to see generation start and early refusals;
- for the first ``min_generation`` seconds of generating (25 s; a Runway clip takes longer than that), it
  still cannot succeed: keep the pending pace, then wake when that time is up;
- after that it may finish at any moment: poll every ``generating_interval`` (9 s).

The calls saved on phases that cannot end the wait pay for polling faster when it can. ``generating_interval``
is set so that, over generation times spread evenly from 30 s to 180 s, the schedule makes no more calls
than fixed 10 s polling, with about the same median detection delay and a shorter tail
(``benchmarks/bench_polling_cost.py``; ``benchmarks/README.md`` explains why no schedule reaches fixed 5 s
polling's latency at that cost while the generation time is unknown). A fixed ``interval`` polls at that
pace whatever KIE says.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_kie.client.backoff import Backoff, check_jitter
from airflow_provider_kie.client.errors import KieError, KieTaskNotFoundError, KieWaitTimeoutError
from airflow_provider_kie.client.records import TaskState

if TYPE_CHECKING:
    import logging

    from airflow_provider_kie.client.records import TaskRecord

__all__ = ["PollPolicy", "PollTracker"]

_DURATIONS = (
    "interval",
    "first_poll_after",
    "error_backoff_max",
    "pending_interval",
    "min_generation",
    "generating_interval",
)


@dataclass(frozen=True)
class PollPolicy:
    """Poll schedule for one task.

    :param interval: seconds between polls whatever KIE reports (jittered). ``None`` (the default) follows
        the task's phase with the three parameters below.
    :param first_poll_after: seconds before the first poll; 0 polls at once (an operator resuming a wait
        wants the current state immediately).
    :param jitter: each wait is scaled by a random factor in ``[1 - jitter, 1 + jitter]``.
    :param error_backoff_max: the longest wait after consecutive failed polls, which double the interval.
    :param pending_interval: seconds between polls while the task waits or queues at KIE, and during its
        first ``min_generation`` seconds of generating (phase-following schedule only).
    :param min_generation: seconds a task generates before it can plausibly succeed.
    :param generating_interval: seconds between polls once the task may finish at any moment; also the base
        of the error backoff when ``interval`` is ``None``.
    """

    interval: float | None = None
    first_poll_after: float = 0.0
    jitter: float = 0.2
    error_backoff_max: float = 120.0
    pending_interval: float = 15.0
    min_generation: float = 25.0
    generating_interval: float = 9.0

    def __post_init__(self) -> None:
        if self.interval is not None and self.interval <= 0:
            raise ValueError("interval must be positive")
        check_jitter(self.jitter)
        if self.pending_interval <= 0 or self.generating_interval <= 0:
            raise ValueError("pending_interval and generating_interval must be positive")
        if self.min_generation < 0:
            raise ValueError("min_generation must be >= 0")

    @property
    def base_interval(self) -> float:
        """The pace when nothing is known about the task: ``interval``, else ``generating_interval``."""
        return self.interval if self.interval is not None else self.generating_interval

    def scaled(self, factor: float) -> PollPolicy:
        """This policy with every duration multiplied by ``factor``: for an emulator whose clock runs
        ``factor`` times real time (its ``time_scale``)."""
        if factor <= 0:
            raise ValueError("factor must be positive")
        changes: dict[str, Any] = {}
        for name in _DURATIONS:
            value = getattr(self, name)
            changes[name] = None if value is None else value * factor
        return dataclasses.replace(self, **changes)

    def _jittered(self, seconds: float, rng: random.Random | None) -> float:
        source: random.Random = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        return seconds * source.uniform(1 - self.jitter, 1 + self.jitter)

    def next_delay(self, consecutive_errors: int = 0, rng: random.Random | None = None) -> float:
        """Seconds until the next poll, after ``consecutive_errors`` failed polls in a row."""
        if consecutive_errors:
            # Doubling from twice the usual pace: the first failed poll already waits longer than usual.
            errors = Backoff(base=self.base_interval, cap=self.error_backoff_max, jitter=self.jitter)
            return errors.delay(consecutive_errors + 1, rng=rng)
        return self._jittered(self.base_interval, rng)

    def delay_for(
        self, state: TaskState | None, generating_for: float | None, rng: random.Random | None = None
    ) -> float:
        """Seconds until the next poll after a poll that found the task in ``state``.

        :param generating_for: seconds the task has been generating (running), as far as the polls tell.
        """
        if self.interval is not None or state is None:
            return self.next_delay(rng=rng)
        if state is TaskState.PENDING:
            return self._jittered(self.pending_interval, rng)
        left = self.min_generation - (generating_for or 0.0)
        if left > 0:
            # Success is not plausible yet: keep the slow pace, but wake when it becomes plausible.
            return self._jittered(max(self.generating_interval, min(self.pending_interval, left)), rng)
        return self._jittered(self.generating_interval, rng)


@dataclass
class PollTracker:
    """The decisions of one wait, without I/O: shared by both clients' ``wait_for_task`` and the trigger.

    Feed it each poll's outcome; it says whether the state changed (log it), how long to wait next, and
    when an error means waiting can no longer help (it raises that error).

    :param policy: the poll schedule.
    :param not_found_grace: polls allowed to answer "recordInfo is null": KIE can take a moment to show a
        task it has just accepted.
    :param clock: monotonic seconds; the phase-following schedule times the generating phase with it.
    """

    policy: PollPolicy
    not_found_grace: int = 3
    last_raw_state: str | None = None
    #: The provider lifecycle state of the last successful poll (``running``...), for timeout messages.
    last_state: str | None = None
    consecutive_errors: int = 0
    not_found: int = 0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    #: When the last poll that found the task pending happened, and when generation is estimated to have
    #: started (midway between that poll and the first one that found it running).
    _pending_seen_at: float | None = field(default=None, repr=False)
    _generating_since: float | None = field(default=None, repr=False)
    _state: TaskState | None = field(default=None, repr=False)

    def on_record(self, record: TaskRecord) -> bool:
        """Note a successful poll; True when KIE's state differs from the previous poll's."""
        self.consecutive_errors = self.not_found = 0
        changed = record.raw_state != self.last_raw_state
        self.last_raw_state = record.raw_state
        self.last_state = record.state.value
        self._state = record.state
        now = self.clock()
        if record.state is TaskState.PENDING:
            self._pending_seen_at = now
        elif record.state is TaskState.RUNNING and self._generating_since is None:
            # Started somewhere since the last pending poll; with none seen, count from now.
            seen = self._pending_seen_at
            self._generating_since = now if seen is None else (seen + now) / 2
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
        since = self._generating_since
        generating_for = None if since is None else self.clock() - since
        return self.policy.delay_for(self._state, generating_for, rng)

    def after_poll(
        self,
        task_id: str,
        outcome: TaskRecord | KieError,
        *,
        waited: float,
        timeout: float | None,
        log: logging.Logger,
        rng: random.Random | None = None,
        service: str = "KIE",
        report_raw_state: bool = False,
    ) -> TaskRecord | float:
        """One blocking wait's step after a poll (the clients' ``wait_for_task``): log what it found, and
        return the record when the task has ended, else the seconds to sleep before the next poll.

        :param waited: seconds since the wait began. :param timeout: the wait's limit (``None``: none).
        :param service: who is polled, as log lines and errors name it.
        :param report_raw_state: a timeout names the service's own last state ("THROTTLED") rather than the
            provider's ("pending").
        :raises KieError: the poll's error, when more polling cannot help.
        :raises KieWaitTimeoutError: when the next poll would come after ``timeout``.
        """
        if isinstance(outcome, KieError):
            # Transient trouble (already retried by the client) delays the wait; the rest ends it.
            delay = self.on_error(outcome, rng)
            log.warning(
                "Polling %s task %s failed (%s); next poll in %.0f s", service, task_id, outcome, delay
            )
        else:
            if self.on_record(outcome):
                progress = "" if outcome.progress is None else f", {outcome.progress:.0%}"
                raw_state = f"{outcome.raw_state}{progress}"
                # The service in the template, not the arguments: log filters match "KIE task %s is %s (%s)".
                template = service + " task %s is %s (%s)"
                log.info(template, task_id, outcome.state.value, raw_state)
            if outcome.is_terminal:
                return outcome
            delay = self.next_delay(rng)
        if timeout is not None and waited + delay > timeout:
            last = self.last_raw_state if report_raw_state else self.last_state
            raise KieWaitTimeoutError(task_id, waited, last or "unknown", service=service)
        return delay
