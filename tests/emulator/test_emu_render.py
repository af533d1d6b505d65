"""Produced media reflect the request: frame size, duration, a file of its own per task (ffprobe checks)."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator.dimensions import ClipShape, clip_shape, frame_size
from airflow_provider_kie.emulator.media import cover_image, sample_video
from airflow_provider_kie.emulator.pytest_plugin import fast_test_config
from airflow_provider_kie.emulator.render import MediaRenderer, RenderJob, embedded_task_id, task_colour
from airflow_provider_kie.emulator.server import RunningEmulator, running_emulator

JOBS = "/api/v1/jobs/createTask"


@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [
        ("16:9", "720p", (1280, 720)),
        ("16:9", "1080p", (1920, 1080)),
        ("9:16", "720p", (720, 1280)),
        ("9:16", "1080p", (1080, 1920)),
        ("1:1", "720p", (720, 720)),
        ("4:3", "720p", (960, 720)),
        ("3:4", "1080p", (1080, 1440)),
        ("21:9", "720p", (1680, 720)),
        ("16:9", "4k", (3840, 2160)),
        ("9:16", "4K", (2160, 3840)),
        ("2:3", "480p", (480, 720)),
        ("16:9", "768P", (1366, 768)),
        ("portrait", "720p", (720, 1280)),
        ("Auto", "720p", (1280, 720)),
        (None, None, (1280, 720)),
    ],
)
def test_frame_sizes(aspect: str | None, resolution: str | None, size: tuple[int, int]) -> None:
    assert frame_size(aspect, resolution) == size


@pytest.mark.parametrize(
    ("body", "width", "height", "seconds"),
    [
        ({"quality": "720p", "aspectRatio": "16:9", "duration": 5}, 1280, 720, 5),
        ({"quality": "1080p", "aspectRatio": "16:9", "duration": 5}, 1920, 1080, 5),
        ({"quality": "720p", "aspectRatio": "9:16", "duration": 10}, 720, 1280, 10),
        ({"quality": "720p", "aspectRatio": "1:1", "duration": 5}, 720, 720, 5),
        ({"quality": "1080p", "aspectRatio": "4:3", "duration": 5}, 1440, 1080, 5),
        # Image-to-video keeps the image's ratio, which the offline emulator cannot read: 16:9.
        (
            {"quality": "720p", "imageUrl": "https://e.com/a.png", "aspectRatio": None, "duration": 5},
            1280,
            720,
            5,
        ),
    ],
)
def test_runway_clips_follow_quality_ratio_and_duration(
    kie: Any, api: httpx.Client, probe: Any, body: dict[str, Any], width: int, height: int, seconds: int
) -> None:
    record = kie.wait_runway(kie.generate_id(**body))
    video = probe(api.get(record["videoInfo"]["videoUrl"]).content)
    assert (video.codec, video.width, video.height) == ("h264", width, height)
    assert video.duration == pytest.approx(seconds, abs=0.01)
    assert video.tags["comment"] == f"kie-emulator task_id={record['taskId']} variant=main"
    cover = probe(api.get(record["videoInfo"]["imageUrl"]).content)
    assert (cover.codec, cover.width, cover.height) == ("png", width, height)


def test_two_tasks_never_share_bytes(kie: Any, api: httpx.Client, emu: RunningEmulator) -> None:
    first, second = (kie.wait_runway(kie.generate_id(prompt="the same prompt")) for _ in range(2))
    clips = [api.get(r["videoInfo"]["videoUrl"]).content for r in (first, second)]
    covers = [api.get(r["videoInfo"]["imageUrl"]).content for r in (first, second)]
    assert clips[0] != clips[1] and covers[0] != covers[1]
    assert [embedded_task_id(c) for c in clips] == [first["taskId"], second["taskId"]]
    assert task_colour(first["taskId"], "") != task_colour(second["taskId"], "")
    assert all(len(c) < 60_000 for c in clips) and all(len(c) < 60_000 for c in covers)


def test_the_handle_gives_the_served_bytes(kie: Any, api: httpx.Client, emu: RunningEmulator) -> None:
    """``emu.media_bytes(url)``: what a test compares a stored file with."""
    info = kie.wait_runway(kie.generate_id())["videoInfo"]
    assert emu.media_bytes(info["videoUrl"]) == api.get(info["videoUrl"]).content
    assert emu.media_bytes(info["imageUrl"]) == api.get(info["imageUrl"]).content
    assert emu.media_bytes(f"{emu.base_url}/media/not-a-task.mp4") is None
    assert emu.media_bytes(f"{emu.base_url}/api/v1/chat/credit") is None


def test_extension_keeps_the_parents_ratio(kie: Any, api: httpx.Client, probe: Any) -> None:
    parent = kie.wait_runway(kie.generate_id(aspectRatio="9:16"))
    child_id = kie.extend(parent["taskId"], quality="1080p").json()["data"]["taskId"]
    clip = probe(api.get(kie.wait_runway(child_id)["videoInfo"]["videoUrl"]).content)
    assert (clip.width, clip.height) == (1080, 1920) and clip.duration == pytest.approx(5, abs=0.01)


def test_aleph_clip(kie: Any, api: httpx.Client, probe: Any) -> None:
    task_id = kie.aleph(aspectRatio="21:9").json()["data"]["taskId"]
    clip = probe(api.get(kie.wait_aleph(task_id)["response"]["resultVideoUrl"]).content)
    assert (clip.width, clip.height) == (1680, 720) and clip.duration == pytest.approx(5, abs=0.01)


@pytest.mark.parametrize(
    ("model", "model_input", "width", "height", "seconds"),
    [
        (
            "kling-2.6/text-to-video",
            {"prompt": "p", "sound": False, "aspect_ratio": "9:16", "duration": "10"},
            720,
            1280,
            10,
        ),
        ("wan/2-6-text-to-video", {"prompt": "p", "resolution": "1080p", "duration": "15"}, 1920, 1080, 15),
        (
            "sora-2-text-to-video",
            {"prompt": "p", "aspect_ratio": "portrait", "n_frames": "15"},
            720,
            1280,
            15,
        ),
        ("sora-2-pro-text-to-video", {"prompt": "p", "size": "high"}, 1920, 1080, 10),
        ("hailuo/02-text-to-video-pro", {"prompt": "p"}, 1920, 1080, 6),
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": "8"}, 480, 720, 8),
        ("topaz/video-upscale", {"video_url": "https://e.com/v.mp4", "upscale_factor": "4"}, 2560, 1440, 5),
        (
            "vendor/brand-new-video-model",
            {"aspect_ratio": "1:1", "resolution": "1080p", "duration": 7},
            1080,
            1080,
            7,
        ),
    ],
)
def test_market_clips_follow_their_fields(
    api: httpx.Client,
    probe: Any,
    wait: Any,
    model: str,
    model_input: dict[str, Any],
    width: int,
    height: int,
    seconds: int,
) -> None:
    answer = api.post(JOBS, json={"model": model, "input": model_input}).json()
    assert answer["code"] == 200, answer
    task_id = answer["data"]["taskId"]

    def done() -> dict[str, Any] | None:
        data = api.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()["data"]
        return data if data["state"] == "success" else None

    (url,) = json.loads(wait(done)["resultJson"])["resultUrls"]
    clip = probe(api.get(url).content)
    assert (clip.width, clip.height) == (width, height)
    assert clip.duration == pytest.approx(seconds, abs=0.01)


def test_sample_renderer_serves_the_shipped_files(kie: Any, api: httpx.Client, emu: RunningEmulator) -> None:
    emu.reconfigure(media_renderer="sample")
    info = kie.wait_runway(kie.generate_id())["videoInfo"]
    assert api.get(info["videoUrl"]).content == sample_video()
    assert api.get(info["imageUrl"]).content == cover_image()


def test_without_ffmpeg_the_sample_is_served_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("airflow_provider_kie.emulator.render.shutil.which", lambda name: None)
    renderer = MediaRenderer()
    job = RenderJob("t-1", "", "mp4", clip_shape("16:9", "1080p", 5))
    with caplog.at_level(logging.WARNING, logger="airflow_provider_kie.emulator.render"):
        assert renderer.render(job) == sample_video()
        assert renderer.render(RenderJob("t-1", "", "png", job.shape)) == cover_image()
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1  # warned once
    assert "ffmpeg not found" in caplog.records[0].message and renderer.rendered == 0


def test_renders_are_cached_on_disk_and_removed_on_close(tmp_path: Path) -> None:
    renderer = MediaRenderer()
    job = RenderJob("veo_task_0123456789abcdef", "4k", "mp4", ClipShape(3840, 2160, 8), "a 4K clip")
    started = time.monotonic()
    first = renderer.render(job)
    elapsed = time.monotonic() - started
    assert renderer.render(job) == first and renderer.rendered == 1  # the second read hits the cache
    directory = renderer.directory
    assert [p.name for p in directory.iterdir()] == [job.file_name]
    assert len(first) < 80_000 and elapsed < 30
    assert ffprobe_size(first, tmp_path) == (3840, 2160)
    renderer.close()
    assert not directory.exists()
    assert renderer.render(job) == first  # a closed renderer starts a new cache on demand
    renderer.close()


def test_the_cache_goes_with_the_server(tmp_path: Path) -> None:
    with running_emulator(fast_test_config()) as emu:
        with httpx.Client(base_url=emu.base_url, headers=emu.auth_headers, trust_env=False) as api:
            body = {"prompt": "p", "duration": 5, "quality": "720p", "aspectRatio": "1:1"}
            task_id = api.post("/api/v1/runway/generate", json=body).json()["data"]["taskId"]
            deadline = time.monotonic() + 15
            while api.get(f"/media/{task_id}.mp4").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        directory = emu.state.media.directory
        assert any(directory.iterdir())
    assert not directory.exists()


def test_further_results_differ(tmp_path: Path) -> None:
    renderer = MediaRenderer()
    try:
        shape = clip_shape("16:9", "720p", 5)
        main, second = (renderer.render(RenderJob("task_x_1", v, "mp4", shape)) for v in ("", "1"))
        assert main != second and embedded_task_id(main) == embedded_task_id(second) == "task_x_1"
    finally:
        renderer.close()


def ffprobe_size(data: bytes, directory: Path) -> tuple[int, int]:
    """Width and height of a clip, with the real ffprobe."""
    target = directory / "clip.mp4"
    target.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", str(target)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    width, height = out.split(",")
    return int(width), int(height)
