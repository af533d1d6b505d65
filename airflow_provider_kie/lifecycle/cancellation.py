"""Cancelling a Runway API task without ever destroying a finished clip.

Runway's ``DELETE /v1/tasks/{id}`` cancels a pending, throttled or running task, but *deletes* a task that
has already ended, output links included. A cancel that races the task's end (the clip succeeded a moment
before the Airflow task was killed or timed out) must not throw the paid clip away, so every cancel here reads
the task first and sends the DELETE only while it is still active. The window left between that read and the
DELETE is one round trip.

The same rule serves the worker (``on_kill``, a blocking wait's timeout, the trigger's ``timeout`` event) and
the triggerer (a deferred task instance that was cleared or marked), hence a blocking and an awaitable form.
Nothing here imports Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from airflow_provider_kie.client import KieTaskNotFoundError, TaskRecord

__all__ = ["CancelOutcome", "Cancellation", "acancel_active_task", "cancel_active_task"]


class CancelOutcome(str, Enum):
    """What a cancel did."""

    #: The task was active; Runway acknowledged the DELETE (it now reads ``CANCELLED``).
    CANCELLED = "cancelled"
    #: The task had already ended (its record says how); nothing was sent.
    ALREADY_ENDED = "already ended"
    #: Runway knows no such task (never created, or already deleted); nothing to do.
    GONE = "gone"


@dataclass(frozen=True)
class Cancellation:
    """The outcome of a cancel, and the record read before it (``None`` when the task is gone)."""

    outcome: CancelOutcome
    record: TaskRecord | None

    @property
    def ended(self) -> TaskRecord | None:
        """The task's finished record when it had already ended (nothing was cancelled); else ``None``."""
        return self.record if self.outcome is CancelOutcome.ALREADY_ENDED else None

    def describe(self, task_id: str) -> str:
        """One log line: what happened to Runway API task ``task_id``."""
        if self.outcome is CancelOutcome.CANCELLED:
            return f"Cancelled Runway API task {task_id} (it was {self.record and self.record.raw_state})"
        if self.outcome is CancelOutcome.ALREADY_ENDED:
            return (
                f"Runway API task {task_id} had already ended ({self.record and self.record.raw_state}); "
                "not deleting it"
            )
        return f"Runway API task {task_id} is unknown to Runway (already deleted); nothing to cancel"


class _Cancels(Protocol):
    def get_task(self, task_id: str) -> TaskRecord: ...

    def cancel_task(self, task_id: str) -> bool: ...


class _ACancels(Protocol):
    async def get_task(self, task_id: str) -> TaskRecord: ...

    async def cancel_task(self, task_id: str) -> bool: ...


def _decide(record: TaskRecord) -> Cancellation | None:
    return Cancellation(CancelOutcome.ALREADY_ENDED, record) if record.is_terminal else None


def cancel_active_task(client: _Cancels, task_id: str) -> Cancellation:
    """Cancel ``task_id`` if it is still pending, throttled or running (blocking).

    :raises KieError: Runway could not be asked (the caller logs it; a cancel never fails a task by itself).
    """
    try:
        record = client.get_task(task_id)
    except KieTaskNotFoundError:
        return Cancellation(CancelOutcome.GONE, None)
    ended = _decide(record)
    if ended is not None:
        return ended
    acknowledged = client.cancel_task(task_id)
    return Cancellation(CancelOutcome.CANCELLED if acknowledged else CancelOutcome.GONE, record)


async def acancel_active_task(client: _ACancels, task_id: str) -> Cancellation:
    """:func:`cancel_active_task` for an asyncio client (the triggerer's event loop)."""
    try:
        record = await client.get_task(task_id)
    except KieTaskNotFoundError:
        return Cancellation(CancelOutcome.GONE, None)
    ended = _decide(record)
    if ended is not None:
        return ended
    acknowledged = await client.cancel_task(task_id)
    return Cancellation(CancelOutcome.CANCELLED if acknowledged else CancelOutcome.GONE, record)
