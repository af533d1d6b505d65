"""Durable resume against the emulator: a retry after a crash never pays for a second clip while the first one
is alive or done.

Two levels: ``execute()`` called twice with one dict-like ``task_state_store`` (as two tries of one Airflow
task share it), the first try dying right after its submit; and ``dag.test()`` with ``retries=1``, where
Airflow 3.3 itself keeps the store between the tries.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from tries import (  # the tries-of-one-task harness
    MODES,
    FakeStateStore,
    finish,
    first_try_dies_after_submit,
    run_try,
    try_context,
)

from airflow_provider_kie._compat import HAS_TASK_STATE_STORE, AirflowException, TaskDeferred
from airflow_provider_kie.client import KieClient, RetryPolicy
from airflow_provider_kie.emulator import FaultRule, RunningEmulator
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY
from airflow_provider_kie.operators.runway import RunwayGenerateOperator
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

pytestmark = pytest.mark.integration

GENERATE = "/api/v1/runway/generate"
RECORD = "/api/v1/runway/record-detail"
#: Beyond any clip's end, well inside the 14-day media retention.
PAST_THE_END = 1000


def _operator(tmp_path: Path, deferrable: bool) -> RunwayGenerateOperator:
    # A new instance per try, as a new worker process would build.
    return RunwayGenerateOperator(
        task_id="gen",
        prompt="a red fox at dawn",
        deferrable=deferrable,
        poll_interval=0.05,
        timeout=120,
        output_dir=str(tmp_path / "clips"),
    )


def _advance_after_first_look(mocker: Any, emu: RunningEmulator, seconds: float = PAST_THE_END) -> list[str]:
    """KIE's clock jumps past the clip's end right after the second try's first look at the saved task."""
    looks: list[str] = []
    original = KieClient.get_task

    def look(self: KieClient, *args: Any, **kwargs: Any) -> Any:
        record = original(self, *args, **kwargs)
        looks.append(record.raw_state)
        if len(looks) == 1:
            emu.advance_time(seconds)
        return record

    mocker.patch.object(KieClient, "get_task", look)
    return looks


@pytest.mark.parametrize("deferrable", MODES)
def test_a_retry_reconnects_to_the_clip_that_is_still_running(
    deferrable: bool, emu: RunningEmulator, kie_conn: Any, media: Any, tmp_path: Path, mocker: Any
) -> None:
    emu.reconfigure(time_scale=1.0)  # the clip takes 75 s unless the test moves KIE's clock
    store = FakeStateStore()
    saved = first_try_dies_after_submit(_operator(tmp_path, deferrable), store, deferrable, mocker)
    looks = _advance_after_first_look(mocker, emu)

    result = run_try(_operator(tmp_path, deferrable), store, deferrable, try_number=2)

    assert looks[0] == "wait"  # the second try found the clip still running and reconnected
    assert result["kie_task_id"] == saved
    assert result["state"] == "succeeded"
    media.assert_stored_video(result["video_path"])
    stats = emu.stats()
    assert (stats.submissions_received, stats.paid_submissions) == (1, 1)
    assert stats.calls_by_endpoint[GENERATE] == 1


@pytest.mark.parametrize("deferrable", MODES)
def test_a_retry_finishes_a_clip_that_already_succeeded(
    deferrable: bool, emu: RunningEmulator, kie_conn: Any, media: Any, tmp_path: Path, mocker: Any
) -> None:
    emu.reconfigure(time_scale=1.0)
    store = FakeStateStore()
    saved = first_try_dies_after_submit(_operator(tmp_path, deferrable), store, deferrable, mocker)
    emu.advance_time(PAST_THE_END)
    trigger_built = mocker.spy(RunwayTaskTrigger, "__init__")

    result = _operator(tmp_path, deferrable).execute(
        try_context(store, 2)
    )  # no deferral: nothing to wait for

    assert result["kie_task_id"] == saved
    assert result["video_path"] == str(tmp_path / "clips" / f"{saved}.mp4")
    media.assert_stored_video(result["video_path"])
    media.assert_stored_cover(result["cover_path"])
    assert trigger_built.call_count == 0
    assert emu.stats().paid_submissions == 1
    assert emu.stats().calls_by_endpoint[GENERATE] == 1


@pytest.mark.parametrize("deferrable", MODES)
def test_a_retry_resubmits_after_the_clip_failed(
    deferrable: bool, emu: RunningEmulator, kie_conn: Any, media: Any, tmp_path: Path, mocker: Any
) -> None:
    emu.set_faults(FaultRule("task_fail", endpoint=GENERATE, end_call=1))
    store = FakeStateStore()
    failed = first_try_dies_after_submit(_operator(tmp_path, deferrable), store, deferrable, mocker)
    emu.advance_time(PAST_THE_END)  # the first clip ends: failed

    result = run_try(_operator(tmp_path, deferrable), store, deferrable, try_number=2)

    assert result["kie_task_id"] != failed
    assert store.data[STATE_STORE_KEY] == result["kie_task_id"]  # the new clip replaces the failed one
    media.assert_stored_video(result["video_path"])
    states = {t.task_id: t.state for t in emu.tasks()}
    assert states == {failed: "fail", result["kie_task_id"]: "success"}
    stats = emu.stats()
    # Exactly two submissions were charged; KIE refunded the failed one.
    assert (stats.submissions_accepted, stats.refunded_submissions, stats.paid_submissions) == (2, 1, 1)


