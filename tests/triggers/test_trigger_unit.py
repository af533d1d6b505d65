"""RunwayTaskTrigger against a scripted KIE (httpx MockTransport): one event per run, for every outcome."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import AsyncKieClient, RetryPolicy
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

API_KEY = "sk-trigger-unit-secret"


def _runway(state: str, **extra: Any) -> dict[str, Any]:
    return {"code": 200, "msg": "success", "data": {"taskId": "t1", "state": state, **extra}}


def _script(answers: list[Any]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering each request with the next scripted answer (the last one repeats)."""
    seen: list[httpx.Request] = []
    queue: Iterator[Any] = iter(answers)
    last: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(queue, None)
        if answer is None:
            answer = last[0]
        last[:] = [answer]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    return httpx.MockTransport(handler), seen


def _trigger(transport: httpx.MockTransport, **kw: Any) -> RunwayTaskTrigger:
    params: dict[str, Any] = {
        "kie_task_id": "t1",
        "poll_interval": 0.01,
        "jitter": 0.0,
        "kie_conn_id": "kie_unit",
    }
    params.update(kw)
    trigger = RunwayTaskTrigger(**params)

    @asynccontextmanager
    async def client() -> AsyncIterator[AsyncKieClient]:
        async with AsyncKieClient(
            API_KEY, base_url="http://kie.test", transport=transport, retry=RetryPolicy.none()
        ) as scripted:
            yield scripted

    trigger._client = client  # type: ignore[method-assign]
    return trigger


