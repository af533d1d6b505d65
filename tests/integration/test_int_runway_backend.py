"""Runway's own API as the operators' second backend, against the emulator: the same operator, a ``runway``
connection.

Driven as in ``test_int_families``: ``execute`` per try with one dict-like ``task_state_store``, the trigger
run from its serialized form. What is checked: a stored clip for one paid create (blocking and deferrable), a
retry that reconnects instead of paying again, parameters the backend does not offer refused before any
request, ``on_kill`` cancelling the Runway task (and the next try submitting afresh), and the API key
nowhere. Paid creates and DELETEs are read from the emulator's own Runway API counters.

Deferred cancellation runs the trigger inside Airflow's own ``TriggerRunner.run_trigger`` and stops it as
Airflow does (a user action, a shutdown, a deferral timeout), with the supervisor's ``GetTaskStates`` answer
faked: a task instance that ended cancels its Runway task, a wait that merely moves cancels nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_int_families import probe
from tries import MODES, FakeStateStore
from tries import finish as _finish
from tries import try_context as _context

from airflow_provider_kie._compat import AirflowFailException, TaskDeferred
from airflow_provider_kie.client.runway_api import RunwayTextToVideoRequest
from airflow_provider_kie.emulator import RunningEmulator
from airflow_provider_kie.exceptions import KieClipFailedException, KieWaitException
from airflow_provider_kie.hooks.runway import RunwayBackendClient, RunwayHook
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.operators.market import KlingOperator
from airflow_provider_kie.operators.runway import (
    RunwayAlephOperator,
    RunwayExtendOperator,
    RunwayGenerateOperator,
)
from airflow_provider_kie.sensors.kie import KieTaskSensor
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

pytestmark = pytest.mark.integration

CONN = "runway_default"
#: Emulated seconds a "slow" task stays pending, then running (50 real seconds at the tests' time scale).
SLOW = 10_000.0


@pytest.fixture
def runway_conn(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """``runway_default`` pointing at the emulated Runway API; returns the key it holds."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN.upper()}",
        json.dumps({"conn_type": "runway", "password": emu.runway_api_key, "host": emu.runway_base_url}),
    )
    return emu.runway_api_key


def _fox(tmp_path: Path, deferrable: bool, **overrides: Any) -> RunwayGenerateOperator:
    # A new instance per try, as a new worker process would build.
    fields: dict[str, Any] = {
        "task_id": "fox",
        "kie_conn_id": CONN,
        "model": "gen4.5",
        "prompt": "a red fox at dawn",
        "aspect_ratio": "9:16",
        "duration": 5,
        "deferrable": deferrable,
        "poll_interval": 0.05,
        "timeout": 120,
        "output_dir": str(tmp_path / "clips"),
    }
    return RunwayGenerateOperator(**{**fields, **overrides})


def _one_try(op: KieGenerationOperator, store: FakeStateStore, deferrable: bool, try_number: int = 1) -> Any:
    context = _context(store, try_number)
    if not deferrable:
        return op.execute(context)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    return _finish(op, context, deferred.value)  # type: ignore[arg-type]


def _slow(emu: RunningEmulator) -> None:
    emu.reconfigure(runway_api=dataclasses.replace(emu.config.runway_api, pending_s=SLOW, running_s=SLOW))


