"""Callbacks: KIE's payload shapes, signature headers, and receivers that misbehave."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client.errors import KieSignatureError
from airflow_provider_kie.client.webhooks import compute_signature, verify_signature
from airflow_provider_kie.emulator import FaultRule
from airflow_provider_kie.emulator.callbacks import FORGER_KEY, webhook_signature
from airflow_provider_kie.emulator.faults import SKEWED_TIMESTAMP_S
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


# ------------------------------------------------------------------------------------------ callback faults


def _verify(headers: dict[str, str], task_id: str) -> None:
    """The provider's own check of a received callback (raises KieSignatureError when it is not genuine)."""
    lowered = _lower(headers)
    verify_signature(KEY, task_id, lowered.get("x-webhook-timestamp"), lowered.get("x-webhook-signature"))


def _settled(emu: RunningEmulator, tasks: int) -> bool:
    """Every one of ``tasks`` tasks is terminal and nothing (callback, retry, replay) is still queued."""
    finished = sum(1 for task in emu.tasks() if task.state in ("success", "fail"))
    return finished == tasks and emu.state.seconds_until_next_callback() is None


def _one_callback(kie: Any, emu: RunningEmulator, callback_receiver: Any, wait: Any) -> str:
    """Submit a task and wait until its callback is logged (sent or dropped): callbacks then fall due one at
    a time, in a known order."""
    logged = len(emu.callback_log())
    task_id = str(kie.generate_id(callBackUrl=callback_receiver.url))
    wait(lambda: len(emu.callback_log()) > logged)
    return task_id


