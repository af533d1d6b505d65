"""The one send/retry path and the one wait of every client, blocking (:class:`SyncSending`) and asyncio
(:class:`AsyncSending`).

Both backends' clients (KIE's and Runway's own API) send through these: an attempt is sent, its answer read by
the backend's :meth:`~airflow_provider_kie.client._base.ClientCore._decode`, and a failure retried or raised
by the shared retry rules, so a paid create is never resent after an ambiguous failure whichever backend
took it. The two loops differ only in how they wait for I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import httpx

from airflow_provider_kie.client._base import ClientCore, Recovered
from airflow_provider_kie.client.calls import Call
from airflow_provider_kie.client.errors import KieError
from airflow_provider_kie.client.polling import PollPolicy, PollTracker
from airflow_provider_kie.client.records import TaskKind, TaskRecord

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncSending", "SyncSending", "WaitOptions"]

T = TypeVar("T")
S = TypeVar("S", bound="SyncSending")
A = TypeVar("A", bound="AsyncSending")

WAIT_DOC = """Poll until the task succeeds, fails or is cancelled, logging each state change once.

        ``THROTTLED`` and ``PENDING`` (Runway's) are waits, polled at the slow pace, never failures.

        :param kind: the status endpoint to read (the client's own kind when ``None``).
        :param options: :class:`WaitOptions` (``poll``, ``timeout``, ``raise_on_failure``).
        :raises KieWaitTimeoutError: the task was still unfinished after ``timeout`` seconds.
        """


class WaitOptions(TypedDict, total=False):
    """How ``wait_for_task`` waits."""

    #: The poll schedule; :class:`PollPolicy`'s defaults when missing.
    poll: PollPolicy | None
    #: Seconds to wait in all; ``None`` (the default) waits for ever.
    timeout: float | None
    #: Raise :class:`KieTaskFailedError` (:class:`KieTaskCancelledError` for a cancelled task) instead of
    #: returning the record; default True.
    raise_on_failure: bool


def _waiting(
    client: ClientCore, task_id: str, options: WaitOptions
) -> Generator[float | None, TaskRecord | KieError, TaskRecord]:
    """The decisions of one wait, without I/O: yields the seconds to sleep before each poll (``None``: poll
    at once), is sent each poll's outcome, and returns the finished record (or raises what ends the wait)."""
    tracker = PollTracker(options.get("poll") or PollPolicy())
    started = time.monotonic()
    delay: float | None = tracker.policy.first_poll_after or None
    while True:
        outcome = yield delay
        step = client._wait_step(
            tracker,
            task_id,
            outcome,
            waited=time.monotonic() - started,
            timeout=options.get("timeout"),
            raise_on_failure=options.get("raise_on_failure", True),
        )
        if isinstance(step, TaskRecord):
            return step
        delay = step


def _start_waiting(
    client: ClientCore, task_id: str, options: WaitOptions
) -> tuple[Generator[float | None, TaskRecord | KieError, TaskRecord], float | None]:
    """A started wait, and the seconds to sleep before its first poll."""
    waiting = _waiting(client, task_id, options)
    return waiting, next(waiting)


def _after_poll(
    waiting: Generator[float | None, TaskRecord | KieError, TaskRecord], outcome: TaskRecord | KieError
) -> TaskRecord | float | None:
    """Feed a poll's outcome to the wait: the finished record, or the seconds to sleep before the next."""
    try:
        return waiting.send(outcome)
    except StopIteration as done:
        record: TaskRecord = done.value
        return record


def _polled(get_task: Callable[..., TaskRecord], *args: Any) -> TaskRecord | KieError:
    """A poll's outcome: the record, or the error that the wait then judges."""
    try:
        return get_task(*args)
    except KieError as exc:
        return exc


async def _apolled(poll: Awaitable[TaskRecord]) -> TaskRecord | KieError:
    """:func:`_polled`, awaited."""
    try:
        return await poll
    except KieError as exc:
        return exc


class SyncSending(ClientCore):
    """Blocking I/O: an ``httpx.Client`` (its own, or one passed in that it does not close)."""

    _http: httpx.Client

    def _open(self, transport: httpx.BaseTransport | None, http: httpx.Client | None) -> None:
        self._http = self._adopt(http, lambda **options: httpx.Client(transport=transport, **options))

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (of an httpx client this object made)."""
        if self._owns_http:
            self._http.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._request(call) as request:
                    response = self._http.request(**request)
                return self._answer(call, response)
            except (httpx.RequestError, KieError) as exc:
                failure = self._failure(call, exc)
            if isinstance(failure, Recovered):
                return failure.value
            time.sleep(self._next_delay(call, failure, attempt))

    def get_task(self, task_id: str, kind: Any = None) -> TaskRecord:
        raise NotImplementedError

    def wait_for_task(
        self, task_id: str, kind: TaskKind | str | None = None, **options: Unpack[WaitOptions]
    ) -> TaskRecord:
        waiting, delay = _start_waiting(self, task_id, options)
        while True:
            if delay is not None:
                time.sleep(delay)
            step = _after_poll(waiting, _polled(self.get_task, task_id, kind or self.default_kind))
            if isinstance(step, TaskRecord):
                return step
            delay = step

    wait_for_task.__doc__ = WAIT_DOC


class AsyncSending(ClientCore):
    """asyncio I/O: an ``httpx.AsyncClient`` (its own, or a shared one such as a triggerer's: not closed)."""

    _http: httpx.AsyncClient

    def _open(self, transport: httpx.AsyncBaseTransport | None, http: httpx.AsyncClient | None) -> None:
        self._http = self._adopt(http, lambda **options: httpx.AsyncClient(transport=transport, **options))

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections (of an httpx client this object made)."""
        if self._owns_http:
            await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._request(call) as request:
                    response = await self._http.request(**request)
                return self._answer(call, response)
            except (httpx.RequestError, KieError) as exc:
                failure = self._failure(call, exc)
            if isinstance(failure, Recovered):
                return failure.value
            await asyncio.sleep(self._next_delay(call, failure, attempt))

    async def get_task(self, task_id: str, kind: Any = None) -> TaskRecord:
        raise NotImplementedError

    async def wait_for_task(
        self, task_id: str, kind: TaskKind | str | None = None, **options: Unpack[WaitOptions]
    ) -> TaskRecord:
        waiting, delay = _start_waiting(self, task_id, options)
        while True:
            if delay is not None:
                await asyncio.sleep(delay)
            step = _after_poll(waiting, await _apolled(self.get_task(task_id, kind or self.default_kind)))
            if isinstance(step, TaskRecord):
                return step
            delay = step

    wait_for_task.__doc__ = WAIT_DOC