@pytest.mark.parametrize("deferrable", MODES)
def test_a_clip_is_made_and_stored_for_one_paid_create(
    deferrable: bool, emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    result = _one_try(_fox(tmp_path, deferrable), FakeStateStore(), deferrable)

    assert (result["state"], result["kind"]) == ("succeeded", "runway_api")
    (task,) = emu.runway_api_tasks()
    assert result["kie_task_id"] == task.task_id and task.endpoint == "text_to_video"
    assert probe(result["video_path"])[:2] == (720, 1280)  # 9:16 at 720p is Runway's 720:1280
    assert probe(result["video_path"])[2] == pytest.approx(5, abs=0.6)
    stats = emu.runway_api_stats()
    assert (stats.creates_accepted, stats.paid_creates) == (1, 1)
    assert emu.stats().submissions_received == 0  # KIE saw nothing


def test_aleph_restyles_a_local_video_on_runways_aleph2(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path, media: Any
) -> None:
    _, video = media.write_inputs(tmp_path / "inputs")
    op = RunwayAlephOperator(
        task_id="restyle",
        kie_conn_id=CONN,
        video=str(video),  # a local file: sent to Runway as a data URI, no upload host involved
        prompt="make it snow",
        deferrable=False,
        poll_interval=0.05,
        timeout=120,
        output_dir=str(tmp_path / "clips"),
    )

    result = op.execute(_context(FakeStateStore(), 1))

    (task,) = emu.runway_api_tasks()
    assert (task.endpoint, task.model, result["kie_task_id"]) == ("video_to_video", "aleph2", task.task_id)
    media.assert_stored_video(result["video_path"])
    assert emu.runway_api_stats().paid_creates == 1
    assert not any(path.startswith(("/api/", "/upload-host")) for path in emu.stats().calls_by_endpoint)


@pytest.mark.parametrize("deferrable", MODES)
def test_a_retry_after_a_crash_reconnects_to_the_paid_task(
    deferrable: bool, emu: RunningEmulator, runway_conn: str, tmp_path: Path, mocker: Any
) -> None:
    store = FakeStateStore()
    if deferrable:
        with pytest.raises(TaskDeferred):  # the trigger never runs: the triggerer was lost
            _fox(tmp_path, deferrable).execute(_context(store, 1))
    else:
        died = mocker.patch.object(RunwayBackendClient, "wait_for_task", side_effect=RuntimeError("lost"))
        with pytest.raises(RuntimeError, match="lost"):
            _fox(tmp_path, deferrable).execute(_context(store, 1))
        mocker.stop(died)
    saved = store.data[STATE_STORE_KEY]

    result = _one_try(_fox(tmp_path, deferrable), store, deferrable, try_number=2)

    assert result["kie_task_id"] == saved and Path(result["video_path"]).is_file()
    stats = emu.runway_api_stats()
    assert (stats.creates_received, stats.paid_creates) == (1, 1)


BAD_INPUT = [
    pytest.param(
        lambda **kw: RunwayExtendOperator(source="abc", prompt="more", **kw),
        r"RunwayExtendOperator \(Runway extend\) is not offered by the Runway API backend",
        id="kie-extend",
    ),
    pytest.param(
        lambda **kw: KlingOperator(model="kling-2.6/text-to-video", input={"prompt": "x"}, **kw),
        "is not offered by the Runway API backend",
        id="kling",
    ),
    pytest.param(
        lambda **kw: RunwayGenerateOperator(prompt="x", model="veo3.1", duration=5, **kw),
        r"duration: 5 is not allowed for veo3.1 on text_to_video \(Runway API\); allowed: 4, 6, 8",
        id="veo-duration",
    ),
    pytest.param(
        lambda **kw: RunwayGenerateOperator(prompt="x", quality="1080p", **kw),
        r"aspect_ratio: '1920:1080' is not allowed for gen4.5 on text_to_video \(Runway API\); "
        "allowed: 1280:720, 720:1280",
        id="gen45-1080p",
    ),
    pytest.param(
        lambda **kw: RunwayGenerateOperator(prompt="x", model="gen4_turbo", **kw),
        "model: gen4_turbo does not do text_to_video on the Runway API",
        id="image-only-model",
    ),
    pytest.param(
        lambda **kw: RunwayAlephOperator(
            video="https://cdn.example/a.mp4", prompt="x", aspect_ratio="1:1", **kw
        ),
        r"aspect_ratio: not offered by the Runway API backend \(aleph2 keeps the input video's shape\)",
        id="aleph-aspect-ratio",
    ),
    pytest.param(
        lambda **kw: RunwayGenerateOperator(prompt="x", callback_url="https://hook.example/done", **kw),
        "callback_url: not offered by the Runway API backend",
        id="callback",
    ),
]


@pytest.mark.parametrize(("build", "message"), BAD_INPUT)
def test_what_the_backend_does_not_offer_is_refused_before_any_request(
    build: Callable[..., KieGenerationOperator], message: str, emu: RunningEmulator, runway_conn: str
) -> None:
    op = build(task_id="bad", kie_conn_id=CONN, deferrable=False)
    with pytest.raises(AirflowFailException, match=message):
        op.execute(_context(FakeStateStore(), 1))
    assert emu.runway_api_stats().creates_received == 0
    assert not any("runway-api" in path for path in emu.stats().calls_by_endpoint)


def test_model_on_a_kie_connection_is_refused(emu: RunningEmulator, kie_conn: Any) -> None:
    op = RunwayGenerateOperator(task_id="bad", prompt="x", model="gen4.5", deferrable=False)
    with pytest.raises(AirflowFailException, match="model: not offered by the KIE backend"):
        op.execute(_context(FakeStateStore(), 1))
    assert emu.stats().submissions_received == 0


class _Try(threading.Thread):
    """One blocking try in a thread, as a worker runs it while ``on_kill`` comes from elsewhere."""

    def __init__(self, op: KieGenerationOperator, store: FakeStateStore, try_number: int) -> None:
        super().__init__(daemon=True)
        self.op, self.context = op, _context(store, try_number)
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.op.execute(self.context)
        except BaseException as exc:  # handed to the test, which asserts on it
            self.error = exc


def _until(check: Callable[[], bool], emu: RunningEmulator | None = None) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, "timed out"
        if emu is not None:
            emu.advance_time(SLOW)  # the clip's clock moves; the test does not wait 50 s
        time.sleep(0.05)


def test_on_kill_cancels_the_runway_task_and_a_retry_submits_afresh(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    _slow(emu)
    store = FakeStateStore()
    first = _Try(_fox(tmp_path, deferrable=False), store, 1)
    first.start()
    _until(lambda: STATE_STORE_KEY in store.data)

    first.op.on_kill()
    first.join(30)

    assert isinstance(first.error, KieClipFailedException)  # the wait saw CANCELLED and ended
    cancelled = store.data[STATE_STORE_KEY]
    stats = emu.runway_api_stats()
    assert (stats.deletes, stats.cancels) == (1, 1)
    assert [(t.task_id, t.status) for t in emu.runway_api_tasks()] == [(cancelled, "CANCELLED")]

    second = _Try(_fox(tmp_path, deferrable=False), store, 2)
    second.start()
    _until(lambda: not second.is_alive(), emu)

    assert second.error is None, second.error
    assert second.result["kie_task_id"] != cancelled and Path(second.result["video_path"]).is_file()
    assert store.data[STATE_STORE_KEY] == second.result["kie_task_id"]
    stats = emu.runway_api_stats()
    assert (stats.creates_accepted, stats.refunded_creates, stats.paid_creates) == (2, 1, 1)


def test_on_kill_before_any_create_cancels_nothing(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    op = _fox(tmp_path, deferrable=False)
    _ = op.hook  # the hook of a try that was killed before its submit
    op.on_kill()
    assert emu.runway_api_stats().deletes == 0


def test_the_api_key_is_nowhere(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path, caplog: Any, capfd: Any
) -> None:
    caplog.set_level("DEBUG")
    store = FakeStateStore()
    context = _context(store, 1)
    op = _fox(tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    _, trigger_kwargs = deferred.value.trigger.serialize()
    assert trigger_kwargs["kind"] == "runway_api" and trigger_kwargs["kie_conn_id"] == CONN
    assert all(isinstance(value, (str, int, float, type(None))) for value in trigger_kwargs.values())
    result = _finish(op, context, deferred.value)  # type: ignore[arg-type]

    seen = json.dumps([result, trigger_kwargs, context["ti"].xcoms, store.data], default=str)
    seen += caplog.text + "".join(capfd.readouterr())
    assert runway_conn not in seen


def test_a_throttled_task_is_waited_for_in_the_trigger(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    # One slot, held ~2 s by a task made elsewhere: the operator's task reads THROTTLED, then runs.
    config = dataclasses.replace(emu.config.runway_api, max_concurrent_generations=1, pending_s=400.0)
    emu.reconfigure(runway_api=config)
    with RunwayHook(CONN).get_conn() as other:
        other.create(
            RunwayTextToVideoRequest(model="gen4.5", prompt_text="a slot taker", ratio="1280:720", duration=5)
        )

    result = _one_try(_fox(tmp_path, deferrable=True), FakeStateStore(), deferrable=True)

    assert result["state"] == "succeeded"
    stats = emu.runway_api_stats()
    assert (stats.throttled_creates, stats.creates_accepted, stats.paid_creates) == (1, 2, 2)


def test_the_credit_floor_reads_the_runway_balance_before_any_create(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    op = _fox(tmp_path, deferrable=False, min_credits=emu.config.runway_api.initial_credits + 1)
    with pytest.raises(AirflowFailException, match="Runway API credit balance 10000 is below min_credits"):
        op.execute(_context(FakeStateStore(), 1))
    assert emu.runway_api_stats().creates_received == 0


# -- a deferred task instance that ends: the trigger cancels (RunwayTaskTrigger's docstring) ---------------
RUN_ID = "manual__2026-12-02"


class FakeSupervisor:
    """The triggerer's channel to its supervisor, answering ``GetTaskStates`` with one task instance's state
    (``UNREADABLE``: the channel is gone, as during a triggerer shutdown)."""

    UNREADABLE = object()

    def __init__(self, state: Any) -> None:
        self.state = state
        self.asked: list[Any] = []

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult

        if not isinstance(msg, GetTaskStates):
            return None  # e.g. MaskSecret, which the hook sends for the key it reads: no answer expected
        self.asked.append(msg)
        if self.state is self.UNREADABLE:
            raise ConnectionResetError("supervisor closed")
        return TaskStatesResult(task_states={RUN_ID: {"fox": self.state}})


@pytest.fixture
def supervisor(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], FakeSupervisor]:
    """Install a :class:`FakeSupervisor` where the triggerer puts its own (``SUPERVISOR_COMMS``)."""
    from airflow.sdk.execution_time import task_runner

    def install(state: Any) -> FakeSupervisor:
        fake = FakeSupervisor(state)
        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", fake, raising=False)
        return fake

    return install


def _triggered(deferred: TaskDeferred) -> RunwayTaskTrigger:
    """The trigger as a triggerer runs it: rebuilt from its serialized kwargs, given its task instance."""
    _, kwargs = deferred.trigger.serialize()
    trigger = RunwayTaskTrigger(**kwargs)
    trigger.task_instance = SimpleNamespace(  # type: ignore[assignment]
        id="0193-ti",
        dag_id="clips",
        run_id=RUN_ID,
        task_id="fox",
        map_index=-1,
        try_number=1,
        context_carrier=None,
    )
    return trigger


def _stopped_by_airflow(trigger: RunwayTaskTrigger, emu: RunningEmulator, how: str) -> None:
    """Run ``trigger`` in Airflow's own ``TriggerRunner.run_trigger`` until it has polled, then stop it the
    way Airflow does: ``user`` (3.3 passes its user-action message, and calls ``on_kill``; older versions
    cancel plainly), ``shutdown`` (a plain cancel) or ``timeout`` (the deferral's timeout has passed)."""
    import inspect

    from airflow.jobs import triggerer_job_runner
    from airflow.jobs.triggerer_job_runner import TriggerRunner

    async def main() -> None:
        runner = TriggerRunner()
        runner.triggers[1] = {"name": "fox", "events": 0, "is_watcher": False}
        timeout_after = datetime.now(timezone.utc) - timedelta(seconds=1) if how == "timeout" else None
        args: list[Any] = [1, trigger, timeout_after]
        if "context" in inspect.signature(TriggerRunner.run_trigger).parameters:
            args.append(None)
        task = asyncio.create_task(runner.run_trigger(*args))
        runner.triggers[1]["task"] = task
        deadline = time.monotonic() + 30
        while not any("/v1/tasks/" in path for path in emu.stats().calls_by_endpoint):  # polled once
            assert time.monotonic() < deadline and not task.done(), "the trigger never polled"
            await asyncio.sleep(0.02)
        user_action = getattr(triggerer_job_runner, "_USER_ACTION_CANCEL_MSG", None)
        task.cancel(user_action if how in ("user", "timeout") else None)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


def _deferred_fox(tmp_path: Path, store: FakeStateStore, try_number: int = 1, **overrides: Any) -> Any:
    with pytest.raises(TaskDeferred) as deferred:
        _fox(tmp_path, True, **overrides).execute(_context(store, try_number))
    return deferred.value


def _retry_while_time_moves(
    emu: RunningEmulator, tmp_path: Path, store: FakeStateStore, deferrable: bool
) -> Any:
    """Try 2, run in a thread while the test moves the emulator's clock (the tasks are slow: ``_slow``)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = _one_try(_fox(tmp_path, deferrable), store, deferrable, try_number=2)
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome["error"] = exc

    second = threading.Thread(target=run, daemon=True)
    second.start()
    _until(lambda: not second.is_alive(), emu)
    assert "error" not in outcome, outcome.get("error")
    return outcome["result"]


ENDED = [
    pytest.param(None, "user", id="cleared"),
    pytest.param("failed", "user", id="marked-failed"),
    pytest.param("success", "user", id="marked-success"),
    pytest.param("scheduled", "timeout", id="deferral-timed-out"),
]


@pytest.mark.parametrize(("state", "how"), ENDED)
def test_a_deferred_task_instance_that_ends_cancels_its_runway_task_and_a_retry_submits_afresh(
    state: str | None,
    how: str,
    emu: RunningEmulator,
    runway_conn: str,
    tmp_path: Path,
    supervisor: Callable[[Any], FakeSupervisor],
) -> None:
    _slow(emu)
    store = FakeStateStore()
    asked = supervisor(state)

    _stopped_by_airflow(_triggered(_deferred_fox(tmp_path, store)), emu, how)

    cancelled = store.data[STATE_STORE_KEY]
    stats = emu.runway_api_stats()
    assert (stats.deletes, stats.cancels) == (1, 1)
    assert [(t.task_id, t.status) for t in emu.runway_api_tasks()] == [(cancelled, "CANCELLED")]
    (question,) = asked.asked  # one decision, asked for this task instance
    assert (question.dag_id, question.task_ids, question.run_ids) == ("clips", ["fox"], [RUN_ID])

    result = _retry_while_time_moves(emu, tmp_path, store, deferrable=True)

    assert Path(result["video_path"]).is_file()
    statuses = [(t.task_id, t.status) for t in emu.runway_api_tasks()]
    assert statuses == [(cancelled, "CANCELLED"), (result["kie_task_id"], "SUCCEEDED")]


@pytest.mark.parametrize(
    ("state", "how"),
    [
        pytest.param("deferred", "shutdown", id="triggerer-restart"),
        pytest.param("deferred", "user", id="hand-over"),  # 3.3 stops a handed-over trigger as "user action"
        pytest.param(FakeSupervisor.UNREADABLE, "user", id="state-unreadable"),
    ],
)
def test_a_wait_that_moves_to_another_triggerer_cancels_nothing_and_resumes(
    state: Any,
    how: str,
    emu: RunningEmulator,
    runway_conn: str,
    tmp_path: Path,
    supervisor: Callable[[Any], FakeSupervisor],
) -> None:
    _slow(emu)
    store = FakeStateStore()
    supervisor(state)
    deferred = _deferred_fox(tmp_path, store)

    _stopped_by_airflow(_triggered(deferred), emu, how)

    assert emu.runway_api_stats().deletes == 0
    (task,) = emu.runway_api_tasks()
    assert task.status in ("PENDING", "RUNNING")
    # The wait resumes elsewhere from the same serialized kwargs, and the clip is the one paid for.
    emu.advance_time(SLOW * 3)
    op = _fox(tmp_path, True)
    result = _finish(op, _context(store, 1), deferred)
    assert result["kie_task_id"] == task.task_id and Path(result["video_path"]).is_file()
    assert emu.runway_api_stats().paid_creates == 1


def test_the_sensor_never_cancels_the_task_it_watches(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path, supervisor: Callable[[Any], FakeSupervisor]
) -> None:
    _slow(emu)
    submitted = _fox(tmp_path, False, wait_for_completion=False).execute(_context(FakeStateStore(), 1))
    asked = supervisor("failed")
    sensor = KieTaskSensor(
        task_id="fox", kie_task_id=submitted["kie_task_id"], kie_conn_id=CONN, deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context(FakeStateStore(), 1))

    _stopped_by_airflow(_triggered(deferred.value), emu, "user")

    assert emu.runway_api_stats().deletes == 0 and asked.asked == []


@pytest.mark.parametrize("deferrable", MODES)
def test_a_timeout_cancels_the_runway_task_before_failing_and_a_retry_submits_afresh(
    deferrable: bool, emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    _slow(emu)
    store = FakeStateStore()

    with pytest.raises(KieWaitException, match=r"Timed out waiting for Runway API task .*Cancelled Runway"):
        _one_try(_fox(tmp_path, deferrable, timeout=1), store, deferrable)  # the trigger's timeout event

    cancelled = store.data[STATE_STORE_KEY]
    stats = emu.runway_api_stats()
    assert (stats.deletes, stats.cancels) == (1, 1)
    assert [(t.task_id, t.status) for t in emu.runway_api_tasks()] == [(cancelled, "CANCELLED")]

    result = _retry_while_time_moves(emu, tmp_path, store, deferrable)
    assert Path(result["video_path"]).is_file()
    statuses = [(t.task_id, t.status) for t in emu.runway_api_tasks()]
    assert statuses == [(cancelled, "CANCELLED"), (result["kie_task_id"], "SUCCEEDED")]


def test_a_timeout_event_for_a_clip_that_finished_meanwhile_stores_it_and_deletes_nothing(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    store = FakeStateStore()
    deferred = _deferred_fox(tmp_path, store)
    emu.advance_time(SLOW)  # the clip is done by the time the worker handles the event
    event = {"status": "timeout", "kie_task_id": store.data[STATE_STORE_KEY], "kind": "runway_api"}
    event |= {"last_state": "RUNNING", "waited": 3600.0}

    result = _fox(tmp_path, True).execute_complete(_context(store, 1), event=event, **(deferred.kwargs or {}))

    assert result["state"] == "succeeded" and Path(result["video_path"]).is_file()
    assert emu.runway_api_stats().deletes == 0  # Runway's DELETE would have deleted the finished clip


# -- the sensor waits for a Runway API task id ---------------------------------------------------------------
@pytest.mark.parametrize("deferrable", [pytest.param(True, id="deferrable"), pytest.param(False, id="poke")])
def test_the_sensor_waits_for_a_runway_api_task_submitted_elsewhere(
    deferrable: bool, emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    submitted = _fox(tmp_path, False, wait_for_completion=False).execute(_context(FakeStateStore(), 1))
    # No kind given: a runway connection reads runway_api tasks.
    sensor = KieTaskSensor(
        task_id="sense",
        kie_task_id=submitted["kie_task_id"],
        kie_conn_id=CONN,
        deferrable=deferrable,
        poll_interval=0.05,
        timeout=60,
        output_dir=str(tmp_path / "sensed"),
    )
    context = _context(FakeStateStore(), 1)
    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(context)
        assert deferred.value.trigger.serialize()[1]["kind"] == "runway_api"
        result = _finish(sensor, context, deferred.value)  # type: ignore[arg-type]
    else:
        outcome: Any = False
        for _ in range(400):
            outcome = sensor.poke(context)
            if outcome:
                break
            emu.advance_time(30)
        result = outcome.xcom_value

    assert (result["kie_task_id"], result["kind"]) == (submitted["kie_task_id"], "runway_api")
    assert Path(result["video_path"]).is_file()
    assert emu.runway_api_stats().paid_creates == 1


def test_the_sensor_refuses_a_kind_its_connection_cannot_read_before_any_request(
    emu: RunningEmulator, runway_conn: str, kie_conn: Any
) -> None:
    on_runway = KieTaskSensor(task_id="s1", kie_task_id="abc", kind="veo", kie_conn_id=CONN, deferrable=True)
    with pytest.raises(
        AirflowFailException, match=r"kind: 'veo' is a KIE task family.*use kind='runway_api'"
    ):
        on_runway.execute(_context(FakeStateStore(), 1))
    on_kie = KieTaskSensor(task_id="s2", kie_task_id="abc", kind="runway_api", deferrable=False)
    with pytest.raises(AirflowFailException, match="must be of type runway"):
        on_kie.execute(_context(FakeStateStore(), 1))
    assert not any("/v1/tasks/" in path or "record-detail" in path for path in emu.stats().calls_by_endpoint)


# -- seed ----------------------------------------------------------------------------------------------------
def test_a_seed_goes_to_runway_and_the_clip_is_made(
    emu: RunningEmulator, runway_conn: str, tmp_path: Path, mocker: Any
) -> None:
    sent = mocker.spy(RunwayTextToVideoRequest, "to_payload")
    op = _fox(tmp_path, False, seed="4294967295")  # a rendered template: a string

    result = op.execute(_context(FakeStateStore(), 1))

    assert sent.spy_return["seed"] == 4294967295
    assert result["state"] == "succeeded" and emu.runway_api_stats().paid_creates == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seed": -1}, "seed: must be from 0 to 4294967295"),
        ({"seed": 2**32}, "seed: must be from 0 to 4294967295"),
        ({"seed": 7, "model": "veo3", "duration": 8}, "seed: is not taken for veo3 on text_to_video"),
    ],
)
def test_a_bad_seed_is_refused_before_any_request(
    overrides: dict[str, Any], message: str, emu: RunningEmulator, runway_conn: str, tmp_path: Path
) -> None:
    with pytest.raises(AirflowFailException, match=message):
        _fox(tmp_path, False, **overrides).execute(_context(FakeStateStore(), 1))
    assert emu.runway_api_stats().creates_received == 0


def test_a_seed_on_a_kie_connection_is_refused(emu: RunningEmulator, kie_conn: Any) -> None:
    op = RunwayGenerateOperator(task_id="bad", prompt="x", seed=42, deferrable=False)
    with pytest.raises(AirflowFailException, match=r"seed: not offered by the KIE backend"):
        op.execute(_context(FakeStateStore(), 1))
    assert emu.stats().submissions_received == 0