def test_dropped_callbacks_are_never_sent_nor_retried(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(callback_retry_delays_s=(1.0, 5.0, 15.0))
    emu.set_faults(FaultRule("callback_drop", start_call=2, every=2))  # the 2nd and 4th callbacks
    ids = [_one_callback(kie, emu, callback_receiver, wait) for _ in range(4)]
    wait(lambda: _settled(emu, 4) and len(emu.callback_log()) == 4)
    assert [r.body["data"]["task_id"] for r in callback_receiver.received] == [ids[0], ids[2]]
    log = emu.callback_log()
    assert [(a.task_id, a.sent, a.faults) for a in log] == [
        (ids[0], True, ()),
        (ids[1], False, ("callback_drop",)),
        (ids[2], True, ()),
        (ids[3], False, ("callback_drop",)),
    ]
    assert log[1].status_code is None and "callback_drop" in (log[1].error or "")
    stats = emu.stats()
    assert (stats.callbacks_attempted, stats.callbacks_delivered, stats.callbacks_dropped) == (2, 2, 2)
    assert stats.callbacks_by_fault == {"callback_drop": 2}
    assert stats.faults_injected == {"callback_drop": 2}


def test_random_drops_repeat_for_a_seed(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    def dropped_positions(seed: int) -> list[int]:
        emu.reset()
        emu.set_faults(FaultRule("callback_drop", probability=0.5), seed=seed)
        for _ in range(8):
            _one_callback(kie, emu, callback_receiver, wait)
        return [i for i, attempt in enumerate(emu.callback_log()) if not attempt.sent]

    first = dropped_positions(1)
    assert 0 < len(first) < 8
    assert dropped_positions(1) == first
    assert dropped_positions(2) != first


def test_callback_faults_match_the_callback_path(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.set_faults(FaultRule("callback_drop", endpoint="/elsewhere/*"))
    kie.generate_id(callBackUrl=callback_receiver.url)
    callback_receiver.wait_for(1)
    wait(lambda: _settled(emu, 1))
    assert emu.stats().faults_injected == {} and emu.stats().callbacks_dropped == 0


def test_duplicated_callback_is_sent_copies_times_each_signed(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY, callback_retry_delays_s=(1.0,))
    emu.set_faults(FaultRule("callback_duplicate", copies=3))
    callback_receiver.status = 500  # only KIE's own callback is retried, never the copies
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    wait(lambda: _settled(emu, 1) and len(emu.callback_log()) == 4)
    received = callback_receiver.wait_for(4)
    assert len(received) == 4
    assert all(r.body == received[0].body and r.body["data"]["task_id"] == task_id for r in received)
    for r in received:
        _verify(r.headers, task_id)
    log = emu.callback_log()
    assert sorted((a.attempt, a.faults) for a in log) == [
        (1, ()),
        (1, ("callback_duplicate",)),
        (1, ("callback_duplicate",)),
        (2, ()),
    ]
    stats = emu.stats()
    assert stats.callbacks_attempted == 4 and stats.callbacks_by_fault == {"callback_duplicate": 2}
    assert stats.faults_injected == {"callback_duplicate": 1}


def test_delayed_callback_waits_on_the_emulator_clock(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY, time_scale=1.0)  # only advance_time moves KIE time noticeably
    emu.set_faults(FaultRule("callback_delay", after_s=600))
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    emu.advance_time(75)  # the task ends...
    assert kie.record(task_id)["state"] == "success"
    wait(lambda: emu.stats().faults_injected == {"callback_delay": 1})  # ...and its callback is held back
    assert emu.callback_log() == [] and callback_receiver.received == []
    pending = emu.state.seconds_until_next_callback()
    assert pending is not None and 590 < pending <= 600
    emu.advance_time(600)
    (received,) = callback_receiver.wait_for(1)
    assert received.body["data"]["task_id"] == task_id
    _verify(received.headers, task_id)  # signed when sent, not when the task ended
    (attempt,) = wait(lambda: emu.callback_log())
    assert attempt.ok and attempt.faults == ("callback_delay",)


def test_replayed_callback_repeats_body_and_headers(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY, time_scale=1.0)
    emu.set_faults(FaultRule("callback_replay", after_s=3600))
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    emu.advance_time(75)
    (original,) = callback_receiver.wait_for(1)
    _verify(original.headers, task_id)
    wait(lambda: len(emu.callback_log()) == 1)
    assert callback_receiver.received == [original]  # the replay waits an hour of KIE time
    emu.advance_time(3600)
    replay = callback_receiver.wait_for(2)[1]
    assert replay.body == original.body
    for name in ("x-webhook-timestamp", "x-webhook-signature"):
        assert _lower(replay.headers)[name] == _lower(original.headers)[name]
    wait(lambda: _settled(emu, 1) and len(emu.callback_log()) == 2)
    assert [a.faults for a in emu.callback_log()] == [(), ("callback_replay",)]
    assert emu.stats().callbacks_by_fault == {"callback_replay": 1}


def test_replay_on_demand_and_over_the_admin_endpoint(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY)
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    (original,) = callback_receiver.wait_for(1)
    wait(lambda: len(emu.callback_log()) == 1)
    replayed = emu.replay_callback(task_id)
    assert replayed.headers == emu.callback_log()[0].headers
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        answer = admin.post("/_emulator/callbacks/replay", json={"task_id": task_id})
        assert answer.status_code == 200 and answer.json()["replaying"]["task_id"] == task_id
        unknown = admin.post("/_emulator/callbacks/replay", json={"task_id": "nope"})
        assert unknown.status_code == 400 and "nope" in unknown.json()["error"]
    received = callback_receiver.wait_for(3)
    assert len(received) == 3
    assert all(r.body == original.body and _lower(r.headers) == _lower(original.headers) for r in received)
    wait(lambda: len(emu.callback_log()) == 3)
    assert emu.stats().callbacks_by_fault == {"callback_replay": 2}


@pytest.mark.parametrize("mode", ["wrong_key", "stale", "future", "unsigned"])
def test_spoiled_signatures_are_refused_by_the_provider(
    mode: str, kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY, callback_retry_delays_s=(1.0,))
    emu.set_faults(FaultRule("callback_signature", signature=mode))
    callback_receiver.status = 401  # a receiver refusing it: KIE retries, with the same fault
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    received = callback_receiver.wait_for(2)
    wait(lambda: _settled(emu, 1) and len(emu.callback_log()) == 2)
    assert len(callback_receiver.received) == 2
    for r in received:
        assert r.body["data"]["task_id"] == task_id and r.body["code"] == 200  # KIE's body, untouched
        with pytest.raises(KieSignatureError):
            _verify(r.headers, task_id)
        headers = _lower(r.headers)
        if mode == "unsigned":
            assert "x-webhook-signature" not in headers and "x-webhook-timestamp" not in headers
            continue
        timestamp = int(headers["x-webhook-timestamp"])
        if mode == "wrong_key":
            assert abs(timestamp - time.time()) < 60
            assert headers["x-webhook-signature"] == compute_signature(FORGER_KEY, task_id, timestamp)
        else:  # the right key at the wrong time: only the timestamp is off
            assert abs(abs(timestamp - time.time()) - SKEWED_TIMESTAMP_S) < 60
            verify_signature(KEY, task_id, timestamp, headers["x-webhook-signature"], now=timestamp)
    label = f"callback_signature:{mode}"
    assert [a.faults for a in emu.callback_log()] == [(label,), (label,)]
    assert emu.stats().callbacks_by_fault == {label: 2}


def test_other_task_signature_is_a_genuine_pair_of_another_task(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY)
    genuine_id = kie.generate_id(callBackUrl=callback_receiver.url)
    (genuine,) = callback_receiver.wait_for(1)
    wait(lambda: len(emu.callback_log()) == 1)
    emu.set_faults(FaultRule("callback_signature", signature="other_task"))
    task_id = kie.generate_id(callBackUrl=callback_receiver.url)
    forged = callback_receiver.wait_for(2)[1]
    assert forged.body["data"]["task_id"] == task_id
    with pytest.raises(KieSignatureError):
        _verify(forged.headers, task_id)
    _verify(forged.headers, genuine_id)  # the pair copied from the other task's genuine callback
    for name in ("x-webhook-timestamp", "x-webhook-signature"):
        assert _lower(forged.headers)[name] == _lower(genuine.headers)[name]


def test_forged_callback_for_a_live_task(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    emu.reconfigure(webhook_hmac_key=KEY, time_scale=1.0)  # the task stays "wait" for the whole test
    task_id = kie.aleph(callBackUrl=callback_receiver.url).json()["data"]["taskId"]
    emu.forge_callback(task_id, signature="stale")
    emu.forge_callback(task_id, signature=None)  # correctly signed, but ahead of KIE: a hint, not a truth
    received = callback_receiver.wait_for(2)
    assert kie.aleph_record(task_id)["successFlag"] == 0
    expected_body = {
        "code": 200,
        "msg": "success",
        "data": {
            "result_video_url": f"{emu.base_url}/media/{task_id}.mp4",
            "result_image_url": f"{emu.base_url}/media/{task_id}.png",
        },
        "taskId": task_id,
    }
    assert all(r.body == expected_body for r in received)
    verdicts = []
    for r in received:
        try:
            _verify(r.headers, task_id)
            verdicts.append("valid")
        except KieSignatureError:
            verdicts.append("refused")
    assert sorted(verdicts) == ["refused", "valid"]
    wait(lambda: len(emu.callback_log()) == 2)
    assert emu.stats().callbacks_by_fault == {"callback_forged": 2, "callback_signature:stale": 1}
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        ok = admin.post("/_emulator/callbacks/forge", json={"task_id": task_id, "signature": "unsigned"})
        assert ok.status_code == 200
        bad = admin.post("/_emulator/callbacks/forge", json={"task_id": task_id, "signature": "nope"})
        assert bad.status_code == 400 and "nope" in bad.json()["error"]
        missing = admin.post("/_emulator/callbacks/forge", json={"task_id": "no-such-task"})
        assert missing.status_code == 400 and "no-such-task" in missing.json()["error"]
    unsigned = callback_receiver.wait_for(3)[2]
    assert "x-webhook-signature" not in _lower(unsigned.headers)


def test_faults_combine_on_one_callback(
    kie: Any, callback_receiver: Any, emu: RunningEmulator, wait: Any
) -> None:
    """Delayed, duplicated and wrongly signed at once; dropping wins over everything."""
    emu.reconfigure(webhook_hmac_key=KEY, time_scale=1.0)
    emu.set_faults(
        FaultRule("callback_delay", after_s=60),
        FaultRule("callback_duplicate"),
        FaultRule("callback_signature", signature="wrong_key"),
        FaultRule("callback_drop", start_call=2),
    )
    first = kie.generate_id(callBackUrl=callback_receiver.url)
    emu.advance_time(75)
    wait(lambda: emu.stats().faults_injected.get("callback_delay") == 1)
    assert callback_receiver.received == []
    emu.advance_time(60)
    received = callback_receiver.wait_for(2)
    for r in received:
        assert r.body["data"]["task_id"] == first
        with pytest.raises(KieSignatureError):
            _verify(r.headers, first)
    second = kie.generate_id(callBackUrl=callback_receiver.url)
    emu.advance_time(75)
    wait(lambda: emu.stats().callbacks_dropped == 1)
    emu.advance_time(60)
    wait(lambda: _settled(emu, 2) and len(emu.callback_log()) == 3)
    assert len(callback_receiver.received) == 2
    log = emu.callback_log()
    assert sorted(a.faults for a in log if a.task_id == first) == [
        ("callback_delay", "callback_duplicate", "callback_signature:wrong_key"),
        ("callback_delay", "callback_signature:wrong_key"),
    ]
    assert [a.faults for a in log if a.task_id == second] == [("callback_drop",)]
