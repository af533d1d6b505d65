"""Triggers of one event loop share one KIE client per connection, closed when the last wait ends."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import AsyncKieClient, RetryPolicy
from airflow_provider_kie.hooks.kie import KieConnectionSettings, KieHook
from airflow_provider_kie.triggers import runway as trigger_module
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger
from airflow_provider_kie.triggers.shared import SharedClients

KEY_A = "sk-shared-client-key-a"
KEY_B = "sk-shared-client-key-b"


class ScriptedKie:
    """KIE answering record-detail: each task succeeds on its ``polls_to_success``-th poll."""

    def __init__(self, polls_to_success: int = 3) -> None:
        self.polls_to_success = polls_to_success
        self.polls: dict[str, int] = {}
        self.keys_seen: list[str] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        task_id = request.url.params["taskId"]
        self.keys_seen.append(request.headers["Authorization"].removeprefix("Bearer "))
        self.polls[task_id] = self.polls.get(task_id, 0) + 1
        state = "success" if self.polls[task_id] >= self.polls_to_success else "generating"
        data = {"taskId": task_id, "state": state, "videoInfo": {"videoUrl": f"https://x/{task_id}.mp4"}}
        return httpx.Response(200, json={"code": 200, "msg": "success", "data": data})


@pytest.fixture
def kie(monkeypatch, mocker) -> tuple[ScriptedKie, list[AsyncKieClient]]:
    """Connections ``kie_a``/``kie_a2`` (key A) and ``kie_b`` (key B); every client built is recorded."""
    scripted = ScriptedKie()
    built: list[AsyncKieClient] = []
    for conn_id, key in (("KIE_A", KEY_A), ("KIE_A2", KEY_A), ("KIE_B", KEY_B)):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id}",
            json.dumps({"conn_type": "kie", "password": key, "host": "http://kie.test"}),
        )

    def build(hook: KieHook, settings: KieConnectionSettings) -> AsyncKieClient:
        client = AsyncKieClient(
            settings.api_key,
            base_url=settings.base_url,
            transport=scripted.transport,
            retry=RetryPolicy.none(),
        )
        built.append(client)
        return client

    mocker.patch.object(KieHook, "async_client_for", autospec=True, side_effect=build)
    return scripted, built


def _trigger(task_id: str, conn_id: str = "kie_a") -> RunwayTaskTrigger:
    return RunwayTaskTrigger(task_id, kie_conn_id=conn_id, poll_interval=0.01, jitter=0.0)


async def _run(trigger: RunwayTaskTrigger) -> dict[str, Any]:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1
    return events[0]


def _registered() -> dict[Any, Any]:
    return dict(trigger_module._clients._leases.get(asyncio.get_running_loop(), {}))


def test_waits_on_one_connection_share_one_client_closed_after_the_last(kie):
    scripted, built = kie

    async def main() -> list[dict[str, Any]]:
        events = await asyncio.gather(*(_run(_trigger(f"t{i}")) for i in range(20)))
        assert _registered() == {}
        return events

    events = asyncio.run(main())
    assert [e["status"] for e in events] == ["succeeded"] * 20
    assert len(built) == 1
    assert built[0]._http.is_closed
    assert sum(scripted.polls.values()) == 20 * scripted.polls_to_success


def test_connections_with_the_same_settings_share_and_other_keys_do_not(kie):
    scripted, built = kie

    async def main() -> None:
        await asyncio.gather(
            _run(_trigger("a1", "kie_a")), _run(_trigger("a2", "kie_a2")), _run(_trigger("b1", "kie_b"))
        )

    asyncio.run(main())
    assert sorted(client._api_key for client in built) == [KEY_A, KEY_B]
    assert set(scripted.keys_seen) == {KEY_A, KEY_B}


def test_a_rotated_key_reaches_the_next_wait_while_running_waits_keep_theirs(kie, monkeypatch):
    scripted, built = kie
    scripted.polls_to_success = 10

    async def main() -> None:
        first = asyncio.create_task(_run(_trigger("old")))
        while not scripted.polls:
            await asyncio.sleep(0.001)
        monkeypatch.setenv(
            "AIRFLOW_CONN_KIE_A",
            json.dumps({"conn_type": "kie", "password": "sk-rotated", "host": "http://kie.test"}),
        )
        await asyncio.gather(first, _run(_trigger("new")))

    asyncio.run(main())
    assert [client._api_key for client in built] == [KEY_A, "sk-rotated"]
    assert all(client._http.is_closed for client in built)


def test_a_cancelled_wait_releases_the_client(kie):
    scripted, built = kie
    scripted.polls_to_success = 10**6  # never finishes: the triggerer cancels it

    async def main() -> None:
        waits = [asyncio.create_task(_run(_trigger(f"t{i}"))) for i in range(3)]
        while len(scripted.polls) < 3:
            await asyncio.sleep(0.001)
        (settings,) = _registered()
        assert trigger_module._clients.users(settings) == 3
        waits[0].cancel()
        await asyncio.sleep(0.05)
        assert trigger_module._clients.users(settings) == 2
        assert not built[0]._http.is_closed
        for wait in waits[1:]:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        assert _registered() == {}

    asyncio.run(main())
    assert len(built) == 1
    assert built[0]._http.is_closed


def test_each_event_loop_gets_its_own_client(kie):
    _, built = kie
    asyncio.run(_run(_trigger("first")))
    asyncio.run(_run(_trigger("second")))
    assert len(built) == 2
    assert built[0] is not built[1]


def test_a_connection_without_a_key_is_an_error_event_and_registers_nothing(kie, monkeypatch):
    _, built = kie
    monkeypatch.setenv("AIRFLOW_CONN_KIE_NOKEY", json.dumps({"conn_type": "kie", "host": "http://kie.test"}))

    async def main() -> dict[str, Any]:
        event = await _run(_trigger("t1", "kie_nokey"))
        assert _registered() == {}
        return event

    event = asyncio.run(main())
    assert event["status"] == "error"
    assert "no API key" in event["message"]
    assert built == []


def test_lease_builds_once_even_when_many_users_arrive_together():
    clients = SharedClients()
    builds: list[AsyncKieClient] = []

    def build() -> AsyncKieClient:
        builds.append(AsyncKieClient("sk-x", base_url="http://kie.test", transport=httpx.MockTransport(None)))  # type: ignore[arg-type]
        return builds[-1]

    async def user(hold: asyncio.Event) -> AsyncKieClient:
        async with clients.lease("key", build) as client:
            await hold.wait()
            return client

    async def main() -> None:
        hold = asyncio.Event()
        users = [asyncio.create_task(user(hold)) for _ in range(50)]
        await asyncio.sleep(0)
        assert clients.users("key") == 50
        hold.set()
        got = await asyncio.gather(*users)
        assert {id(c) for c in got} == {id(builds[0])}
        assert clients.users("key") == 0

    asyncio.run(main())
    assert len(builds) == 1
    assert builds[0]._http.is_closed


@pytest.fixture
def asyncio_reports(monkeypatch) -> Iterator[list[str]]:
    """What asyncio reports about tasks and generators left unawaited: its logger, unraisable exceptions."""
    reports: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            reports.append(record.getMessage())

    handler = Keep(logging.WARNING)
    logging.getLogger("asyncio").addHandler(handler)
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reports.append(f"{u.exc_value!r} in {u.object!r}"))
    yield reports
    logging.getLogger("asyncio").removeHandler(handler)


def _stop_at_the_first_event_in_main(trigger: RunwayTaskTrigger) -> tuple[Any, dict[Any, Any]]:
    # What dag.test() does (InProcessTestSupervisor.run_trigger_in_process): the generator is dropped after
    # its first event, while the loop still runs.
    async def main() -> tuple[Any, dict[Any, Any]]:
        event = await anext(trigger.run(), None)
        return event, {key: lease.users for key, lease in _registered().items()}

    return asyncio.run(main())


def _stop_at_the_first_event_alone(trigger: RunwayTaskTrigger) -> tuple[Any, None]:
    # The reproduction: the generator outlives the coroutine and is closed at loop shutdown.
    return asyncio.run(anext(trigger.run())), None


@pytest.mark.parametrize("consume", [_stop_at_the_first_event_in_main, _stop_at_the_first_event_alone])
def test_a_consumer_that_stops_at_the_first_event_leaves_nothing_open(kie, asyncio_reports, consume):
    scripted, built = kie
    scripted.polls_to_success = 2
    event, registered_after_event = consume(_trigger("t1"))
    gc.collect()
    assert event.payload["status"] == "succeeded"
    if registered_after_event is not None:
        assert registered_after_event == {}  # the client was released before the event was handed over
    assert len(built) == 1
    assert built[0]._http.is_closed
    assert asyncio_reports == []
