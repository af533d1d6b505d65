"""Veo 3.1: generate, record-info, 1080P and 4K upgrades (with the 422 repeat), extend, callbacks, costs."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import FaultRule
from airflow_provider_kie.emulator.server import RunningEmulator

GENERATE = "/api/v1/veo/generate"
EXTEND = "/api/v1/veo/extend"
RECORD = "/api/v1/veo/record-info"
GET_1080P = "/api/v1/veo/get-1080p-video"
GET_4K = "/api/v1/veo/get-4k-video"
IMG = "https://example.com/frame.png"
#: KIE seconds until a Veo task is done with the default timeline (5 + 10 + 105).
VEO_DONE_S = 120
MSG_1080P = "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly."
MSG_4K = "4k is processing. It should be ready in 5-10 minutes. Please check back shortly."


def _generate(api: httpx.Client, **body: Any) -> dict[str, Any]:
    return dict(api.post(GENERATE, json={"prompt": "a dog in a park", **body}).json())


def _task(api: httpx.Client, **body: Any) -> str:
    answer = _generate(api, **body)
    assert answer["code"] == 200, answer
    return str(answer["data"]["taskId"])


def _record(api: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = api.get(RECORD, params={"taskId": task_id}).json()
    assert answer["code"] == 200, answer
    return dict(answer["data"])


def _settled(api: httpx.Client, wait: Any, task_id: str) -> dict[str, Any]:
    return dict(wait(lambda: (r := _record(api, task_id))["successFlag"] != 0 and r))


@pytest.fixture
def slow(emu: RunningEmulator) -> RunningEmulator:
    """KIE's real clock, moved by hand with ``advance_time``."""
    emu.reconfigure(time_scale=1.0)
    return emu


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": None}, "prompt is required"),
        ({"model": "veo4"}, "model must be one of veo3, veo3_fast, veo3_lite"),
        ({"generationType": "TEXT_2_VIDEO", "imageUrls": [IMG]}, "imageUrls: TEXT_2_VIDEO takes no images"),
        (
            {"generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO", "imageUrls": [IMG] * 3},
            "imageUrls: FIRST_AND_LAST_FRAMES_2_VIDEO takes 1-2 image(s) (got 3)",
        ),
        (
            {"generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"},
            "imageUrls: FIRST_AND_LAST_FRAMES_2_VIDEO takes 1-2 image(s) (got 0)",
        ),
        (
            {"generationType": "REFERENCE_2_VIDEO", "imageUrls": [IMG] * 4},
            "imageUrls: REFERENCE_2_VIDEO takes 1-3 image(s) (got 4)",
        ),
        (
            {"generationType": "REFERENCE_2_VIDEO", "imageUrls": [IMG], "model": "veo3"},
            "model: REFERENCE_2_VIDEO is only available with veo3_fast, veo3_lite",
        ),
        (
            {"generationType": "REFERENCE_2_VIDEO", "imageUrls": [IMG], "aspect_ratio": "Auto"},
            "aspect_ratio: REFERENCE_2_VIDEO supports 16:9 and 9:16 only",
        ),
        (
            {"generationType": "REFERENCE_2_VIDEO", "imageUrls": [IMG], "duration": 6},
            "duration: REFERENCE_2_VIDEO supports 8 s only",
        ),
        ({"generationType": "IMAGE_2_VIDEO"}, "generationType must be one of"),
        ({"aspect_ratio": "1:1"}, "aspect_ratio must be one of 16:9, 9:16, Auto"),
        ({"resolution": "8k"}, "resolution must be one of 720p, 1080p, 4k"),
        ({"duration": 5}, "duration must be one of 4, 6, 8"),
        ({"duration": "8"}, "duration must be an integer"),
        ({"seeds": 123}, "seeds must be between 10000 and 99999"),
        ({"imageUrls": IMG}, "imageUrls must be a list of URLs"),
        ({"imageUrls": ["ftp://example.com/a.png"]}, "imageUrls.0 must be an http(s) URL"),
        ({"enableTranslation": "yes"}, "enableTranslation must be a boolean"),
        ({"watermark": 1}, "watermark must be a string"),
        ({"callBackUrl": "nope"}, "callBackUrl must be an http(s) URL"),
    ],
)
def test_generate_rules(api: httpx.Client, emu: RunningEmulator, body: dict[str, Any], message: str) -> None:
    answer = _generate(api, **body)
    assert answer["code"] == 422 and answer["msg"].startswith(message) and answer["data"] is None
    assert emu.stats().credits_charged == 0


