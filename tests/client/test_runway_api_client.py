"""Runway's own API client: configuration, headers, records, error mapping, pay-once creates, waits, cancel.

Everything runs on scripted ``httpx.MockTransport`` answers (``tests/client/conftest.py``); sleeps are
recorded, never slept. The scripted host is ``api.test`` (the conftest's transport refuses any other).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import (
    KieAuthError,
    KieBadRequestError,
    KieConfigurationError,
    KieInsufficientCreditsError,
    KieNotFoundError,
    KieRateLimitError,
    KieResponseError,
    KieServerError,
    KieSubmitOutcomeUnknownError,
    KieTaskCancelledError,
    KieTaskFailedError,
    KieTaskNotFoundError,
    KieTransportError,
    KieValidationError,
    KieWaitTimeoutError,
    PollPolicy,
    RetryPolicy,
    TaskKind,
    TaskRecord,
    TaskState,
)
from airflow_provider_kie.client.records import parse_record
from airflow_provider_kie.client.runway_api import (
    DEFAULT_RUNWAY_API_VERSION,
    DEFAULT_RUNWAY_BASE_URL,
    AsyncRunwayClient,
    RunwayClient,
    RunwayImageToVideoRequest,
    RunwayTextToVideoRequest,
)


class ScriptedTransport:
    """Answers requests from a script, one step per request (the last repeats), recording each request.

    A step is a ``dict`` (JSON under 200), ``(status, body[, headers])`` with a dict, ``str`` or ``bytes``
    body, an exception to raise, or a callable of the request returning a ``httpx.Response``. Like the KIE
    tests' transport, but for Runway's host, and never reaching the network.
    """

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    @property
    def count(self) -> int:
        return len(self.requests)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "api.test", f"unexpected host {request.url.host}"
        self.requests.append(request)
        assert len(self.requests) <= 50, "the client keeps sending: a retry or poll loop never ends"
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(request)  # type: ignore[no-any-return]
        status, body, *rest = step if isinstance(step, tuple) else (200, step)
        headers = rest[0] if rest else {}
        if isinstance(body, (dict, list)):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(
            status, content=body.encode() if isinstance(body, str) else body, headers=headers
        )


KEY = "key_" + "ab" * 64
BASE = "https://api.test"
TASK = "17f20503-6c24-4c16-946b-35dbbce2af2f"
CREATED = "2026-06-27T19:49:32.334Z"
#: Reads: 4 attempts, 1-2-4 s apart, no jitter.
FAST_READS = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=60.0, jitter=0.0)
#: Creates: the client's rules, 3 attempts.
CREATE_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=4.0, jitter=0.0, max_retry_after=5.0)
QUICK_POLL = PollPolicy(interval=5.0, jitter=0.0, error_backoff_max=20.0)


def task(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": TASK, "status": status, "createdAt": CREATED, **fields}


def succeeded(*urls: str) -> dict[str, Any]:
    return task("SUCCEEDED", output=list(urls or ["https://dnznrvs05pmza.cloudfront.net/out.mp4?_jwt=x"]))


def t2v() -> RunwayTextToVideoRequest:
    return RunwayTextToVideoRequest(model="gen4.5", prompt_text="a red fox", ratio="1280:720", duration=5)


@pytest.fixture
def runway() -> Any:
    """``runway(*steps, **kwargs) -> (RunwayClient, ScriptedTransport)`` on ``https://api.test``."""
    made: list[RunwayClient] = []

    def factory(*steps: Any, **kwargs: Any) -> tuple[RunwayClient, ScriptedTransport]:
        transport = ScriptedTransport(*steps)
        kwargs.setdefault("base_url", BASE)
        kwargs.setdefault("retry", FAST_READS)
        kwargs.setdefault("submit_retry", CREATE_RETRY)
        client = RunwayClient(kwargs.pop("api_key", KEY), transport=httpx.MockTransport(transport), **kwargs)
        made.append(client)
        return client, transport

    yield factory
    for client in made:
        client.close()


