"""``RunwayTaskTrigger``: wait for a KIE task in the triggerer, holding no worker slot.

The trigger is deliberately small: it serializes primitives only (connection id, task id, kind, poll
settings, an absolute deadline), looks the connection up asynchronously, polls through the HTTP client its
event loop shares among all waits on the same connection (:mod:`.shared`), never calls anything blocking in
the event loop, and yields exactly one small event. Restarted from its serialized kwargs (triggerer restart,
hand-over to another triggerer), it carries on against the same deadline.

Tasks of Runway's own API (kind ``runway_api``, a ``runway`` connection) are read the same way, through
:class:`~airflow_provider_kie.hooks.runway.RunwayHook`'s async client, shared per loop and connection like
KIE's; ``THROTTLED`` and ``PENDING`` are waits like KIE's queue states. Runway's API can also cancel a task:
see :class:`RunwayTaskTrigger` for when a wait that Airflow abandons does so.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from enum import Enum
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_kie.callbacks.watcher import wait_woken, watch
from airflow_provider_kie.client import (
    AsyncKieClient,
    KieError,
    PollPolicy,
    RetryPolicy,
    TaskKind,
    TaskRecord,
)
from airflow_provider_kie.client.polling import PollTracker
from airflow_provider_kie.hooks.kie import KieHook
from airflow_provider_kie.hooks.runway import AsyncRunwayBackendClient, RunwayHook
from airflow_provider_kie.lifecycle.cancellation import acancel_active_task
from airflow_provider_kie.triggers.shared import MAX_POLLS_IN_FLIGHT, SharedClients, poll_slot

__all__ = [
    "CANCEL_DECISION_TIMEOUT",
    "EVENT_KEYS",
    "MAX_POLLS_IN_FLIGHT",
    "SAFETY_NET_POLL_S",
    "RunwayTaskTrigger",
    "event_record",
]

#: The record fields an event carries: enough to decide and to log, nothing big (no prompt).
#: Every field but the prompt (and a running task's progress), so that the worker stores the clip from the
#: record the trigger has just read instead of reading it again: with callbacks, that second read would be
#: half of a clip's status calls.
EVENT_KEYS = (
    "task_id",
    "kind",
    "state",
    "raw_state",
    "video_url",
    "cover_url",
    "video_id",
    "parent_task_id",
    "fail_code",
    "fail_msg",
    "expired",
    "created_at",
    "completed_at",
    "result_urls",
    "model",
    "cost_time_ms",
    "resolution",
    "credits",
    "cancelled",
)

#: The clients the triggers of each event loop share, keyed by connection settings.
_clients = SharedClients()

#: Seconds the decision to cancel an abandoned Runway task may take in all (the task instance's state, then
#: Runway's GET and DELETE). A cleanup must not hold up a triggerer that is shutting down; Airflow 3.3 also
#: bounds ``on_kill`` (``[triggerer] on_kill_timeout``, 30 s by default).
CANCEL_DECISION_TIMEOUT = 20.0

#: Seconds between the safety-net polls of a wait that callbacks wake (when the DAG set no ``poll_interval``).
#: Long enough that most clips end by their callback before the first poll (KIE's clips take 1-5 minutes),
#: short enough that a callback lost after KIE's last retry (21 minutes after the end) delays the wait by at
#: most this much.
SAFETY_NET_POLL_S = 120.0

#: The task instance state of a wait that has merely moved (triggerer restart, hand-over).
DEFERRED = "deferred"


class _Unread(Enum):
    #: The task instance's state could not be read: never evidence for a cancel.
    UNKNOWN = "unknown"


_UNKNOWN = _Unread.UNKNOWN


def event_record(record: TaskRecord) -> dict[str, Any]:
    """The small, JSON-able view of a record that travels in a trigger event."""
    data = record.to_dict()
    return {key: data[key] for key in EVENT_KEYS}


class RunwayTaskTrigger(BaseTrigger):
    """Poll one KIE task until it succeeds, fails, or the deadline passes.

    :param kie_task_id: the KIE task to wait for.
    :param kind: the task's status endpoint: ``runway`` (KIE's generate and extend tasks), ``aleph``,
        ``jobs``, ``veo``, or ``runway_api`` (Runway's own API).
    :param kie_conn_id: the ``kie`` connection (a ``runway`` one for ``runway_api`` tasks). Only its id is
        kept: the key is looked up when the wait starts, so it is never in the serialized trigger.
    :param poll_interval: mean seconds between polls (jittered); ``None`` (the default) follows the task's
        phase at KIE with :class:`~airflow_provider_kie.client.PollPolicy`'s schedule.
    :param deadline: unix time after which a ``timeout`` event is sent; ``None`` waits for ever.
    :param jitter: fraction by which each poll interval varies.
    :param first_poll_after: seconds before the first poll.
    :param callbacks: the task was submitted with the provider's callback URL
        (:mod:`airflow_provider_kie.callbacks`): a verified callback wakes the wait, which then reads KIE's
        record once; between callbacks only a slow safety-net poll runs (every :data:`SAFETY_NET_POLL_S`
        seconds unless ``poll_interval`` is set), so a lost callback only delays the end.
    :param cancel_on_kill: ``runway_api`` tasks only: cancel the Runway task when Airflow abandons this wait
        because the task instance ended (below). The operators that submitted the task set it; the sensor,
        which waits for a task someone else owns, does not. KIE has no cancel endpoint: ignored there.

    Events (``event.payload``): ``{"status": "succeeded" | "failed", "record": {...}}``,
    ``{"status": "timeout", "last_state": ..., "waited": seconds}`` or
    ``{"status": "error", "message": ..., "error_type": ...}``; every event also carries ``kie_task_id``
    and ``kind``.

    **Cancelling an abandoned Runway task.** Airflow stops a trigger without an event in two kinds of cases
    that look the same from inside it (an ``asyncio.CancelledError``, then :meth:`cleanup`):

    * the task instance *ended*: a user cleared it or marked it failed or success, or the deferral's own
      timeout (the operator's ``timeout`` + 300 s backstop) sent it to fail. The Runway task is now working,
      and being paid for, for nobody: it must be cancelled;
    * the *wait moved*: the triggerer is shutting down or restarting, or another triggerer took this trigger
      over (a triggerer that missed its heartbeats loses its triggers to the others). The task instance is
      still deferred and the wait resumes from the serialized kwargs elsewhere: cancelling here would kill a
      clip the task is still waiting for.

    Airflow 3.1 and 3.2 offer only :meth:`cleanup`, which runs in both kinds. Airflow 3.3 adds
    ``BaseTrigger.on_kill``, called for "user action" cancellations; but 3.3 sends every trigger that is no
    longer assigned to the triggerer through that same path, a hand-over included, and calls no ``on_kill``
    for the deferral timeout. Neither hook alone tells the kinds apart, so both lead to one decision made on
    the evidence: the task instance's state, asked of the triggerer's supervisor (``GetTaskStates``, through
    ``RuntimeTaskInstance.get_task_states``, as Airflow's own ``ExternalTaskTrigger`` does). Still
    ``deferred`` means the wait moved: nothing is cancelled. Any other state (none after a clear, ``failed``,
    ``success``, ``scheduled`` for the timeout's failure, ``up_for_retry``...) means the task instance left
    the deferral without this trigger's event: the Runway task is cancelled (read first, DELETEd only while
    still active: :mod:`~airflow_provider_kie.lifecycle.cancellation`). When the state cannot be read (no
    supervisor, as under ``dag.test()``; an error; no such task instance any more, as after a run was
    deleted; a shutdown that closed the channel; more than :data:`CANCEL_DECISION_TIMEOUT` seconds) nothing
    is cancelled: a clip left running costs credits, a
    wrongly cancelled one costs credits *and* the clip. The decision is made once per trigger instance, and
    never after the trigger has produced its event.

    The trigger's own deadline is not a cancellation here: it sends a ``timeout`` event, and the operator
    cancels on the worker before failing (``KieGenerationOperator.execute_complete``).

    Known window: a cleared task instance whose next try is already running (and has reconnected to this
    Runway task through ``task_state_store``) when the old trigger is stopped reads ``running``, so the task
    is cancelled under the new try, which then fails on ``CANCELLED`` and submits afresh on its retry. The
    triggerer stops orphaned triggers within a loop or two (about a second); scheduling, queueing and
    starting the new try takes longer.
    """

    def __init__(
        self,
        kie_task_id: str,
        kind: str = TaskKind.RUNWAY.value,
        kie_conn_id: str = KieHook.default_conn_name,
        poll_interval: float | None = None,
        deadline: float | None = None,
        jitter: float = 0.2,
        first_poll_after: float = 0.0,
        cancel_on_kill: bool = False,
        callbacks: bool = False,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.kie_task_id = kie_task_id
        self.kind = TaskKind(kind).value
        self.kie_conn_id = kie_conn_id
        self.poll_interval = float(poll_interval) if poll_interval is not None else None
        self.deadline = float(deadline) if deadline is not None else None
        self.jitter = float(jitter)
        self.first_poll_after = float(first_poll_after)
        self.cancel_on_kill = bool(cancel_on_kill)
        self.callbacks = bool(callbacks)
        # Not serialized: per trigger instance, i.e. per triggerer that runs the wait.
        self._event_sent = False
        self._cancel_decided = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kie_task_id": self.kie_task_id,
                "kind": self.kind,
                "kie_conn_id": self.kie_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "jitter": self.jitter,
                "first_poll_after": self.first_poll_after,
                "cancel_on_kill": self.cancel_on_kill,
                "callbacks": self.callbacks,
            },
        )

    def _event(self, status: str, **payload: Any) -> TriggerEvent:
        payload = {"status": status, "kie_task_id": self.kie_task_id, "kind": self.kind, **payload}
        return TriggerEvent(payload)  # type: ignore[no-untyped-call]

    def _seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    async def _sleep(self, seconds: float, woken: asyncio.Event | None = None) -> None:
        """Sleep ``seconds`` (never past the deadline), or until a callback for the task wakes the wait."""
        left = self._seconds_left()
        seconds = max(0.0, seconds if left is None else min(seconds, left))
        if woken is None:
            await asyncio.sleep(seconds)
        elif await wait_woken(woken, seconds):
            self.log.info("KIE called back for task %s; reading its record", self.kie_task_id)

    def poll_policy(self) -> PollPolicy:
        """The schedule this trigger polls on, first poll included.

        With callbacks the polls are only a safety net (a callback lost after KIE's last retry): a fixed
        ``poll_interval`` when the DAG set one, else every :data:`SAFETY_NET_POLL_S` seconds.
        """
        interval, first_poll_after = self.poll_interval, self.first_poll_after
        if self.callbacks:
            interval = SAFETY_NET_POLL_S if interval is None else interval
            # A fresh wait's first read is the safety net's too (its callback comes first); a reconnect
            # (first_poll_after 0) still reads at once: the task may have ended while nobody waited.
            first_poll_after = max(first_poll_after, interval) if first_poll_after else 0.0
        return PollPolicy(interval=interval, jitter=self.jitter, first_poll_after=first_poll_after)

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[AsyncKieClient | AsyncRunwayBackendClient]:
        """The loop's shared client for this connection, looked up without blocking the event loop.

        The connection is read for every wait, so a rotated key reaches the next wait that starts.
        """
        if self.kind == TaskKind.RUNWAY_API.value:
            async with self._runway_client() as runway_client:
                yield runway_client
            return
        # The trigger owns backoff between polls, so the client itself does not retry.
        hook = KieHook(self.kie_conn_id, retry=RetryPolicy.none())
        settings = await hook.aget_settings()
        async with _clients.lease(settings, lambda: hook.async_client_for(settings)) as client:
            yield client

    @asynccontextmanager
    async def _runway_client(self) -> AsyncIterator[AsyncRunwayBackendClient]:
        """The loop's shared client of Runway's API for this ``runway`` connection (as :meth:`_client`).

        Keyed by :class:`~airflow_provider_kie.hooks.runway.RunwayConnectionSettings`, which never equals a
        KIE connection's settings, so the two backends' clients never mix in the registry.
        """
        hook = RunwayHook(self.kie_conn_id, retry=RetryPolicy.none())
        settings = await hook.aget_settings()
        async with _clients.lease(settings, lambda: hook.async_client_for(settings)) as client:
            yield client

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # The one event is yielded after the wait has closed what it opened (its lease on the shared
        # client). A consumer may stop at the first event and drop the generator: dag.test() runs
        # ``asyncio.run(anext(trigger.run(), None))``. An async context still open at that yield would be
        # closed later by asyncio's async-generator finaliser, concurrently with the loop's shutdown closing
        # the inner generators ("aclose(): asynchronous generator is already running").
        event = await self._wait()
        self._event_sent = True  # from here on the task instance hears from this trigger: never cancel
        yield event

    # -- cancelling an abandoned Runway task (class docstring) -------------------------------------------
    async def on_kill(self) -> None:
        """Airflow >= 3.3: Airflow stopped this wait for a user's action (or a hand-over, which it does not
        tell apart); cancel the Runway task if the task instance's state confirms it ended."""
        await self._cancel_if_abandoned("Airflow reported a user action")

    async def cleanup(self) -> None:
        """Every Airflow version, whenever the wait leaves this triggerer. Only a wait that ended without its
        event can have been abandoned; the task instance's state decides."""
        if not self._event_sent:
            await self._cancel_if_abandoned("the wait was stopped before its event")

    async def _cancel_if_abandoned(self, why: str) -> None:
        """Cancel the Runway task when the task instance is no longer deferred; never raises."""
        if not self.cancel_on_kill or self.kind != TaskKind.RUNWAY_API.value or self._cancel_decided:
            return
        self._cancel_decided = True  # on_kill (3.3) and cleanup both come here: decide once
        try:
            await asyncio.wait_for(self._decide_and_cancel(why), CANCEL_DECISION_TIMEOUT)
        except TimeoutError:
            self.log.warning(
                "Runway API task %s: no cancel decision within %.0f s; leaving it running",
                self.kie_task_id,
                CANCEL_DECISION_TIMEOUT,
            )
        except KieError as exc:  # the client's errors are redacted: no key in them
            self.log.warning("Could not cancel Runway API task %s: %s", self.kie_task_id, exc)
        except Exception as exc:  # a failed cancel must not fail the cleanup; type only: no secret
            self.log.warning("Could not cancel Runway API task %s: %s", self.kie_task_id, type(exc).__name__)

    async def _decide_and_cancel(self, why: str) -> None:
        state = await self._task_instance_state()
        if state is _UNKNOWN:
            self.log.info(
                "Runway API task %s: %s, but the task instance's state is unknown; not cancelling",
                self.kie_task_id,
                why,
            )
            return
        if state == DEFERRED:
            self.log.info(
                "Runway API task %s: %s while the task instance is still deferred (triggerer restart or "
                "hand-over); not cancelling",
                self.kie_task_id,
                why,
            )
            return
        async with self._runway_client() as client:
            cancellation = await acancel_active_task(client, self.kie_task_id)
        self.log.warning(
            "The task instance left its deferral (state %s): %s",
            state or "none: cleared",
            cancellation.describe(self.kie_task_id),
        )

    async def _task_instance_state(self) -> str | _Unread | None:
        """This trigger's task instance's state as the API server has it; :data:`_UNKNOWN` when unreadable.

        ``None`` is a real answer: a cleared task instance has no state.
        """
        ti = self.task_instance
        if ti is None:  # not run by a triggerer for a task instance (dag.test(), a bare trigger)
            return _UNKNOWN
        map_index = getattr(ti, "map_index", None)
        map_index = -1 if map_index is None else int(map_index)
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
            from asgiref.sync import sync_to_async

            # A blocking call through the supervisor channel: sync_to_async keeps it off the event loop.
            states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
                dag_id=ti.dag_id, map_index=map_index, task_ids=[ti.task_id], run_ids=[ti.run_id]
            )
        except Exception as exc:  # no supervisor, closed channel, API server error: unknown, not "ended"
            self.log.info("Could not read the state of task instance %s: %r", ti.task_id, exc)
            return _UNKNOWN
        # GetTaskStates keys mapped task instances as "<task_id>_<map_index>".
        key = ti.task_id if map_index < 0 else f"{ti.task_id}_{map_index}"
        run_states = (states or {}).get(ti.run_id) or {}
        if key not in run_states:  # no such task instance (run deleted?): not evidence enough
            return _UNKNOWN
        state = run_states[key]
        return None if state is None else str(getattr(state, "value", state))

    async def _wait(self) -> TriggerEvent:
        """Poll until the task ends or the deadline passes; the event to send."""
        policy = self.poll_policy()
        tracker = PollTracker(policy)
        rng = random.Random()  # noqa: S311 - jitter, not cryptography
        started = time.time()
        async with AsyncExitStack() as stack:
            try:
                client = await stack.enter_async_context(self._client())
            except KieError as exc:
                return self._event("error", message=str(exc), error_type=type(exc).__name__)
            woken = None
            if self.callbacks:
                woken = await stack.enter_async_context(watch(self.kie_task_id))
            self.log.info(
                "Waiting for KIE %s task %s%s",
                self.kind,
                self.kie_task_id,
                f" (woken by its callback; safety-net poll every {policy.base_interval:.0f} s)"
                if self.callbacks
                else "",
            )
            if policy.first_poll_after:
                await self._sleep(policy.first_poll_after, woken)
            while True:
                left = self._seconds_left()
                if left is not None and left <= 0:
                    self.log.info(
                        "KIE task %s still %s at the deadline", self.kie_task_id, tracker.last_raw_state
                    )
                    waited = round(time.time() - started, 1)
                    return self._event("timeout", last_state=tracker.last_raw_state, waited=waited)
                try:
                    async with poll_slot():
                        record = await client.get_task(self.kie_task_id, TaskKind(self.kind))
                except KieError as exc:
                    try:
                        delay = tracker.on_error(exc, rng)
                    except KieError:
                        self.log.error("Polling KIE task %s failed for good: %s", self.kie_task_id, exc)
                        return self._event("error", message=str(exc), error_type=type(exc).__name__)
                    self.log.warning(
                        "Polling KIE task %s failed (%s); next poll in %.0f s", self.kie_task_id, exc, delay
                    )
                    await self._sleep(delay, woken)
                    continue
                if tracker.on_record(record):
                    self.log.info(
                        "KIE task %s is now %s (%s)", self.kie_task_id, record.state.value, record.raw_state
                    )
                if record.is_terminal:
                    return self._event(record.state.value, record=event_record(record))
                await self._sleep(tracker.next_delay(rng), woken)