@pytest.mark.parametrize(
    "body",
    [
        {"generationType": "REFERENCE_2_VIDEO", "imageUrls": [IMG] * 3, "model": "veo3_lite"},
        {"generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO", "imageUrls": [IMG, IMG], "model": "veo3"},
        {"aspect_ratio": "Auto", "duration": 4, "seeds": 12345, "enableFallback": False, "watermark": "Me"},
    ],
)
def test_generate_accepts_documented_combinations(api: httpx.Client, body: dict[str, Any]) -> None:
    assert _generate(api, **body)["code"] == 200


def test_the_ratio_is_read_under_the_documented_name_only(api: httpx.Client, emu: RunningEmulator) -> None:
    # https://docs.kie.ai/veo3-api/generate-veo-3-video names it ``aspect_ratio``; ``aspectRatio`` is not a
    # field of that page, so KIE ignores it like any undocumented field and the default 16:9 applies.
    documented = _task(api, aspect_ratio="9:16")
    camel_case = _task(api, aspectRatio="9:16")
    ratios = {task.task_id: task.aspect_ratio for task in emu.tasks()}
    assert (ratios[documented], ratios[camel_case]) == ("9:16", "16:9")


def test_generate_lifecycle_and_record(api: httpx.Client, slow: RunningEmulator) -> None:
    sent = {"prompt": "a dog in a park", "imageUrls": [IMG], "watermark": "MyBrand"}
    task_id = _task(api, **{k: v for k, v in sent.items() if k != "prompt"})
    assert re.fullmatch(r"veo_task_[0-9a-f]{16}", task_id)
    running = _record(api, task_id)
    assert running["successFlag"] == 0 and running["response"] is None and running["completeTime"] is None
    assert running["errorCode"] is None and running["errorMessage"] == "" and running["fallbackFlag"] is False
    assert json.loads(running["paramJson"]) == sent
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", running["createTime"])
    slow.advance_time(VEO_DONE_S - 1)
    assert _record(api, task_id)["successFlag"] == 0
    slow.advance_time(1)
    done = _record(api, task_id)
    base = f"{slow.base_url}/media/{task_id}"
    assert done["successFlag"] == 1 and done["completeTime"] >= done["createTime"]
    assert done["response"] == {
        "taskId": task_id,
        "resultUrls": [f"{base}.mp4"],
        "originUrls": [f"{base}/origin.mp4"],
        "resolution": "720p",
        "fullResultUrls": [f"{base}.mp4"],
    }
    assert api.get(f"{base}.mp4").status_code == 200 and api.get(f"{base}/origin.mp4").status_code == 200
    assert api.get(f"{base}/1080p.mp4").status_code == 404  # never asked for


@pytest.mark.parametrize(
    ("body", "credits"),
    [
        ({}, 60),  # veo3_fast at 720p, the defaults
        ({"model": "veo3"}, 250),
        ({"model": "veo3_fast", "resolution": "1080p"}, 65),
        ({"model": "veo3_lite", "resolution": "4k"}, 150),
        ({"model": "veo3", "resolution": "4k"}, 370),
    ],
)
def test_generate_costs(api: httpx.Client, emu: RunningEmulator, body: dict[str, Any], credits: int) -> None:
    _task(api, **body)
    assert emu.stats().credits_charged == credits


