"""Retry decisions: reads retry anything transient; paid submits resend only if KIE created nothing."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import (
    AlephGenerateRequest,
    CallKind,
    JobsCreateTaskRequest,
    KieAPIError,
    KieAuthError,
    KieClient,
    KieError,
    KieRateLimitError,
    KieResponseError,
    KieServerError,
    KieSubmitOutcomeUnknownError,
    KieTransportError,
    KieUpstreamTimeoutError,
    RetryPolicy,
    RunwayExtendRequest,
    RunwayGenerateRequest,
    TaskKind,
    TaskState,
)
from airflow_provider_kie.client.retry import parse_retry_after, retry_or_raise

NOW = 1_750_000_000.0


def env(code: int, msg: str = "", data: Any = None) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


# -- the calls under test --------------------------------------------------------------------------------

READS: dict[str, tuple[Callable[[KieClient], Any], Any, Any]] = {
    # name: (call, success data, expected result check)
    "runway-record-detail": (
        lambda c: c.get_task("task-1").state,
        {"taskId": "task-1", "state": "generating"},
        TaskState.RUNNING,
    ),
    "aleph-record-info": (
        lambda c: c.get_task("task-1", TaskKind.ALEPH).state,
        {"taskId": "task-1", "successFlag": 1},
        TaskState.SUCCEEDED,
    ),
    "jobs-record-info": (
        lambda c: c.get_task("task-1", TaskKind.JOBS).state,
        {"taskId": "task-1", "state": "fail"},
        TaskState.FAILED,
    ),
    "credit": (lambda c: c.get_credits(), 1234, 1234),
    "download-url": (
        lambda c: c.get_download_url("https://tempfile.kie.example/out.mp4"),
        "https://dl.kie.example/fresh.mp4",
        "https://dl.kie.example/fresh.mp4",
    ),
}
READ_PATHS = {
    "runway-record-detail": "/api/v1/runway/record-detail",
    "aleph-record-info": "/api/v1/aleph/record-info",
    "jobs-record-info": "/api/v1/jobs/recordInfo",
    "credit": "/api/v1/chat/credit",
    "download-url": "/api/v1/common/download-url",
}

SUBMITS: dict[str, tuple[Callable[[KieClient], str], str]] = {
    "runway-generate": (
        lambda c: c.runway_generate(
            RunwayGenerateRequest(prompt="fox", duration=5, quality="720p", aspect_ratio="16:9")
        ),
        "/api/v1/runway/generate",
    ),
    "runway-extend": (
        lambda c: c.runway_extend(RunwayExtendRequest(task_id="parent-1", prompt="on", quality="720p")),
        "/api/v1/runway/extend",
    ),
    "aleph-generate": (
        lambda c: c.aleph_generate(
            AlephGenerateRequest(prompt="snow", video_url="https://cdn.example.com/in.mp4")
        ),
        "/api/v1/aleph/generate",
    ),
    "jobs-create-task": (
        lambda c: c.jobs_create_task(JobsCreateTaskRequest(model="kling/v2", input={"prompt": "x"})),
        "/api/v1/jobs/createTask",
    ),
}
SUBMIT_OK = env(200, "success", {"taskId": "new-task-1"})


def connect_error(request: httpx.Request) -> None:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def raising(exc_type: type[httpx.TransportError], message: str) -> Callable[[httpx.Request], Any]:
    def step(request: httpx.Request) -> Any:
        raise exc_type(message, request=request)

    return step


TRANSIENT_FOR_READS: dict[str, Any] = {
    "body-429": (200, env(429, "rate limited")),
    "http-429": (429, env(429, "rate limited")),
    "body-455": (200, env(455, "maintenance")),
    "body-500": (200, env(500, "server error")),
    "http-500": (500, env(500, "server error")),
    "http-502-html": (502, "<html>Bad Gateway</html>"),
    "http-503-empty": (503, b""),
    "body-408": (200, env(408, "upstream timeout")),
    "connect-error": connect_error,
    "connect-timeout": raising(httpx.ConnectTimeout, "timed out"),
    "read-timeout": raising(httpx.ReadTimeout, "timed out"),
    "remote-protocol": raising(httpx.RemoteProtocolError, "Server disconnected without sending a response."),
    "read-error": raising(httpx.ReadError, "connection reset"),
}

NOT_RETRYABLE: dict[str, Any] = {
    "400": (200, env(400, "bad")),
    "401": (200, env(401, "bad key")),
    "http-401": (401, env(401, "bad key")),
    "402": (200, env(402, "no credits")),
    "404": (404, env(404, "not found")),
    "422": (200, env(422, "prompt is required")),
    "433": (200, env(433, "sub-key cap")),
    "451": (200, env(451, "cannot fetch image")),
    "501": (200, env(501, "generation failed")),
    "505": (200, env(505, "disabled")),
    "unknown-code": (200, env(999, "who knows")),
}


# -- reads ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", TRANSIENT_FOR_READS.values(), ids=TRANSIENT_FOR_READS.keys())
@pytest.mark.parametrize("read", READS.keys())
def test_reads_retry_transient_failures(
    make_client: Any, sleeps: list[float], fast_retry: RetryPolicy, read: str, failure: Any
) -> None:
    call, data, expected = READS[read]
    client, transport = make_client(failure, env(200, "success", data), retry=fast_retry)
    assert call(client) == expected
    assert transport.count == 2
    assert transport.paths() == [READ_PATHS[read]] * 2
    assert sleeps == [1.0]


@pytest.mark.parametrize("read", READS.keys())
def test_reads_give_up_after_max_attempts_with_exponential_backoff(
    make_client: Any, sleeps: list[float], fast_retry: RetryPolicy, read: str
) -> None:
    call, _, _ = READS[read]
    client, transport = make_client((503, env(500, "still down")), retry=fast_retry)
    with pytest.raises(KieServerError) as info:
        call(client)
    assert info.value.code == 500
    assert info.value.http_status == 503
    assert transport.count == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_reads_give_up_on_transport_errors_with_typed_error(
    make_client: Any, sleeps: list[float], fast_retry: RetryPolicy
) -> None:
    client, transport = make_client(raising(httpx.ReadTimeout, "read timed out"), retry=fast_retry)
    with pytest.raises(KieTransportError) as info:
        client.get_credits()
    assert info.value.request_sent is True
    assert info.value.retryable is True
    assert info.value.endpoint == "/api/v1/chat/credit"
    assert str(info.value) == "KIE /api/v1/chat/credit: ReadTimeout (read timed out)"
    assert transport.count == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_backoff_is_capped_by_max_delay(make_client: Any, sleeps: list[float]) -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=3.0, jitter=0.0)
    client, transport = make_client((500, env(500, "down")), retry=policy)
    with pytest.raises(KieServerError):
        client.get_task("task-1")
    assert transport.count == 6
    assert sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_backoff_has_jitter_within_bounds(make_client: Any, sleeps: list[float]) -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=2.0, max_delay=100.0, jitter=0.25)
    client, _ = make_client((500, env(500, "down")), retry=policy, rng=random.Random(1234))
    with pytest.raises(KieServerError):
        client.get_credits()
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps, start=1):
        base = 2.0 * 2 ** (attempt - 1)
        assert 0.75 * base <= delay <= 1.25 * base
    # Jitter really scales each wait: they are not the bare exponential figures.
    assert [round(d, 6) for d in sleeps] != [2.0, 4.0, 8.0, 16.0]


def test_default_read_policy_retries_five_times(make_client: Any, sleeps: list[float]) -> None:
    client, transport = make_client((500, env(500, "down")))
    with pytest.raises(KieServerError):
        client.get_credits()
    assert transport.count == 5
    assert len(sleeps) == 4
    assert 0.375 <= sleeps[0] <= 0.625


@pytest.mark.parametrize("failure", NOT_RETRYABLE.values(), ids=NOT_RETRYABLE.keys())
@pytest.mark.parametrize("read", ["runway-record-detail", "credit", "download-url"])
def test_reads_do_not_retry_permanent_errors(
    make_client: Any, sleeps: list[float], fast_retry: RetryPolicy, read: str, failure: Any
) -> None:
    call, _, _ = READS[read]
    client, transport = make_client(failure, env(200, "success", READS[read][1]), retry=fast_retry)
    with pytest.raises(KieAPIError) as info:
        call(client)
    assert info.value.retryable is False
    assert transport.count == 1
    assert sleeps == []


def test_reads_retry_a_body_cut_short(make_client: Any, sleeps: list[float]) -> None:
    client, transport = make_client((200, '{"code": 200, "data": '), (200, env(200, "success", 42)))
    assert client.get_credits() == 42
    assert transport.count == 2
    assert len(sleeps) == 1


def test_reads_do_not_retry_well_formed_json_without_the_envelope(
    make_client: Any, sleeps: list[float]
) -> None:
    client, transport = make_client((200, '{"msg": "ok", "data": 5}'))
    with pytest.raises(KieResponseError):
        client.get_credits()
    assert transport.count == 1
    assert sleeps == []


def test_submits_never_resend_after_a_body_cut_short(make_client: Any, sleeps: list[float]) -> None:
    client, transport = make_client((200, '{"code": 200, "data": {"taskId'))
    request = RunwayGenerateRequest(prompt="p", duration=5, quality="720p", aspect_ratio="16:9")
    with pytest.raises(KieSubmitOutcomeUnknownError):
        client.runway_generate(request)
    assert transport.count == 1


def test_task_not_found_is_not_retried(make_client: Any, sleeps: list[float]) -> None:
    from airflow_provider_kie.client import KieTaskNotFoundError

    client, transport = make_client((200, env(422, "recordInfo is null")))
    with pytest.raises(KieTaskNotFoundError):
        client.get_task("nope")
    assert transport.count == 1
    assert sleeps == []


# -- Retry-After -------------------------------------------------------------------------------------------


def test_retry_after_seconds_is_a_floor(make_client: Any, sleeps: list[float]) -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, jitter=0.25)
    client, transport = make_client(
        (429, env(429, "slow down"), {"Retry-After": "7"}),
        (429, env(429, "slow down"), {"Retry-After": "11"}),
        env(200, "success", 5),
        retry=policy,
        rng=random.Random(7),
    )
    assert client.get_credits() == 5
    assert transport.count == 3
    assert 7.0 <= sleeps[0] <= 7.0 * 1.25
    assert 11.0 <= sleeps[1] <= 11.0 * 1.25


def test_retry_after_http_date_is_honoured(make_client: Any, sleeps: list[float], mocker: Any) -> None:
    mocker.patch("airflow_provider_kie.client.retry.time.time", return_value=NOW)
    date = email.utils.formatdate(NOW + 42, usegmt=True)
    client, transport = make_client(
        (503, env(455, "maintenance"), {"Retry-After": date}),
        env(200, "success", 5),
        retry=RetryPolicy(jitter=0.25),
    )
    assert client.get_credits() == 5
    assert transport.count == 2
    assert 42.0 <= sleeps[0] <= 42.0 * 1.25


def test_retry_after_on_body_code_under_http_200(make_client: Any, sleeps: list[float]) -> None:
    client, _ = make_client(
        (200, env(429, "slow down"), {"Retry-After": "9"}), env(200, "ok", 5), retry=RetryPolicy(jitter=0.0)
    )
    assert client.get_credits() == 5
    assert sleeps == [9.0]


def test_retry_after_above_max_ends_the_retries(make_client: Any, sleeps: list[float]) -> None:
    policy = RetryPolicy(max_attempts=5, max_retry_after=60.0)
    client, transport = make_client(
        (429, env(429, "come back in an hour"), {"Retry-After": "3600"}), retry=policy
    )
    with pytest.raises(KieRateLimitError) as info:
        client.get_credits()
    assert info.value.retry_after == 3600.0
    assert transport.count == 1
    assert sleeps == []


def test_unparseable_retry_after_falls_back_to_backoff(
    make_client: Any, sleeps: list[float], fast_retry: RetryPolicy
) -> None:
    client, _ = make_client(
        (429, env(429, "slow"), {"Retry-After": "soon-ish"}), env(200, "ok", 1), retry=fast_retry
    )
    assert client.get_credits() == 1
    assert sleeps == [1.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("", None),
        (None, None),
        ("tomorrow", None),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


# -- submits -----------------------------------------------------------------------------------------------

RESENDABLE: dict[str, Any] = {
    "body-429": (200, env(429, "rate limited")),
    "http-429": (429, env(429, "rate limited")),
    "body-455": (200, env(455, "maintenance")),
    "http-455": (455, env(455, "maintenance")),
    "connect-error": connect_error,
    "connect-timeout": raising(httpx.ConnectTimeout, "connect timed out"),
    "pool-timeout": raising(httpx.PoolTimeout, "no free connection"),
}

OUTCOME_UNKNOWN: dict[str, tuple[Any, type[KieError]]] = {
    "http-500-envelope": ((500, env(500, "internal error")), KieServerError),
    "http-502-html": ((502, "<html><h1>502 Bad Gateway</h1></html>"), KieServerError),
    "http-503-empty": ((503, b""), KieServerError),
    # 501/505 mean "generation failed"/"feature disabled" only in KIE's body; a proxy's page is a 5xx.
    "http-501-html": ((501, "<html><h1>501 Not Implemented</h1></html>"), KieServerError),
    "http-505-empty": ((505, b""), KieServerError),
    "body-500-under-200": ((200, env(500, "This field is required")), KieServerError),
    "body-408": ((200, env(408, "upstream timeout")), KieUpstreamTimeoutError),
    "read-timeout": (raising(httpx.ReadTimeout, "read timed out"), KieTransportError),
    "write-timeout": (raising(httpx.WriteTimeout, "write timed out"), KieTransportError),
    "remote-protocol": (
        raising(httpx.RemoteProtocolError, "Server disconnected without sending a response."),
        KieTransportError,
    ),
    "unreadable-200": ((200, '{"code": 200, "msg": "success", "data": {"taskId": "ab'), KieResponseError),
    "html-200": ((200, "<html>maintenance page</html>"), KieResponseError),
    "200-without-task-id": ((200, env(200, "success", {})), KieResponseError),
}


@pytest.mark.parametrize("failure", RESENDABLE.values(), ids=RESENDABLE.keys())
@pytest.mark.parametrize("submit", SUBMITS.keys())
def test_submits_resend_only_when_nothing_was_created(
    make_client: Any, sleeps: list[float], submit: str, failure: Any
) -> None:
    call, path = SUBMITS[submit]
    client, transport = make_client(failure, SUBMIT_OK, submit_retry=RetryPolicy(base_delay=2.0, jitter=0.0))
    assert call(client) == "new-task-1"
    assert transport.count == 2
    assert transport.paths() == [path, path]
    assert transport.requests[0].content == transport.requests[1].content
    assert sleeps == [2.0]


@pytest.mark.parametrize(("failure", "cause"), OUTCOME_UNKNOWN.values(), ids=OUTCOME_UNKNOWN.keys())
@pytest.mark.parametrize("submit", SUBMITS.keys())
def test_submits_never_resend_when_the_outcome_is_unknown(
    make_client: Any, sleeps: list[float], submit: str, failure: Any, cause: type[KieError]
) -> None:
    call, path = SUBMITS[submit]
    client, transport = make_client(failure, SUBMIT_OK)
    with pytest.raises(KieSubmitOutcomeUnknownError) as info:
        call(client)
    assert transport.count == 1
    assert sleeps == []
    error = info.value
    assert type(error.cause) is cause
    assert error.__cause__ is error.cause
    assert error.endpoint == path
    assert error.retryable is False
    assert "was not resent automatically" in str(error)


def test_outcome_unknown_transport_cause_says_request_was_sent(make_client: Any) -> None:
    client, _ = make_client(raising(httpx.ReadTimeout, "read timed out"))
    with pytest.raises(KieSubmitOutcomeUnknownError) as info:
        SUBMITS["runway-generate"][0](client)
    assert isinstance(info.value.cause, KieTransportError)
    assert info.value.cause.request_sent is True


CORRUPT_GZIP_200 = (200, b"definitely not gzip", {"content-encoding": "gzip"})


def test_submit_with_undecodable_body_is_outcome_unknown(make_client: Any, sleeps: list[float]) -> None:
    """The answer arrived (so KIE may have created the task) but its body cannot be decoded."""
    client, transport = make_client(CORRUPT_GZIP_200, SUBMIT_OK)
    with pytest.raises(KieSubmitOutcomeUnknownError) as info:
        SUBMITS["runway-generate"][0](client)
    assert isinstance(info.value.cause, KieTransportError)
    assert info.value.cause.request_sent is True
    assert "DecodingError" in str(info.value.cause)
    assert transport.count == 1
    assert sleeps == []


def test_read_with_undecodable_body_is_retried(
    make_client: Any, sleeps: list[float], fast_retry: RetryPolicy
) -> None:
    client, transport = make_client(CORRUPT_GZIP_200, env(200, "success", 9), retry=fast_retry)
    assert client.get_credits() == 9
    assert transport.count == 2
    assert sleeps == [1.0]


@pytest.mark.parametrize("failure", NOT_RETRYABLE.values(), ids=NOT_RETRYABLE.keys())
def test_submits_raise_permanent_errors_once(make_client: Any, sleeps: list[float], failure: Any) -> None:
    client, transport = make_client(failure, SUBMIT_OK)
    with pytest.raises(KieAPIError) as info:
        SUBMITS["runway-generate"][0](client)
    assert not isinstance(info.value, KieSubmitOutcomeUnknownError)
    assert transport.count == 1
    assert sleeps == []


def test_submit_auth_error_is_the_typed_error(make_client: Any) -> None:
    client, transport = make_client((200, env(401, "You do not have access permissions")))
    with pytest.raises(KieAuthError) as info:
        SUBMITS["aleph-generate"][0](client)
    assert info.value.code == 401
    assert transport.count == 1


def test_submit_rate_limit_gives_up_after_default_three_attempts(
    make_client: Any, sleeps: list[float]
) -> None:
    client, transport = make_client((429, env(429, "rate limited")))
    with pytest.raises(KieRateLimitError):
        SUBMITS["runway-generate"][0](client)
    assert transport.count == 3
    assert len(sleeps) == 2
    assert 0.75 <= sleeps[0] <= 1.25
    assert 1.5 <= sleeps[1] <= 2.5


def test_submit_honours_retry_after(make_client: Any, sleeps: list[float]) -> None:
    client, transport = make_client((429, env(429, "slow down"), {"Retry-After": "4"}), SUBMIT_OK)
    assert SUBMITS["jobs-create-task"][0](client) == "new-task-1"
    assert transport.count == 2
    assert 4.0 <= sleeps[0] <= 4.0 * 1.25


def test_submit_retry_after_above_its_max_ends_the_retries(make_client: Any, sleeps: list[float]) -> None:
    # The default submit policy honours at most 5 s: a longer wait is the operators' deferred backoff's job.
    client, transport = make_client((429, env(429, "slow down"), {"Retry-After": "6"}), SUBMIT_OK)
    with pytest.raises(KieRateLimitError):
        SUBMITS["runway-generate"][0](client)
    assert transport.count == 1
    assert sleeps == []


def test_submit_body_is_sent_as_json_payload(make_client: Any) -> None:
    client, transport = make_client(SUBMIT_OK)
    SUBMITS["runway-generate"][0](client)
    request = transport.requests[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert transport.json_bodies() == [
        {"prompt": "fox", "duration": 5, "quality": "720p", "aspectRatio": "16:9", "waterMark": ""}
    ]


# -- the decision function itself -------------------------------------------------------------------------


def test_retry_or_raise_decisions() -> None:
    policy = RetryPolicy(max_attempts=3, jitter=0.0, base_delay=1.0)
    server = KieServerError("down", code=500, http_status=500, endpoint="/x")
    limited = KieRateLimitError("slow", code=429, http_status=429, endpoint="/x", retry_after=5.0)
    refused = KieTransportError("refused", endpoint="/x", request_sent=False)
    assert retry_or_raise(CallKind.SAFE, server, 1, policy, "/x") == 1.0
    assert retry_or_raise(CallKind.SAFE, server, 2, policy, "/x") == 2.0
    with pytest.raises(KieServerError):
        retry_or_raise(CallKind.SAFE, server, 3, policy, "/x")
    with pytest.raises(KieSubmitOutcomeUnknownError):
        retry_or_raise(CallKind.SUBMIT, server, 1, policy, "/x")
    assert retry_or_raise(CallKind.SUBMIT, limited, 1, policy, "/x") == 5.0
    assert retry_or_raise(CallKind.SUBMIT, refused, 1, policy, "/x") == 1.0
    with pytest.raises(KieTransportError):
        retry_or_raise(CallKind.SUBMIT, refused, 3, policy, "/x")


def test_retry_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.0)
    assert RetryPolicy.none().max_attempts == 1


def test_retry_none_policy_sends_once(make_client: Any, sleeps: list[float]) -> None:
    client, transport = make_client((500, env(500, "down")), retry=RetryPolicy.none())
    with pytest.raises(KieServerError):
        client.get_credits()
    assert transport.count == 1
    assert sleeps == []
