"""Requests copied verbatim from KIE's Runway quickstart (seeds/000), with only the base URL changed."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator.server import RunningEmulator

# Step 1 of the quickstart, byte for byte (the curl -d body and headers).
STEP1_BODY = """{
      "prompt": "A fluffy orange cat dancing energetically in a colorful room with disco lights",
      "duration": 5,
      "quality": "720p",
      "aspectRatio": "16:9",
      "waterMark": ""
    }"""
STEP1_HEADERS = {"Authorization": "Bearer YOUR_API_KEY", "Content-Type": "application/json"}
# The "Generation Types" tabs.
IMAGE_TO_VIDEO_BODY = """{
      "prompt": "The character starts walking forward with confidence",
      "imageUrl": "https://example.com/character-image.jpg",
      "duration": 5,
      "quality": "720p",
      "aspectRatio": "16:9"
    }"""
VIDEO_EXTENSION_BODY = """{
      "taskId": "ee603959-debb-48d1-98c4-a6d1c717eba6",
      "prompt": "The cat continues dancing with more energy and spins around",
      "quality": "720p"
    }"""
CALLBACK_BODY = """{
  "prompt": "A peaceful garden with cherry blossoms swaying in the breeze",
  "duration": 5,
  "quality": "720p",
  "aspectRatio": "16:9",
  "callBackUrl": "https://your-app.com/webhook/runway-callback"
}"""
STATES = ("wait", "queueing", "generating", "success", "fail")


@pytest.fixture
def base(emu: RunningEmulator) -> str:
    """Stands in for ``https://api.kie.ai``."""
    return emu.base_url


@pytest.fixture
def raw() -> Any:
    """A bare httpx client: no base URL, no default headers, no proxies."""
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        yield client


def _submit_step1(raw: httpx.Client, base: str) -> str:
    response = raw.post(f"{base}/api/v1/runway/generate", headers=STEP1_HEADERS, content=STEP1_BODY)
    assert response.status_code == 200
    result = response.json()
    assert result["code"] == 200 and result["msg"] == "success"
    assert isinstance(result["data"]["taskId"], str) and result["data"]["taskId"]
    return str(result["data"]["taskId"])


def test_step1_generate_answers_the_documented_success(raw: httpx.Client, base: str) -> None:
    _submit_step1(raw, base)


