"""The lifecycle's guarantees, proven once per family against the emulator: Runway, the Market families (a
typed one, Sora 2, and the long tail through ``KieJobOperator``) and Veo 3.1.

Each test drives an operator the way Airflow does (``execute``; the deferral's trigger run from its
serialized form; the callback named by the deferral), with one dict-like ``task_state_store`` shared by the
tries of one task. What is checked is what a DAG author relies on: one paid submission per clip across
tries, KIE's "busy" answers waited out in a deferral, bad input refused before any request, the media
stored (shaped like the request: checked with ffprobe) and the API key nowhere.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from tries import (  # the tries-of-one-task harness
    MODES,
    FakeStateStore,
    finish,
    first_try_dies_after_submit,
    run_try,
    try_context,
)

from airflow_provider_kie._compat import AirflowFailException, TaskDeferred
from airflow_provider_kie.emulator import FaultRule, RunningEmulator
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.operators.market import KieJobOperator, KlingOperator, Sora2Operator
from airflow_provider_kie.operators.runway import RunwayGenerateOperator
from airflow_provider_kie.operators.veo import VeoExtendOperator, VeoGenerateOperator
from airflow_provider_kie.sensors.kie import KieTaskSensor

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Case:
    """One family: how to build its operator, where it submits, and the clip it asked for."""

    name: str
    build: Callable[..., KieGenerationOperator]
    submit_path: str
    ratio: Fraction
    seconds: float


CASES = [
    Case(
        "runway",
        lambda **kw: RunwayGenerateOperator(prompt="a red fox", aspect_ratio="9:16", duration=5, **kw),
        "/api/v1/runway/generate",
        Fraction(9, 16),
        5,
    ),
    Case(
        "kling",
        lambda **kw: KlingOperator(
            model="kling-2.6/text-to-video",
            input={"prompt": "a kite over dunes", "aspect_ratio": "1:1", "duration": "10", "sound": False},
            **kw,
        ),
        "/api/v1/jobs/createTask",
        Fraction(1, 1),
        10,
    ),
    Case(
        "sora2",
        lambda **kw: Sora2Operator(
            model="sora-2-text-to-video",
            prompt="a lighthouse at dusk",
            input={"aspect_ratio": "portrait", "n_frames": "10"},
            **kw,
        ),
        "/api/v1/jobs/createTask",
        Fraction(9, 16),
        10,
    ),
    Case(
        "veo",
        lambda **kw: VeoGenerateOperator(prompt="a paper boat", model="veo3_fast", aspect_ratio="16:9", **kw),
        "/api/v1/veo/generate",
        Fraction(16, 9),
        8,
    ),
]
IDS = [case.name for case in CASES]


def _operator(case: Case, tmp_path: Path, deferrable: bool, **extra: Any) -> KieGenerationOperator:
    # A new instance per try, as a new worker process would build.
    return case.build(
        task_id=f"{case.name}_clip",
        deferrable=deferrable,
        poll_interval=0.05,
        timeout=120,
        output_dir=str(tmp_path / "clips"),
        **extra,
    )


def probe(path: str) -> tuple[int, int, float]:
    """Width, height and duration of a stored video, as ffprobe reads them."""
    entries = "stream=width,height:format=duration"
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of", "json"]
    out = subprocess.run([*command, path], capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    stream = data["streams"][0]
    return int(stream["width"]), int(stream["height"]), float(data["format"]["duration"])


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_family_pays_once_and_stores_a_clip_shaped_like_the_request(
    case: Case, deferrable: bool, emu: RunningEmulator, kie_conn: Any, tmp_path: Path
) -> None:
    result = run_try(_operator(case, tmp_path, deferrable), FakeStateStore(), deferrable)

    assert result["state"] == "succeeded"
    assert emu.stats().paid_submissions == 1
    assert emu.stats().calls_by_endpoint.get(case.submit_path) == 1
    (task,) = emu.tasks()
    assert result["kie_task_id"] == task.task_id
    assert result["files"][0] == result["video_path"]
    assert all(Path(path).is_file() for path in result["files"])
    width, height = probe(result["video_path"])[:2]
    assert Fraction(width, height) == case.ratio
    assert probe(result["video_path"])[2] == pytest.approx(case.seconds, abs=0.6)


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_retry_after_a_crash_reconnects_to_the_paid_clip(
    case: Case, deferrable: bool, emu: RunningEmulator, kie_conn: Any, tmp_path: Path, mocker: Any
) -> None:
    store = FakeStateStore()
    first = _operator(case, tmp_path, deferrable)
    saved = first_try_dies_after_submit(first, store, deferrable, mocker)  # type: ignore[arg-type]

    result = run_try(_operator(case, tmp_path, deferrable), store, deferrable, try_number=2)  # type: ignore[arg-type]

    assert result["kie_task_id"] == saved == store.data[STATE_STORE_KEY]
    assert emu.stats().paid_submissions == 1
    assert Path(result["video_path"]).is_file()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_busy_kie_is_waited_out_in_a_deferral_and_paid_once(
    case: Case, emu: RunningEmulator, kie_conn: Any, tmp_path: Path, fast_backoff: None
) -> None:
    emu.set_faults(FaultRule("rate_limited", endpoint=case.submit_path, end_call=1, retry_after_s=1))
    op = _operator(case, tmp_path, deferrable=True)
    context = try_context(FakeStateStore(), 1)

    with pytest.raises(TaskDeferred) as backoff:
        op.execute(context)
    assert isinstance(backoff.value.trigger, TimeDeltaTrigger)
    assert backoff.value.method_name == "resume_submit"
    with pytest.raises(TaskDeferred) as wait:
        op.resume_submit(context, event=None, **(backoff.value.kwargs or {}))
    result = finish(op, context, wait.value)

    assert result["state"] == "succeeded"
    assert emu.stats().paid_submissions == 1
    assert emu.stats().faults_injected == {"rate_limited": 1}


BAD_INPUT = [
    pytest.param(
        lambda **kw: KlingOperator(model="kling-9/imaginary", input={"prompt": "x"}, **kw),
        "model",
        id="kling-model",
    ),
    pytest.param(
        lambda **kw: KlingOperator(model="kling-2.6/text-to-video", input={"duration": "5"}, **kw),
        "input.prompt",
        id="kling-missing-prompt",
    ),
    pytest.param(
        lambda **kw: KlingOperator(
            model="kling-2.6/text-to-video", input={"prompt": "x", "duration": "ten"}, **kw
        ),
        "input.duration",
        id="kling-duration-ten",
    ),
    pytest.param(
        lambda **kw: KlingOperator(
            model="kling-2.6/text-to-video", input={"prompt": "x", "colour": "red"}, **kw
        ),
        "input.colour",
        id="kling-unknown-field",
    ),
    pytest.param(
        lambda **kw: Sora2Operator(
            model="sora-2-text-to-video", input={"prompt": "x", "aspect_ratio": "square"}, **kw
        ),
        "input.aspect_ratio",
        id="sora-ratio-off-list",
    ),
    pytest.param(
        lambda **kw: KieJobOperator(model="vendor/new-model", input="[1, 2]", **kw),
        "input",
        id="job-not-object",
    ),
    pytest.param(
        lambda **kw: VeoGenerateOperator(
            prompt="x", generation_type="FIRST_AND_LAST_FRAMES_2_VIDEO", images=[], **kw
        ),
        "images",
        id="veo-too-few-images",
    ),
    pytest.param(
        lambda **kw: VeoGenerateOperator(prompt="x", images=["http://example.com/a.png"], **kw),
        "images",
        id="veo-http-image",
    ),
    pytest.param(
        lambda **kw: VeoGenerateOperator(prompt="x", images=["/no/such/frame.png"], **kw),
        "images",
        id="veo-missing-file",
    ),
    pytest.param(lambda **kw: VeoGenerateOperator(prompt="x", seeds=True, **kw), "seeds", id="veo-bool-seed"),
    pytest.param(
        lambda **kw: VeoGenerateOperator(prompt="x", upgrade="8k", **kw), "upgrade", id="veo-upgrade"
    ),
]


@pytest.mark.parametrize(("build", "parameter"), BAD_INPUT)
def test_bad_input_is_refused_before_any_request(
    build: Callable[..., KieGenerationOperator], parameter: str, emu: RunningEmulator, kie_conn: Any
) -> None:
    op = build(task_id="bad", deferrable=False)
    with pytest.raises(AirflowFailException, match=rf"\b{parameter.replace('.', '[.]')}\b"):
        op.execute(try_context(FakeStateStore(), 1))
    assert emu.stats().submissions_received == 0
    assert not any(path.startswith("/api/") for path in emu.stats().calls_by_endpoint)


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize("upgrade", ["1080p", "4k"])
def test_veo_upgrade_is_stored_and_a_retry_never_pays_for_a_second_one(
    upgrade: str, deferrable: bool, emu: RunningEmulator, kie_conn: Any, tmp_path: Path, mocker: Any
) -> None:
    mocker.patch.dict("airflow_provider_kie.operators.veo.UPGRADE_POLL_SECONDS", {"1080p": 0.05, "4k": 0.05})
    store = FakeStateStore()

    def op() -> VeoGenerateOperator:
        return VeoGenerateOperator(
            task_id="veo",
            prompt="a paper boat",
            aspect_ratio="16:9",
            upgrade=upgrade,
            deferrable=deferrable,
            poll_interval=0.05,
            timeout=120,
            output_dir=str(tmp_path / "clips"),
        )

    first = _run_upgrade(op(), store, deferrable, emu)
    # A second try of the same task (say its worker died after storing): reconnects, asks again, pays nothing.
    second = _run_upgrade(op(), store, deferrable, emu, try_number=2)

    expected = (1920, 1080) if upgrade == "1080p" else (3840, 2160)
    for result in (first, second):
        assert result["resolution"] == upgrade
        assert probe(result["video_path"])[:2] == expected
    assert emu.stats().paid_submissions == 1
    assert emu.stats().upgrades == {upgrade: 1}


def _run_upgrade(
    op: VeoGenerateOperator,
    store: FakeStateStore,
    deferrable: bool,
    emu: RunningEmulator,
    try_number: int = 1,
) -> Any:
    """Run one try through every deferral (the clip's wait, then each "not ready yet" of the upgrade)."""
    context = try_context(store, try_number)
    try:
        return op.execute(context)  # blocking; or a retry whose upgrade KIE has already made
    except TaskDeferred as deferred:
        assert deferrable
        step = deferred
    for _ in range(200):
        try:
            if isinstance(step.trigger, TimeDeltaTrigger):
                emu.advance_time(
                    60
                )  # KIE's upgrade runs for minutes: its clock moves, the test does not wait
                return getattr(op, step.method_name)(context, event=None, **(step.kwargs or {}))
            return finish(op, context, step)
        except TaskDeferred as again:
            step = again
    raise AssertionError("the upgrade never finished")


def test_every_result_of_a_market_task_is_stored(emu: RunningEmulator, kie_conn: Any, tmp_path: Path) -> None:
    op = KieJobOperator(
        task_id="many",
        model="vendor/new-video-model",  # the long tail: sent as given; the emulator renders MP4s for "video"
        input={"prompt": "three takes"},
        deferrable=False,
        poll_interval=0.05,
        output_dir=str(tmp_path / "clips"),
        output_name="take",
    )
    emu.reconfigure(market_results_per_task=3)

    result = op.execute(try_context(FakeStateStore(), 1))

    assert [Path(path).name for path in result["files"]] == ["take.mp4", "take-2.mp4", "take-3.mp4"]
    assert len(result["result_urls"]) == 3
    assert len({Path(path).read_bytes() for path in result["files"]}) == 3  # three distinct videos


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_api_key_is_nowhere(
    case: Case, emu: RunningEmulator, kie_conn: Any, tmp_path: Path, caplog: Any, capfd: Any
) -> None:
    store = FakeStateStore()
    context = try_context(store, 1)
    op = _operator(case, tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    _, trigger_kwargs = deferred.value.trigger.serialize()
    result = finish(op, context, deferred.value)

    seen = json.dumps([result, trigger_kwargs, context["ti"].xcoms, store.data], default=str)
    seen += caplog.text + "".join(capfd.readouterr())
    assert emu.api_key not in seen


MARKET_AND_VEO = [case for case in CASES if case.name in ("kling", "veo")]


@pytest.mark.parametrize("deferrable", [pytest.param(True, id="deferrable"), pytest.param(False, id="poke")])
@pytest.mark.parametrize("case", MARKET_AND_VEO, ids=[case.name for case in MARKET_AND_VEO])
def test_the_sensor_waits_for_a_market_or_veo_task_submitted_elsewhere(
    case: Case, deferrable: bool, emu: RunningEmulator, kie_conn: Any, tmp_path: Path
) -> None:
    submitted = case.build(task_id="fire", deferrable=False, wait_for_completion=False).execute(
        try_context(FakeStateStore(), 1)
    )
    sensor = KieTaskSensor(
        task_id="sense",
        kie_task_id=submitted["kie_task_id"],
        kind=submitted["kind"],
        deferrable=deferrable,
        poll_interval=0.05,
        timeout=60,
        output_dir=str(tmp_path / "sensed"),
    )
    context = try_context(FakeStateStore(), 1)
    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(context)
        result = finish(sensor, context, deferred.value)  # type: ignore[arg-type]
    else:
        outcome: Any = False
        for _ in range(400):
            outcome = sensor.poke(context)
            if outcome:
                break
            emu.advance_time(30)
        result = outcome.xcom_value

    assert result["kie_task_id"] == submitted["kie_task_id"]
    assert result["kind"] == {"kling": "jobs", "veo": "veo"}[case.name]
    assert Path(result["video_path"]).is_file()
    assert emu.stats().paid_submissions == 1


def test_veo_extend_continues_a_generated_clip(emu: RunningEmulator, kie_conn: Any, tmp_path: Path) -> None:
    first = run_try(_operator(CASES[3], tmp_path, deferrable=False), FakeStateStore(), deferrable=False)
    extend = VeoExtendOperator(
        task_id="more",
        source=first,
        prompt="the boat drifts out to sea",
        deferrable=True,
        poll_interval=0.05,
        timeout=120,
        output_dir=str(tmp_path / "clips"),
    )
    result = run_try(extend, FakeStateStore(), deferrable=True)

    assert result["state"] == "succeeded" and result["kie_task_id"] != first["kie_task_id"]
    assert emu.stats().paid_submissions == 2
    assert probe(result["video_path"])[:2] == probe(first["video_path"])[:2]  # the parent's frame