def test_failures_report_success_flags_2_and_3(api: httpx.Client, emu: RunningEmulator, wait: Any) -> None:
    emu.set_faults(FaultRule("moderation", endpoint=GENERATE, words=("forbidden",)))
    refused = _settled(api, wait, _task(api, prompt="a forbidden scene"))
    assert (
        refused["successFlag"] == 2 and refused["errorCode"] == 400 and "moderator" in refused["errorMessage"]
    )
    assert refused["response"] is None
    emu.set_faults(FaultRule("task_fail", endpoint=GENERATE, fail_code=501, fail_msg="upstream broke"))
    failed = _settled(api, wait, _task(api))
    assert (failed["successFlag"], failed["errorCode"], failed["errorMessage"]) == (3, 501, "upstream broke")
    stats = emu.stats()
    assert stats.refunded_submissions == 2 and stats.credits_spent == 0


def test_1080p_flow(api: httpx.Client, slow: RunningEmulator, probe: Any) -> None:
    task_id = _task(api, aspect_ratio="16:9")
    early = api.get(GET_1080P, params={"taskId": task_id}).json()
    assert early == {"code": 422, "msg": "record status is not success", "data": None}
    slow.advance_time(VEO_DONE_S)
    before = slow.stats().credits_balance
    for _ in range(2):  # the first call starts the work; asking again is no new request
        answer = api.get(GET_1080P, params={"taskId": task_id, "index": 0})
        assert answer.status_code == 200 and answer.json() == {"code": 400, "msg": MSG_1080P, "data": None}
    assert slow.stats().credits_balance == before - 5 and slow.stats().upgrades == {"1080p": 1}
    slow.advance_time(90)
    ready = api.get(GET_1080P, params={"taskId": task_id}).json()
    url = f"{slow.base_url}/media/{task_id}/1080p.mp4"
    assert ready == {"code": 200, "msg": "success", "data": {"resultUrl": url}}
    clip = probe(api.get(url).content)
    assert (clip.width, clip.height) == (1920, 1080) and clip.duration == pytest.approx(8, abs=0.01)
    link = api.post("/api/v1/common/download-url", json={"url": url}).json()
    assert link["code"] == 200 and api.get(link["data"]).status_code == 200
    assert (
        api.get(GET_1080P, params={"taskId": task_id, "index": 1}).json()["msg"]
        == "record result data not exist"
    )
    assert (
        api.get(GET_1080P, params={"taskId": task_id, "index": "x"}).json()["msg"]
        == "index must be an integer"
    )
    assert api.get(GET_1080P, params={"taskId": "nope"}).json() == {
        "code": 422,
        "msg": "record is null",
        "data": None,
    }
    assert api.get(GET_1080P).json()["msg"] == "taskId is required"
    assert slow.stats().credits_balance == before - 5


def test_1080p_of_a_1080p_generation_is_its_result(
    api: httpx.Client, emu: RunningEmulator, wait: Any
) -> None:
    task_id = _task(api, resolution="1080p")
    result = _settled(api, wait, task_id)["response"]
    assert result["resolution"] == "1080p"
    answer = api.get(GET_1080P, params={"taskId": task_id}).json()
    assert answer["data"] == {"resultUrl": result["resultUrls"][0]} and emu.stats().upgrades == {}


