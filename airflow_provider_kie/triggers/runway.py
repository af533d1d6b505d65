"""``RunwayTaskTrigger``: wait for a KIE task in the triggerer, holding no worker slot.

The trigger is deliberately small: it serializes primitives only (connection id, task id, kind, poll
settings, an absolute deadline), looks the connection up asynchronously, polls through the HTTP client its
event loop shares among all waits on the same connection (:mod:`.shared`), never calls anything blocking in
the event loop, and yields exactly one small event. Restarted from its serialized kwargs (triggerer restart,
hand-over to another triggerer), it carries on against the same deadline.

Tasks of Runway's own API (kind ``runway_api``, a ``runway`` connection) are read the same way through
:class:`~airflow_provider_kie.hooks.runway.RunwayHook`'s async client; ``THROTTLED`` and ``PENDING`` are
waits like KIE's queue states. That client is per wait, not shared: Runway asks for polls at most every 5 s
per task, so there are few of them (sharing, as for KIE, is a later step).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

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
from airflow_provider_kie.triggers.shared import MAX_POLLS_IN_FLIGHT, SharedClients, poll_slot

__all__ = ["EVENT_KEYS", "MAX_POLLS_IN_FLIGHT", "RunwayTaskTrigger", "event_record"]

#: The record fields an event carries: enough to decide and to log, nothing big (no prompt).
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
)

#: The clients the triggers of each event loop share, keyed by connection settings.
_clients = SharedClients()


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

    Events (``event.payload``): ``{"status": "succeeded" | "failed", "record": {...}}``,
    ``{"status": "timeout", "last_state": ..., "waited": seconds}`` or
    ``{"status": "error", "message": ..., "error_type": ...}``; every event also carries ``kie_task_id``
    and ``kind``.
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
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.kie_task_id = kie_task_id
        self.kind = TaskKind(kind).value
        self.kie_conn_id = kie_conn_id
        self.poll_interval = float(poll_interval) if poll_interval is not None else None
        self.deadline = float(deadline) if deadline is not None else None
        self.jitter = float(jitter)
        self.first_poll_after = float(first_poll_after)

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
            },
        )

    def _event(self, status: str, **payload: Any) -> TriggerEvent:
        payload = {"status": status, "kie_task_id": self.kie_task_id, "kind": self.kind, **payload}
        return TriggerEvent(payload)  # type: ignore[no-untyped-call]

    def _seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    async def _sleep(self, seconds: float) -> None:
        left = self._seconds_left()
        await asyncio.sleep(max(0.0, seconds if left is None else min(seconds, left)))

    def poll_policy(self) -> PollPolicy:
        """The schedule this trigger polls on, first poll included."""
        return PollPolicy(
            interval=self.poll_interval, jitter=self.jitter, first_poll_after=self.first_poll_after
        )

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[AsyncKieClient | AsyncRunwayBackendClient]:
        """The loop's shared client for this connection, looked up without blocking the event loop.

        The connection is read for every wait, so a rotated key reaches the next wait that starts.
        """
        # The trigger owns backoff between polls, so the client itself does not retry.
        if self.kind == TaskKind.RUNWAY_API.value:
            runway = RunwayHook(self.kie_conn_id, retry=RetryPolicy.none())
            runway_client = runway.async_client_for(await runway.aget_settings())
            async with runway_client:
                yield runway_client
            return
        hook = KieHook(self.kie_conn_id, retry=RetryPolicy.none())
        settings = await hook.aget_settings()
        async with _clients.lease(settings, lambda: hook.async_client_for(settings)) as client:
            yield client

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # The one event is yielded after the wait has closed what it opened (its lease on the shared
        # client). A consumer may stop at the first event and drop the generator: dag.test() runs
        # ``asyncio.run(anext(trigger.run(), None))``. An async context still open at that yield would be
        # closed later by asyncio's async-generator finaliser, concurrently with the loop's shutdown closing
        # the inner generators ("aclose(): asynchronous generator is already running").
        yield await self._wait()

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
            self.log.info("Waiting for KIE %s task %s", self.kind, self.kie_task_id)
            if policy.first_poll_after:
                await self._sleep(policy.first_poll_after)
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
                    await self._sleep(delay)
                    continue
                if tracker.on_record(record):
                    self.log.info(
                        "KIE task %s is now %s (%s)", self.kie_task_id, record.state.value, record.raw_state
                    )
                if record.is_terminal:
                    return self._event(record.state.value, record=event_record(record))
                await self._sleep(tracker.next_delay(rng))
