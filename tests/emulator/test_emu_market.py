"""The Market catalogue: per-model input rules and prices as KIE documents them, several results, expiry."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import SubmissionKind
from airflow_provider_kie.emulator.market_catalogue import CATALOGUE
from airflow_provider_kie.emulator.render import embedded_task_id
from airflow_provider_kie.emulator.server import RunningEmulator

CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"
IMG = "https://example.com/in.png"
DAY = 24 * 3600


def _create(api: httpx.Client, model: str, model_input: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return dict(api.post(CREATE, json={"model": model, "input": model_input, **extra}).json())


def _record(api: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = api.get(RECORD, params={"taskId": task_id}).json()
    assert answer["code"] == 200, answer
    return dict(answer["data"])


def _done(api: httpx.Client, wait: Any, task_id: str) -> dict[str, Any]:
    return dict(wait(lambda: (r := _record(api, task_id))["state"] in ("success", "fail") and r))


KLING_T2V = {"prompt": "a fox", "sound": False, "aspect_ratio": "16:9", "duration": "5"}


@pytest.mark.parametrize(
    ("model", "model_input", "message"),
    [
        ("kling-2.6/text-to-video", {**KLING_T2V, "sound": None}, "input.sound is required"),
        ("kling-2.6/text-to-video", {**KLING_T2V, "duration": 5}, "input.duration must be one of '5', '10'"),
        (
            "kling-2.6/text-to-video",
            {**KLING_T2V, "aspect_ratio": "4:3"},
            "input.aspect_ratio must be one of",
        ),
        ("kling-2.6/text-to-video", {**KLING_T2V, "prompt": "x" * 1001}, "input.prompt must be at most 1000"),
        ("kling-2.6/text-to-video", {**KLING_T2V, "sound": "false"}, "input.sound must be a boolean"),
        ("kling-2.6/text-to-video", {**KLING_T2V, "prompt": "  "}, "input.prompt is required"),
        (
            "kling-2.6/image-to-video",
            {"prompt": "p", "image_urls": [IMG, IMG], "sound": True, "duration": "5"},
            "input.image_urls takes at most 1",
        ),
        (
            "kling-2.6/image-to-video",
            {"prompt": "p", "image_urls": ["/tmp/a.png"], "sound": True, "duration": "5"},
            "input.image_urls.0 must be an http(s) URL",
        ),
        ("kling/v2-1-pro", {"prompt": "p"}, "input.image_url is required"),
        (
            "kling/v2-5-turbo-text-to-video-pro",
            {"prompt": "p", "cfg_scale": 2},
            "input.cfg_scale must be <= 1",
        ),
        ("sora-2-text-to-video", {"prompt": "p", "n_frames": "12"}, "input.n_frames must be one of"),
        ("sora-2-image-to-video", {"prompt": "p"}, "input.image_urls is required"),
        ("sora-2-pro-text-to-video", {"prompt": "p", "size": "hd"}, "input.size must be one of"),
        ("wan/2-6-text-to-video", {"prompt": "p", "resolution": "480p"}, "input.resolution must be one of"),
        ("wan/2-5-text-to-video", {"prompt": "p"}, "input.duration is required"),
        ("wan/2-2-a14b-text-to-video-turbo", {"prompt": "p", "seed": -1}, "input.seed must be >= 0"),
        (
            "hailuo/2-3-image-to-video-pro",
            {"prompt": "p", "image_url": IMG, "resolution": "1080P", "duration": "10"},
            "input.resolution: 1080P does not support a 10 s video",
        ),
        ("hailuo/02-image-to-video-standard", {"prompt": "p"}, "input.image_url is required"),
        (
            "bytedance/seedance-1.5-pro",
            {"prompt": "a cat", "aspect_ratio": "16:9", "duration": 13},
            "input.duration must be <= 12",
        ),
        ("bytedance/seedance-1.5-pro", {"prompt": "a cat", "duration": 8}, "input.aspect_ratio is required"),
        ("bytedance/v1-lite-text-to-video", {"prompt": "p", "aspect_ratio": "21:9"}, "input.aspect_ratio"),
        ("grok-imagine/image-to-video", {"prompt": "p"}, "input.image_urls: give exactly one of"),
        (
            "grok-imagine/image-to-video",
            {"image_urls": [IMG], "task_id": "task_grok_1"},
            "input.image_urls: give exactly one of",
        ),
        (
            "grok-imagine/image-to-video",
            {"image_urls": [IMG], "mode": "spicy"},
            "input.mode: spicy is not available with external images",
        ),
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": 40}, "input.duration must be <= 30"),
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": "six"}, "input.duration must be a number"),
        ("topaz/video-upscale", {"upscale_factor": "2"}, "input.video_url is required"),
        (
            "topaz/video-upscale",
            {"video_url": IMG, "upscale_factor": 2},
            "input.upscale_factor must be one of",
        ),
    ],
)
def test_catalogue_models_are_checked_like_kie(
    api: httpx.Client, emu: RunningEmulator, model: str, model_input: dict[str, Any], message: str
) -> None:
    answer = _create(api, model, model_input)
    assert answer["code"] == 422 and answer["msg"].startswith(message), answer
    stats = emu.stats()
    assert stats.rejections_by_code == {422: 1} and stats.credits_charged == 0


@pytest.mark.parametrize(
    ("model", "model_input"),
    [
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": "6"}),  # the page's own example
        ("grok-imagine/image-to-video", {"task_id": "task_grok_1", "index": 2, "mode": "spicy"}),
        ("kling/v2-1-pro", {"prompt": "p", "image_url": IMG, "tail_image_url": ""}),  # "" = none, as KIE's
        ("kling-2.6/text-to-video", {**KLING_T2V, "not_documented": 1}),  # unknown fields are ignored
        ("vendor/any-model", {"whatever": [1, 2, 3]}),  # KIE's long tail
        ("m", {}),
    ],
)
def test_accepted_inputs(api: httpx.Client, model: str, model_input: dict[str, Any]) -> None:
    answer = _create(api, model, model_input)
    assert answer["code"] == 200, answer


@pytest.mark.parametrize(
    ("model", "model_input", "credits"),
    [
        ("kling-2.6/text-to-video", KLING_T2V, 55),
        ("kling-2.6/text-to-video", {**KLING_T2V, "sound": True, "duration": "10"}, 220),
        (
            "kling-2.6/image-to-video",
            {"prompt": "p", "image_urls": [IMG], "sound": False, "duration": "5"},
            55,
        ),
        ("kling/v2-5-turbo-text-to-video-pro", {"prompt": "p"}, 42),
        ("kling/v2-1-master-text-to-video", {"prompt": "p", "duration": "10"}, 320),
        ("kling/v2-1-standard", {"prompt": "p", "image_url": IMG}, 25),
        ("sora-2-text-to-video", {"prompt": "p"}, 30),
        ("sora-2-text-to-video", {"prompt": "p", "n_frames": "15"}, 45),
        ("sora-2-pro-text-to-video", {"prompt": "p", "n_frames": "15", "size": "high"}, 300),
        ("wan/2-6-text-to-video", {"prompt": "p"}, 105),  # 5 s at the default 1080p: $0.5225, rounded up
        ("wan/2-5-text-to-video", {"prompt": "p", "duration": "10", "resolution": "1080p"}, 200),
        ("wan/2-2-a14b-text-to-video-turbo", {"prompt": "p", "resolution": "480p"}, 40),
        ("hailuo/02-text-to-video-pro", {"prompt": "p"}, 57),
        ("hailuo/02-image-to-video-standard", {"prompt": "p", "image_url": IMG, "resolution": "512P"}, 20),
        ("hailuo/2-3-image-to-video-pro", {"prompt": "p", "image_url": IMG, "resolution": "1080P"}, 80),
        (
            "bytedance/seedance-1.5-pro",
            {
                "prompt": "a cat",
                "aspect_ratio": "16:9",
                "duration": 8,
                "resolution": "1080p",
                "generate_audio": True,
            },
            120,
        ),
        ("bytedance/v1-pro-text-to-video", {"prompt": "p"}, 30),
        ("grok-imagine/text-to-video", {"prompt": "p"}, 10),  # 6 s at 480p, $0.008/s, rounded up
        ("grok-imagine/text-to-video", {"prompt": "p", "resolution": "720p", "duration": 10}, 30),
        ("topaz/video-upscale", {"video_url": IMG, "upscale_factor": "4"}, 70),
        ("grok-imagine/text-to-image", {"prompt": "p"}, 4),
        ("vendor/unknown-video", {"prompt": "p"}, 20),
    ],
)
def test_per_model_costs(
    api: httpx.Client, emu: RunningEmulator, model: str, model_input: dict[str, Any], credits: int
) -> None:
    task_id = _create(api, model, model_input)["data"]["taskId"]
    (task,) = emu.tasks()
    assert task.task_id == task_id and task.cost == credits and task.model == model
    stats = emu.stats()
    assert stats.credits_charged == credits and stats.credits_balance == emu.config.initial_credits - credits


def test_configured_costs_win_and_refusals_cost_nothing(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.reconfigure(costs={(SubmissionKind.JOBS, 0, "kling-2.6/text-to-video"): 3})
    _create(api, "kling-2.6/text-to-video", KLING_T2V)
    assert emu.stats().credits_charged == 3
    emu.reconfigure(costs={})  # back to the catalogue's prices
    emu.set_credits(100)
    answer = _create(api, "kling-2.6/text-to-video", {**KLING_T2V, "sound": True, "duration": "10"})
    assert answer["code"] == 402 and emu.stats().credits_balance == 100


def test_task_ids_have_kies_market_shape_and_serve_media(
    api: httpx.Client, emu: RunningEmulator, wait: Any
) -> None:
    ids = [_create(api, "kling-2.6/text-to-video", KLING_T2V)["data"]["taskId"] for _ in range(3)]
    assert all(re.fullmatch(r"task_kling-2\.6_\d{13,}", task_id) for task_id in ids)
    assert len(set(ids)) == 3  # unique even within one millisecond
    (url,) = json.loads(_done(api, wait, ids[0])["resultJson"])["resultUrls"]
    assert url == f"{emu.base_url}/media/{ids[0]}.mp4"
    assert embedded_task_id(api.get(url).content) == ids[0]
    link = api.post("/api/v1/common/download-url", json={"url": url}).json()
    assert link["code"] == 200 and api.get(link["data"]).status_code == 200


def test_record_times_and_cost_time(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = _create(api, "sora-2-text-to-video", {"prompt": "p"})["data"]["taskId"]
    running = _record(api, task_id)
    assert running["state"] == "waiting" and running["costTime"] is None and running["completeTime"] is None
    emu.advance_time(15)
    assert _record(api, task_id)["state"] == "generating"
    emu.advance_time(60)
    done = _record(api, task_id)
    assert done["state"] == "success" and done["costTime"] == done["completeTime"] - done["createTime"]
    assert done["costTime"] == pytest.approx(75_000, abs=5) and done["updateTime"] == done["completeTime"]
    assert json.loads(done["param"]) == {"model": "sora-2-text-to-video", "input": {"prompt": "p"}}


def test_several_results_from_the_config(
    api: httpx.Client, emu: RunningEmulator, wait: Any, probe: Any
) -> None:
    emu.reconfigure(market_outputs={"kling-2.6/text-to-video": 3})
    task_id = _create(api, "kling-2.6/text-to-video", {**KLING_T2V, "aspect_ratio": "9:16"})["data"]["taskId"]
    urls = json.loads(_done(api, wait, task_id)["resultJson"])["resultUrls"]
    base = f"{emu.base_url}/media/{task_id}"
    assert urls == [f"{base}.mp4", f"{base}/1.mp4", f"{base}/2.mp4"]
    bodies = [api.get(url).content for url in urls]
    assert len(set(bodies)) == 3 and {embedded_task_id(b) for b in bodies} == {task_id}
    assert {(p.width, p.height) for p in map(probe, bodies)} == {(720, 1280)}
    assert api.get(f"{base}/3.mp4").status_code == 404
    (snapshot,) = emu.tasks()
    assert snapshot.result_urls == tuple(urls) and snapshot.cost == 55  # one task, one price


def test_one_count_for_every_market_model(api: httpx.Client, emu: RunningEmulator, wait: Any) -> None:
    emu.reconfigure(market_results_per_task=2, market_outputs={"sora-2-text-to-video": 4})
    counts = {}
    for model, model_input in (("vendor/new-video", {}), ("sora-2-text-to-video", {"prompt": "p"})):
        task_id = _create(api, model, model_input)["data"]["taskId"]
        counts[model] = len(json.loads(_done(api, wait, task_id)["resultJson"])["resultUrls"])
    assert counts == {"vendor/new-video": 2, "sora-2-text-to-video": 4}
    with pytest.raises(ValueError):
        emu.reconfigure(market_results_per_task=0)


def test_several_results_at_runtime(
    api: httpx.Client, emu: RunningEmulator, wait: Any, callback_receiver: Any
) -> None:
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        assert admin.post("/_emulator/outputs", json={"model": "*", "count": 2}).json() == {
            "model": "*",
            "count": 2,
        }
        assert admin.post("/_emulator/outputs", json={"model": "*", "count": 0}).status_code == 400
        assert admin.post("/_emulator/outputs", json={"count": 2}).status_code == 400
    task_id = _create(api, "vendor/some-video", {"prompt": "p"}, callBackUrl=callback_receiver.url)["data"][
        "taskId"
    ]
    (received,) = callback_receiver.wait_for(1)
    assert received.body["data"]["taskId"] == task_id
    assert len(json.loads(received.body["data"]["resultJson"])["resultUrls"]) == 2
    assert received.body["data"]["costTime"] is not None
    emu.set_market_outputs("*", None)
    other = _create(api, "vendor/some-video", {"prompt": "p"})["data"]["taskId"]
    assert len(json.loads(_done(api, wait, other)["resultJson"])["resultUrls"]) == 1
    emu.set_market_outputs("vendor/some-video", 4)
    emu.reset()  # runtime overrides go with the account
    last = _create(api, "vendor/some-video", {"prompt": "p"})["data"]["taskId"]
    assert len(json.loads(_done(api, wait, last)["resultJson"])["resultUrls"]) == 1


def test_market_results_expire_after_a_day(api: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = _create(api, "kling-2.6/text-to-video", KLING_T2V)["data"]["taskId"]
    runway_id = kie.generate_id()
    emu.advance_time(75)
    (url,) = json.loads(_record(api, task_id)["resultJson"])["resultUrls"]
    assert api.get(url).status_code == 200
    emu.advance_time(DAY - 1)
    assert api.head(url).status_code == 200
    emu.advance_time(1)
    assert api.get(url).status_code == 404
    assert api.post("/api/v1/common/download-url", json={"url": url}).json()["code"] == 422
    assert _record(api, task_id)["state"] == "success"  # the record stays; only its files are gone
    assert api.get(kie.record(runway_id)["videoInfo"]["videoUrl"]).status_code == 200  # Runway keeps 14 days


def test_catalogue_is_listed(emu: RunningEmulator) -> None:
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        listed = admin.get("/_emulator/catalogue").json()
    assert {entry["model"] for entry in listed} == set(CATALOGUE)
    assert all(entry["doc_url"].startswith("https://docs.kie.ai/market/") for entry in listed)
    families = {entry["family"] for entry in listed}
    assert families == {"kling", "sora2", "wan", "hailuo", "seedance", "grok-imagine", "topaz"}
    kling = next(entry for entry in listed if entry["model"] == "kling-2.6/text-to-video")
    assert {f["name"] for f in kling["fields"] if f["required"]} == {
        "prompt",
        "sound",
        "aspect_ratio",
        "duration",
    }
