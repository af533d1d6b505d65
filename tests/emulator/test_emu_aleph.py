"""Aleph generate and record-info: field rules, successFlag semantics, paramJson."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import FaultRule
from airflow_provider_kie.emulator.server import RunningEmulator

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prompt": None}, "prompt"),
        ({"videoUrl": None}, "videoUrl"),
        ({"videoUrl": "ftp://example.com/v.mp4"}, "videoUrl"),
        ({"aspectRatio": "2:1"}, "aspectRatio"),
        ({"seed": "7"}, "seed"),
        ({"seed": True}, "seed"),
        ({"uploadCn": "yes"}, "uploadCn"),
        ({"referenceImage": "nope"}, "referenceImage"),
        ({"callBackUrl": "nope"}, "callBackUrl"),
    ],
)
def test_aleph_validation(kie: Any, emu: RunningEmulator, overrides: dict[str, Any], field: str) -> None:
    response = kie.aleph(**overrides)
    answer = response.json()
    assert response.status_code == 200 and answer["code"] == 422
    assert answer["msg"].startswith(field), answer["msg"]
    assert emu.stats().submissions_accepted == 0


def test_aleph_running_then_success(kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    sent = {
        "prompt": "make it watercolor",
        "videoUrl": "https://example.com/in.mp4",
        "aspectRatio": "21:9",
        "seed": 12345,
        "referenceImage": "https://example.com/ref.png",
        "waterMark": "",
        "uploadCn": False,
    }
    task_id = kie.aleph(**sent).json()["data"]["taskId"]
    running = kie.aleph_record(task_id)
    assert running["successFlag"] == 0 and running["errorMessage"] == "" and running["errorCode"] == 0
    assert running["response"] is None and running["completeTime"] is None
    assert re.fullmatch(ISO, running["createTime"])
    assert isinstance(running["paramJson"], str) and json.loads(running["paramJson"]) == sent
    emu.advance_time(135)
    done = kie.aleph_record(task_id)
    assert set(done) == {
        "taskId",
        "paramJson",
        "response",
        "createTime",
        "completeTime",
        "successFlag",
        "errorCode",
        "errorMessage",
    }
    assert done["successFlag"] == 1 and done["errorMessage"] == ""
    assert done["response"] == {
        "taskId": task_id,
        "resultVideoUrl": f"{emu.base_url}/media/{task_id}.mp4",
        "resultImageUrl": f"{emu.base_url}/media/{task_id}.png",
    }
    assert re.fullmatch(ISO, done["completeTime"])


def test_aleph_failure_is_flag_0_with_a_message(kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("task_fail", endpoint="/api/v1/aleph/*", fail_code=501, fail_msg="boom"))
    task_id = kie.aleph().json()["data"]["taskId"]
    record = kie.wait_aleph(task_id)
    assert record["successFlag"] == 0 and record["errorMessage"] == "boom" and record["errorCode"] == 501
    assert record["response"] is None and record["completeTime"] is not None


def test_aleph_record_info_errors(api: httpx.Client, kie: Any) -> None:
    assert api.get("/api/v1/aleph/record-info").json()["code"] == 422
    unknown = api.get("/api/v1/aleph/record-info", params={"taskId": "nope"}).json()
    assert unknown == {"code": 422, "msg": "recordInfo is null", "data": None}
    runway_id = kie.generate_id()
    other_family = api.get("/api/v1/aleph/record-info", params={"taskId": runway_id}).json()
    assert other_family["msg"] == "recordInfo is null"


def test_aleph_costs_credits(kie: Any, emu: RunningEmulator) -> None:
    kie.aleph()
    assert emu.stats().credits_charged == 60
    assert emu.stats().accepted_by_kind == {"aleph": 1}
