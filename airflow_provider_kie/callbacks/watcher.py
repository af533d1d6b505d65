"""The trigger side of callbacks: one watcher per triggerer event loop reads the journal for every wait.

A wait registers its KIE task id (``async with watch(kie_task_id) as woken:``) and gets an
:class:`asyncio.Event`. The loop's watcher reads the ``kie_callbacks`` Variable once every :data:`TICK_S`
(0.5 s) through the triggerer's supervisor, and sets the event of each registration whose task has a journal
line it has not been woken for yet. The wait then reads KIE's record once (the truth; the callback body is
never used) and ends, or clears the event and keeps waiting when the record is not terminal yet.

Why this shape (against the alternatives):

* **One read per triggerer per tick, whatever the number of waits.** A read per wait per second would put
  thousands of Variable reads a second through the supervisor and the API server for a busy triggerer; the
  shared watcher costs two a second and one JSON parse of a value bounded by the journal's trim.
* **Only while there is something to wake.** The watcher's task starts with the first registration and is
  cancelled when the last one leaves, so a triggerer with no callback waits reads nothing, and an ended
  wait leaves no task, registration or state behind.
* **Restart- and hand-over-safe.** A line written before the wait registered counts (the callback may land
  while the triggerer restarts, or before the trigger is handed to another triggerer): the first read after
  registering wakes it.
* **Failures only delay.** A failed read (the API server briefly gone) is logged once per streak of failures
  and retried on the next tick; it never ends a wait. The waits' own slow safety-net poll covers a watcher
  that cannot read at all, and callbacks that never arrive.
* **Supported path on 3.1, 3.2 and 3.3.** Triggers reach Variables through their supervisor
  (``GetVariable``), the way Airflow's own HITL trigger reads its state: a sync SDK call moved off the
  event loop with ``asgiref``'s ``sync_to_async``. Nothing else (``GetVariableKeys`` is 3.3 only) is used.

Watchers are kept per running event loop, weakly keyed (like :mod:`airflow_provider_kie.triggers.shared`),
so a loop that ends takes its watcher along. Tests inject a reader with :func:`install_watcher`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from airflow_provider_kie.callbacks import journal

__all__ = [
    "TICK_S",
    "CallbackWatcher",
    "current_watcher",
    "install_watcher",
    "read_journal",
    "wait_woken",
    "watch",
]

log = logging.getLogger(__name__)

#: Seconds between two reads of the journal: the wake-up latency a callback adds on average is half this.
TICK_S = 0.5

#: Reads the journal's raw value (``None`` when the Variable does not exist).
Reader = Callable[[], Awaitable["str | None"]]


def _get_journal_variable() -> str | None:
    from airflow.sdk import Variable

    value = Variable.get(journal.JOURNAL_VARIABLE, default=None)
    return value if isinstance(value, str) else None


async def read_journal() -> str | None:
    """The journal's raw value, read through the triggerer's supervisor (off the event loop)."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(_get_journal_variable)()


@dataclass(eq=False)
class _Registration:
    kie_task_id: str
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    #: The journal time of the line this registration was last woken for.
    woken_for: float | None = None


class CallbackWatcher:
    """Reads the journal for all registrations of one event loop; runs only while there are any.

    :param reader: how to read the journal's raw value (default: :func:`read_journal`).
    :param tick_s: seconds between reads.
    """

    def __init__(self, reader: Reader | None = None, tick_s: float = TICK_S) -> None:
        if tick_s <= 0:
            raise ValueError(f"tick_s must be a positive number of seconds, got {tick_s!r}")
        self._reader: Reader = reader or read_journal
        self._tick_s = tick_s
        self._registrations: dict[str, set[_Registration]] = {}
        self._task: asyncio.Task[None] | None = None
        #: Reads made so far (successful or not); for tests and benchmarks.
        self.reads = 0

    @property
    def running(self) -> bool:
        """Whether the reading task is alive."""
        return self._task is not None and not self._task.done()

    @property
    def registrations(self) -> int:
        """How many waits are registered."""
        return sum(len(regs) for regs in self._registrations.values())

    @asynccontextmanager
    async def watch(self, kie_task_id: str) -> AsyncIterator[asyncio.Event]:
        """Register a wait for ``kie_task_id``; the event is set when a callback for it is in the journal.

        The event is set once per journal line: clear it after acting on it, and it is set again only by a
        later line (KIE's task calling back again after its line expired), not by the same one.
        """
        if not isinstance(kie_task_id, str) or not kie_task_id:
            raise ValueError(f"kie_task_id must be a non-empty KIE task id, got {kie_task_id!r}")
        registration = _Registration(kie_task_id)
        self._registrations.setdefault(kie_task_id, set()).add(registration)
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kie-callback-watcher")
        try:
            yield registration.woken
        finally:
            regs = self._registrations.get(kie_task_id)
            if regs is not None:
                regs.discard(registration)
                if not regs:
                    del self._registrations[kie_task_id]
            if not self._registrations and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _run(self) -> None:
        failing = False
        while self._registrations:
            self.reads += 1
            try:
                raw = await self._reader()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Once per streak: a triggerer whose API server is down must not log twice a second.
                if not failing:
                    log.warning(
                        "Reading the KIE callback journal (Variable %s) failed (%s); retrying every %.1f s. "
                        "Waits carry on with their safety-net poll.",
                        journal.JOURNAL_VARIABLE,
                        type(exc).__name__,
                        self._tick_s,
                    )
                failing = True
            else:
                if failing:
                    log.info("Reading the KIE callback journal works again")
                    failing = False
                self._wake(journal.latest_by_task(journal.parse(raw)))
            await asyncio.sleep(self._tick_s)

    def _wake(self, called_back: dict[str, float]) -> None:
        # O(waits registered), however long the journal: look each registered task up in the index.
        for kie_task_id, regs in self._registrations.items():
            at = called_back.get(kie_task_id)
            if at is None:
                continue
            for registration in regs:
                if registration.woken_for != at:
                    registration.woken_for = at
                    registration.woken.set()


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CallbackWatcher] = weakref.WeakKeyDictionary()


def current_watcher() -> CallbackWatcher:
    """The running loop's watcher (created, with the supervisor reader, on first use)."""
    loop = asyncio.get_running_loop()
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = CallbackWatcher()
    return watcher


def install_watcher(watcher: CallbackWatcher) -> None:
    """Make ``watcher`` the running loop's (tests: a watcher with an injected reader and a short tick)."""
    _watchers[asyncio.get_running_loop()] = watcher


def watch(kie_task_id: str) -> AbstractAsyncContextManager[asyncio.Event]:
    """``async with watch(kie_task_id) as woken:`` on the running loop's shared watcher."""
    return current_watcher().watch(kie_task_id)


async def wait_woken(woken: asyncio.Event, timeout: float) -> bool:
    """Wait until ``woken`` is set or ``timeout`` seconds pass (the safety-net poll interval).

    :return: ``True`` when a callback woke the wait; the event is cleared, so the next call waits for a
        later callback (or the timeout) after the caller has read KIE's record.
    """
    try:
        await asyncio.wait_for(woken.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    woken.clear()
    return True