def parse(data: Any) -> TaskRecord:
    return parse_record(TaskKind.RUNWAY_API, data, endpoint=f"/v1/tasks/{TASK}")


# -- configuration and headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["", "   ", None])
def test_missing_api_version_is_a_configuration_error_before_any_request(version: str | None) -> None:
    transport = ScriptedTransport(lambda request: pytest.fail("nothing may be sent"))
    with pytest.raises(KieConfigurationError) as info:
        RunwayClient(KEY, api_version=version, transport=httpx.MockTransport(transport))
    assert "X-Runway-Version" in str(info.value) and "2024-11-06" in str(info.value)
    assert transport.count == 0


def test_an_api_version_that_is_no_date_is_refused() -> None:
    with pytest.raises(KieConfigurationError, match="X-Runway-Version date"):
        RunwayClient(KEY, api_version="latest")


def test_defaults_are_runways_host_and_the_sdk_version() -> None:
    with RunwayClient(KEY) as client:
        assert (client.base_url, client.api_version) == (DEFAULT_RUNWAY_BASE_URL, DEFAULT_RUNWAY_API_VERSION)
        assert KEY not in repr(client)
    with pytest.raises(KieConfigurationError):
        RunwayClient("  ")


def test_every_request_carries_key_version_and_user_agent(runway: Any) -> None:
    client, transport = runway({"id": TASK}, task("PENDING"), api_version="2025-01-01")
    assert client.text_to_video(t2v()) == TASK
    client.get_task(TASK)
    create, read = transport.requests
    for request in (create, read):
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["X-Runway-Version"] == "2025-01-01"
        assert request.headers["User-Agent"].startswith("airflow-provider-kie/")
    assert (create.method, create.url.path) == ("POST", "/v1/text_to_video")
    assert json.loads(create.content) == t2v().to_payload()
    assert (read.method, read.url.path) == ("GET", f"/v1/tasks/{TASK}")
    # A create may carry 5 MB and must not time out once sent (its outcome would be unknown).
    assert create.extensions["timeout"]["read"] == 120.0 and read.extensions["timeout"]["read"] == 30.0


def test_each_endpoint_posts_to_its_path(runway: Any) -> None:
    client, transport = runway({"id": TASK})
    image = RunwayImageToVideoRequest(
        model="gen4_turbo", prompt_image="https://cdn.example.com/a.png", ratio="960:960"
    )
    assert client.image_to_video(image) == TASK
    assert client.create(t2v()) == TASK
    assert transport.paths() == ["/v1/image_to_video", "/v1/text_to_video"]
    with pytest.raises(TypeError):
        client.create({"model": "gen4.5"})  # type: ignore[arg-type]


def test_task_ids_that_would_address_another_path_are_refused(runway: Any) -> None:
    client, transport = runway(task("PENDING"))
    for bad in ("../organization", "a/b", "", "x?y=1"):
        with pytest.raises(KieValidationError):
            client.get_task(bad)
    assert transport.count == 0


# -- records ------------------------------------------------------------------------------------------------


def test_pending_and_throttled_are_waiting_not_failing() -> None:
    pending, throttled = parse(task("PENDING")), parse(task("THROTTLED"))
    assert (pending.state, throttled.state) == (TaskState.PENDING, TaskState.PENDING)
    assert throttled.raw_state == "THROTTLED" and not throttled.is_terminal and not throttled.cancelled
    assert throttled.kind is TaskKind.RUNWAY_API and throttled.created_at == CREATED


def test_running_reports_progress() -> None:
    record = parse(task("RUNNING", progress=0.42))
    assert (record.state, record.progress) == (TaskState.RUNNING, 0.42)


def test_succeeded_lists_every_output_url() -> None:
    record = parse(succeeded("https://cdn.example/a.mp4", "https://cdn.example/b.mp4"))
    assert record.state is TaskState.SUCCEEDED
    assert record.result_urls == ("https://cdn.example/a.mp4", "https://cdn.example/b.mp4")
    assert record.video_url == "https://cdn.example/a.mp4"


