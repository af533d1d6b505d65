"""Callbacks: KIE's payload shapes, signature headers, and receivers that misbehave."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from typing import Any

import httpx

from airflow_provider_kie.emulator import FaultRule
from airflow_provider_kie.emulator.callbacks import webhook_signature
from airflow_provider_kie.emulator.server import RunningEmulator

KEY = "whsec-test"


def _expected_signature(task_id: str, timestamp: str) -> str:
    digest = hmac.new(KEY.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_runway_success_callback_unsigned(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    (received,) = callback_receiver.wait_for(1)
    assert received.path == "/callback"
    assert received.body == {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {
            "task_id": task_id,
            "video_id": kie.record(task_id)["videoInfo"]["videoId"],
            "video_url": f"{emu.base_url}/media/{task_id}.mp4",
            "image_url": f"{emu.base_url}/media/{task_id}.png",
        },
    }
    headers = _lower(received.headers)
    assert "x-webhook-signature" not in headers and "x-webhook-timestamp" not in headers
    assert headers["content-type"] == "application/json" and headers["user-agent"]
    stats = wait(lambda: (s := emu.stats()).callbacks_attempted == 1 and s)
    assert stats.callbacks_attempted == 1 and stats.callbacks_delivered == 1 and stats.callbacks_failed == 0


def test_signed_callback_verifies(kie: Any, callback_receiver: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(webhook_hmac_key=KEY)
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    (received,) = callback_receiver.wait_for(1)
    headers = _lower(received.headers)
    timestamp = headers["x-webhook-timestamp"]
    assert timestamp.isdigit()
    assert headers["x-webhook-signature"] == _expected_signature(task_id, timestamp)
    assert webhook_signature(KEY, task_id, int(timestamp)) == headers["x-webhook-signature"]


def test_runway_failure_callback(kie: Any, callback_receiver: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("task_fail", endpoint="/api/v1/runway/generate", fail_msg="GPU on fire"))
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    (received,) = callback_receiver.wait_for(1)
    assert received.body == {
        "code": 500,
        "msg": "GPU on fire",
        "data": {"task_id": task_id, "video_id": "", "video_url": "", "image_url": ""},
    }


def test_moderation_failure_callback_is_code_400(
    kie: Any, callback_receiver: Any, emu: RunningEmulator
) -> None:
    emu.set_faults(FaultRule("moderation"))
    kie.generate_id(callBackUrl=callback_receiver.url)
    (received,) = callback_receiver.wait_for(1)
    assert received.body["code"] == 400 and "moderator" in received.body["msg"]


def test_extend_callbacks(kie: Any, callback_receiver: Any, emu: RunningEmulator) -> None:
    parent = kie.generate_id()
    kie.wait_runway(parent)
    ok_id = kie.extend(parent, callBackUrl=callback_receiver.url).json()["data"]["taskId"]
    (success,) = callback_receiver.wait_for(1)
    assert success.body["code"] == 200 and success.body["data"]["task_id"] == ok_id
    emu.set_faults(FaultRule("task_fail", endpoint="/api/v1/runway/extend"))
    failed_id = kie.extend(parent, callBackUrl=callback_receiver.url).json()["data"]["taskId"]
    failure = callback_receiver.wait_for(2)[1]
    assert failure.body["code"] == 500 and failure.body["data"] == {"task_id": failed_id}


def test_aleph_callbacks_signed_by_top_level_task_id(
    kie: Any, callback_receiver: Any, emu: RunningEmulator
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY)
    task_id = kie.aleph(callBackUrl=callback_receiver.url).json()["data"]["taskId"]
    (received,) = callback_receiver.wait_for(1)
    assert received.body == {
        "code": 200,
        "msg": "success",
        "data": {
            "result_video_url": f"{emu.base_url}/media/{task_id}.mp4",
            "result_image_url": f"{emu.base_url}/media/{task_id}.png",
        },
        "taskId": task_id,
    }
    headers = _lower(received.headers)
    assert headers["x-webhook-signature"] == _expected_signature(task_id, headers["x-webhook-timestamp"])
    emu.set_faults(FaultRule("moderation", endpoint="/api/v1/aleph/generate"))
    failed_id = kie.aleph(callBackUrl=callback_receiver.url).json()["data"]["taskId"]
    failure = callback_receiver.wait_for(2)[1]
    assert (
        failure.body["code"] == 400 and failure.body["data"] is None and failure.body["taskId"] == failed_id
    )


def test_failing_receiver_is_retried_and_never_breaks_the_emulator(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(callback_retry_delays_s=(1.0, 5.0, 15.0))  # KIE's are minutes; keep the test short
    callback_receiver.status = 500
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    received = callback_receiver.wait_for(4)  # the first POST and KIE's 3 retries (scaled 1/5/15 min)
    assert all(r.body["data"]["task_id"] == task_id for r in received)
    wait(lambda: len(emu.callback_log()) == 4)
    log = emu.callback_log()
    assert [a.attempt for a in log] == [1, 2, 3, 4] and not any(a.ok for a in log)
    assert log[0].status_code == 500
    stats = emu.stats()
    assert stats.callbacks_failed == 4 and stats.callbacks_delivered == 0
    assert kie.generate().json()["code"] == 200


def test_retry_succeeds_after_a_failure(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    callback_receiver.script = [503]
    kie.generate_id(callBackUrl=callback_receiver.url)
    callback_receiver.wait_for(2)
    wait(lambda: emu.stats().callbacks_delivered == 1)
    assert [a.ok for a in emu.callback_log()] == [False, True]


def test_unreachable_and_slow_receivers_are_recorded(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any, api: httpx.Client
) -> None:
    emu.reconfigure(callback_timeout_s=0.2, callback_retry_delays_s=())
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    kie.generate_id(callBackUrl=f"http://127.0.0.1:{dead_port}/cb")
    callback_receiver.delay_s = 1.0
    kie.generate_id(callBackUrl=callback_receiver.url)
    log = wait(lambda: (entries := emu.callback_log()) and len(entries) == 2 and entries)
    assert all(not attempt.ok and attempt.error for attempt in log)
    assert any("Timeout" in (attempt.error or "") for attempt in log)
    assert any("Connect" in (attempt.error or "") for attempt in log)
    assert api.get("/api/v1/chat/credit").json()["code"] == 200


def test_hosts_outside_the_allow_list_are_never_contacted(kie: Any, emu: RunningEmulator, wait: Any) -> None:
    task_id = kie.generate_id(callBackUrl="https://api.example.com/callback")
    (attempt,) = wait(lambda: emu.callback_log())
    assert attempt.task_id == task_id and not attempt.ok and attempt.status_code is None
    assert "callback_allowed_hosts" in (attempt.error or "")
    # No retries for a refused host.
    assert emu.state.seconds_until_next_callback() is None


def test_no_callback_without_callback_url(kie: Any, emu: RunningEmulator) -> None:
    kie.wait_runway(kie.generate_id())
    assert emu.callback_log() == [] and emu.stats().callbacks_attempted == 0