def test_4k_flow_with_the_422_repeat_and_its_callback(
    api: httpx.Client, slow: RunningEmulator, callback_receiver: Any, probe: Any
) -> None:
    task_id = _task(api, aspect_ratio="9:16")
    assert api.post(GET_4K, json={"taskId": task_id}).json()["msg"] == "record status is not success"
    slow.advance_time(VEO_DONE_S)
    before = slow.stats().credits_balance
    body = {"taskId": task_id, "index": 0, "callBackUrl": callback_receiver.url}
    empty = {"taskId": task_id, "resultUrls": None, "imageUrls": None}
    assert api.post(GET_4K, json=body).json() == {"code": 200, "msg": "success", "data": empty}
    repeat = api.post(GET_4K, json=body)
    assert repeat.status_code == 200 and repeat.json() == {"code": 422, "msg": MSG_4K, "data": empty}
    assert slow.stats().credits_balance == before - 120 and slow.stats().upgrades == {"4k": 1}
    slow.advance_time(420)
    base = f"{slow.base_url}/media/{task_id}/4k"
    urls = {"resultUrls": [f"{base}.mp4"], "imageUrls": [f"{base}.png"]}
    done = api.post(GET_4K, json={"taskId": task_id}).json()
    assert done == {
        "code": 422,
        "msg": "The video has been generated successfully",
        "data": {"taskId": task_id, **urls},
    }
    (received,) = callback_receiver.wait_for(1)
    assert received.body == {
        "code": 200,
        "msg": "4K Video generated successfully.",
        "data": {"taskId": task_id, "info": urls},
    }
    clip = probe(api.get(f"{base}.mp4").content)
    assert (clip.width, clip.height) == (2160, 3840) and clip.duration == pytest.approx(8, abs=0.01)
    cover = probe(api.get(f"{base}.png").content)
    assert (cover.width, cover.height) == (2160, 3840)
    assert slow.stats().credits_balance == before - 120
    assert _record(api, task_id)["response"]["resultUrls"] == [f"{slow.base_url}/media/{task_id}.mp4"]


def test_4k_unavailable_is_refunded(api: httpx.Client, slow: RunningEmulator, callback_receiver: Any) -> None:
    task_id = _task(api)
    slow.advance_time(VEO_DONE_S)
    slow.set_faults(FaultRule("task_fail", endpoint=GET_4K))
    before = slow.stats().credits_balance
    assert (
        api.post(GET_4K, json={"taskId": task_id, "callBackUrl": callback_receiver.url}).json()["code"] == 200
    )
    slow.advance_time(420)
    failed = api.post(GET_4K, json={"taskId": task_id}).json()
    unavailable = "The 4K version of this video is unavailable. Please try a different video."
    assert failed == {"code": 500, "msg": unavailable, "data": {"taskId": task_id}}
    (received,) = callback_receiver.wait_for(1)
    assert received.body == {"code": 500, "msg": unavailable, "data": {"taskId": task_id}}
    assert slow.stats().credits_balance == before and api.get(f"/media/{task_id}/4k.mp4").status_code == 404


def test_4k_requests_are_checked_and_rate_limited(api: httpx.Client, emu: RunningEmulator) -> None:
    assert api.post(GET_4K, json={}).json() == {"code": 422, "msg": "taskId is required", "data": None}
    assert api.post(GET_4K, json={"taskId": "x", "index": -1}).json()["msg"] == "index must be an integer"
    assert api.post(GET_4K, content=b"{").json()["code"] == 400
    emu.reconfigure(rate_limit=2)
    _task(api)
    assert api.post(GET_4K, json={"taskId": "x"}).json()["msg"] == "record is null"
    limited = api.post(GET_4K, json={"taskId": "x"})
    assert limited.status_code == 429 and limited.json()["code"] == 429


