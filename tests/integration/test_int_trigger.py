"""RunwayTaskTrigger over real HTTP: the connection looked up the Airflow way, one event per run, whatever
the emulator throws at its polls."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_kie.client import AlephGenerateRequest, KieClient, RunwayGenerateRequest
from airflow_provider_kie.emulator import FaultRule, RunningEmulator
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

pytestmark = pytest.mark.integration

RECORD = "/api/v1/runway/record-detail"


def _events(trigger: RunwayTaskTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def _submit(emu: RunningEmulator) -> str:
    with KieClient(emu.api_key, base_url=emu.base_url) as client:
        return client.runway_generate(
            RunwayGenerateRequest(prompt="a kite", duration=5, quality="720p", aspect_ratio="16:9")
        )


def _trigger(task_id: str, **kwargs: Any) -> RunwayTaskTrigger:
    # Rebuilt from its serialized kwargs, as the triggerer does.
    _, serialized = RunwayTaskTrigger(task_id, poll_interval=0.02, jitter=0.1, **kwargs).serialize()
    return RunwayTaskTrigger(**serialized)


def test_the_trigger_rides_out_every_transient_poll_failure(emu: RunningEmulator, kie_conn: Any) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = _submit(emu)
    emu.advance_time(1000)  # done: only the faults stand between the trigger and the result
    emu.set_faults(
        FaultRule("server_error", endpoint=RECORD, start_call=1, end_call=1),
        FaultRule("drop_connection", endpoint=RECORD, start_call=2, end_call=2),
        FaultRule("rate_limited", endpoint=RECORD, start_call=3, end_call=3, retry_after_s=0),
        FaultRule("body_error", endpoint=RECORD, start_call=4, end_call=4, code=455),
        FaultRule("server_error", endpoint=RECORD, start_call=5, end_call=5, status=502),
    )
    (event,) = _events(_trigger(task_id))
    assert event["status"] == "succeeded"
    assert event["record"]["video_url"] == f"{emu.base_url}/media/{task_id}.mp4"
    stats = emu.stats()
    assert stats.calls_by_endpoint[RECORD] == 6
    assert sum(stats.faults_injected.values()) == 5


def test_a_wrong_key_ends_the_wait_at_once(emu: RunningEmulator, kie_conn: Any) -> None:
    task_id = _submit(emu)
    emu.reconfigure(api_keys={"the-right-key"})
    kie_conn(api_key="a-revoked-key")
    (event,) = _events(_trigger(task_id))
    assert (event["status"], event["error_type"]) == ("error", "KieAuthError")
    assert "a-revoked-key" not in str(event)
    assert emu.stats().calls_by_endpoint[RECORD] == 1


def test_an_unknown_task_gets_a_short_grace(emu: RunningEmulator, kie_conn: Any) -> None:
    (event,) = _events(_trigger("no-such-task"))
    assert (event["status"], event["error_type"]) == ("error", "KieTaskNotFoundError")
    assert emu.stats().calls_by_endpoint[RECORD] == 4  # the first poll and three grace polls


def test_the_deadline_sends_a_timeout_event(emu: RunningEmulator, kie_conn: Any) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = _submit(emu)
    (event,) = _events(_trigger(task_id, deadline=time.time() + 0.3))
    assert event["status"] == "timeout"
    assert event["last_state"] == "wait"
    assert event["kie_task_id"] == task_id


def test_a_failed_aleph_task_is_one_failed_event(emu: RunningEmulator, kie_conn: Any) -> None:
    emu.set_faults(FaultRule("task_fail", fail_code=500, fail_msg="Aleph could not read the video"))
    with KieClient(emu.api_key, base_url=emu.base_url) as client:
        task_id = client.aleph_generate(
            AlephGenerateRequest(prompt="x", video_url="https://example.com/a.mp4")
        )
    (event,) = _events(_trigger(task_id, kind="aleph"))
    assert event["status"] == "failed"
    assert event["record"]["fail_msg"] == "Aleph could not read the video"
    assert event["record"]["fail_code"] == "500"
    assert event["kind"] == "aleph"
