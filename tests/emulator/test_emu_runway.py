"""Runway generate, record-detail and extend: KIE's rules, shapes and lifecycle."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import FaultRule
from airflow_provider_kie.emulator.server import RunningEmulator

LONG = "x" * 1801


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prompt": None}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": LONG}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"duration": None}, "duration"),
        ({"duration": 7}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"duration": True}, "duration"),
        ({"quality": None}, "quality"),
        ({"quality": "4k"}, "quality"),
        ({"quality": "1080p", "duration": 10}, "quality"),
        ({"aspectRatio": None}, "aspectRatio"),
        ({"aspectRatio": "21:9"}, "aspectRatio"),
        ({"imageUrl": "ftp://example.com/a.png"}, "imageUrl"),
        ({"imageUrl": "not a url"}, "imageUrl"),
        ({"callBackUrl": "example.com/cb"}, "callBackUrl"),
        ({"waterMark": 5}, "waterMark"),
    ],
)
def test_generate_validation_is_a_body_422_naming_the_field(
    kie: Any, emu: RunningEmulator, overrides: dict[str, Any], field: str
) -> None:
    response = kie.generate(**overrides)
    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == 422 and answer["data"] is None
    assert answer["msg"].startswith(field), answer["msg"]
    stats = emu.stats()
    assert stats.submissions_accepted == 0 and stats.rejections_by_code == {422: 1}
    assert stats.credits_charged == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"prompt": "x" * 1800},
        {"quality": "1080p", "duration": 5},
        {"quality": "720p", "duration": 10},
        {"duration": 5.0},
        {"imageUrl": "https://example.com/a.png", "aspectRatio": None},
        # aspectRatio is ignored (not even validated) when imageUrl is given
        {"imageUrl": "https://example.com/a.png", "aspectRatio": "weird"},
        {"imageUrl": ""},  # KIE's own examples send an empty imageUrl for text-to-video
        {"waterMark": "kie.ai", "callBackUrl": "http://127.0.0.1:9/cb"},
        {"model": "runway-duration-5-generate", "seed": 11111},  # unknown fields are ignored
    ],
)
def test_generate_accepts_valid_variants(kie: Any, overrides: dict[str, Any]) -> None:
    answer = kie.generate(**overrides).json()
    assert answer == {"code": 200, "msg": "success", "data": {"taskId": answer["data"]["taskId"]}}


def test_malformed_json_body_is_code_400(api: httpx.Client) -> None:
    answer = api.post("/api/v1/runway/generate", content=b"{not json").json()
    assert answer["code"] == 400
    answer = api.post("/api/v1/runway/generate", json=["a", "list"]).json()
    assert answer["code"] == 400


def test_image_to_video_reports_the_image_ratio(kie: Any, emu: RunningEmulator) -> None:
    task_id = kie.generate_id(imageUrl="https://example.com/a.png", aspectRatio="9:16")
    snapshot = emu.state.snapshot(task_id)
    assert snapshot is not None and snapshot.aspect_ratio is None  # taken from the image, not the request
    record = kie.record(task_id)
    assert record["generateParam"]["imageUrl"] == "https://example.com/a.png"


def test_lifecycle_on_kie_time_with_time_travel(kie: Any, emu: RunningEmulator) -> None:
    """At time_scale 1 a task waits 5 s, queues 10 s, generates 60 s: jump through each phase."""
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate_id(prompt="phases")
    record = kie.record(task_id)
    assert record["state"] == "wait"
    assert record["videoInfo"] is None and record["failCode"] == "" and record["failMsg"] == ""
    assert record["parentTaskId"] == "" and record["expireFlag"] == 0
    assert record["generateParam"] == {"prompt": "phases", "imageUrl": "", "expandPrompt": False}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", record["generateTime"])
    emu.advance_time(5)
    assert kie.record(task_id)["state"] == "queueing"
    emu.advance_time(10)
    assert kie.record(task_id)["state"] == "generating"
    emu.advance_time(60)
    record = kie.record(task_id)
    assert record["state"] == "success"
    assert set(record) == {
        "taskId",
        "parentTaskId",
        "generateParam",
        "state",
        "generateTime",
        "videoInfo",
        "failCode",
        "failMsg",
        "expireFlag",
    }
    info = record["videoInfo"]
    assert set(info) == {"videoId", "taskId", "videoUrl", "imageUrl"}
    assert info["taskId"] == task_id
    assert info["videoUrl"] == f"{emu.base_url}/media/{task_id}.mp4"
    assert info["imageUrl"] == f"{emu.base_url}/media/{task_id}.png"


def test_lifecycle_with_time_scaling_reaches_success(kie: Any, wait: Any) -> None:
    task_id = kie.generate_id()
    order = ["wait", "queueing", "generating", "success"]
    seen: list[str] = []

    def finished() -> bool:
        state = kie.record(task_id)["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return bool(state == "success")

    wait(finished)
    assert seen == sorted(seen, key=order.index)


def test_record_detail_errors(api: httpx.Client, kie: Any) -> None:
    missing = api.get("/api/v1/runway/record-detail").json()
    assert missing["code"] == 422 and missing["msg"].startswith("taskId")
    unknown = api.get("/api/v1/runway/record-detail", params={"taskId": "no-such-task"}).json()
    assert unknown == {"code": 422, "msg": "recordInfo is null", "data": None}
    aleph_id = kie.aleph().json()["data"]["taskId"]
    other_family = api.get("/api/v1/runway/record-detail", params={"taskId": aleph_id}).json()
    assert other_family["msg"] == "recordInfo is null"


def test_extend_requires_a_succeeded_parent(kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    unknown = kie.extend("no-such-task").json()
    assert unknown["code"] == 422 and unknown["msg"].startswith("taskId")
    parent = kie.generate_id(aspectRatio="9:16")
    running = kie.extend(parent).json()
    assert running["code"] == 422 and "state is wait" in running["msg"]
    emu.advance_time(75)
    child = kie.extend(parent).json()
    assert child["code"] == 200
    child_id = child["data"]["taskId"]
    record = kie.record(child_id)
    assert record["parentTaskId"] == parent and record["state"] == "wait"
    snapshot = emu.state.snapshot(child_id)
    assert snapshot is not None and snapshot.aspect_ratio == "9:16" and snapshot.kind == "extend"


def test_extensions_chain(kie: Any, wait: Any) -> None:
    first = kie.generate_id()
    kie.wait_runway(first)
    second = kie.extend(first).json()["data"]["taskId"]
    kie.wait_runway(second)
    third = kie.extend(second, quality="1080p").json()["data"]["taskId"]
    record = kie.wait_runway(third)
    assert record["state"] == "success" and record["parentTaskId"] == second


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"taskId": None}, "taskId"), ({"prompt": None}, "prompt"), ({"quality": None}, "quality")],
)
def test_extend_field_rules(kie: Any, overrides: dict[str, Any], field: str) -> None:
    answer = kie.extend("whatever", **overrides).json()
    assert answer["code"] == 422 and answer["msg"].startswith(field)


def test_failed_and_expired_parents_cannot_be_extended(kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("moderation", words=("forbidden",)))
    failed = kie.generate_id(prompt="something forbidden")
    assert kie.wait_runway(failed)["state"] == "fail"
    answer = kie.extend(failed).json()
    assert answer["code"] == 422 and "state is fail" in answer["msg"]
    done = kie.generate_id()
    kie.wait_runway(done)
    emu.advance_time(14 * 24 * 3600)
    answer = kie.extend(done).json()
    assert answer["code"] == 422 and "expired" in answer["msg"]


def test_extend_is_charged_at_its_own_price(kie: Any, emu: RunningEmulator) -> None:
    parent = kie.generate_id()
    kie.wait_runway(parent)
    kie.extend(parent, quality="1080p")
    stats = emu.stats()
    assert stats.credits_charged == 12 + 30
    assert stats.accepted_by_kind == {"generate": 1, "extend": 1}
