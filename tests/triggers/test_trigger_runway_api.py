"""RunwayTaskTrigger on Runway's own API against a scripted Runway (httpx MockTransport): waits share one
client per loop and connection, and an abandoned wait cancels only when its task instance really ended.

The supervisor is faked where the triggerer installs its own (``task_runner.SUPERVISOR_COMMS``); the
emulator-backed tests, through Airflow's own ``TriggerRunner``, are in
``tests/integration/test_int_runway_backend.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import RetryPolicy
from airflow_provider_kie.hooks.runway import AsyncRunwayBackendClient, RunwayConnectionSettings, RunwayHook
from airflow_provider_kie.triggers import runway as trigger_module
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

KEY = "key_" + "a" * 124
RUN_ID = "scheduled__2026-12-02"


class ScriptedRunway:
    """Runway answering ``GET``/``DELETE /v1/tasks/{id}``: each task runs until its ``polls_to_end``-th
    read, then ends in ``final``; a DELETE of an active task cancels it."""

    def __init__(self, polls_to_end: int = 3, final: str = "SUCCEEDED") -> None:
        self.polls_to_end = polls_to_end
        self.final = final
        self.polls: dict[str, int] = {}
        self.deletes: list[str] = []
        self.cancelled: set[str] = set()
        self.transport = httpx.MockTransport(self.handle)

    def status(self, task_id: str) -> str:
        if task_id in self.cancelled:
            return "CANCELLED"
        return self.final if self.polls.get(task_id, 0) >= self.polls_to_end else "RUNNING"

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        task_id = request.url.path.rsplit("/", 1)[-1]
        if request.method == "DELETE":
            self.deletes.append(task_id)
            if self.status(task_id) not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                self.cancelled.add(task_id)
            return httpx.Response(204)
        self.polls[task_id] = self.polls.get(task_id, 0) + 1
        body: dict[str, Any] = {
            "id": task_id,
            "status": self.status(task_id),
            "createdAt": "2026-12-02T00:00Z",
        }
        if body["status"] == "SUCCEEDED":
            body["output"] = [f"https://dnznrvs05pmza.cloudfront.net/{task_id}.mp4"]
        return httpx.Response(200, json=body)


@pytest.fixture
def runway(monkeypatch, mocker) -> tuple[ScriptedRunway, list[AsyncRunwayBackendClient]]:
    """``runway_a`` and ``runway_a2`` (same settings) on a scripted Runway; every client built is recorded."""
    scripted = ScriptedRunway()
    built: list[AsyncRunwayBackendClient] = []
    for conn_id in ("RUNWAY_A", "RUNWAY_A2"):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id}",
            json.dumps({"conn_type": "runway", "password": KEY, "host": "https://runway.test"}),
        )

    def build(hook: RunwayHook, settings: RunwayConnectionSettings) -> AsyncRunwayBackendClient:
        client = AsyncRunwayBackendClient(
            settings.api_key,
            transport=scripted.transport,
            retry=RetryPolicy.none(),
            **settings.client_kwargs(),
        )
        built.append(client)
        return client

    mocker.patch.object(RunwayHook, "async_client_for", autospec=True, side_effect=build)
    return scripted, built


def _trigger(task_id: str = "t1", conn_id: str = "runway_a", **kw: Any) -> RunwayTaskTrigger:
    return RunwayTaskTrigger(
        task_id, kind="runway_api", kie_conn_id=conn_id, poll_interval=0.01, jitter=0.0, **kw
    )


async def _run(trigger: RunwayTaskTrigger) -> dict[str, Any]:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1
    return events[0]


# -- one client per loop and connection ---------------------------------------------------------------------
def test_runway_api_waits_share_one_client_per_connection_closed_after_the_last(runway):
    scripted, built = runway

    async def main() -> list[dict[str, Any]]:
        events = await asyncio.gather(
            *(_run(_trigger(f"t{i}", "runway_a" if i % 2 else "runway_a2")) for i in range(10))
        )
        assert dict(trigger_module._clients._leases.get(asyncio.get_running_loop(), {})) == {}
        return events

    events = asyncio.run(main())
    assert [e["status"] for e in events] == ["succeeded"] * 10
    assert len(built) == 1  # ten waits, two connections with the same settings: one client
    assert built[0]._http.is_closed
    assert sum(scripted.polls.values()) == 10 * scripted.polls_to_end


def test_kie_and_runway_api_waits_never_share_a_client(runway, monkeypatch, mocker):
    # Different settings types are different keys, even in one loop at the same time.
    from airflow_provider_kie.client import AsyncKieClient
    from airflow_provider_kie.hooks.kie import KieHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_KIE_A", json.dumps({"conn_type": "kie", "password": "sk-k", "host": "http://kie.test"})
    )

    def kie(request: httpx.Request) -> httpx.Response:
        data = {"taskId": "k1", "state": "success", "videoInfo": {"videoUrl": "https://x/k1.mp4"}}
        return httpx.Response(200, json={"code": 200, "msg": "success", "data": data})

    kie_clients: list[AsyncKieClient] = []

    def build_kie(hook: KieHook, settings: Any) -> AsyncKieClient:
        kie_clients.append(
            AsyncKieClient(settings.api_key, base_url=settings.base_url, transport=httpx.MockTransport(kie))
        )
        return kie_clients[-1]

    mocker.patch.object(KieHook, "async_client_for", autospec=True, side_effect=build_kie)

    async def main() -> list[dict[str, Any]]:
        kie_trigger = RunwayTaskTrigger("k1", kie_conn_id="kie_a", poll_interval=0.01, jitter=0.0)
        return list(await asyncio.gather(_run(_trigger("t1")), _run(kie_trigger)))

    events = asyncio.run(main())
    assert [e["status"] for e in events] == ["succeeded", "succeeded"]
    _, built = runway
    assert len(built) == 1 and len(kie_clients) == 1


# -- cancelling an abandoned wait -----------------------------------------------------------------------
class Supervisor:
    """Answers ``GetTaskStates`` with ``states`` (``{key: state}`` for :data:`RUN_ID`); ``error`` raises."""

    def __init__(self, states: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.states = states or {}
        self.error = error
        self.asked: list[Any] = []
        self.block = threading.Event()
        self.blocking = False

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult

        if not isinstance(msg, GetTaskStates):
            return None  # MaskSecret and the like
        self.asked.append(msg)
        if self.blocking:
            self.block.wait(5)
        if self.error is not None:
            raise self.error
        return TaskStatesResult(task_states={RUN_ID: self.states})


@pytest.fixture
def install(monkeypatch):
    from airflow.sdk.execution_time import task_runner

    def put(supervisor: Supervisor) -> Supervisor:
        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", supervisor, raising=False)
        return supervisor

    return put


def _ti(map_index: int = -1) -> SimpleNamespace:
    return SimpleNamespace(dag_id="clips", run_id=RUN_ID, task_id="fox", map_index=map_index, try_number=1)


def _stopped(trigger: RunwayTaskTrigger, scripted: ScriptedRunway, *, on_kill: bool) -> None:
    """Start the wait, stop it after its first poll as the triggerer does: cancel, then (Airflow >= 3.3, user
    action) ``on_kill``, then ``cleanup``."""

    async def main() -> None:
        wait = asyncio.create_task(_run(trigger))
        while not scripted.polls:
            await asyncio.sleep(0.001)
        wait.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await wait
        if on_kill:
            await trigger.on_kill()
        await trigger.cleanup()

    asyncio.run(main())


def test_serialized_kwargs_carry_the_cancel_flag_and_old_ones_default_to_no_cancel():
    _, kwargs = _trigger(cancel_on_kill=True).serialize()
    assert kwargs["cancel_on_kill"] is True
    assert RunwayTaskTrigger(**kwargs).cancel_on_kill is True
    del kwargs["cancel_on_kill"]  # a trigger serialized before the flag existed
    assert RunwayTaskTrigger(**kwargs).cancel_on_kill is False


@pytest.mark.parametrize("on_kill", [True, False], ids=["airflow-3.3-on_kill", "cleanup-only"])
@pytest.mark.parametrize("state", [None, "failed", "success", "scheduled", "up_for_retry"])
def test_a_task_instance_that_left_its_deferral_cancels_once(runway, install, state, on_kill):
    scripted, _ = runway
    scripted.polls_to_end = 10**6
    supervisor = install(Supervisor({"fox": state}))
    trigger = _trigger(cancel_on_kill=True)
    trigger.task_instance = _ti()  # type: ignore[assignment]

    _stopped(trigger, scripted, on_kill=on_kill)

    assert scripted.deletes == ["t1"] and scripted.cancelled == {"t1"}
    (question,) = supervisor.asked  # on_kill and cleanup: one decision
    assert (question.dag_id, question.task_ids, question.run_ids) == ("clips", ["fox"], [RUN_ID])


@pytest.mark.parametrize(
    "supervisor",
    [
        pytest.param(Supervisor({"fox": "deferred"}), id="still-deferred"),
        pytest.param(Supervisor(error=ConnectionResetError("supervisor closed")), id="channel-closed"),
        pytest.param(Supervisor({"other_task": "failed"}), id="task-instance-missing"),
        pytest.param(None, id="no-supervisor"),
    ],
)
def test_without_evidence_that_the_task_instance_ended_nothing_is_cancelled(runway, install, supervisor):
    scripted, _ = runway
    scripted.polls_to_end = 10**6
    if supervisor is not None:
        install(supervisor)
    trigger = _trigger(cancel_on_kill=True)
    trigger.task_instance = _ti()  # type: ignore[assignment]

    _stopped(trigger, scripted, on_kill=True)

    assert scripted.deletes == [] and scripted.polls == {"t1": 1}  # one poll; no read for a cancel


def test_a_decision_that_takes_too_long_leaves_the_task_running(runway, install, monkeypatch):
    scripted, _ = runway
    scripted.polls_to_end = 10**6
    supervisor = install(Supervisor({"fox": "failed"}))
    supervisor.blocking = True
    monkeypatch.setattr(trigger_module, "CANCEL_DECISION_TIMEOUT", 0.2)
    trigger = _trigger(cancel_on_kill=True)
    trigger.task_instance = _ti()  # type: ignore[assignment]

    try:
        _stopped(trigger, scripted, on_kill=False)
    finally:
        supervisor.block.set()

    assert scripted.deletes == []


def test_no_trigger_without_task_instance_or_flag_or_on_kie_asks_anything(runway, install):
    scripted, _ = runway
    scripted.polls_to_end = 10**6
    supervisor = install(Supervisor({"fox": "failed"}))
    for trigger in (
        _trigger(cancel_on_kill=False),  # the sensor's
        RunwayTaskTrigger("k1", kind="runway", kie_conn_id="runway_a", cancel_on_kill=True),  # KIE: ignored
    ):
        trigger.task_instance = _ti()  # type: ignore[assignment]
        asyncio.run(trigger.on_kill())
        asyncio.run(trigger.cleanup())
    assert supervisor.asked == [] and scripted.deletes == []


def test_a_wait_that_sent_its_event_never_cancels(runway, install):
    scripted, _ = runway
    supervisor = install(Supervisor({"fox": "scheduled"}))  # as after the event was handed over
    trigger = _trigger(cancel_on_kill=True)
    trigger.task_instance = _ti()  # type: ignore[assignment]

    async def main() -> None:
        assert (await _run(trigger))["status"] == "succeeded"
        await trigger.cleanup()

    asyncio.run(main())
    assert supervisor.asked == [] and scripted.deletes == []


def test_a_task_that_ended_meanwhile_is_not_deleted(runway, install):
    # Runway's DELETE deletes a finished task, output included: read first, DELETE only while active.
    scripted, _ = runway
    scripted.polls_to_end = 2  # the first poll sees RUNNING; the cancel's read sees SUCCEEDED
    install(Supervisor({"fox": "failed"}))
    trigger = _trigger(cancel_on_kill=True)
    trigger.task_instance = _ti()  # type: ignore[assignment]

    _stopped(trigger, scripted, on_kill=False)

    assert scripted.polls == {"t1": 2} and scripted.deletes == []


def test_a_mapped_task_instance_is_asked_for_by_its_map_index(runway, install):
    scripted, _ = runway
    scripted.polls_to_end = 10**6
    supervisor = install(Supervisor({"fox": "deferred", "fox_3": "failed"}))
    trigger = _trigger(cancel_on_kill=True)
    trigger.task_instance = _ti(map_index=3)  # type: ignore[assignment]

    _stopped(trigger, scripted, on_kill=False)

    assert supervisor.asked[0].map_index == 3
    assert scripted.deletes == ["t1"]