def test_a_saved_task_kie_does_not_know_is_resubmitted_once(
    emu: RunningEmulator, kie_conn: Any, media: Any, tmp_path: Path
) -> None:
    store = FakeStateStore({STATE_STORE_KEY: "a-task-from-another-account"})
    op = _operator(tmp_path, deferrable=True)
    context = try_context(store, 2)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    result = finish(op, context, deferred.value)
    assert result["kie_task_id"] == store.data[STATE_STORE_KEY] != "a-task-from-another-account"
    assert emu.stats().paid_submissions == 1


def test_a_saved_task_that_cannot_be_checked_is_never_resubmitted(
    emu: RunningEmulator, kie_conn: Any, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    store = FakeStateStore()
    with pytest.raises(TaskDeferred):
        _operator(tmp_path, deferrable=True).execute(try_context(store, 1))
    emu.set_faults(FaultRule("server_error", endpoint=RECORD))
    retry = _operator(tmp_path, deferrable=True)
    retry.hook.retry = fast_retry  # the check is retried (quickly here), then the try fails
    with pytest.raises(AirflowException, match=f"Could not check KIE task {store.data[STATE_STORE_KEY]}"):
        retry.execute(try_context(store, 2))
    assert emu.stats().calls_by_endpoint[RECORD] == fast_retry.max_attempts
    assert emu.stats().calls_by_endpoint[GENERATE] == 1


# -- the same, through Airflow 3.3's own retries ------------------------------------------------------------
class CrashAfterSubmit(RunwayGenerateOperator):
    """A generate operator whose first try dies right after the submit, as a killed worker would."""

    def _submit(self, context: Any, request: Any) -> str:
        task_id = super()._submit(context, request)
        if context["ti"].try_number == 1:
            raise RuntimeError(f"worker lost after submitting {task_id}")
        return task_id


@pytest.mark.parametrize("deferrable", MODES)
def test_dag_test_retries_share_the_task_state_store(
    deferrable: bool,
    emu: RunningEmulator,
    kie_conn: Any,
    dags: Any,
    dag_kwargs: dict[str, Any],
    media: Any,
    tmp_path: Path,
    mocker: Any,
) -> None:
    if HAS_TASK_STATE_STORE:
        # At KIE's real pace, so try 2's resume check sees the clip still waiting; that check's read jumps
        # KIE's clock. Without a store (Airflow < 3.3) no resume check reads first: the fast default pace
        # keeps try 2's fresh clip from running 75 real seconds.
        emu.reconfigure(time_scale=1.0)
    looks = _advance_after_first_look(mocker, emu)
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        CrashAfterSubmit(
            task_id="gen",
            prompt="a red fox at dawn",
            deferrable=deferrable,
            poll_interval=0.05,
            output_dir=str(tmp_path / "clips"),
            retries=1,
            retry_delay=timedelta(seconds=0),
        )
    run = dags.run(dag)

    (ti,) = dags.task_instances(run).values()
    assert (str(ti.state), ti.try_number) == ("success", 2)
    result = dags.xcoms(run)[("gen", "return_value")]
    if not HAS_TASK_STATE_STORE:
        # Airflow < 3.3, the documented fallback: try 2 cannot know that try 1 paid, so it pays again.
        assert emu.stats().paid_submissions == 2
        assert result["kie_task_id"] == emu.tasks()[-1].task_id
        media.assert_stored_video(result["video_path"])
        return
    (task,) = emu.tasks()
    assert result["kie_task_id"] == task.task_id
    assert dags.state_store(run) == {("gen", STATE_STORE_KEY): task.task_id}
    assert dags.xcoms(run).get(("gen", "kie_task_id")) == task.task_id  # pushed again by the resumed try
    assert looks[0] == "wait"
    media.assert_stored_video(result["video_path"])
    assert emu.stats().paid_submissions == 1


@pytest.mark.parametrize("deferrable", MODES)
def test_a_fire_and_forget_retry_returns_the_saved_task_without_waiting(
    deferrable: bool, emu: RunningEmulator, kie_conn: Any, tmp_path: Path, mocker: Any
) -> None:
    emu.reconfigure(time_scale=1.0)  # the clip runs for 75 s: waiting for it would show
    store = FakeStateStore()
    fire = RunwayGenerateOperator(
        task_id="fire", prompt="a kite", wait_for_completion=False, deferrable=deferrable
    )
    first = fire.execute(try_context(store, 1))  # the worker then dies before Airflow records the success
    blocking_waits = mocker.spy(KieClient, "wait_for_task")

    again = RunwayGenerateOperator(
        task_id="fire", prompt="a kite", wait_for_completion=False, deferrable=deferrable
    )
    context = try_context(store, 2)
    second = again.execute(context)  # no TaskDeferred, no blocking wait

    assert (
        second
        == first
        == {"kie_task_id": store.data[STATE_STORE_KEY], "kind": "runway", "state": "submitted"}
    )
    assert context["ti"].xcoms["kie_task_id"] == first["kie_task_id"]
    assert blocking_waits.call_count == 0
    assert emu.stats().calls_by_endpoint[GENERATE] == 1
