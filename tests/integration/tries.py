"""The tries of one Airflow task, driven by hand: the harness the resume and per-family tests share.

Each try is a fresh operator (as a new worker process builds it) given a context whose ``task_state_store``
is the one dict-like store all tries of the task share. A deferrable try runs its trigger the way a
triggerer would (rebuilt from its serialized kwargs) and then the callback the deferral names.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_kie._compat import TaskDeferred
from airflow_provider_kie.client import KieClient
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

#: Both ways a generation operator waits.
MODES = [pytest.param(True, id="deferrable"), pytest.param(False, id="blocking")]


class FakeStateStore:
    """The part of Airflow's ``task_state_store`` the operators use; shared by the tries of one task."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(initial or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        assert value is not None
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class FakeTI:
    def __init__(self, try_number: int) -> None:
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def try_context(store: FakeStateStore, try_number: int) -> dict[str, Any]:
    """The context of try ``try_number``."""
    return {"ti": FakeTI(try_number), "task_state_store": store}


def run_trigger(deferred: TaskDeferred) -> dict[str, Any]:
    """Run the trigger the way a triggerer would: rebuilt from its serialized kwargs, one event."""
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_provider_kie.triggers.runway.RunwayTaskTrigger"
    trigger = RunwayTaskTrigger(**kwargs)

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    (event,) = asyncio.run(collect())
    return event


def finish(op: KieGenerationOperator, ctx: dict[str, Any], deferred: TaskDeferred) -> Any:
    """The deferral's trigger, then the callback it names."""
    event = run_trigger(deferred)
    return getattr(op, deferred.method_name)(ctx, event=event, **(deferred.kwargs or {}))


def run_try(op: KieGenerationOperator, store: FakeStateStore, deferrable: bool, try_number: int = 1) -> Any:
    """One try to the end: a blocking one returns; a deferrable one defers once and finishes."""
    ctx = try_context(store, try_number)
    if not deferrable:
        return op.execute(ctx)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    return finish(op, ctx, deferred.value)


def first_try_dies_after_submit(
    op: KieGenerationOperator, store: FakeStateStore, deferrable: bool, mocker: Any
) -> str:
    """Try 1: submit, save the id, then the worker dies before the clip is done (or its trigger is lost)."""
    if deferrable:
        with pytest.raises(TaskDeferred):
            op.execute(try_context(store, 1))  # deferred: the trigger is never run (triggerer killed)
    else:
        died = mocker.patch.object(KieClient, "wait_for_task", side_effect=RuntimeError("worker lost"))
        with pytest.raises(RuntimeError, match="worker lost"):
            op.execute(try_context(store, 1))
        assert died.call_count == 1
        mocker.stop(died)
    return str(store.data[STATE_STORE_KEY])
