"""The phase-following default PollPolicy and its use by PollTracker (no I/O, a fake clock)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_kie.client import PollPolicy, PollTracker, TaskKind, TaskRecord, TaskState

NO_JITTER = PollPolicy(jitter=0.0)


def _record(state: TaskState, raw: str) -> TaskRecord:
    return TaskRecord(task_id="t", kind=TaskKind.RUNWAY, state=state, raw_state=raw)


def test_pending_tasks_are_polled_at_the_slow_pace():
    assert NO_JITTER.delay_for(TaskState.PENDING, None) == 15.0


def test_early_generation_keeps_the_slow_pace_but_wakes_when_success_becomes_plausible():
    # 25 s minimum generation: after 5 s generating, 20 s are left, capped at the pending pace (15 s).
    assert NO_JITTER.delay_for(TaskState.RUNNING, 5.0) == 15.0
    # After 20 s, 5 s are left, but never poll faster than the generating pace (9 s).
    assert NO_JITTER.delay_for(TaskState.RUNNING, 20.0) == 9.0
    # From 25 s on, success may come at any moment.
    assert NO_JITTER.delay_for(TaskState.RUNNING, 40.0) == 9.0


def test_a_fixed_interval_ignores_the_phase():
    fixed = PollPolicy(interval=10.0, jitter=0.0)
    assert [fixed.delay_for(s, g) for s, g in [(TaskState.PENDING, None), (TaskState.RUNNING, 100.0)]] == [
        10.0,
        10.0,
    ]


def test_scaled_multiplies_every_duration():
    scaled = NO_JITTER.scaled(0.1)
    assert scaled.delay_for(TaskState.PENDING, None) == pytest.approx(1.5)
    assert scaled.delay_for(TaskState.RUNNING, 10.0) == pytest.approx(0.9)
    assert PollPolicy(interval=10.0).scaled(0.5).interval == 5.0
    with pytest.raises(ValueError):
        NO_JITTER.scaled(0)


@pytest.mark.parametrize(
    "bad", [{"pending_interval": 0}, {"generating_interval": -1}, {"min_generation": -1}]
)
def test_invalid_phase_settings_are_rejected(bad: dict[str, Any]):
    with pytest.raises(ValueError):
        PollPolicy(**bad)


def test_tracker_times_generation_from_the_polls():
    now = [100.0]
    tracker = PollTracker(NO_JITTER, clock=lambda: now[0])
    tracker.on_record(_record(TaskState.PENDING, "queueing"))
    assert tracker.next_delay() == 15.0
    now[0] = 115.0
    # Generation started somewhere between the two polls: the tracker counts from the midpoint (107.5).
    tracker.on_record(_record(TaskState.RUNNING, "generating"))
    assert tracker.next_delay() == pytest.approx(15.0)  # 7.5 s in: 17.5 s left, capped at 15 s
    now[0] = 130.0  # 22.5 s in: 2.5 s left, floored at the generating pace
    tracker.on_record(_record(TaskState.RUNNING, "generating"))
    assert tracker.next_delay() == 9.0


def test_tracker_errors_still_back_off_from_the_base_interval():
    tracker = PollTracker(NO_JITTER)
    from airflow_provider_kie.client import KieServerError

    error = KieServerError("down", code=500, http_status=502, endpoint="/x")
    assert [tracker.on_error(error) for _ in range(3)] == [18.0, 36.0, 72.0]