def test_extend_flow(api: httpx.Client, slow: RunningEmulator, kie: Any, probe: Any) -> None:
    parent = _task(api, aspect_ratio="9:16")
    early = api.post(EXTEND, json={"taskId": parent, "prompt": "it keeps running"}).json()
    assert early["code"] == 422 and "only a successfully generated video" in early["msg"]
    slow.advance_time(VEO_DONE_S)
    before = slow.stats().credits_charged
    answer = api.post(
        EXTEND, json={"taskId": parent, "prompt": "it keeps running", "model": "quality"}
    ).json()
    assert answer["code"] == 200 and slow.stats().credits_charged - before == 250
    child = answer["data"]["taskId"]
    assert child != parent and re.fullmatch(r"veo_task_[0-9a-f]{16}", child)
    slow.advance_time(VEO_DONE_S)
    record = _record(api, child)
    base = f"{slow.base_url}/media/{child}"
    assert record["successFlag"] == 1 and record["response"]["resultUrls"] == [f"{base}.mp4"]
    assert record["response"]["fullResultUrls"] == [f"{base}/full.mp4"]
    assert json.loads(record["paramJson"]) == {
        "taskId": parent,
        "prompt": "it keeps running",
        "model": "quality",
    }
    part, whole = (probe(api.get(url).content) for url in (f"{base}.mp4", f"{base}/full.mp4"))
    assert (part.width, part.height, whole.width, whole.height) == (720, 1280, 720, 1280)
    assert part.duration == pytest.approx(8, abs=0.01) and whole.duration == pytest.approx(16, abs=0.01)
    # Extensions chain; the whole video keeps growing.
    grandchild = api.post(EXTEND, json={"taskId": child, "prompt": "and then stops"}).json()["data"]["taskId"]
    slow.advance_time(VEO_DONE_S)
    full = _record(api, grandchild)["response"]["fullResultUrls"][0]
    assert probe(api.get(full).content).duration == pytest.approx(24, abs=0.01)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "more"}, "taskId is required"),
        ({"taskId": "veo_task_x"}, "prompt is required"),
        (
            {"taskId": "veo_task_x", "prompt": "more", "model": "turbo"},
            "model must be one of fast, quality, lite",
        ),
        ({"taskId": "veo_task_x", "prompt": "more", "seeds": 1}, "seeds must be between 10000 and 99999"),
        ({"taskId": "veo_task_x", "prompt": "more"}, "taskId 'veo_task_x' not found"),
    ],
)
def test_extend_rules(api: httpx.Client, body: dict[str, Any], message: str) -> None:
    answer = api.post(EXTEND, json=body).json()
    assert answer["code"] == 422 and answer["msg"].startswith(message)


def test_extend_refuses_foreign_and_upgraded_parents(
    api: httpx.Client, slow: RunningEmulator, kie: Any
) -> None:
    runway_id = kie.generate_id()
    upgraded = _task(api)
    slow.advance_time(VEO_DONE_S)
    answer = api.post(EXTEND, json={"taskId": runway_id, "prompt": "more"}).json()
    assert answer["code"] == 422 and "not found" in answer["msg"]
    api.get(GET_1080P, params={"taskId": upgraded})
    answer = api.post(EXTEND, json={"taskId": upgraded, "prompt": "more"}).json()
    assert answer["code"] == 422 and "1080P" in answer["msg"]
    assert (
        kie.api.post(
            "/api/v1/runway/extend", json={"taskId": upgraded, "prompt": "p", "quality": "720p"}
        ).json()["code"]
        == 422
    )


def test_generation_callbacks(api: httpx.Client, emu: RunningEmulator, callback_receiver: Any) -> None:
    emu.reconfigure(webhook_hmac_key="whsec")
    task_id = _task(api, callBackUrl=callback_receiver.url, resolution="1080p")
    (success,) = callback_receiver.wait_for(1)
    base = f"{emu.base_url}/media/{task_id}"
    assert success.body == {
        "code": 200,
        "msg": "Veo3.1 video generated successfully.",
        "data": {
            "taskId": task_id,
            "promptJson": json.dumps(
                {"prompt": "a dog in a park", "resolution": "1080p", "callBackUrl": callback_receiver.url},
                separators=(",", ":"),
            ),
            "info": {
                "resultUrls": [f"{base}.mp4"],
                "originUrls": [f"{base}/origin.mp4"],
                "resolution": "1080p",
            },
            "fallbackFlag": False,
        },
    }
    assert {k.lower() for k in success.headers} >= {"x-webhook-signature", "x-webhook-timestamp"}
    emu.set_faults(FaultRule("moderation", endpoint=GENERATE))
    failed_id = _task(api, callBackUrl=callback_receiver.url)
    failure = callback_receiver.wait_for(2)[1]
    assert failure.body["code"] == 400 and "moderator" in failure.body["msg"]
    assert failure.body["data"] == {"taskId": failed_id, "fallbackFlag": False}