def _events(trigger: RunwayTaskTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def test_success_after_the_whole_lifecycle_yields_one_event(capsys):
    transport, seen = _script(
        [
            _runway("wait"),
            _runway("queueing"),
            _runway("queueing"),
            _runway("generating"),
            _runway("success", videoInfo={"videoUrl": "https://x/v.mp4", "imageUrl": "https://x/c.png"}),
        ]
    )
    (event,) = _events(_trigger(transport))
    assert event["status"] == "succeeded"
    assert event["kie_task_id"] == "t1"
    assert event["record"]["video_url"] == "https://x/v.mp4"
    assert len(seen) == 5
    # One log line per state change: queueing twice in a row logs once.
    changes = [line for line in capsys.readouterr().out.splitlines() if "KIE task t1 is now" in line]
    assert [c.split("(")[1].split(")")[0] for c in changes] == ["wait", "queueing", "generating", "success"]


def test_failure_carries_kies_reason():
    transport, _ = _script([_runway("fail", failCode=400, failMsg="Content policy violation")])
    (event,) = _events(_trigger(transport))
    assert event["status"] == "failed"
    assert event["record"]["fail_msg"] == "Content policy violation"
    assert event["record"]["fail_code"] == "400"


def test_an_unknown_state_keeps_waiting():
    transport, seen = _script([_runway("rendering"), _runway("success")])
    (event,) = _events(_trigger(transport))
    assert event["status"] == "succeeded"
    assert len(seen) == 2


def test_aleph_tasks_are_read_from_record_info():
    aleph = {
        "code": 200,
        "msg": "success",
        "data": {"taskId": "t1", "successFlag": 1, "response": {"resultVideoUrl": "https://x/a.mp4"}},
    }
    transport, seen = _script([aleph])
    (event,) = _events(_trigger(transport, kind="aleph"))
    assert event["status"] == "succeeded"
    assert seen[0].url.path == "/api/v1/aleph/record-info"


def test_transient_errors_back_off_then_recover():
    transport, seen = _script(
        [
            httpx.Response(500, text="<html>bad gateway</html>"),
            httpx.ConnectError("refused"),
            _runway("fail", failMsg="x") | {"code": 455, "msg": "maintenance"},
            _runway("success"),
        ]
    )
    (event,) = _events(_trigger(transport))
    assert event["status"] == "succeeded"
    assert len(seen) == 4


def test_a_permanent_error_ends_the_wait_with_an_error_event():
    transport, seen = _script([{"code": 401, "msg": "You do not have access permissions", "data": None}])
    (event,) = _events(_trigger(transport))
    assert event["status"] == "error"
    assert event["error_type"] == "KieAuthError"
    assert len(seen) == 1


def test_an_unknown_task_gets_a_short_grace_then_an_error():
    not_found = {"code": 422, "msg": "recordInfo is null", "data": None}
    transport, seen = _script([not_found])
    (event,) = _events(_trigger(transport))
    assert event["status"] == "error"
    assert event["error_type"] == "KieTaskNotFoundError"
    assert len(seen) == 4  # the first poll plus three grace polls


def test_the_deadline_yields_a_timeout_event():
    transport, _ = _script([_runway("generating")])
    (event,) = _events(_trigger(transport, deadline=time.time() + 0.05))
    assert event["status"] == "timeout"
    assert event["last_state"] == "generating"


def test_serialize_round_trip_holds_primitives_and_no_secret():
    trigger = RunwayTaskTrigger(
        "t9", kind="aleph", kie_conn_id="kie_x", poll_interval=12, deadline=1.5e9, jitter=0.1
    )
    classpath, kwargs = trigger.serialize()
    assert API_KEY not in json.dumps(kwargs)
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_a_restarted_trigger_carries_on_to_the_same_deadline():
    transport, _ = _script([_runway("generating"), _runway("success")])
    original = _trigger(transport, deadline=time.time() + 60)
    _, kwargs = original.serialize()
    restarted = _trigger(transport, **kwargs)
    assert restarted.deadline == original.deadline
    (event,) = _events(restarted)
    assert event["status"] == "succeeded"


def test_event_is_small():
    transport, _ = _script(
        [_runway("success", generateParam={"prompt": "p" * 1800}, videoInfo={"videoUrl": "https://x/v"})]
    )
    (event,) = _events(_trigger(transport))
    assert "prompt" not in event["record"]
    assert len(json.dumps(event)) < 1024


def test_the_connection_is_looked_up_without_blocking(monkeypatch, mocker):
    # The real _make_client path: an async connection lookup, never the blocking one.
    monkeypatch.setenv(
        "AIRFLOW_CONN_KIE_ASYNC_TRIGGER",
        json.dumps({"conn_type": "kie", "password": API_KEY, "host": "http://127.0.0.1:9"}),
    )
    from airflow_provider_kie.hooks.kie import KieHook

    blocking = mocker.patch.object(KieHook, "get_connection", side_effect=AssertionError("blocking lookup"))
    trigger = RunwayTaskTrigger("t1", kie_conn_id="kie_async_trigger")

    async def build() -> str:
        async with trigger._client() as client:
            return client.base_url

    assert asyncio.run(build()) == "http://127.0.0.1:9"
    blocking.assert_not_called()


@pytest.mark.parametrize("bad_kind", ["jobsx", "RUNWAY"])
def test_unknown_kind_is_rejected(bad_kind):
    with pytest.raises(ValueError):
        RunwayTaskTrigger("t1", kind=bad_kind)


def test_the_first_poll_waits_first_poll_after_and_the_policy_carries_it():
    transport, seen = _script([_runway("generating"), _runway("success")])
    trigger = _trigger(transport, first_poll_after=7.5)
    assert trigger.poll_policy().first_poll_after == 7.5
    order: list[Any] = []

    async def fake_sleep(seconds: float, woken: object = None) -> None:
        order.append(("sleep", seconds, len(seen)))

    trigger._sleep = fake_sleep  # type: ignore[method-assign]
    (event,) = _events(trigger)
    assert event["status"] == "succeeded"
    assert order[0] == ("sleep", 7.5, 0)  # before any request
    assert len(seen) == 2


def test_a_scaled_policy_scales_the_first_poll_too():
    # Benchmarks play the trigger faster by scaling poll_policy(); the first wait must follow.
    transport, _ = _script([_runway("success")])
    trigger = _trigger(transport, first_poll_after=100.0)
    original = trigger.poll_policy
    trigger.poll_policy = lambda: original().scaled(0.0001)  # type: ignore[method-assign]
    slept: list[float] = []

    async def fake_sleep(seconds: float, woken: object = None) -> None:
        slept.append(seconds)

    trigger._sleep = fake_sleep  # type: ignore[method-assign]
    (event,) = _events(trigger)
    assert event["status"] == "succeeded"
    assert slept[0] == pytest.approx(0.01)
