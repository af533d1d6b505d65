"""Storing KIE's media over real HTTP: complete or nothing, fresh links when one breaks, clear failures when
KIE no longer has the media."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_kie.client import KieClient, PollPolicy, RunwayGenerateRequest
from airflow_provider_kie.emulator import FaultRule, RunningEmulator
from airflow_provider_kie.exceptions import KieClipUnavailableException
from airflow_provider_kie.operators.runway import RunwayGenerateOperator
from airflow_provider_kie.sensors.runway import RunwayTaskSensor

pytestmark = pytest.mark.integration

MEDIA = "/media/*"  # the produced files and the download-url links alike
FOURTEEN_DAYS_AND_AN_HOUR = 14 * 24 * 3600 + 3600


def _generate(dags: Any, dag_kwargs: dict[str, Any], out: Path, **kwargs: Any) -> Any:
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayGenerateOperator(
            task_id="gen", prompt="a red fox", poll_interval=0.2, output_dir=str(out), retries=0, **kwargs
        )
    return dags.run(dag)


def _finished_clip(emu: RunningEmulator) -> str:
    with KieClient(emu.api_key, base_url=emu.base_url) as client:
        task_id = client.runway_generate(
            RunwayGenerateRequest(prompt="a red fox", duration=5, quality="720p", aspect_ratio="16:9")
        )
        client.wait_for_task(task_id, poll=PollPolicy(interval=0.02), timeout=60)
    return task_id


@pytest.mark.parametrize(
    "deferrable", [pytest.param(True, id="deferrable"), pytest.param(False, id="blocking")]
)
def test_a_truncated_body_never_reaches_the_destination(
    deferrable: bool,
    emu: RunningEmulator,
    kie_conn: Any,
    dags: Any,
    dag_kwargs: dict[str, Any],
    capfd: Any,
    tmp_path: Path,
) -> None:
    out = tmp_path / "clips"
    out.mkdir()
    (out / "clip.mp4").write_bytes(b"yesterday's good clip")
    emu.set_faults(FaultRule("truncate", endpoint=MEDIA, fraction=0.5))
    run = _generate(dags, dag_kwargs, out, output_name="clip", deferrable=deferrable)

    assert dags.states(run) == {"gen": "failed"}
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4"]  # no partial file, no temp file left
    assert (out / "clip.mp4").read_bytes() == b"yesterday's good clip"
    logs = capfd.readouterr().out
    assert "Could not store" in logs
    size = len(emu.media_bytes(f"{emu.base_url}/media/{emu.tasks()[0].task_id}.mp4") or b"")
    assert f"received {size // 2} bytes, expected {size}" in logs  # half of the task's MP4
    stats = emu.stats()
    assert stats.faults_injected["truncate"] == 3  # three attempts, each on a fresh link after the first
    assert stats.download_links >= 2


def test_a_truncated_body_is_fetched_again_on_a_fresh_link(
    emu: RunningEmulator, kie_conn: Any, dags: Any, dag_kwargs: dict[str, Any], media: Any, tmp_path: Path
) -> None:
    emu.set_faults(FaultRule("truncate", endpoint=MEDIA, end_call=1))
    run = _generate(dags, dag_kwargs, tmp_path, output_name="clip", deferrable=True)

    assert dags.states(run) == {"gen": "success"}
    result = dags.xcoms(run)[("gen", "return_value")]
    assert result["video_path"] == str(tmp_path / "clip.mp4")
    media.assert_stored_video(result["video_path"])
    media.assert_stored_cover(result["cover_path"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip.png"]
    stats = emu.stats()
    assert (stats.faults_injected, stats.download_links) == ({"truncate": 1}, 1)


def test_an_expired_link_is_replaced_through_download_url(
    emu: RunningEmulator, kie_conn: Any, dags: Any, dag_kwargs: dict[str, Any], media: Any, tmp_path: Path
) -> None:
    # The first media request answers 403, as a KIE link past its 20 minutes does.
    emu.set_faults(
        FaultRule("server_error", endpoint=MEDIA, end_call=1, status=403, msg="Request has expired")
    )
    run = _generate(dags, dag_kwargs, tmp_path, deferrable=False)

    assert dags.states(run) == {"gen": "success"}
    result = dags.xcoms(run)[("gen", "return_value")]
    media.assert_stored_video(result["video_path"])
    assert result["video_url"] == f"{emu.base_url}/media/{result['kie_task_id']}.mp4"  # KIE's own URL
    stats = emu.stats()
    assert stats.download_links == 1
    assert stats.calls_by_endpoint["/media/dl/*"] == 1


def test_expired_media_is_a_clear_failure(
    emu: RunningEmulator, kie_conn: Any, dags: Any, dag_kwargs: dict[str, Any], capfd: Any, tmp_path: Path
) -> None:
    task_id = _finished_clip(emu)
    emu.advance_time(FOURTEEN_DAYS_AND_AN_HOUR)
    out = tmp_path / "late"
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayTaskSensor(
            task_id="sense", kie_task_id=task_id, poke_interval=0.1, timeout=60, output_dir=str(out)
        )
    run = dags.run(dag)

    assert dags.states(run) == {"sense": "failed"}
    assert f"KIE task {task_id} succeeded, but KIE deleted its media (kept 14 days)" in capfd.readouterr().out
    assert not out.exists()
    assert emu.stats().calls_by_endpoint.get("/media/*", 0) == 0  # known expired: no download attempted


def test_expired_media_after_the_trigger_fired(emu: RunningEmulator, kie_conn: Any, tmp_path: Path) -> None:
    # The clip succeeded while deferred, but the worker only completes after KIE deleted the media.
    task_id = _finished_clip(emu)
    event = {
        "status": "succeeded",
        "kie_task_id": task_id,
        "kind": "runway",
        "record": {"task_id": task_id, "kind": "runway", "state": "succeeded", "raw_state": "success"},
    }
    emu.advance_time(FOURTEEN_DAYS_AND_AN_HOUR)
    op = RunwayGenerateOperator(task_id="gen", prompt="a red fox", output_dir=str(tmp_path / "clips"))
    with pytest.raises(KieClipUnavailableException, match="KIE deleted its media"):
        op.execute_complete({"ti": None}, event=event)
    assert not (tmp_path / "clips").exists()