def test_step2_status_goes_through_documented_states_to_success(raw: httpx.Client, base: str) -> None:
    task_id = _submit_step1(raw, base)
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = raw.get(
            f"{base}/api/v1/runway/record-detail?taskId={task_id}",
            headers={"Authorization": "Bearer YOUR_API_KEY"},
        )
        result = response.json()
        assert response.status_code == 200 and result["code"] == 200
        state = result["data"]["state"]
        assert state in STATES
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("success", "fail"):
            break
        time.sleep(0.01)
    assert seen[-1] == "success"
    # States only move forward.
    assert [STATES.index(s) for s in seen] == sorted(STATES.index(s) for s in seen)
    data = result["data"]
    assert data["taskId"] == task_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", data["generateTime"])
    assert data["expireFlag"] == 0
    assert data["videoInfo"]["videoUrl"].endswith(".mp4")
    assert data["videoInfo"]["imageUrl"].endswith(".png")
    video = raw.get(data["videoInfo"]["videoUrl"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"


def test_generation_type_tabs(raw: httpx.Client, base: str, emu: RunningEmulator) -> None:
    headers = STEP1_HEADERS
    image = raw.post(f"{base}/api/v1/runway/generate", headers=headers, content=IMAGE_TO_VIDEO_BODY).json()
    assert image["code"] == 200
    # The extension tab names a task this account never created: KIE's lookup finds no record.
    extension = raw.post(f"{base}/api/v1/runway/extend", headers=headers, content=VIDEO_EXTENSION_BODY).json()
    assert extension["code"] == 422 and "recordInfo is null" in extension["msg"]
    # The callback example is accepted; its callback (to your-app.com) is refused locally, never sent.
    with_callback = raw.post(f"{base}/api/v1/runway/generate", headers=headers, content=CALLBACK_BODY).json()
    assert with_callback["code"] == 200
    task_id = with_callback["data"]["taskId"]

    def refused() -> bool:
        return any(a.task_id == task_id for a in emu.callback_log())

    deadline = time.monotonic() + 15
    while not refused() and time.monotonic() < deadline:
        time.sleep(0.01)
    attempt = next(a for a in emu.callback_log() if a.task_id == task_id)
    assert not attempt.ok and attempt.status_code is None
    assert "your-app.com" in (attempt.error or "")


def test_missing_key_is_the_documented_401(raw: httpx.Client, base: str) -> None:
    response = raw.post(
        f"{base}/api/v1/runway/generate", headers={"Content-Type": "application/json"}, content=STEP1_BODY
    )
    assert response.status_code == 200
    assert response.json()["code"] == 401


def test_quickstart_python_functions_verbatim(
    base: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quickstart's Python functions (``requests``), unchanged but for the base URL."""
    requests = pytest.importorskip("requests")
    monkeypatch.setenv("NO_PROXY", "*")  # requests honours proxy variables; keep it on loopback

    def generate_video():  # type: ignore[no-untyped-def]
        url = f"{base}/api/v1/runway/generate"
        headers = {"Authorization": "Bearer YOUR_API_KEY", "Content-Type": "application/json"}

        payload = {
            "prompt": "A fluffy orange cat dancing energetically in a colorful room with disco lights",
            "duration": 5,
            "quality": "720p",
            "aspectRatio": "16:9",
            "waterMark": "",
        }

        try:
            response = requests.post(url, json=payload, headers=headers)
            result = response.json()

            if response.ok and result.get("code") == 200:
                print(f"Task submitted: {result}")
                print(f"Task ID: {result['data']['taskId']}")
                return result["data"]["taskId"]
            else:
                print(f"Request failed: {result.get('msg', 'Unknown error')}")
                return None
        except requests.exceptions.RequestException as e:
            print(f"Error: {e}")
            return None

    def check_task_status(task_id, api_key):  # type: ignore[no-untyped-def]
        url = f"{base}/api/v1/runway/record-detail?taskId={task_id}"
        headers = {"Authorization": f"Bearer {api_key}"}

        try:
            response = requests.get(url, headers=headers)
            result = response.json()

            if response.ok and result.get("code") == 200:
                task_data = result["data"]
                state = task_data["state"]

                if state == "wait":
                    print("Task is waiting...")
                    print(f"Create time: {task_data.get('generateTime', '')}")
                    return task_data
                elif state == "queueing":
                    print("Task is queueing...")
                    print(f"Create time: {task_data.get('generateTime', '')}")
                    return task_data
                elif state == "generating":
                    print("Task is generating...")
                    print(f"Create time: {task_data.get('generateTime', '')}")
                    return task_data
                elif state == "success":
                    print("Task generation completed!")
                    video_info = task_data.get("videoInfo", {})
                    print(f"Video URL: {video_info.get('videoUrl', '')}")
                    print(f"Thumbnail URL: {video_info.get('imageUrl', '')}")
                    print(f"Generate time: {task_data.get('generateTime', '')}")
                    expire_flag = task_data.get("expireFlag", 0)
                    print(f"Expire status: {'Active' if expire_flag == 0 else 'Expired'}")
                    return task_data
                elif state == "fail":
                    print("Task generation failed")
                    if task_data.get("failMsg"):
                        print(f"Failure reason: {task_data['failMsg']}")
                    print(f"Generate time: {task_data.get('generateTime', '')}")
                    return task_data
                else:
                    print(f"Unknown status: {state}")
                    if task_data.get("failMsg"):
                        print(f"Error message: {task_data['failMsg']}")
                    return task_data
            else:
                print(f"Query failed: {result.get('msg', 'Unknown error')}")
                return None
        except requests.exceptions.RequestException as e:
            print(f"Status check failed: {e}")
            return None

    task_id = generate_video()  # type: ignore[no-untyped-call]
    assert task_id
    deadline = time.monotonic() + 15
    result = check_task_status(task_id, "YOUR_API_KEY")  # type: ignore[no-untyped-call]
    while result["state"] not in ("success", "fail") and time.monotonic() < deadline:
        time.sleep(0.01)
        result = check_task_status(task_id, "YOUR_API_KEY")  # type: ignore[no-untyped-call]
    assert result["state"] == "success"
    out = capsys.readouterr().out
    assert "Task generation completed!" in out and "Expire status: Active" in out

    # The "Complete Workflow Example" then extends the clip with the same task id.
    extension = requests.post(
        f"{base}/api/v1/runway/extend",
        headers={"Authorization": "Bearer YOUR_API_KEY", "Content-Type": "application/json"},
        json={
            "taskId": task_id,
            "prompt": "The cat spins around with increasing energy and excitement",
            "quality": "720p",
        },
    ).json()
    assert extension["code"] == 200
    extended = check_task_status(extension["data"]["taskId"], "YOUR_API_KEY")  # type: ignore[no-untyped-call]
    assert extended["parentTaskId"] == task_id
