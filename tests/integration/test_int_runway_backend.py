"""Runway's own API as the operators' second backend, against the emulator: the same operator, a ``runway``
connection.

Driven as in ``test_int_families``: ``execute`` per try with one dict-like ``task_state_store``, the trigger
run from its serialized form. What is checked: a stored clip for one paid create (blocking and deferrable), a
retry that reconnects instead of paying again, parameters the backend does not offer refused before any
request, ``on_kill`` cancelling the Runway task (and the next try submitting afresh), and the API key
nowhere. Paid creates and DELETEs are read from the emulator's own Runway API counters.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_int_families import probe
from test_int_resume import MODES, FakeStateStore, _context, _finish

from airflow_provider_kie._compat import AirflowFailException, TaskDeferred
from airflow_provider_kie.client.runway_api import RunwayTextToVideoRequest
from airflow_provider_kie.emulator import RunningEmulator
from airflow_provider_kie.exceptions import KieClipFailedException
from airflow_provider_kie.hooks.runway import RunwayBackendClient, RunwayHook
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.operators.market import KlingOperator
from airflow_provider_kie.operators.runway import (
    RunwayAlephOperator,
    RunwayExtendOperator,
    RunwayGenerateOperator,
)

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
