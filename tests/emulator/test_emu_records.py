"""The four record endpoints share one route (``envelopes.add_record_route``): each must keep its URL, its
OpenAPI operation id and KIE's exact answers, for its own tasks and for ids it does not know."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from airflow_provider_kie.emulator.errors import MSG_RECORD_NULL, MSG_UNAUTHORIZED
from airflow_provider_kie.emulator.server import RunningEmulator

RUNWAY = "/api/v1/runway/record-detail"
ALEPH = "/api/v1/aleph/record-info"
JOBS = "/api/v1/jobs/recordInfo"
VEO = "/api/v1/veo/record-info"

#: The keys of each family's record ``data``, as KIE documents them.
RECORD_KEYS = {
    RUNWAY: {
        "taskId",
        "parentTaskId",
        "generateParam",
        "state",
        "generateTime",
        "videoInfo",
        "failCode",
        "failMsg",
        "expireFlag",
    },
    ALEPH: {
        "taskId",
        "paramJson",
        "response",
        "createTime",
        "completeTime",
        "successFlag",
        "errorCode",
        "errorMessage",
    },
    JOBS: {
        "taskId",
        "model",
        "state",
        "param",
        "resultJson",
        "failCode",
        "failMsg",
        "costTime",
        "completeTime",
        "createTime",
        "updateTime",
    },
    VEO: {
        "taskId",
        "paramJson",
        "completeTime",
        "response",
        "successFlag",
        "errorCode",
        "errorMessage",
        "createTime",
        "fallbackFlag",
    },
}
#: The operation ids the routes had when each was written by hand (clients generated from the OpenAPI
#: document depend on them).
OPERATION_IDS = {
    RUNWAY: "record_detail_api_v1_runway_record_detail_get",
    ALEPH: "record_info_api_v1_aleph_record_info_get",
    JOBS: "record_info_api_v1_jobs_recordInfo_get",
    VEO: "record_info_api_v1_veo_record_info_get",
}
RECORD_PATHS = tuple(RECORD_KEYS)


def _submit_runway(api: httpx.Client) -> httpx.Response:
    body = {"prompt": "a cat", "duration": 5, "quality": "720p", "aspectRatio": "16:9"}
    return api.post("/api/v1/runway/generate", json=body)


def _submit_aleph(api: httpx.Client) -> httpx.Response:
    return api.post("/api/v1/aleph/generate", json={"prompt": "p", "videoUrl": "https://example.com/v.mp4"})


def _submit_jobs(api: httpx.Client) -> httpx.Response:
    return api.post("/api/v1/jobs/createTask", json={"model": "kling/v2-video", "input": {"prompt": "p"}})


def _submit_veo(api: httpx.Client) -> httpx.Response:
    return api.post("/api/v1/veo/generate", json={"prompt": "a dog in a park"})


SUBMIT: dict[str, Callable[[httpx.Client], httpx.Response]] = {
    RUNWAY: _submit_runway,
    ALEPH: _submit_aleph,
    JOBS: _submit_jobs,
    VEO: _submit_veo,
}


def _task_id(api: httpx.Client, path: str) -> str:
    answer = SUBMIT[path](api).json()
    assert answer["code"] == 200, answer
    return str(answer["data"]["taskId"])


@pytest.mark.parametrize("path", RECORD_PATHS)
@pytest.mark.parametrize("task_id", ["no-such-task", "  no-such-task  "])
def test_unknown_id_answers_record_null_under_http_200(api: httpx.Client, path: str, task_id: str) -> None:
    response = api.get(path, params={"taskId": task_id})
    assert response.status_code == 200
    assert response.json() == {"code": 422, "msg": MSG_RECORD_NULL, "data": None}


@pytest.mark.parametrize("path", RECORD_PATHS)
@pytest.mark.parametrize("params", [{}, {"taskId": ""}, {"taskId": "   "}])
def test_missing_task_id_is_a_422_naming_the_field(
    api: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 200
    assert response.json() == {"code": 422, "msg": "taskId is required", "data": None}


@pytest.mark.parametrize("path", RECORD_PATHS)
def test_the_key_is_checked_before_the_task_id(emu: RunningEmulator, path: str) -> None:
    with httpx.Client(base_url=emu.base_url, trust_env=False, timeout=10.0) as keyless:
        response = keyless.get(path)  # no key and no taskId: the key wins
    assert response.status_code == 200
    assert response.json() == {"code": 401, "msg": MSG_UNAUTHORIZED, "data": None}


@pytest.mark.parametrize("path", RECORD_PATHS)
def test_each_family_answers_only_its_own_ids_in_its_own_shape(api: httpx.Client, path: str) -> None:
    own = _task_id(api, path)
    answer = api.get(path, params={"taskId": own}).json()
    assert answer["code"] == 200 and answer["msg"] == "success"
    assert set(answer["data"]) == RECORD_KEYS[path] and answer["data"]["taskId"] == own
    for other in RECORD_PATHS:
        if other != path:
            foreign = _task_id(api, other)
            assert api.get(path, params={"taskId": foreign}).json() == {
                "code": 422,
                "msg": MSG_RECORD_NULL,
                "data": None,
            }


# routes_media serves GET and HEAD from one function, which FastAPI warns about while building the document.
@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")
def test_record_routes_keep_their_urls_and_operation_ids(emu: RunningEmulator) -> None:
    with httpx.Client(base_url=emu.base_url, trust_env=False, timeout=10.0) as client:
        document = client.get("/_emulator/openapi.json").json()
    for path, operation_id in OPERATION_IDS.items():
        assert set(document["paths"][path]) == {"get"}
        assert document["paths"][path]["get"]["operationId"] == operation_id
        assert "unknown ids answer 422" in document["paths"][path]["get"]["description"]


def test_record_calls_are_counted_per_url(api: httpx.Client, emu: RunningEmulator) -> None:
    for path in RECORD_PATHS:
        api.get(path, params={"taskId": "x"})
    calls = emu.stats().calls_by_endpoint
    assert all(calls[path] == 1 for path in RECORD_PATHS)