def test_failed_carries_failure_and_failure_code() -> None:
    record = parse(task("FAILED", failure="Your prompt was flagged", failureCode="SAFETY.INPUT.TEXT"))
    assert (record.state, record.fail_code, record.fail_msg) == (
        TaskState.FAILED,
        "SAFETY.INPUT.TEXT",
        "Your prompt was flagged",
    )
    assert not record.cancelled


@pytest.mark.parametrize("status", ["CANCELLED", "CANCELED"])
def test_cancelled_is_a_failure_marked_cancelled(status: str) -> None:
    record = parse(task(status))
    assert record.state is TaskState.FAILED and record.is_terminal
    assert record.cancelled and record.fail_code == "CANCELLED" and "cancelled" in (record.fail_msg or "")


def test_unknown_status_keeps_waiting(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_provider_kie.client.records"):
        assert parse(task("QUEUED_SOMEWHERE")).state is TaskState.RUNNING
    assert "QUEUED_SOMEWHERE" in caplog.text


def test_record_without_id_is_a_response_error() -> None:
    with pytest.raises(KieResponseError, match=r"Runway API .* without a taskId"):
        parse({"status": "PENDING"})


def test_runway_api_record_round_trips_through_xcom() -> None:
    record = parse(task("CANCELLED"))
    assert TaskRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    running = parse(task("RUNNING", progress=0.5))
    assert TaskRecord.from_dict(running.to_dict()).progress == 0.5


# -- errors ------------------------------------------------------------------------------------------------


def test_400_is_a_bad_request_with_runways_reason(runway: Any) -> None:
    client, transport = runway((400, {"error": "promptImage: Invalid data URI."}))
    with pytest.raises(KieBadRequestError) as info:
        client.text_to_video(t2v())
    assert info.value.http_status == 400 and info.value.service == "Runway API"
    assert "promptImage: Invalid data URI." in str(info.value) and str(info.value).startswith("Runway API")
    assert transport.count == 1


def test_400_issues_are_listed(runway: Any) -> None:
    body = {"error": "Validation failed", "issues": [{"path": ["ratio"], "message": "Invalid enum value"}]}
    client, _ = runway((400, body))
    with pytest.raises(KieBadRequestError, match="ratio: Invalid enum value"):
        client.create(t2v())


def test_not_enough_credits_is_insufficient_credits(runway: Any) -> None:
    client, transport = runway((400, {"error": "You do not have enough credits to run this task."}))
    with pytest.raises(KieInsufficientCreditsError):
        client.create(t2v())
    assert transport.count == 1


def test_401_is_an_auth_error_and_never_quotes_the_key(runway: Any) -> None:
    client, _ = runway((401, f"bad key {KEY}"))
    with pytest.raises(KieAuthError) as info:
        client.get_organization()
    assert KEY not in str(info.value) and "***" in str(info.value)


def test_404_of_a_task_is_task_not_found_and_of_other_paths_not_found(runway: Any) -> None:
    client, _ = runway((404, {"error": "Task not found"}), (404, {"error": "Not Found"}))
    with pytest.raises(KieTaskNotFoundError):
        client.get_task(TASK)
    with pytest.raises(KieNotFoundError) as info:
        client.get_organization()
    assert not isinstance(info.value, KieTaskNotFoundError)


def test_reads_ride_out_load_shedding(runway: Any, sleeps: list[float]) -> None:
    client, transport = runway(
        (503, {"error": "shedding load"}), (502, "<html>bad gateway</html>"), task("RUNNING")
    )
    assert client.get_task(TASK).state is TaskState.RUNNING
    assert transport.count == 3 and sleeps == [1.0, 2.0]


def test_429_on_a_create_is_resent_after_retry_after(runway: Any, sleeps: list[float]) -> None:
    client, transport = runway((429, {"error": "daily limit"}, {"Retry-After": "3"}), {"id": TASK})
    assert client.create(t2v()) == TASK
    assert transport.count == 2 and sleeps[0] >= 3.0


def test_429_that_outlasts_the_create_budget_is_a_rate_limit_error(runway: Any) -> None:
    client, transport = runway((429, {"error": "daily limit"}))
    with pytest.raises(KieRateLimitError):
        client.create(t2v())
    assert transport.count == CREATE_RETRY.max_attempts


def test_a_connection_that_never_opened_is_resent(runway: Any) -> None:
    client, transport = runway(httpx.ConnectError("refused"), {"id": TASK})
    assert client.create(t2v()) == TASK and transport.count == 2


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"error": "Internal error"}),
        (502, "<html>bad gateway</html>"),
        (504, {"error": "overloaded"}),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("connection dropped"),
        (200, "{not json"),
        (200, {"task": "no id here"}),
    ],
    ids=["500", "502", "504", "read-timeout", "dropped", "unreadable-200", "200-without-id"],
)
def test_no_blind_resend_of_a_create(runway: Any, answer: Any) -> None:
    client, transport = runway(answer, {"id": "a-second-paid-task"})
    with pytest.raises(KieSubmitOutcomeUnknownError) as info:
        client.create(t2v())
    assert transport.count == 1, "a create that may have been charged was sent again"
    assert info.value.service == "Runway API" and "Submit to Runway API /v1/text_to_video" in str(info.value)


