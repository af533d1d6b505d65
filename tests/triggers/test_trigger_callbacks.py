"""RunwayTaskTrigger woken by KIE's callbacks: the callback is a hint, KIE's record is the truth.

The journal is faked through the loop's watcher (``install_watcher`` with a reader the test controls); KIE is
scripted with httpx's MockTransport (see test_trigger_unit.py), so every status read is counted.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from airflow_provider_kie.callbacks import journal
from airflow_provider_kie.callbacks.watcher import CallbackWatcher, install_watcher
from airflow_provider_kie.triggers.runway import SAFETY_NET_POLL_S, RunwayTaskTrigger
from tests.triggers.test_trigger_unit import _runway, _script, _trigger

TICK = 0.01
DONE = _runway("success", videoInfo={"videoUrl": "https://x/v.mp4", "imageUrl": "https://x/c.png"})


class Journal:
    """The ``kie_callbacks`` Variable as the watcher reads it; the test writes lines into it."""

    def __init__(self) -> None:
        self.entries: list[journal.Entry] = []
        self.reads = 0

    def call_back(self, task_id: str = "t1") -> None:
        self.entries, _ = journal.add(self.entries, task_id, time.time())

    async def read(self) -> str | None:
        self.reads += 1
        return journal.dump(self.entries) if self.entries else None


async def _run(trigger: RunwayTaskTrigger, fake: Journal, script: Any = None) -> dict[str, Any]:
    install_watcher(CallbackWatcher(reader=fake.read, tick_s=TICK))
    task = asyncio.ensure_future(anext(trigger.run()))
    if script is not None:
        await script()
    event = await asyncio.wait_for(task, 10)
    return event.payload


def test_a_callback_ends_the_wait_with_one_status_read():
    transport, seen = _script([DONE])
    fake = Journal()
    # A long safety net: only the callback can end this wait within the test's time.
    trigger = _trigger(transport, callbacks=True, poll_interval=600.0, first_poll_after=60.0)

    async def kie_calls_back() -> None:
        await asyncio.sleep(0.1)
        fake.call_back()

    event = asyncio.run(_run(trigger, fake, kie_calls_back))  # (without the wake: 60 s, past wait_for's 10)
    assert event["status"] == "succeeded"
    assert event["record"]["video_url"] == "https://x/v.mp4"
    assert len(seen) == 1  # no poll before the callback, one read after it


def test_a_forged_callback_costs_one_read_and_the_wait_goes_on():
    # The record says "generating" after the (forged) callback: the wait keeps waiting, and the real
    # callback later ends it.
    transport, seen = _script([_runway("generating"), DONE])
    fake = Journal()
    trigger = _trigger(transport, callbacks=True, poll_interval=600.0, first_poll_after=60.0)

    async def forged_then_real() -> None:
        await asyncio.sleep(0.1)
        fake.call_back()
        await asyncio.sleep(0.2)
        assert len(seen) == 1
        fake.entries = []  # the forged line expires ...
        await asyncio.sleep(0.05)
        fake.call_back()  # ... and KIE's real callback arrives

    event = asyncio.run(_run(trigger, fake, forged_then_real))
    assert event["status"] == "succeeded"
    assert len(seen) == 2


def test_a_duplicate_callback_line_wakes_the_wait_once():
    transport, seen = _script([_runway("generating"), DONE])
    fake = Journal()
    trigger = _trigger(transport, callbacks=True, poll_interval=0.5, first_poll_after=5.0)

    async def one_line() -> None:
        await asyncio.sleep(0.1)
        fake.call_back()

    event = asyncio.run(_run(trigger, fake, one_line))
    assert event["status"] == "succeeded"
    # One read after the line, then the safety-net poll (0.5 s) found the end: the same line read again
    # and again by the watcher did not cause more reads.
    assert len(seen) == 2
    assert fake.reads >= 10


def test_a_lost_callback_only_delays_the_end_through_the_safety_net_poll():
    transport, seen = _script([_runway("generating"), DONE])
    fake = Journal()  # no callback ever arrives
    trigger = _trigger(transport, callbacks=True, poll_interval=0.05, first_poll_after=0.05)
    event = asyncio.run(_run(trigger, fake))
    assert event["status"] == "succeeded"
    assert len(seen) == 2


def test_a_callback_that_landed_before_the_wait_started_wakes_it():
    # A triggerer restart or hand-over between the callback and the wake-up: the line is already there.
    transport, seen = _script([DONE])
    fake = Journal()
    fake.call_back()
    trigger = _trigger(transport, callbacks=True, poll_interval=600.0, first_poll_after=60.0)
    event = asyncio.run(_run(trigger, fake))
    assert event["status"] == "succeeded"
    assert len(seen) == 1


def test_another_tasks_callback_does_not_wake_the_wait():
    transport, seen = _script([DONE])
    fake = Journal()
    fake.call_back("someone-else")
    trigger = _trigger(transport, callbacks=True, poll_interval=0.3, first_poll_after=0.3)
    event = asyncio.run(_run(trigger, fake))
    assert event["status"] == "succeeded"
    assert len(seen) == 1  # ended by the safety-net poll at 0.3 s, not by the other task's line


def test_the_safety_net_replaces_early_polls_only_when_callbacks_wake_the_wait():
    plain = RunwayTaskTrigger(kie_task_id="t1", first_poll_after=5.0)
    assert plain.poll_policy().interval is None  # phase-following polls
    assert plain.poll_policy().first_poll_after == 5.0
    woken = RunwayTaskTrigger(kie_task_id="t1", first_poll_after=5.0, callbacks=True)
    assert woken.poll_policy().interval == SAFETY_NET_POLL_S
    assert woken.poll_policy().first_poll_after == SAFETY_NET_POLL_S
    # A reconnect reads at once: the task may have ended while nobody waited.
    assert RunwayTaskTrigger(kie_task_id="t1", callbacks=True).poll_policy().first_poll_after == 0.0
    # A DAG's own poll_interval is the safety net's pace.
    assert RunwayTaskTrigger(kie_task_id="t1", callbacks=True, poll_interval=30).poll_policy().interval == 30


def test_callbacks_survive_serialization_and_the_watcher_stops_with_the_wait():
    trigger = RunwayTaskTrigger(kie_task_id="t1", callbacks=True)
    _classpath, kwargs = trigger.serialize()
    assert kwargs["callbacks"] is True
    assert RunwayTaskTrigger(**kwargs).callbacks is True
    assert RunwayTaskTrigger(**{k: v for k, v in kwargs.items() if k != "callbacks"}).callbacks is False

    transport, _ = _script([DONE])
    fake = Journal()
    fake.call_back()
    watcher = CallbackWatcher(reader=fake.read, tick_s=TICK)

    async def main() -> None:
        install_watcher(watcher)
        await anext(_trigger(transport, callbacks=True, poll_interval=600.0).run())
        await asyncio.sleep(0)
        assert watcher.registrations == 0
        assert not watcher.running

    asyncio.run(main())
