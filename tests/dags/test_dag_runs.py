"""Every sample DAG runs end to end through dag.test() against the emulator and produces its files.

One throwaway Airflow home (SQLite, migrated once) and one emulator serve the module; each DAG runs in its
own process, as `make demo` does.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_kie.emulator.config import EmulatorConfig
from airflow_provider_kie.emulator.faults import FaultRule
from airflow_provider_kie.emulator.server import running_emulator
from airflow_provider_kie.testing import OfflineAirflow, is_mp4, is_png

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
FAST = {"poll_interval": 0.3}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(EmulatorConfig(time_scale=0.01)) as emu:
        yield emu


@pytest.fixture(scope="module")
def airflow(emulator, tmp_path_factory):
    log = tmp_path_factory.mktemp("airflow-log") / "airflow.log"
    with OfflineAirflow.create(dags_folder=DAGS, emulator=emulator, log=log) as home:
        yield home


@pytest.fixture
def fresh(emulator):
    emulator.reset()
    return emulator


def _valid_clip(result: dict) -> None:
    assert result["state"] == "succeeded"
    assert is_mp4(result["video_path"]), result["video_path"]
    assert is_png(result["cover_path"]), result["cover_path"]


@pytest.fixture(scope="module")
def daily_run(airflow, emulator, tmp_path_factory):
    """One run of kie_daily_marketing, shared by the tests that check it and consume its output."""
    emulator.reset()
    root = tmp_path_factory.mktemp("daily")
    state = airflow.run_dag("kie_daily_marketing", {"output_root": str(root), **FAST})
    return state, root, emulator.stats()


def test_daily_marketing(daily_run):
    state, root, stats = daily_run
    assert state == "success"
    (day,) = (root / "daily").iterdir()
    manifest = json.loads((day / "manifest.json").read_text())
    clips = {Path(c["video_path"]).stem: c for c in manifest["clips"]}
    assert set(clips) == {"hero", "story", "feed", "hero-extended"}
    for clip in clips.values():
        _valid_clip(clip)
    # The extension continues the generated hero clip, and nothing was paid for twice.
    assert clips["hero-extended"]["parent_task_id"] == clips["hero"]["kie_task_id"]
    assert stats.paid_submissions == 4
    assert [p.name for p in day.iterdir() if p.name.endswith(".partial")] == []


def test_publish_on_asset_picks_up_the_daily_manifest(airflow, daily_run, tmp_path):
    _, root, _ = daily_run
    (manifest,) = (root / "daily").glob("*/manifest.json")
    publish_root = tmp_path / "published"
    conf = {"publish_root": str(publish_root), "manifest": str(manifest)}
    assert airflow.run_dag("kie_publish_on_asset", conf) == "success"
    published = publish_root / manifest.parent.name
    receipt = json.loads((published / "published.json").read_text())
    assert len(receipt["files"]) == 8  # 4 videos + 4 covers
    assert is_mp4(published / "hero-extended.mp4")


def test_campaign_fanout_with_a_failure_still_writes_the_manifest(airflow, fresh, tmp_path):
    # One prompt trips KIE's moderation: its clips fail with KIE's reason, the others are stored, and the
    # summary (all_done) records both.
    fresh.set_faults(FaultRule(kind="moderation", endpoint="/api/v1/runway/generate", words=["forbidden"]))
    conf = {
        "campaign": "unit",
        "prompts": ["A calm lake at sunrise", "A forbidden scene"],
        "aspect_ratios": ["16:9", "9:16", "1:1"],
        "output_root": str(tmp_path),
        **FAST,
    }
    assert airflow.run_dag("kie_campaign_fanout", conf) == "failed"
    out = tmp_path / "campaigns" / "unit"
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert len(rows) == 6
    by_status: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(row)
    assert {r["aspect_ratio"] for r in by_status["succeeded"]} == {"16:9", "9:16", "1:1"}
    assert all(r["prompt"] == "A calm lake at sunrise" for r in by_status["succeeded"])
    assert len(by_status["failed"]) == 3
    assert all(r["error"] and r["kie_task_id"] for r in by_status["failed"])
    for row in by_status["succeeded"]:
        assert is_mp4(row["video_path"]) and is_png(row["cover_path"])
    assert json.loads((out / "manifest.json").read_text()) == rows


def test_image_to_video_uploads_local_images_then_restyles(airflow, fresh, tmp_path):
    assert airflow.run_dag("kie_image_to_video", {"output_root": str(tmp_path), **FAST}) == "success"
    (day,) = (tmp_path / "products").iterdir()
    stems = sorted(p.stem for p in day.glob("*.mp4"))
    assert stems == ["espresso-machine", "espresso-machine-restyled", "travel-mug"]
    for video in day.glob("*.mp4"):
        assert is_mp4(video)
    stats = fresh.stats()
    assert stats.uploads == 3  # two product images and one stored clip for Aleph
    assert stats.accepted_by_kind == {"generate": 2, "aleph": 1}


def test_model_bakeoff_compares_the_models_on_a_contact_sheet_seen_in_a_browser(airflow, fresh, tmp_path):
    # Veo refuses the brief (moderation): its card says why, the three other models' clips are compared.
    fresh.set_faults(FaultRule(kind="moderation", endpoint="/api/v1/veo/generate", words=["mug"]))
    conf = {"brief": "A ceramic mug on a sunlit table", "output_root": str(tmp_path), **FAST}
    assert airflow.run_dag("kie_model_bakeoff", conf) == "success"

    (day,) = (tmp_path / "bakeoff").iterdir()
    manifest = json.loads((day / "manifest.json").read_text())
    clips = {clip["label"]: clip for clip in manifest["clips"]}
    assert set(clips) == {"Runway", "Veo 3.1 Fast", "Kling 2.6", "Sora 2"}
    for label in ("Runway", "Kling 2.6", "Sora 2"):
        assert clips[label]["state"] == "succeeded" and is_mp4(clips[label]["video_path"])
    assert clips["Veo 3.1 Fast"].get("error")
    stats = fresh.stats()
    assert stats.paid_submissions == 3 and stats.accepted_by_kind.get("jobs") == 2

    # The page as a marketing lead sees it: three playable clips with their covers, one failure card.
    from browser import chromium_page, media_report, screenshot, wait_for_media

    with chromium_page(width=1360, height=900) as page:
        page.goto((day / "contact-sheet.html").as_uri())
        wait_for_media(page)
        report = media_report(page)
        shot = screenshot(page, REPO / "output" / "screenshots" / "kie_model_bakeoff.png")
        text = page.inner_text("body")
    assert len(report["videos"]) == 3
    assert all(v["ready_state"] >= 1 and v["duration"] and v["error"] is None for v in report["videos"])
    assert all(i["complete"] and i["width"] > 0 for i in report["images"])
    assert clips["Veo 3.1 Fast"]["error"] in text  # KIE's reason, on the failure card
    assert shot.stat().st_size > 10_000


def test_runway_backends_runs_one_brief_on_kie_and_on_runways_own_api(airflow, fresh, tmp_path, monkeypatch):
    # The second backend is a `runway` connection to the emulator's Runway API; the DAG run sees it
    # through the environment of the dag.test() process.
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWAY_DEFAULT",
        json.dumps({"conn_type": "runway", "password": fresh.runway_api_key, "host": fresh.runway_base_url}),
    )
    brief = "A paper boat on a rainy street"
    conf = {"brief": brief, "seed": 7, "output_root": str(tmp_path), **FAST}
    assert airflow.run_dag("kie_runway_backends", conf) == "success"

    (day,) = (tmp_path / "backends").iterdir()
    assert (day / "contact-sheet.html").is_file()
    clips = {clip["label"]: clip for clip in json.loads((day / "manifest.json").read_text())["clips"]}
    assert {label: clip["kind"] for label, clip in clips.items()} == {
        "Runway via KIE": "runway",
        "Runway's own API": "runway_api",
    }
    for clip in clips.values():
        assert clip["state"] == "succeeded" and is_mp4(clip["video_path"])
    assert Path(clips["Runway's own API"]["video_path"]) == day / "runway-api" / "runway-api.mp4"
    # One paid clip on each backend, the same brief word for word.
    assert fresh.stats().paid_submissions == 1
    (task,) = fresh.runway_api_tasks()
    assert (task.model, task.prompt, task.status) == ("gen4.5", brief, "SUCCEEDED")
    assert fresh.runway_api_stats().paid_creates == 1


# `make demo` always runs in the project's own venv (Airflow 3.3, uv.lock); the DAGs it runs are tested on
# every minor by the tests above, so on the older minors this would only repeat them (1-2 minutes each).
@pytest.mark.skipif(
    tuple(int(part) for part in airflow_version.split(".")[:2]) < (3, 3),
    reason="make demo runs in the Airflow 3.3 venv; its DAGs are tested on this minor above",
)
def test_make_demo_leaves_playable_clips(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DAG run success" in result.stdout
    assert "4 paid submissions" in result.stdout
    videos = list(tmp_path.glob("daily/*/*.mp4"))
    assert {v.stem for v in videos} == {"feed", "hero", "hero-extended", "story"}
    assert all(is_mp4(v) and is_png(v.with_suffix(".png")) for v in videos)
    (sheet,) = tmp_path.glob("bakeoff/*/contact-sheet.html")
    assert f"Bake-off:    {sheet}" in result.stdout
