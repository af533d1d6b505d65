"""Signed callbacks: HMAC-SHA256 over "<task id>.<timestamp>", constant-time compare, timestamp window."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from airflow_provider_kie.client import (
    KieSignatureError,
    compute_signature,
    verify_callback,
    verify_signature,
)
from airflow_provider_kie.client.webhooks import DEFAULT_TOLERANCE, callback_task_id

KEY = "whsec-test-0123456789"
NOW = 1_750_000_000
TASK = "ee603959-debb-48d1-98c4-a6d1c717eba6"

RUNWAY_CALLBACK = {
    "code": 200,
    "msg": "All generated successfully.",
    "data": {
        "task_id": TASK,
        "video_id": "v1",
        "video_url": "https://f/x.mp4",
        "image_url": "https://f/x.jpg",
    },
}
RUNWAY_FAILURE_CALLBACK = {
    "code": 400,
    "msg": "Content moderation",
    "data": {"task_id": TASK, "video_url": ""},
}
ALEPH_CALLBACK = {
    "code": 200,
    "msg": "success",
    "data": {"result_video_url": "https://f/a.mp4", "result_image_url": "https://f/a.jpg"},
    "taskId": TASK,
}
JOBS_CALLBACK = {"code": 200, "msg": "success", "data": {"taskId": TASK, "state": "success"}}


def signed_headers(task_id: str = TASK, timestamp: int | str = NOW, key: str = KEY) -> dict[str, str]:
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": compute_signature(key, task_id, timestamp),
    }


def test_compute_signature_matches_the_documented_formula() -> None:
    expected = base64.b64encode(
        hmac.new(KEY.encode(), f"{TASK}.{NOW}".encode(), hashlib.sha256).digest()
    ).decode()
    assert compute_signature(KEY, TASK, NOW) == expected
    assert compute_signature(KEY.encode(), TASK, str(NOW)) == expected
    assert compute_signature("other-key", TASK, NOW) != expected


def test_compute_signature_known_vector() -> None:
    # Fixed vector computed with: printf task-1.1700000000 | openssl dgst -sha256 -hmac key -binary | base64
    assert compute_signature("key", "task-1", 1700000000) == "yML141cNXPumOku9oVKL4GfCeXRoCPNoBdJUkrjTn9I="


def test_verify_signature_accepts_a_genuine_one() -> None:
    signature = compute_signature(KEY, TASK, NOW)
    assert verify_signature(KEY, TASK, NOW, signature, now=NOW) is None
    assert verify_signature(KEY, TASK, str(NOW), f"  {signature}\n", now=NOW + 10) is None


def test_verify_signature_uses_constant_time_compare(mocker: Any) -> None:
    spy = mocker.spy(hmac, "compare_digest")
    verify_signature(KEY, TASK, NOW, compute_signature(KEY, TASK, NOW), now=NOW)
    assert spy.call_count == 1


@pytest.mark.parametrize(
    "signature",
    [
        compute_signature(KEY, TASK, NOW)[:-2] + "AA",
        compute_signature("wrong-key", TASK, NOW),
        compute_signature(KEY, TASK, NOW + 1),
        "not base64 at all",
        "é",
    ],
)
def test_tampered_signature_rejected(signature: str) -> None:
    with pytest.raises(KieSignatureError, match=f"signature does not match for task {TASK}"):
        verify_signature(KEY, TASK, NOW, signature, now=NOW)


def test_tampered_task_id_rejected() -> None:
    signature = compute_signature(KEY, TASK, NOW)
    with pytest.raises(KieSignatureError, match="does not match"):
        verify_signature(KEY, "another-task", NOW, signature, now=NOW)


def test_tampered_timestamp_rejected() -> None:
    signature = compute_signature(KEY, TASK, NOW)
    with pytest.raises(KieSignatureError, match="does not match"):
        verify_signature(KEY, TASK, NOW + 60, signature, now=NOW)


@pytest.mark.parametrize("offset", [DEFAULT_TOLERANCE + 1, 3600, -(DEFAULT_TOLERANCE + 1), -86400])
def test_stale_and_future_timestamps_rejected(offset: float) -> None:
    sent_at = int(NOW - offset)
    signature = compute_signature(KEY, TASK, sent_at)
    with pytest.raises(KieSignatureError, match="outside the 300 s window"):
        verify_signature(KEY, TASK, sent_at, signature, now=NOW)


@pytest.mark.parametrize("offset", [0, 299, -299, 300, -300])
def test_timestamps_inside_the_window_accepted(offset: int) -> None:
    sent_at = NOW - offset
    verify_signature(KEY, TASK, sent_at, compute_signature(KEY, TASK, sent_at), now=NOW)


def test_custom_tolerance() -> None:
    sent_at = NOW - 20
    signature = compute_signature(KEY, TASK, sent_at)
    with pytest.raises(KieSignatureError, match="outside the 10 s window"):
        verify_signature(KEY, TASK, sent_at, signature, tolerance=10, now=NOW)
    verify_signature(KEY, TASK, sent_at, signature, tolerance=30, now=NOW)


def test_window_uses_the_clock_by_default(mocker: Any) -> None:
    mocker.patch("airflow_provider_kie.client.webhooks.time.time", return_value=float(NOW + 1000))
    with pytest.raises(KieSignatureError, match="outside"):
        verify_signature(KEY, TASK, NOW, compute_signature(KEY, TASK, NOW))


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [(None, "sig"), ("", "sig"), (NOW, None), (NOW, ""), (None, None)],
)
def test_missing_signature_or_timestamp_rejected(timestamp: Any, signature: Any) -> None:
    with pytest.raises(KieSignatureError, match="not signed"):
        verify_signature(KEY, TASK, timestamp, signature, now=NOW)


@pytest.mark.parametrize("timestamp", ["yesterday", "1750000000.5", "0x10", "1e9"])
def test_non_numeric_timestamp_rejected(timestamp: str) -> None:
    with pytest.raises(KieSignatureError, match="not unix seconds"):
        verify_signature(KEY, TASK, timestamp, "sig", now=NOW)


def test_non_numeric_timestamp_is_quoted_short() -> None:
    with pytest.raises(KieSignatureError) as info:
        verify_signature(KEY, TASK, "x" * 500, "sig", now=NOW)
    assert len(str(info.value)) < 100


# -- whole callbacks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [RUNWAY_CALLBACK, RUNWAY_FAILURE_CALLBACK, ALEPH_CALLBACK, JOBS_CALLBACK],
    ids=["runway", "runway-failure", "aleph", "jobs"],
)
def test_verify_callback_each_shape(payload: dict[str, Any]) -> None:
    assert callback_task_id(payload) == TASK
    assert verify_callback(KEY, signed_headers(), payload, now=NOW) == TASK


def test_aleph_callback_in_runway_shape() -> None:
    payload = {"code": 200, "msg": "ok", "data": {"task_id": TASK, "result_video_url": "https://f/a.mp4"}}
    assert verify_callback(KEY, signed_headers(), payload, now=NOW) == TASK


@pytest.mark.parametrize("transform", [str.lower, str.upper, lambda h: h])
def test_headers_are_case_insensitive(transform: Any) -> None:
    headers = {transform(k): v for k, v in signed_headers().items()}
    assert verify_callback(KEY, headers, RUNWAY_CALLBACK, now=NOW) == TASK


def test_callback_with_tampered_task_id_rejected() -> None:
    headers = signed_headers()
    forged = {**RUNWAY_CALLBACK, "data": {**RUNWAY_CALLBACK["data"], "task_id": "someone-elses-task"}}
    with pytest.raises(KieSignatureError, match="does not match for task someone-elses-task"):
        verify_callback(KEY, headers, forged, now=NOW)


def test_callback_with_tampered_signature_rejected() -> None:
    headers = signed_headers()
    headers["X-Webhook-Signature"] = compute_signature(KEY, TASK, NOW - 1)
    with pytest.raises(KieSignatureError, match="does not match"):
        verify_callback(KEY, headers, ALEPH_CALLBACK, now=NOW)


def test_stale_callback_rejected() -> None:
    headers = signed_headers(timestamp=NOW - 3600)
    with pytest.raises(KieSignatureError, match="outside"):
        verify_callback(KEY, headers, JOBS_CALLBACK, now=NOW)


@pytest.mark.parametrize("missing", ["X-Webhook-Timestamp", "X-Webhook-Signature"])
def test_callback_missing_header_rejected(missing: str) -> None:
    headers = signed_headers()
    del headers[missing]
    with pytest.raises(KieSignatureError, match="not signed"):
        verify_callback(KEY, headers, RUNWAY_CALLBACK, now=NOW)


def test_unsigned_callback_rejected() -> None:
    with pytest.raises(KieSignatureError, match="not signed"):
        verify_callback(KEY, {"Content-Type": "application/json"}, RUNWAY_CALLBACK, now=NOW)


@pytest.mark.parametrize(
    "payload", [{}, {"code": 200, "data": {}}, {"data": None}, {"data": {"task_id": ""}}, {"taskId": ""}]
)
def test_callback_without_task_id_rejected(payload: dict[str, Any]) -> None:
    assert callback_task_id(payload) is None
    with pytest.raises(KieSignatureError, match="no task id"):
        verify_callback(KEY, signed_headers(), payload, now=NOW)


def test_callback_signed_with_another_key_rejected() -> None:
    with pytest.raises(KieSignatureError, match="does not match"):
        verify_callback(KEY, signed_headers(key="other"), RUNWAY_CALLBACK, now=NOW)