def test_transport_errors_name_the_service(runway: Any) -> None:
    client, _ = runway(httpx.ConnectError("refused"))
    with pytest.raises(KieTransportError, match=r"^Runway API /v1/organization"):
        client.get_organization()


# -- cancel and organisation ---------------------------------------------------------------------------------


def test_cancel_is_a_delete_answered_204(runway: Any) -> None:
    client, transport = runway((204, b""))
    assert client.cancel_task(TASK) is True
    assert (transport.requests[0].method, transport.paths()) == ("DELETE", [f"/v1/tasks/{TASK}"])


def test_cancel_of_an_unknown_or_deleted_task_is_false(runway: Any) -> None:
    client, _ = runway((404, {"error": "Task not found"}))
    assert client.cancel_task(TASK) is False


def test_cancel_is_retried_like_a_read(runway: Any) -> None:
    client, transport = runway(httpx.ReadTimeout("slow"), (404, {"error": "Task not found"}))
    # The first DELETE may have gone through; the second finds nothing: still not an error.
    assert client.cancel_task(TASK) is False and transport.count == 2


def test_organization_is_typed(runway: Any) -> None:
    body = {
        "creditBalance": 5000,
        "tier": {
            "maxMonthlyCreditSpend": 10000,
            "models": {"gen4.5": {"maxConcurrentGenerations": 2, "maxDailyGenerations": 200}},
        },
        "usage": {"models": {"gen4.5": {"dailyGenerations": 12}, "veo3.1": {"dailyGenerations": 1}}},
    }
    client, _ = runway(body)
    org = client.get_organization()
    assert (org.credit_balance, org.max_monthly_credit_spend) == (5000, 10000)
    limits = org.limits_for("gen4.5")
    assert limits is not None
    assert (limits.max_concurrent_generations, limits.max_daily_generations, limits.daily_remaining) == (
        2,
        200,
        188,
    )
    assert org.models["veo3.1"].max_daily_generations is None and org.limits_for("gen4_turbo") is None
    assert json.loads(json.dumps(org.to_dict()))["models"]["gen4.5"]["daily_generations"] == 12


def test_organization_without_a_balance_is_a_response_error(runway: Any) -> None:
    client, _ = runway({"tier": {}})
    with pytest.raises(KieResponseError, match="creditBalance"):
        client.get_organization()


# -- waiting ------------------------------------------------------------------------------------------------


def test_wait_rides_through_throttled_and_pending(runway: Any, sleeps: list[float]) -> None:
    client, transport = runway(
        task("THROTTLED"), task("THROTTLED"), task("PENDING"), task("RUNNING", progress=0.5), succeeded()
    )
    record = client.wait_for_task(TASK, poll=QUICK_POLL)
    assert record.state is TaskState.SUCCEEDED and transport.count == 5
    assert sleeps == [5.0, 5.0, 5.0, 5.0]  # Runway: poll no faster than every 5 s


