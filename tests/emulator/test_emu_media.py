"""Produced media (served like a CDN: HEAD, ranges, expiry), synthetic bodies, and download links.

What each clip looks like (frame size, duration, distinct bytes) is checked in ``test_emu_render.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator.media import cover_image, sample_video
from airflow_provider_kie.emulator.render import embedded_task_id
from airflow_provider_kie.emulator.server import RunningEmulator

FOURTEEN_DAYS = 14 * 24 * 3600


@pytest.fixture
def clip(kie: Any) -> dict[str, Any]:
    """A succeeded Runway task's videoInfo (a 5 s 720p 16:9 clip)."""
    record = kie.wait_runway(kie.generate_id())
    assert record["state"] == "success"
    return dict(record["videoInfo"])


@pytest.fixture
def clip_bytes(api: httpx.Client, clip: dict[str, Any]) -> bytes:
    """The bytes served for ``clip``'s video (rendered on this first download)."""
    return api.get(clip["videoUrl"]).content


def test_video_and_cover_are_the_tasks_own_files(api: httpx.Client, clip: dict[str, Any]) -> None:
    video = api.get(clip["videoUrl"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == len(video.content)
    assert video.content[4:8] == b"ftyp" and embedded_task_id(video.content) == clip["taskId"]
    assert video.content != sample_video() and len(video.content) < 100_000
    assert video.headers["accept-ranges"] == "bytes" and video.headers["etag"]
    assert api.get(clip["videoUrl"]).content == video.content  # rendered once, then served from the cache
    cover = api.get(clip["imageUrl"])
    assert cover.headers["content-type"] == "image/png"
    assert cover.content.startswith(b"\x89PNG\r\n\x1a\n") and cover.content != cover_image()


def test_assets_are_small() -> None:
    """The shipped sample and cover (served without ffmpeg) stay small."""
    assert len(sample_video()) + len(cover_image()) < 200_000


def test_served_video_is_a_valid_h264_mp4(api: httpx.Client, clip: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    target.write_bytes(api.get(clip["videoUrl"]).content)
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
            target,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "h264,1280,720"


def test_head_gives_headers_without_body(api: httpx.Client, clip: dict[str, Any]) -> None:
    head = api.head(clip["videoUrl"])  # a HEAD first: the clip is rendered to know its length
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(api.get(clip["videoUrl"]).content)
    assert head.headers["content-type"] == "video/mp4"
    ranged = api.head(clip["videoUrl"], headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.headers["content-length"] == "10"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-10", -10, None), ("bytes=5-999999", 5, None)],
)
def test_range_requests(
    api: httpx.Client, clip: dict[str, Any], clip_bytes: bytes, header: str, start: int, end: int | None
) -> None:
    data = clip_bytes
    size = len(data)
    response = api.get(clip["videoUrl"], headers={"Range": header})
    assert response.status_code == 206
    expected = data[start : None if end is None else end + 1]
    assert response.content == expected
    first = start if start >= 0 else size + start
    assert response.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{size}"
    assert int(response.headers["content-length"]) == len(expected)


def test_unsatisfiable_and_ignored_ranges(api: httpx.Client, clip: dict[str, Any], clip_bytes: bytes) -> None:
    size = len(clip_bytes)
    past_end = api.get(clip["videoUrl"], headers={"Range": f"bytes={size}-"})
    assert past_end.status_code == 416 and past_end.headers["content-range"] == f"bytes */{size}"
    multi = api.get(clip["videoUrl"], headers={"Range": "bytes=0-1,5-6"})
    assert multi.status_code == 200 and len(multi.content) == size
    garbage = api.get(clip["videoUrl"], headers={"Range": "pages=1"})
    assert garbage.status_code == 200


def test_media_is_404_before_success_and_for_unknown_tasks(
    kie: Any, api: httpx.Client, emu: RunningEmulator
) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate_id()
    assert api.get(f"/media/{task_id}.mp4").status_code == 404
    assert api.get("/media/not-a-task.mp4").status_code == 404
    assert api.get(f"/media/{task_id}.gif").status_code == 404
    emu.advance_time(75)
    assert api.get(f"/media/{task_id}.mp4").status_code == 200


def test_media_expires_after_retention(kie: Any, api: httpx.Client, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate_id()
    emu.advance_time(75)
    record = kie.record(task_id)
    assert record["expireFlag"] == 0
    emu.advance_time(FOURTEEN_DAYS)
    record = kie.record(task_id)
    assert record["state"] == "success" and record["expireFlag"] == 1
    assert api.get(record["videoInfo"]["videoUrl"]).status_code == 404
    assert api.head(record["videoInfo"]["imageUrl"]).status_code == 404


def test_aleph_media_expires_too(kie: Any, api: httpx.Client, emu: RunningEmulator) -> None:
    task_id = kie.aleph().json()["data"]["taskId"]
    url = kie.wait_aleph(task_id)["response"]["resultVideoUrl"]
    assert api.get(url).status_code == 200
    emu.advance_time(FOURTEEN_DAYS)
    assert api.get(url).status_code == 404


def test_synthetic_bodies_stream_with_length_and_ranges(api: httpx.Client) -> None:
    size = 1_000_003
    full = api.get(f"/media/synthetic/{size}.mp4")
    assert full.status_code == 200 and int(full.headers["content-length"]) == size == len(full.content)
    assert full.content[:4] == bytes([0, 1, 2, 3]) and full.content[256] == 0
    part = api.get(f"/media/synthetic/{size}.mp4", headers={"Range": "bytes=500000-500099"})
    assert part.status_code == 206 and part.content == full.content[500000:500100]
    head = api.head(f"/media/synthetic/{size}.mp4")
    assert head.content == b"" and int(head.headers["content-length"]) == size
    assert api.get("/media/synthetic/0.mp4").content == b""


def test_large_synthetic_download_streams(api: httpx.Client) -> None:
    size = 64 * 1024 * 1024
    received = 0
    with api.stream("GET", f"/media/synthetic/{size}.mp4") as response:
        assert int(response.headers["content-length"]) == size
        for chunk in response.iter_raw():
            received += len(chunk)
    assert received == size


def test_download_url_returns_a_working_link_that_expires(
    api: httpx.Client, kie: Any, emu: RunningEmulator
) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate_id()
    emu.advance_time(75)
    video_url = kie.record(task_id)["videoInfo"]["videoUrl"]
    answer = api.post("/api/v1/common/download-url", json={"url": video_url}).json()
    assert answer["code"] == 200 and isinstance(answer["data"], str)
    link = answer["data"]
    assert link != video_url and link.endswith(".mp4")
    fetched = api.get(link)
    assert fetched.status_code == 200 and fetched.content == api.get(video_url).content
    assert api.get(link, headers={"Range": "bytes=0-3"}).status_code == 206
    emu.advance_time(20 * 60 - 1)
    assert api.get(link).status_code == 200
    emu.advance_time(1)
    assert api.get(link).status_code == 403
    # A fresh link can be minted while the media lives.
    fresh = api.post("/api/v1/common/download-url", json={"url": video_url}).json()["data"]
    assert api.get(fresh).status_code == 200
    assert api.get(f"{emu.base_url}/media/dl/unknown-token/x.mp4").status_code == 404
    assert emu.stats().download_links == 2


@pytest.mark.parametrize(
    "url",
    [
        "https://file.com/k/xxxxxxx.mp4",
        "not a url",
        "{base}/media/00000000-0000-0000-0000-000000000000.mp4",
        "{base}/api/v1/chat/credit",
        "http://other-host:1234/media/{task_id}.mp4",
    ],
)
def test_download_url_refuses_foreign_urls(
    api: httpx.Client, kie: Any, emu: RunningEmulator, url: str
) -> None:
    task_id = kie.generate_id()
    kie.wait_runway(task_id)
    answer = api.post(
        "/api/v1/common/download-url", json={"url": url.format(base=emu.base_url, task_id=task_id)}
    ).json()
    assert answer["code"] == 422 and answer["msg"].startswith("url")


def test_download_url_needs_a_live_file(api: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate_id()
    url = f"{emu.base_url}/media/{task_id}.mp4"
    assert api.post("/api/v1/common/download-url", json={"url": url}).json()["code"] == 422  # not done yet
    assert api.post("/api/v1/common/download-url", json={}).json()["code"] == 422
    emu.advance_time(75 + FOURTEEN_DAYS)
    assert api.post("/api/v1/common/download-url", json={"url": url}).json()["code"] == 422  # expired


def test_download_url_for_synthetic_bodies(api: httpx.Client, emu: RunningEmulator) -> None:
    url = f"{emu.base_url}/media/synthetic/1000.mp4"
    link = api.post("/api/v1/common/download-url", json={"url": url}).json()["data"]
    assert len(api.get(link).content) == 1000
