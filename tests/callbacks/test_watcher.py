"""The shared watcher: one journal read per tick for every wait of a loop, running only while needed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from airflow_provider_kie.callbacks import journal, watcher
from airflow_provider_kie.callbacks.watcher import (
    CallbackWatcher,
    current_watcher,
    install_watcher,
    wait_woken,
    watch,
)

TICK = 0.005
NOW = 1_750_000_000.0


class FakeJournal:
    """A journal value the test edits, read through a counting reader."""

    def __init__(self) -> None:
        self.entries: list[journal.Entry] = []
        self.reads = 0
        self.errors: list[BaseException] = []

    def add(self, task_id: str, at: float = NOW) -> None:
        self.entries, _ = journal.add(self.entries, task_id, at, retention_s=float("inf"))

    async def read(self) -> str | None:
        self.reads += 1
        if self.errors:
            raise self.errors.pop(0)
        return journal.dump(self.entries) if self.entries else None


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the loop run until ``condition()`` holds (fails the test after ``timeout`` s)."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(TICK / 2)

    await asyncio.wait_for(poll(), timeout)


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro_fn())


def test_a_callback_wakes_the_wait():
    fake = FakeJournal()

    async def main() -> None:
        w = CallbackWatcher(fake.read, tick_s=TICK)
        async with w.watch("t1") as woken:
            await until(lambda: fake.reads >= 3)
            assert not woken.is_set()  # nothing in the journal yet
            fake.add("other")
            await until(lambda: fake.reads >= 6)
            assert not woken.is_set()  # another task's callback does not wake it
            fake.add("t1")
            await asyncio.wait_for(woken.wait(), 5)

    run(main)


def test_a_callback_recorded_before_the_wait_registered_counts():
    # A callback can land while the triggerer restarts, or before the trigger is handed over.
    fake = FakeJournal()
    fake.add("t1")

    async def main() -> None:
        w = CallbackWatcher(fake.read, tick_s=TICK)
        async with w.watch("t1") as woken:
            await asyncio.wait_for(woken.wait(), 5)
        assert fake.reads == 1

    run(main)


def test_one_line_wakes_once_and_a_later_line_wakes_again():
    fake = FakeJournal()
    fake.add("t1", NOW)

    async def main() -> None:
        w = CallbackWatcher(fake.read, tick_s=TICK)
        async with w.watch("t1") as woken:
            await asyncio.wait_for(woken.wait(), 5)
            woken.clear()  # the wait read KIE's record: not terminal yet, it keeps waiting
            seen = fake.reads
            await until(lambda: fake.reads >= seen + 5)
            assert not woken.is_set()  # the same line does not wake it twice
            fake.entries = [("t1", NOW + 2000)]  # its line expired and KIE called back again
            await asyncio.wait_for(woken.wait(), 5)

    run(main)


def test_one_read_per_tick_for_a_hundred_waits():
    fake = FakeJournal()

    async def main() -> None:
        releases: asyncio.Queue[None] = asyncio.Queue()

        async def gated_read() -> str | None:
            await releases.get()
            return await fake.read()

        w = CallbackWatcher(gated_read, tick_s=TICK)
        async with _many(w, [f"t{i}" for i in range(100)]) as events:
            assert w.registrations == 100
            for i in range(100):
                fake.add(f"t{i}")
            releases.put_nowait(None)
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 5)
            # All hundred waits were woken by a single read of the journal.
            assert fake.reads == 1
            releases.put_nowait(None)
            await until(lambda: fake.reads == 2)

    run(main)


class _many:
    """Enter ``watch`` for many task ids at once."""

    def __init__(self, w: CallbackWatcher, task_ids: list[str]) -> None:
        self._contexts = [w.watch(task_id) for task_id in task_ids]

    async def __aenter__(self) -> list[asyncio.Event]:
        return [await context.__aenter__() for context in self._contexts]

    async def __aexit__(self, *exc: Any) -> None:
        for context in self._contexts:
            await context.__aexit__(*exc)


def test_the_watcher_runs_only_while_waits_are_registered():
    fake = FakeJournal()

    async def main() -> None:
        w = CallbackWatcher(fake.read, tick_s=TICK)
        assert not w.running
        async with w.watch("t1"), w.watch("t2"):
            await until(lambda: fake.reads >= 2)
            assert w.running
        await asyncio.sleep(0)
        assert not w.running
        assert w.registrations == 0
        stopped_at = fake.reads
        await asyncio.sleep(TICK * 10)
        assert fake.reads == stopped_at  # nothing reads once the last wait left
        async with w.watch("t3"):  # and it starts again for the next one
            await until(lambda: fake.reads > stopped_at)
            assert w.running
        await asyncio.sleep(0)
        assert not w.running

    run(main)


def test_a_cancelled_wait_leaves_nothing_behind():
    fake = FakeJournal()

    async def main() -> None:
        w = CallbackWatcher(fake.read, tick_s=TICK)

        async def wait_for_callback() -> None:
            async with w.watch("t1") as woken:
                await woken.wait()

        task = asyncio.create_task(wait_for_callback())
        await until(lambda: fake.reads >= 2)
        task.cancel()  # the triggerer cancels a trigger (cleared task, timeout, hand-over)
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        assert w.registrations == 0
        assert not w.running

    run(main)


def test_read_errors_are_logged_once_per_streak_and_never_end_a_wait(caplog):
    fake = FakeJournal()
    fake.errors = [RuntimeError("API server gone")] * 4
    fake.add("t1")

    async def main() -> None:
        w = CallbackWatcher(fake.read, tick_s=TICK)
        async with w.watch("t1") as woken:
            await asyncio.wait_for(woken.wait(), 5)
        assert fake.reads == 5

    with caplog.at_level(logging.INFO, logger=watcher.__name__):
        run(main)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "RuntimeError" in warnings[0].getMessage()
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_a_malformed_journal_wakes_nobody_and_does_not_stop_the_watcher():
    values = iter(["{not json", '{"v": 99}', journal.dump([("t1", NOW)])])
    reads = 0

    async def reader() -> str | None:
        nonlocal reads
        reads += 1
        return next(values)

    async def main() -> None:
        w = CallbackWatcher(reader, tick_s=TICK)
        async with w.watch("t1") as woken:
            await asyncio.wait_for(woken.wait(), 5)
        assert reads == 3

    run(main)


def test_each_loop_has_its_own_watcher_and_tests_can_install_one():
    fake = FakeJournal()
    fake.add("t1")

    async def main() -> CallbackWatcher:
        install_watcher(CallbackWatcher(fake.read, tick_s=TICK))
        async with watch("t1") as woken:
            await asyncio.wait_for(woken.wait(), 5)
        return current_watcher()

    first, second = run(main), run(main)
    assert first is not second
    assert fake.reads == 2

    async def default() -> CallbackWatcher:
        return current_watcher()

    assert run(default) is not first


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="tick_s"):
        CallbackWatcher(tick_s=0)

    async def main() -> None:
        with pytest.raises(ValueError, match="kie_task_id"):
            async with CallbackWatcher().watch(""):
                pass

    run(main)


def test_the_default_reader_reads_the_journal_variable_through_the_sdk(mocker):
    get = mocker.patch("airflow.sdk.Variable.get", return_value='{"v":1,"entries":[["t1",1.0]]}')
    assert asyncio.run(watcher.read_journal()) == '{"v":1,"entries":[["t1",1.0]]}'
    get.assert_called_once_with("kie_callbacks", default=None)
    get.return_value = None  # the Variable does not exist yet
    assert asyncio.run(watcher.read_journal()) is None


def test_wait_woken_returns_on_a_callback_or_at_the_safety_net_interval():
    fake = FakeJournal()

    async def main() -> None:
        w = CallbackWatcher(fake.read, tick_s=TICK)
        async with w.watch("t1") as woken:
            assert await wait_woken(woken, TICK * 3) is False  # no callback: the safety-net poll is due
            fake.add("t1")
            assert await wait_woken(woken, 5) is True
            assert not woken.is_set()  # cleared: the next wait is for a later callback
            assert await wait_woken(woken, TICK * 3) is False

    run(main)