def test_wait_stops_at_once_on_cancelled(runway: Any) -> None:
    client, transport = runway(task("RUNNING"), task("CANCELLED"), task("RUNNING"))
    with pytest.raises(KieTaskCancelledError) as info:
        client.wait_for_task(TASK, poll=QUICK_POLL)
    assert transport.count == 2 and isinstance(info.value, KieTaskFailedError)
    assert str(info.value).startswith(f"Runway API task {TASK} failed (failCode=CANCELLED)")
    client, _ = runway(task("CANCELLED"))
    assert client.wait_for_task(TASK, poll=QUICK_POLL, raise_on_failure=False).cancelled


def test_wait_raises_a_failure_with_runways_code(runway: Any) -> None:
    client, _ = runway(task("FAILED", failure="bad output", failureCode="INTERNAL.BAD_OUTPUT.CODE01"))
    with pytest.raises(KieTaskFailedError) as info:
        client.wait_for_task(TASK, poll=QUICK_POLL)
    assert not isinstance(info.value, KieTaskCancelledError)
    assert info.value.fail_code == "INTERNAL.BAD_OUTPUT.CODE01"


def test_wait_times_out_naming_the_last_status(runway: Any, sleeps: list[float], mocker: Any) -> None:
    # The wait's clock advances by the (recorded, never slept) sleeps.
    mocker.patch("airflow_provider_kie.client.sending.time.monotonic", side_effect=lambda: sum(sleeps))
    client, transport = runway(task("THROTTLED"))
    with pytest.raises(KieWaitTimeoutError, match=r"^Runway API task .* still THROTTLED after waiting 10 s"):
        client.wait_for_task(TASK, poll=QUICK_POLL, timeout=12)
    assert transport.count == 3


def test_wait_gives_a_fresh_task_a_few_not_found_polls(runway: Any) -> None:
    client, _ = runway((404, {"error": "Task not found"}), succeeded())
    assert client.wait_for_task(TASK, poll=QUICK_POLL).state is TaskState.SUCCEEDED
    client, _ = runway((404, {"error": "Task not found"}))
    with pytest.raises(KieTaskNotFoundError):
        client.wait_for_task(TASK, poll=QUICK_POLL)


# -- async ------------------------------------------------------------------------------------------------


def test_async_client_speaks_the_same_calls(sleeps: list[float]) -> None:
    transport = ScriptedTransport(
        {"id": TASK}, task("THROTTLED"), succeeded(), (204, b""), (500, {"error": "x"})
    )

    async def run() -> TaskRecord:
        async with AsyncRunwayClient(
            KEY, base_url=BASE, transport=httpx.MockTransport(transport), submit_retry=CREATE_RETRY
        ) as client:
            assert await client.text_to_video(t2v()) == TASK
            record = await client.wait_for_task(TASK, poll=QUICK_POLL)
            assert await client.cancel_task(TASK) is True
            with pytest.raises(KieSubmitOutcomeUnknownError):
                await client.create(t2v())
            return record

    assert asyncio.run(run()).state is TaskState.SUCCEEDED
    assert [r.method for r in transport.requests] == ["POST", "GET", "GET", "DELETE", "POST"]
    assert all(r.headers["X-Runway-Version"] == DEFAULT_RUNWAY_API_VERSION for r in transport.requests)


def test_async_clients_share_one_http_client_without_closing_it() -> None:
    transport = ScriptedTransport(
        lambda request: httpx.Response(200, json={"id": request.headers["Authorization"]})
    )

    async def run() -> list[str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as shared:
            ids = []
            for key in (KEY, "key_" + "cd" * 64):
                async with AsyncRunwayClient(key, base_url=BASE, http=shared) as client:
                    ids.append(await client.create(t2v()))
            assert not shared.is_closed
            return ids

    assert asyncio.run(run()) == [f"Bearer {KEY}", "Bearer key_" + "cd" * 64]


def test_errors_messages_keep_naming_kie_for_kie() -> None:
    assert str(KieServerError("boom", code=500, http_status=500, endpoint="/api/v1/x")).startswith(
        "KIE /api/v1/x"
    )
