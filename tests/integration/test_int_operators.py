"""The operators and the sensor in real Airflow task machinery (``dag.test()``, triggers run inline) against
the emulator, deferrable and blocking: XCom results, stored MP4/PNG files, templating, uploads, Asset events.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from airflow.sdk import DAG, Asset

from airflow_provider_kie.client import (
    AlephGenerateRequest,
    AsyncKieClient,
    KieClient,
    RunwayGenerateRequest,
)
from airflow_provider_kie.emulator import FaultRule, RunningEmulator
from airflow_provider_kie.operators.runway import (
    RunwayAlephOperator,
    RunwayExtendOperator,
    RunwayGenerateOperator,
)
from airflow_provider_kie.sensors.runway import RunwayTaskSensor
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

pytestmark = pytest.mark.integration

DS = "2025-03-01"
RESULT_KEYS = {
    "kie_task_id",
    "kind",
    "state",
    "video_url",
    "cover_url",
    "video_id",
    "video_path",
    "cover_path",
    "parent_task_id",
    "files",
    "result_urls",
    "model",
    "prompt",
    "resolution",
    "generation_seconds",
    "credits",
}
MODES = [pytest.param(True, id="deferrable"), pytest.param(False, id="blocking")]


def _raw_record(emu: RunningEmulator, path: str, task_id: str) -> dict[str, Any]:
    answer = httpx.get(emu.url(path), params={"taskId": task_id}, headers=emu.auth_headers, trust_env=False)
    return dict(answer.json()["data"])


def _check_result(result: dict[str, Any], emu: RunningEmulator, out: Path, kind: str, media: Any) -> str:
    """The XCom result of one finished clip; returns its KIE task id."""
    assert set(result) == RESULT_KEYS
    task_id = result["kie_task_id"]
    assert result["kind"] == kind
    assert result["state"] == "succeeded"
    assert result["video_url"] == f"{emu.base_url}/media/{task_id}.mp4"
    assert result["cover_url"] == f"{emu.base_url}/media/{task_id}.png"
    assert result["video_path"] == str(out / DS / f"{task_id}.mp4")
    assert result["cover_path"] == str(out / DS / f"{task_id}.png")
    media.assert_stored_video(result["video_path"])
    media.assert_stored_cover(result["cover_path"])
    return str(task_id)


@pytest.mark.parametrize("deferrable", MODES)
def test_every_operator_end_to_end(
    deferrable: bool,
    emu: RunningEmulator,
    kie_conn: Any,
    dags: Any,
    dag_kwargs: dict[str, Any],
    media: Any,
    tmp_path: Path,
    mocker: Any,
) -> None:
    image, video = media.write_inputs(tmp_path / "inputs")
    out = tmp_path / "clips"
    clips = Asset(f"file://{out}")
    serialized = mocker.spy(RunwayTaskTrigger, "serialize")
    blocking_waits = mocker.spy(KieClient, "wait_for_task")
    common: dict[str, Any] = {
        "deferrable": deferrable,
        "poll_interval": "{{ params.poll }}",
        "output_dir": f"{out}/{{{{ ds }}}}",
        "timeout": 120,
    }
    dag_id = dags.dag_id()
    with DAG(dag_id, params={"poll": 0.2}, **dag_kwargs) as dag:
        t2v = RunwayGenerateOperator(
            task_id="t2v", prompt="a red fox on {{ ds }}", aspect_ratio="9:16", outlets=[clips], **common
        )
        extend = RunwayExtendOperator(task_id="extend", source=t2v.output, prompt="the fox runs", **common)
        RunwayGenerateOperator(
            task_id="i2v", prompt="the product spins", image=str(image), aspect_ratio=None, **common
        )
        RunwayAlephOperator(
            task_id="aleph", prompt="as a watercolour", video=str(video), aspect_ratio="21:9", **common
        )
        t2v >> extend
    run = dags.run(dag)

    assert dags.states(run) == {"t2v": "success", "extend": "success", "i2v": "success", "aleph": "success"}
    assert {ti.try_number for ti in dags.task_instances(run).values()} == {1}
    xcoms = dags.xcoms(run)
    kinds = {"t2v": "runway", "extend": "runway", "i2v": "runway", "aleph": "aleph"}
    results = {task: xcoms[(task, "return_value")] for task in kinds}
    ids = {task: _check_result(results[task], emu, out, kind, media) for task, kind in kinds.items()}

    # What KIE received: one paid submission per clip, each the right kind, with rendered templates.
    tasks = {t.task_id: t for t in emu.tasks()}
    assert set(tasks) == set(ids.values())
    assert emu.stats().paid_submissions == 4
    assert tasks[ids["t2v"]].prompt == f"a red fox on {DS}"
    assert (tasks[ids["extend"]].kind, tasks[ids["extend"]].parent_task_id) == ("extend", ids["t2v"])
    assert tasks[ids["extend"]].aspect_ratio == "9:16"
    assert results["extend"]["parent_task_id"] == ids["t2v"]
    assert results["t2v"]["parent_task_id"] is None
    assert all(results[t]["video_id"] for t in ("t2v", "extend", "i2v"))
    assert results["aleph"]["video_id"] is None  # Aleph records carry no video id

    # Local inputs went through the upload host first, and KIE was given the uploaded copies.
    image_url = _raw_record(emu, "/api/v1/runway/record-detail", ids["i2v"])["generateParam"]["imageUrl"]
    # Each run, map index and try uploads under a folder of its own: airflow/<dag>/<task>/<run>/<map>-<try>/.
    uploads = f"{emu.upload_base_url}/files/"
    assert image_url.startswith(uploads + quote(f"airflow/{dag_id}/i2v/"))
    assert image_url.endswith(quote("/-1-1/product.png"))
    assert httpx.get(image_url, trust_env=False).content == media.cover
    aleph_params = json.loads(_raw_record(emu, "/api/v1/aleph/record-info", ids["aleph"])["paramJson"])
    assert aleph_params["videoUrl"].startswith(uploads + quote(f"airflow/{dag_id}/aleph/"))
    assert aleph_params["videoUrl"].endswith(quote("/-1-1/footage.mp4"))
    assert httpx.get(aleph_params["videoUrl"], trust_env=False).content == media.video
    assert emu.stats().uploads == 2

    # Templating, the extra link, the task id pushed before waiting, and the outlet Asset's event.
    rendered = dags.rendered_fields(run)
    assert rendered["t2v"]["output_dir"] == f"{out}/{DS}"
    assert rendered["t2v"]["prompt"] == f"a red fox on {DS}"
    assert str(rendered["t2v"]["poll_interval"]) == "0.2"
    for task, task_id in ids.items():
        assert xcoms[(task, "kie_task_id")] == task_id
        assert xcoms[(task, "_link_KieVideoLink")] == results[task]["video_url"]
    (event,) = dags.asset_events(run)
    assert event["task_id"] == "t2v"
    assert event["uri"] == f"file://{out}"
    assert event["extra"] == {
        "kie_task_id": ids["t2v"],
        "video_path": results["t2v"]["video_path"],
        "cover_path": results["t2v"]["cover_path"],
        "video_url": results["t2v"]["video_url"],
        "files": [results["t2v"]["video_path"], results["t2v"]["cover_path"]],
        "model": None,
    }

    # Deferrable waits went through the trigger; blocking ones polled in the worker.
    if deferrable:
        assert {kwargs["kie_task_id"] for _, kwargs in serialized.spy_return_list} == set(ids.values())
        assert blocking_waits.call_count == 0
    else:
        assert serialized.call_count == 0
        assert blocking_waits.call_count == 4


def _submit(emu: RunningEmulator, kind: str) -> str:
    with KieClient(emu.api_key, base_url=emu.base_url, upload_base_url=emu.upload_base_url) as client:
        if kind == "aleph":
            return client.aleph_generate(
                AlephGenerateRequest(prompt="as a sketch", video_url="https://example.com/in.mp4")
            )
        return client.runway_generate(
            RunwayGenerateRequest(prompt="a kite", duration=5, quality="720p", aspect_ratio="1:1")
        )


def _finish_after_first_look(mocker: Any, emu: RunningEmulator) -> list[str]:
    """Let KIE's clock jump past the task's end right after the sensor's first look (which sees it waiting).

    Deterministic: the sensor is sure to see an unfinished task first, then a finished one.
    """
    looks: list[str] = []
    sync_get, async_get = KieClient.get_task, AsyncKieClient.get_task

    def sync_look(self: KieClient, *args: Any, **kwargs: Any) -> Any:
        record = sync_get(self, *args, **kwargs)
        looks.append(record.raw_state)
        if len(looks) == 1:
            emu.advance_time(1000)
        return record

    async def async_look(self: AsyncKieClient, *args: Any, **kwargs: Any) -> Any:
        record = await async_get(self, *args, **kwargs)
        looks.append(record.raw_state)
        return record

    mocker.patch.object(KieClient, "get_task", sync_look)
    mocker.patch.object(AsyncKieClient, "get_task", async_look)
    return looks


@pytest.mark.parametrize("kind", ["runway", "aleph"])
@pytest.mark.parametrize("deferrable", [pytest.param(True, id="deferrable"), pytest.param(False, id="poke")])
def test_the_sensor_waits_for_a_task_submitted_elsewhere(
    deferrable: bool,
    kind: str,
    emu: RunningEmulator,
    kie_conn: Any,
    dags: Any,
    dag_kwargs: dict[str, Any],
    media: Any,
    tmp_path: Path,
    mocker: Any,
) -> None:
    emu.reconfigure(time_scale=1.0)  # the clip would take minutes: only the sensor's clock jump ends it
    kie_task_id = _submit(emu, kind)
    looks = _finish_after_first_look(mocker, emu)
    serialized = mocker.spy(RunwayTaskTrigger, "serialize")
    out = tmp_path / "sensed"
    with DAG(dags.dag_id(), params={"task": kie_task_id}, **dag_kwargs) as dag:
        RunwayTaskSensor(
            task_id="sense",
            kie_task_id="{{ params.task }}",
            kind=kind,
            deferrable=deferrable,
            mode="poke",
            poke_interval=0.1,
            poll_interval=0.2,
            timeout=120,
            output_dir=f"{out}/{{{{ ds }}}}",
        )
    run = dags.run(dag)

    assert dags.states(run) == {"sense": "success"}
    result = dags.xcoms(run)[("sense", "return_value")]
    assert _check_result(result, emu, out, kind, media) == kie_task_id
    # The first look saw an unfinished task: which one depends on how long the DAG run took to start
    # (on Airflow 3.2 the task is often already "queueing" at KIE's real pace).
    assert looks[0] in ("wait", "queueing", "generating", "successFlag=0")
    assert looks[-1] in ("success", "successFlag=1")
    assert (serialized.call_count >= 1) is deferrable
    assert emu.stats().paid_submissions == 1


def test_the_sensor_fails_with_kies_reason(
    emu: RunningEmulator, kie_conn: Any, dags: Any, dag_kwargs: dict[str, Any], capfd: Any, tmp_path: Path
) -> None:
    emu.set_faults(FaultRule("task_fail", fail_code=501, fail_msg="The model melted"))
    kie_task_id = _submit(emu, "runway")
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayTaskSensor(
            task_id="sense",
            kie_task_id=kie_task_id,
            deferrable=True,
            poll_interval=0.2,
            timeout=120,
            output_dir=str(tmp_path / "never"),
        )
    run = dags.run(dag)
    assert dags.states(run) == {"sense": "failed"}
    logs = capfd.readouterr().out
    assert f"KIE task {kie_task_id} failed: The model melted (failCode=501)" in logs
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("deferrable", MODES)
def test_a_moderated_prompt_fails_the_task_with_kies_reason(
    deferrable: bool, emu: RunningEmulator, kie_conn: Any, dags: Any, dag_kwargs: dict[str, Any], capfd: Any
) -> None:
    emu.set_faults(FaultRule("moderation", words=("forbidden",)))
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayGenerateOperator(
            task_id="gen", prompt="a forbidden scene", deferrable=deferrable, poll_interval=0.2, retries=0
        )
    run = dags.run(dag)
    assert dags.states(run) == {"gen": "failed"}
    (task,) = emu.tasks()
    assert task.state == "fail"
    logs = capfd.readouterr().out
    assert f"KIE task {task.task_id} failed: {task.fail_msg} (failCode=400)" in logs
    assert "caught by our AI moderator" in task.fail_msg
    stats = emu.stats()
    assert (stats.submissions_accepted, stats.refunded_submissions, stats.paid_submissions) == (1, 1, 0)


def test_no_output_dir_and_no_wait(
    emu: RunningEmulator, kie_conn: Any, dags: Any, dag_kwargs: dict[str, Any]
) -> None:
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayGenerateOperator(task_id="fire", prompt="fired", wait_for_completion=False)
        RunwayGenerateOperator(task_id="keep_links", prompt="kept", deferrable=True, poll_interval=0.2)
    run = dags.run(dag)
    assert dags.states(run) == {"fire": "success", "keep_links": "success"}
    by_prompt = {t.prompt: t.task_id for t in emu.tasks()}
    xcoms = dags.xcoms(run)
    assert xcoms[("fire", "return_value")] == {
        "kie_task_id": by_prompt["fired"],
        "kind": "runway",
        "state": "submitted",
    }
    kept = xcoms[("keep_links", "return_value")]
    assert (kept["kie_task_id"], kept["state"]) == (by_prompt["kept"], "succeeded")
    assert (kept["video_path"], kept["cover_path"]) == (None, None)
    assert emu.stats().calls_by_endpoint.get("/media/*", 0) == 0  # nothing downloaded


def test_object_storage_inputs_and_outputs(
    emu: RunningEmulator,
    kie_conn: Any,
    dags: Any,
    dag_kwargs: dict[str, Any],
    media: Any,
    tmp_path: Path,
    mocker: Any,
) -> None:
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import fs as airflow_fs
    from fsspec.implementations.memory import MemoryFileSystem

    # fsspec's in-memory filesystem stands in for a remote object store (s3://, gs://...), registered the
    # way a provider registers one.
    mocker.patch.dict(airflow_fs._register_filesystems(), {"memory": lambda conn_id: MemoryFileSystem()})
    bucket = f"memory://kie-int-{uuid.uuid4().hex[:8]}"
    remote_video = ObjectStoragePath(f"{bucket}/inputs/footage.mp4")
    remote_video.write_bytes(media.video)
    local_image = ObjectStoragePath(f"file://{media.write_inputs(tmp_path)[0]}")
    remote_out = ObjectStoragePath(f"{bucket}/clips")
    callback = "https://hooks.example.com/kie/{{ ds }}"  # not a loopback host: the emulator never calls it
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayAlephOperator(
            task_id="aleph",
            prompt="as ink",
            video=remote_video,
            output_dir=remote_out,
            output_name="restyled_{{ ds_nodash }}",
            callback_url=callback,
            poll_interval=0.2,
            deferrable=True,
        )
        RunwayGenerateOperator(
            task_id="i2v",
            prompt="it spins",
            image=local_image,
            aspect_ratio=None,
            output_dir=str(tmp_path / "clips"),
            poll_interval=0.2,
        )
    run = dags.run(dag)

    assert dags.states(run) == {"aleph": "success", "i2v": "success"}
    xcoms = dags.xcoms(run)
    aleph = xcoms[("aleph", "return_value")]
    # A remote input goes up as base64 (it has no local path); the stored clip lands in the remote store.
    assert emu.stats().calls_by_endpoint["/upload-host/api/file-base64-upload"] == 1
    assert emu.stats().calls_by_endpoint["/upload-host/api/file-stream-upload"] == 1
    assert aleph["video_path"] == str(remote_out / "restyled_20250301.mp4")  # memory:/// on Airflow 3.1
    assert ObjectStoragePath(f"{bucket}/clips/restyled_20250301.mp4").read_bytes() == emu.media_bytes(
        aleph["video_url"]
    )
    assert ObjectStoragePath(f"{bucket}/clips/restyled_20250301.png").read_bytes() == emu.media_bytes(
        aleph["cover_url"]
    )
    tasks = {t.task_id: t for t in emu.tasks()}
    assert tasks[aleph["kie_task_id"]].callback_url == "https://hooks.example.com/kie/2025-03-01"
    media.assert_stored_video(xcoms[("i2v", "return_value")]["video_path"])


@pytest.mark.parametrize("deferrable", MODES)
def test_a_clip_that_outlasts_the_timeout_fails_the_try(
    deferrable: bool, emu: RunningEmulator, kie_conn: Any, dags: Any, dag_kwargs: dict[str, Any], capfd: Any
) -> None:
    emu.reconfigure(time_scale=1.0)  # 75 s of generation against a 0.5 s timeout
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayGenerateOperator(
            task_id="gen", prompt="a kite", deferrable=deferrable, poll_interval=0.1, timeout=0.5
        )
    run = dags.run(dag)

    assert dags.states(run) == {"gen": "failed"}
    (task,) = emu.tasks()
    logs = capfd.readouterr().out
    expected = (
        "Timed out waiting for KIE task" if deferrable else f"KIE task {task.task_id} still pending after"
    )
    assert expected in logs
    assert task.state in ("wait", "queueing")  # KIE keeps working; a retry would reconnect to it
