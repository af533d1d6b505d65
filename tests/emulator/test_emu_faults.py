"""Fault injection: every kind, per endpoint, before/after processing, deterministic for a seed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import FaultKind, FaultRule, SignatureFault
from airflow_provider_kie.emulator.faults import CALLBACK_FAULT_KINDS
from airflow_provider_kie.emulator.server import RunningEmulator

GENERATE = "/api/v1/runway/generate"
CREDIT = "/api/v1/chat/credit"


def _client(emu: RunningEmulator, *, timeout: float) -> httpx.Client:
    """A client with its own (short) timeout."""
    return httpx.Client(base_url=emu.base_url, headers=emu.auth_headers, trust_env=False, timeout=timeout)


def test_rate_limited_fault(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule(FaultKind.RATE_LIMITED, endpoint=CREDIT, retry_after_s=7))
    response = api.get(CREDIT)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["code"] == 429
    assert emu.stats().faults_injected == {"rate_limited": 1}


def test_maintenance_fault(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("maintenance"))
    response = api.get(CREDIT)
    assert response.status_code == 455 and response.json()["code"] == 455


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_fault(api: httpx.Client, emu: RunningEmulator, status: int) -> None:
    emu.set_faults(FaultRule("server_error", status=status))
    response = api.get(CREDIT)
    assert response.status_code == status and response.json()["code"] == status


def test_body_error_fault_is_http_200(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("body_error", code=500, msg="This field is required"))
    response = api.get(CREDIT)
    assert response.status_code == 200
    assert response.json() == {"code": 500, "msg": "This field is required", "data": None}


def test_upload_host_faults_use_its_envelope(emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("server_error", endpoint="/upload-host/*"))
    with httpx.Client(base_url=emu.upload_base_url, headers=emu.auth_headers, trust_env=False) as client:
        answer = client.post("/api/file-base64-upload", json={}).json()
    assert answer["success"] is False and answer["code"] == 500


def test_faults_before_processing_charge_nothing(kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("server_error", endpoint=GENERATE))
    assert kie.generate().status_code == 500
    stats = emu.stats()
    assert stats.submissions_received == 0 and stats.paid_submissions == 0


def test_fault_after_processing_is_the_double_payment_trap(kie: Any, emu: RunningEmulator) -> None:
    """The task is created and charged, then the answer is a 500: a client that blindly retries pays twice."""
    emu.set_faults(FaultRule("server_error", endpoint=GENERATE, when="after", end_call=1))
    assert kie.generate().status_code == 500
    assert emu.stats().paid_submissions == 1
    assert kie.generate().json()["code"] == 200
    assert emu.stats().paid_submissions == 2


def test_delay_longer_than_the_client_timeout(emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("delay", endpoint=CREDIT, delay_s=2.0, end_call=1))
    with _client(emu, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        client.get(CREDIT)
    # A generous timeout for the second call: on a loaded CI machine a 0.2 s budget for an
    # undelayed call is itself a timing assumption (it failed CI once).
    with _client(emu, timeout=10.0) as client:
        assert client.get(CREDIT).json()["code"] == 200  # the rule covered the first call only


def test_delay_after_processing_creates_the_task(kie: Any, emu: RunningEmulator, wait: Any) -> None:
    emu.set_faults(FaultRule("delay", endpoint=GENERATE, delay_s=2.0, when="after"))
    body = {"prompt": "slow", "duration": 5, "quality": "720p", "aspectRatio": "1:1"}
    with _client(emu, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post(GENERATE, json=body)
    assert emu.stats().paid_submissions == 1


def test_delay_before_processing_drops_abandoned_requests(emu: RunningEmulator, wait: Any) -> None:
    emu.set_faults(FaultRule("delay", endpoint=GENERATE, delay_s=0.5))
    body = {"prompt": "slow", "duration": 5, "quality": "720p", "aspectRatio": "1:1"}
    with _client(emu, timeout=0.1) as client, pytest.raises(httpx.ReadTimeout):
        client.post(GENERATE, json=body)
    # That request was still in the delay when its client left, so it is dropped unprocessed. The next one
    # waits long enough; once it is answered, the first one has certainly been decided.
    emu.set_faults(FaultRule("delay", endpoint=GENERATE, delay_s=0.5))
    with _client(emu, timeout=5) as client:
        assert client.post(GENERATE, json=body).json()["code"] == 200  # this one waited long enough
    assert emu.stats().paid_submissions == 1


def test_dropped_connection_is_a_protocol_error(api: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("drop_connection", endpoint=GENERATE, end_call=1))
    with pytest.raises(httpx.RemoteProtocolError):
        kie.generate()
    assert emu.stats().submissions_received == 0
    assert kie.generate().json()["code"] == 200  # the client's pool recovers on a new connection


def test_dropped_connection_after_processing(kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("drop_connection", endpoint=GENERATE, when="after"))
    with pytest.raises(httpx.RemoteProtocolError):
        kie.generate()
    assert emu.stats().paid_submissions == 1


def test_malformed_json(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("malformed_json", endpoint=CREDIT))
    response = api.get(CREDIT)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_truncated_media_download(api: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    url = kie.wait_runway(kie.generate_id())["videoInfo"]["videoUrl"]
    whole = api.get(url).content  # the task's own clip, rendered on this first download
    emu.set_faults(FaultRule("truncate", endpoint="/media/*", fraction=0.25))
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(url)
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), api.stream("GET", url) as response:
        assert int(response.headers["content-length"]) == len(whole)
        for chunk in response.iter_raw():
            received += chunk
    assert bytes(received) == whole[: int(len(whole) * 0.25)]


def test_truncated_first_download_of_a_clip_not_yet_rendered(
    api: httpx.Client, kie: Any, emu: RunningEmulator
) -> None:
    """The fault applies to the answer, so a clip rendered by the faulted request itself is cut too."""
    url = kie.wait_runway(kie.generate_id())["videoInfo"]["videoUrl"]
    emu.set_faults(FaultRule("truncate", endpoint="/media/*", fraction=0.5, end_call=1))
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(url)
    whole = api.get(url).content
    assert whole[4:8] == b"ftyp" and len(whole) > 1000


def test_truncated_synthetic_stream(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("truncate", endpoint="/media/synthetic/*", fraction=0.5))
    size = 8 * 1024 * 1024
    received = 0
    with (
        pytest.raises(httpx.RemoteProtocolError),
        api.stream("GET", f"/media/synthetic/{size}.mp4") as response,
    ):
        for chunk in response.iter_raw():
            received += len(chunk)
    assert received == size // 2


def test_moderation_fails_matching_prompts_and_refunds(kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("moderation", endpoint="/api/v1/runway/*", words=("Forbidden",)))
    bad = kie.generate_id(prompt="a FORBIDDEN scene")
    good = kie.generate_id(prompt="a nice scene")
    bad_record = kie.wait_runway(bad)
    assert bad_record["state"] == "fail" and bad_record["failCode"] == 400
    assert "moderator" in bad_record["failMsg"]
    assert kie.wait_runway(good)["state"] == "success"
    stats = emu.stats()
    assert stats.paid_submissions == 1 and stats.refunded_submissions == 1 and stats.credits_spent == 12


def test_moderated_task_never_reaches_generating(kie: Any, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    emu.set_faults(FaultRule("moderation"))
    task_id = kie.generate_id()
    emu.advance_time(5)
    assert kie.record(task_id)["state"] == "queueing"
    emu.advance_time(10)
    assert kie.record(task_id)["state"] == "fail"


def test_call_window(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("server_error", endpoint=CREDIT, start_call=2, end_call=3))
    statuses = [api.get(CREDIT).status_code for _ in range(5)]
    assert statuses == [200, 500, 500, 200, 200]


def test_method_and_endpoint_filters(api: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("server_error", endpoint="/api/v1/runway/*", method="GET"))
    task_id = kie.generate_id()  # POST: not faulted
    assert api.get("/api/v1/runway/record-detail", params={"taskId": task_id}).status_code == 500
    assert api.get(CREDIT).status_code == 200


def _pattern(api: httpx.Client, calls: int = 40) -> list[int]:
    return [api.get(CREDIT).status_code for _ in range(calls)]


def test_random_faults_are_deterministic_for_a_seed(api: httpx.Client, emu: RunningEmulator) -> None:
    rule = FaultRule("server_error", endpoint=CREDIT, probability=0.5)
    emu.set_faults(rule, seed=7)
    first = _pattern(api)
    assert 0 < first.count(500) < len(first)
    emu.set_faults(rule, seed=7)
    assert _pattern(api) == first
    emu.set_faults(rule, seed=8)
    assert _pattern(api) != first
    emu.reconfigure(seed=7, faults=(rule,))  # same seed through the config: same faults
    assert _pattern(api) == first


def test_faults_toggle_over_the_admin_endpoint(api: httpx.Client, emu: RunningEmulator) -> None:
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        answer = admin.post(
            "/_emulator/faults",
            json={"rules": [{"kind": "rate_limited", "endpoint": CREDIT, "retry_after_s": 3}], "seed": 11},
        )
        assert answer.status_code == 200 and answer.json()["seed"] == 11
        assert api.get(CREDIT).status_code == 429
        appended = admin.post(
            "/_emulator/faults",
            json={"append": True, "rules": [{"kind": "maintenance", "endpoint": "/media/*"}]},
        ).json()
        assert [rule["kind"] for rule in appended["rules"]] == ["rate_limited", "maintenance"]
        assert [r["kind"] for r in admin.get("/_emulator/faults").json()["rules"]] == [
            "rate_limited",
            "maintenance",
        ]
        assert admin.delete("/_emulator/faults").status_code == 200
        assert api.get(CREDIT).status_code == 200
        bad = admin.post("/_emulator/faults", json={"rules": [{"kind": "delay", "dleay_s": 3}]})
        assert bad.status_code == 400 and "dleay_s" in bad.json()["error"]
        assert admin.post("/_emulator/faults", json={"rules": [{"kind": "nope"}]}).status_code == 400


def test_admin_endpoints_are_never_faulted(emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("drop_connection"))
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        assert admin.get("/_emulator/stats").status_code == 200


def test_fault_rule_validation() -> None:
    with pytest.raises(ValueError):
        FaultRule("delay", probability=2)
    with pytest.raises(ValueError):
        FaultRule("truncate", fraction=1.0)
    with pytest.raises(ValueError):
        FaultRule("server_error", start_call=3, end_call=2)
    with pytest.raises(ValueError):
        FaultRule("no-such-kind")
    rule = FaultRule("moderation", words=("A", "b"), method="post")
    assert FaultRule.from_dict(rule.to_dict()) == rule
    assert rule.words == ("a", "b") and rule.method == "POST"


def test_every_nth_call(api: httpx.Client, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("server_error", endpoint=CREDIT, start_call=2, every=3))
    statuses = [api.get(CREDIT).status_code for _ in range(8)]
    assert statuses == [200, 500, 200, 200, 500, 200, 200, 500]


def test_callback_rules_never_touch_http_answers(api: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    emu.set_faults(*(FaultRule(kind) for kind in CALLBACK_FAULT_KINDS))
    assert api.get(CREDIT).json()["code"] == 200
    kie.wait_runway(kie.generate_id())  # no callBackUrl: no callback, so no callback fault either
    assert emu.stats().faults_injected == {}


def test_callback_rule_fields_validation_and_json() -> None:
    with pytest.raises(ValueError, match="every"):
        FaultRule("callback_drop", every=0)
    with pytest.raises(ValueError, match="copies"):
        FaultRule("callback_duplicate", copies=1)
    with pytest.raises(ValueError, match="after_s"):
        FaultRule("callback_delay", after_s=-1)
    with pytest.raises(ValueError):
        FaultRule("callback_signature", signature="forged-somehow")
    rule = FaultRule("callback_signature", signature="stale", every=3, endpoint="/kie/*")
    assert rule.signature is SignatureFault.STALE
    data = rule.to_dict()
    assert data["signature"] == "stale" and data["every"] == 3
    assert FaultRule.from_dict(json.loads(json.dumps(data))) == rule


def test_callback_faults_over_the_admin_endpoint(emu: RunningEmulator) -> None:
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        answer = admin.post(
            "/_emulator/faults",
            json={
                "rules": [
                    {"kind": "callback_drop", "every": 3},
                    {"kind": "callback_duplicate", "copies": 3},
                    {"kind": "callback_delay", "after_s": 30},
                    {"kind": "callback_replay", "after_s": 600},
                    {"kind": "callback_signature", "signature": "other_task"},
                ]
            },
        )
        assert answer.status_code == 200
    assert [rule.kind.value for rule in emu.state.faults.rules] == [
        "callback_drop",
        "callback_duplicate",
        "callback_delay",
        "callback_replay",
        "callback_signature",
    ]
    assert emu.state.faults.rules[4].signature is SignatureFault.OTHER_TASK
