"""KieVideoLink as Airflow 3 asks for it: in the worker, when each run of the task ends (deferral included).

The task's requests go the way a real worker's do (XCom -> supervisor request handlers -> the Task SDK's
API client), and only the execution API's HTTP answers are scripted, so a lookup that makes the SDK log an
error shows up here as it would in a deployment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog
from airflow.sdk.api.client import Client
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.comms import (
    GetXCom,
    GetXComSequenceSlice,
    XComResult,
    XComSequenceSliceResult,
)

from airflow_provider_kie.links import KieVideoLink

KEY = KieVideoLink().xcom_key
URL = "https://tempfile.kie.test/v.mp4"


class ExecutionApi:
    """The execution API's XCom reads: 404 for a missing XCom, as the real server answers."""

    def __init__(self) -> None:
        self.xcoms: dict[tuple[str, int], Any] = {}  # (task id, map index) -> value under KEY

    def handle(self, request: httpx.Request) -> httpx.Response:
        _dag_id, _run_id, task_id, key, *rest = request.url.path.split("/xcoms/", 1)[1].split("/")
        rows = sorted((m, v) for (t, m), v in self.xcoms.items() if key == KEY and t == task_id)
        if rest == ["slice"]:
            return httpx.Response(200, json=[value for _, value in rows])
        map_index = int(request.url.params.get("map_index", -1))
        for index, value in rows:
            if index == map_index:
                return httpx.Response(200, json={"key": key, "value": value})
        detail = {"reason": "not_found", "message": f"XCom with key={key!r} not found"}
        return httpx.Response(404, json={"detail": detail})


class SupervisorComms:
    """Answers the task's XCom requests as the supervisor does, through the SDK's own handlers."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def send(self, msg: Any) -> Any:
        try:  # Airflow >= 3.3: the supervisor's handlers live in their own module
            from airflow.sdk.execution_time import request_handlers
        except ImportError:  # Airflow 3.1/3.2: the same calls, inline in the supervisor's _handle_request
            request_handlers = None
        if isinstance(msg, GetXCom):
            if request_handlers is not None:
                return request_handlers.handle_get_xcom(self.client, msg)[0]
            xcom = self.client.xcoms.get(
                msg.dag_id, msg.run_id, msg.task_id, msg.key, msg.map_index, msg.include_prior_dates
            )
            return XComResult.from_xcom_response(xcom)
        if isinstance(msg, GetXComSequenceSlice):
            if request_handlers is not None:
                return request_handlers.handle_get_xcom_sequence_slice(self.client, msg)[0]
            xcoms = self.client.xcoms.get_sequence_slice(
                msg.dag_id,
                msg.run_id,
                msg.task_id,
                msg.key,
                msg.start,
                msg.stop,
                msg.step,
                msg.include_prior_dates,
            )
            return XComSequenceSliceResult.from_response(xcoms)
        raise AssertionError(f"unexpected request {msg!r}")


@dataclass
class RunningTi:
    """What ``task_runner.finalize`` passes as ``ti_key``: the running task instance, with its state."""

    dag_id: str = "kie_dag"
    task_id: str = "generate"
    run_id: str = "manual__1"
    map_index: int = -1
    try_number: int = 1
    state: str | None = None


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> ExecutionApi:
    api = ExecutionApi()
    client = Client(
        base_url="http://execution.test/execution", token="t", transport=httpx.MockTransport(api.handle)
    )
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", SupervisorComms(client), raising=False)
    return api


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """Everything logged at ERROR or above, through structlog (the Task SDK's logging) or stdlib logging."""
    seen: list[str] = []

    def keep(_logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if method in ("error", "exception", "critical", "fatal"):
            seen.append(str(event))
        return event

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    # In place, as structlog.testing.capture_logs does: loggers cached on first use keep this very list.
    processors = structlog.get_config()["processors"]
    processors.insert(0, keep)
    handler = Keep(logging.ERROR)
    logging.getLogger().addHandler(handler)
    try:
        yield seen
    finally:
        processors.remove(keep)
        logging.getLogger().removeHandler(handler)


def _link(ti: RunningTi) -> str:
    return KieVideoLink().get_link(operator=None, ti_key=ti)  # type: ignore[arg-type]


@pytest.mark.parametrize("state", ["deferred", "up_for_reschedule", "failed", "success", None])
def test_no_clip_yet_is_an_empty_link_and_no_error(api, errors, state):
    assert _link(RunningTi(state=state)) == ""
    assert errors == []


def test_a_finished_clip_is_linked(api, errors):
    api.xcoms[("generate", -1)] = URL
    assert _link(RunningTi(state="success")) == URL
    assert errors == []


def test_mapped_tasks_get_their_own_link_and_none_while_deferred(api, errors):
    # Map index 0 finished; index 1 is deferring for the first time; index 2 finished without a clip.
    api.xcoms[("generate", 0)] = URL
    api.xcoms[("generate", 2)] = ""
    assert _link(RunningTi(map_index=0, state="success")) == URL
    assert _link(RunningTi(map_index=1, state="deferred")) == ""
    assert _link(RunningTi(map_index=2, state="failed")) == ""
    assert errors == []


def test_an_empty_pushed_link_is_empty(api, errors):
    api.xcoms[("generate", -1)] = ""
    assert _link(RunningTi(state="success")) == ""
    assert errors == []
