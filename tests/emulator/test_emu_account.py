"""Account rules: bearer keys, credits and 402, the rate limit, the concurrency cap."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import EmulatorConfig, SubmissionKind
from airflow_provider_kie.emulator.server import RunningEmulator


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "POST",
            "/api/v1/runway/generate",
            {"prompt": "x", "duration": 5, "quality": "720p", "aspectRatio": "1:1"},
        ),
        ("GET", "/api/v1/runway/record-detail?taskId=x", None),
        ("POST", "/api/v1/runway/extend", {"taskId": "x", "prompt": "x", "quality": "720p"}),
        ("POST", "/api/v1/aleph/generate", {"prompt": "x", "videoUrl": "https://e.com/v.mp4"}),
        ("GET", "/api/v1/aleph/record-info?taskId=x", None),
        ("POST", "/api/v1/jobs/createTask", {"model": "m", "input": {}}),
        ("GET", "/api/v1/jobs/recordInfo?taskId=x", None),
        ("GET", "/api/v1/chat/credit", None),
        ("POST", "/api/v1/common/download-url", {"url": "https://e.com/v.mp4"}),
    ],
)
@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer wrong-key", "Basic good-key", "good-key"]
)
def test_bad_keys_get_kie_401_inside_http_200(
    emu: RunningEmulator, method: str, path: str, body: Any, authorization: str | None
) -> None:
    emu.reconfigure(api_keys=frozenset({"good-key"}))
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=emu.base_url, trust_env=False) as client:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"code": 401, "msg": "You do not have access permissions", "data": None}
        good = client.request(method, path, json=body, headers={"Authorization": "Bearer good-key"})
        assert good.json()["code"] != 401


def test_any_non_empty_key_is_accepted_by_default(emu: RunningEmulator) -> None:
    with httpx.Client(base_url=emu.base_url, trust_env=False) as client:
        answer = client.get("/api/v1/chat/credit", headers={"Authorization": "Bearer YOUR_API_KEY"}).json()
    assert answer == {"code": 200, "msg": "success", "data": EmulatorConfig.initial_credits}


def test_credits_go_down_per_accepted_clip(api: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    start = api.get("/api/v1/chat/credit").json()["data"]
    kie.generate()  # 720p 5 s
    kie.generate(duration=10)
    kie.generate(quality="1080p")
    kie.generate(prompt=None)  # refused: free
    kie.aleph()
    assert api.get("/api/v1/chat/credit").json()["data"] == start - (12 + 30 + 30 + 60)
    stats = emu.stats()
    assert stats.paid_submissions == 4 and stats.credits_spent == 132


def test_custom_cost_table(kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(costs={(SubmissionKind.GENERATE, 5, "720p"): 3}, initial_credits=10)
    kie.generate_id()
    kie.generate_id()
    kie.generate_id()
    assert emu.state.credits == 1
    assert kie.generate().json()["code"] == 402


def test_insufficient_credits_is_402_and_charges_nothing(kie: Any, emu: RunningEmulator) -> None:
    emu.set_credits(11)
    response = kie.generate()
    assert response.status_code == 200
    assert response.json() == {
        "code": 402,
        "msg": "The current credits are insufficient. Please top up.",
        "data": None,
    }
    stats = emu.stats()
    assert stats.credits_balance == 11 and stats.submissions_accepted == 0
    assert stats.rejections_by_code == {402: 1}
    emu.set_credits(12)
    assert kie.generate().json()["code"] == 200
    assert emu.state.credits == 0


def test_rate_limit_answers_429_and_does_not_queue(kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(rate_limit=3, rate_window_s=60)
    for _ in range(3):
        assert kie.generate().json()["code"] == 200
    refused = kie.generate()
    assert refused.status_code == 429
    assert refused.json()["code"] == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    stats = emu.stats()
    assert stats.submissions_accepted == 3 and stats.rate_limited == 1 and len(emu.tasks()) == 3
    # Aleph and extend share the account's window.
    assert kie.aleph().status_code == 429


def test_rate_window_slides(kie: Any, emu: RunningEmulator, wait: Any) -> None:
    # A window long enough that three submits fit in it on a loaded machine (0.3 s did not: each renders
    # its media), short enough to see it slide.
    emu.reconfigure(rate_limit=2, rate_window_s=3.0)
    kie.generate()
    kie.generate()
    assert kie.generate().json()["code"] == 429
    wait(lambda: kie.generate().json()["code"] == 200)


def test_invalid_submissions_count_towards_the_rate_limit(kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(rate_limit=2, rate_window_s=60)
    assert kie.generate(prompt=None).json()["code"] == 422
    assert kie.generate(prompt=None).json()["code"] == 422
    assert kie.generate().json()["code"] == 429


def test_concurrency_cap_fails_the_extra_task_and_refunds_it(kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(concurrency_cap=2, time_scale=1.0)
    first, second = kie.generate_id(), kie.generate_id()
    over = kie.generate()
    assert over.json()["code"] == 200  # accepted, then failed at once, as KIE does
    record = kie.record(over.json()["data"]["taskId"])
    assert record["state"] == "fail"
    assert record["failMsg"] == "Reached the limit for concurrent generations"
    assert record["failCode"] == 400
    stats = emu.stats()
    assert stats.submissions_accepted == 3 and stats.paid_submissions == 2 and stats.refunded_submissions == 1
    assert stats.credits_spent == 24
    # Aleph counts against the same cap.
    aleph_id = kie.aleph().json()["data"]["taskId"]
    assert kie.aleph_record(aleph_id)["errorMessage"] == "Reached the limit for concurrent generations"
    emu.advance_time(75)  # the two running clips finish and free their slots
    assert {kie.record(first)["state"], kie.record(second)["state"]} == {"success"}
    third = kie.generate_id()
    assert kie.record(third)["state"] == "wait"
