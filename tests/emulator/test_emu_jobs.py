"""The unified Market API: ``jobs/createTask`` and ``jobs/recordInfo``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import FaultRule, SubmissionKind
from airflow_provider_kie.emulator.server import RunningEmulator

CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"


def _create(api: httpx.Client, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {"model": "kling/v2-1-standard-video", "input": {"prompt": "a dog surfing"}}
    body.update(overrides)
    return api.post(CREATE, json={k: v for k, v in body.items() if v is not None})


def _record(api: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = api.get(RECORD, params={"taskId": task_id}).json()
    assert answer["code"] == 200, answer
    return dict(answer["data"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"model": None}, "model"),
        ({"model": " "}, "model"),
        ({"input": None}, "input"),
        ({"input": "a dog"}, "input"),
        ({"callBackUrl": "nope"}, "callBackUrl"),
    ],
)
def test_create_task_validation(api: httpx.Client, overrides: dict[str, Any], field: str) -> None:
    answer = _create(api, **overrides).json()
    assert answer["code"] == 422 and answer["msg"].startswith(field)


def test_jobs_lifecycle_and_record_shape(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    sent = {"model": "kling/v2-1-standard-video", "input": {"prompt": "a dog surfing", "duration": "5"}}
    task_id = _create(api, **sent).json()["data"]["taskId"]
    record = _record(api, task_id)
    assert record["state"] == "waiting" and record["resultJson"] == "" and record["completeTime"] is None
    assert json.loads(record["param"]) == sent
    assert record["failCode"] == "" and record["failMsg"] == "" and record["model"] == sent["model"]
    assert isinstance(record["createTime"], int) and record["createTime"] > 1_600_000_000_000
    emu.advance_time(5)
    assert _record(api, task_id)["state"] == "queuing"
    emu.advance_time(10)
    assert _record(api, task_id)["state"] == "generating"
    emu.advance_time(60)
    done = _record(api, task_id)
    assert done["state"] == "success" and done["completeTime"] >= done["createTime"]
    assert done["updateTime"] == done["completeTime"]
    (url,) = json.loads(done["resultJson"])["resultUrls"]
    assert url == f"{emu.base_url}/media/{task_id}.mp4"
    assert api.get(url).headers["content-type"] == "video/mp4"


def test_image_models_produce_pngs(api: httpx.Client, emu: RunningEmulator, wait: Any) -> None:
    task_id = _create(api, model="some-vendor/text-to-image").json()["data"]["taskId"]
    done = wait(lambda: (r := _record(api, task_id))["state"] == "success" and r)
    (url,) = json.loads(done["resultJson"])["resultUrls"]
    assert url.endswith(".png") and api.get(url).headers["content-type"] == "image/png"
    # Grok Imagine's text-to-image is documented with 6 images per task: 6 distinct PNGs.
    grok = _create(api, model="grok-imagine/text-to-image").json()["data"]["taskId"]
    urls = json.loads(wait(lambda: (r := _record(api, grok))["state"] == "success" and r)["resultJson"])[
        "resultUrls"
    ]
    assert len(urls) == 6 and all(u.endswith(".png") for u in urls)
    bodies = {api.get(u).content for u in urls}
    assert len(bodies) == 6 and all(b.startswith(b"\x89PNG") for b in bodies)


def test_jobs_failures_costs_and_namespaces(
    api: httpx.Client, kie: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(costs={(SubmissionKind.JOBS, 0, "cheap/model"): 2})
    _create(api, model="cheap/model")
    _create(api, model="other/model")
    assert emu.stats().credits_charged == 2 + 20
    emu.set_faults(FaultRule("task_fail", endpoint=CREATE, fail_code=501, fail_msg="nope"))
    failed = _create(api).json()["data"]["taskId"]
    record = wait(lambda: (r := _record(api, failed))["state"] == "fail" and r)
    # A string here: the Market's get-task-detail page types failCode as one (Runway's show numbers).
    assert record["failCode"] == "501" and record["failMsg"] == "nope" and record["resultJson"] == ""
    assert api.get(RECORD, params={"taskId": kie.generate_id()}).json()["msg"] == "recordInfo is null"
    assert kie.api.get("/api/v1/runway/record-detail", params={"taskId": failed}).json()["code"] == 422


def test_jobs_callback_carries_the_record(api: httpx.Client, callback_receiver: Any) -> None:
    task_id = _create(api, callBackUrl=callback_receiver.url).json()["data"]["taskId"]
    (received,) = callback_receiver.wait_for(1)
    assert received.body["code"] == 200 and received.body["data"]["taskId"] == task_id
    assert received.body["data"]["state"] == "success"
    assert json.loads(received.body["data"]["resultJson"])["resultUrls"]
