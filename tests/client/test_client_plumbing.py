"""Client plumbing: headers, configuration, reprs, timeouts, small endpoints, and waiting for a task."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest

from airflow_provider_kie import __version__
from airflow_provider_kie.client import (
    DEFAULT_BASE_URL,
    USER_AGENT,
    AsyncKieClient,
    KieAuthError,
    KieClient,
    KieConfigurationError,
    KieResponseError,
    KieTaskFailedError,
    KieTaskNotFoundError,
    KieValidationError,
    KieWaitTimeoutError,
    PollPolicy,
    RetryPolicy,
    TaskKind,
    TaskState,
)

CLIENT_LOGGER = "airflow_provider_kie.client"
POLL = PollPolicy(interval=10.0, jitter=0.0)


def env(data: Any, code: int = 200, msg: str = "success") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def runway_state(state: str, **extra: Any) -> dict[str, Any]:
    return env({"taskId": "task-1", "state": state, **extra})


@pytest.fixture
def clock(mocker: Any, sleeps: list[float]) -> list[float]:
    """A monotonic clock that advances only when the client sleeps (which records, never waits)."""
    now = [1000.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    mocker.patch("airflow_provider_kie.client.sending.time.sleep", new=sleep)
    mocker.patch("airflow_provider_kie.client.sending.time.monotonic", new=lambda: now[0])
    return now


# -- headers and configuration -------------------------------------------------------------------------


def test_every_request_carries_user_agent_and_bearer_key(make_client: Any, api_key: str) -> None:
    client, transport = make_client(env(7))
    client.get_credits()
    headers = transport.requests[0].headers
    assert headers["user-agent"].startswith("airflow-provider-kie/")
    assert headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith(f"airflow-provider-kie/{__version__} ")
    assert headers["authorization"] == f"Bearer {api_key}"
    assert headers["accept"] == "application/json"
    assert str(transport.requests[0].url) == "https://api.kie.ai/api/v1/chat/credit"


def test_user_agent_override_and_key_whitespace(make_client: Any, api_key: str) -> None:
    client, transport = make_client(env(7), api_key=f"  {api_key}\n", user_agent="my-dag/1.0")
    client.get_credits()
    assert transport.requests[0].headers["user-agent"] == "my-dag/1.0"
    assert transport.requests[0].headers["authorization"] == f"Bearer {api_key}"


@pytest.mark.parametrize("key", ["", "   ", None])
def test_empty_key_is_a_configuration_error(key: Any) -> None:
    with pytest.raises(KieConfigurationError, match="API key is required"):
        KieClient(key)
    with pytest.raises(KieConfigurationError, match="API key is required"):
        AsyncKieClient(key)


@pytest.mark.parametrize("url", ["api.kie.ai", "ftp://api.kie.ai", "https://", "", "://x", "https:///path"])
@pytest.mark.parametrize("setting", ["base_url", "upload_base_url"])
def test_bad_base_url_is_a_configuration_error(api_key: str, setting: str, url: str) -> None:
    with pytest.raises(KieConfigurationError) as info:
        KieClient(api_key, **{setting: url})
    assert str(info.value).startswith(f"{setting} must be an http(s) URL with a host")
    assert api_key not in str(info.value)


def test_base_url_trailing_slash_and_path_prefix(make_client: Any) -> None:
    client, transport = make_client(env(7), base_url="https://api.test/proxy/kie/")
    assert client.base_url == "https://api.test/proxy/kie"
    client.get_credits()
    assert str(transport.requests[0].url) == "https://api.test/proxy/kie/api/v1/chat/credit"


def test_reprs_never_show_the_key(api_key: str) -> None:
    for client in (KieClient(api_key), AsyncKieClient(api_key)):
        text = repr(client)
        assert api_key not in text
        assert api_key not in str(client)
        assert text == (
            f"{type(client).__name__}(base_url='https://api.kie.ai', "
            "upload_base_url='https://kieai.redpandaai.co')"
        )
        assert api_key not in repr(vars(client).get("base_url"))


def test_defaults() -> None:
    assert DEFAULT_BASE_URL == "https://api.kie.ai"
    client = KieClient("k")
    try:
        assert client.timeout == httpx.Timeout(30.0, connect=10.0)
        assert client.retry == RetryPolicy()
        assert client.submit_retry.max_attempts == 3
    finally:
        client.close()


def test_api_calls_use_explicit_timeouts(make_client: Any) -> None:
    client, transport = make_client(env(7))
    client.get_credits()
    assert transport.requests[0].extensions["timeout"] == {
        "connect": 10.0,
        "read": 30.0,
        "write": 30.0,
        "pool": 30.0,
    }
    client, transport = make_client(env(7), timeout=5.0)
    client.get_credits()
    assert transport.requests[0].extensions["timeout"]["read"] == 5.0


def test_context_manager_closes_the_connection_pool(api_key: str) -> None:
    with KieClient(api_key, transport=httpx.MockTransport(lambda r: httpx.Response(200))) as client:
        assert not client._http.is_closed
    assert client._http.is_closed


def test_one_http_client_is_reused_across_calls(make_client: Any) -> None:
    client, transport = make_client(env(7))
    pool = client._http
    client.get_credits()
    client.get_credits()
    assert client._http is pool
    assert transport.count == 2


def test_client_package_never_imports_airflow() -> None:
    code = (
        "import sys, airflow_provider_kie.client\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_retry_warnings_never_show_the_key(
    make_client: Any, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = make_client(
        (500, f"<pre>Authorization: Bearer {api_key}</pre>"), env(7), retry=RetryPolicy(jitter=0.0)
    )
    with caplog.at_level(logging.WARNING, logger=CLIENT_LOGGER):
        assert client.get_credits() == 7
    assert "retrying in 0.5 s (attempt 2 of 5)" in caplog.text
    assert "Bearer ***" in caplog.text
    assert api_key not in caplog.text


# -- small endpoints -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "expected"), [(1234, 1234), ("1234", 1234), (12.0, 12), (0, 0)])
def test_credit_balance(make_client: Any, data: Any, expected: int) -> None:
    client, transport = make_client(env(data))
    assert client.get_credits() == expected
    assert transport.requests[0].method == "GET"
    assert transport.paths() == ["/api/v1/chat/credit"]


@pytest.mark.parametrize(
    "body",
    [
        '{"code": 200, "msg": "ok", "data": null}',
        '{"code": 200, "data": "lots"}',
        '{"code": 200, "data": Infinity}',
        '{"code": 200, "data": {"credits": 5}}',
    ],
)
def test_credit_balance_that_is_not_a_number(make_client: Any, body: str) -> None:
    client, _ = make_client((200, body))
    with pytest.raises(KieResponseError, match="a credit balance that is not a number"):
        client.get_credits()


@pytest.mark.parametrize("data", ["https://dl.kie.example/x.mp4", {"url": "https://dl.kie.example/x.mp4"}])
def test_download_url(make_client: Any, data: Any) -> None:
    client, transport = make_client(env(data))
    assert client.get_download_url("https://file.kie.example/out.mp4") == "https://dl.kie.example/x.mp4"
    request = transport.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/v1/common/download-url"
    assert transport.json_bodies() == [{"url": "https://file.kie.example/out.mp4"}]


@pytest.mark.parametrize("data", [None, "", {}, {"link": "x"}])
def test_download_url_missing(make_client: Any, data: Any) -> None:
    client, _ = make_client(env(data))
    with pytest.raises(KieResponseError, match="no download URL"):
        client.get_download_url("https://file.kie.example/out.mp4")


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        (TaskKind.RUNWAY, "/api/v1/runway/record-detail"),
        (TaskKind.ALEPH, "/api/v1/aleph/record-info"),
        (TaskKind.JOBS, "/api/v1/jobs/recordInfo"),
        (TaskKind.VEO, "/api/v1/veo/record-info"),
    ],
)
def test_get_task_endpoint_per_kind(make_client: Any, kind: TaskKind, path: str) -> None:
    client, transport = make_client(env({"taskId": "task-1", "state": "success", "successFlag": 1}))
    record = client.get_task("  task-1 ", kind)
    assert record.kind is kind
    assert record.state is TaskState.SUCCEEDED
    request = transport.requests[0]
    assert request.method == "GET"
    assert request.url.path == path
    assert dict(request.url.params) == {"taskId": "task-1"}


def test_get_task_empty_id_sends_nothing(make_client: Any) -> None:
    client, transport = make_client(env({}))
    with pytest.raises(KieValidationError) as info:
        client.get_task("  ")
    assert info.value.fields == ("task_id",)
    assert transport.count == 0


# -- waiting ---------------------------------------------------------------------------------------------


def test_wait_logs_each_state_change_once(
    make_client: Any, clock: list[float], sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    client, transport = make_client(
        runway_state("wait"),
        runway_state("queueing"),
        runway_state("queueing"),
        runway_state("generating"),
        runway_state("generating"),
        runway_state("generating"),
        runway_state("success", videoInfo={"videoUrl": "https://file.kie.example/v.mp4"}),
    )
    with caplog.at_level(logging.INFO, logger=CLIENT_LOGGER):
        record = client.wait_for_task("task-1", poll=POLL)
    assert record.state is TaskState.SUCCEEDED
    assert record.video_url == "https://file.kie.example/v.mp4"
    assert transport.count == 7
    assert sleeps == [10.0] * 6
    assert [r.getMessage() for r in caplog.records if r.name == CLIENT_LOGGER] == [
        "KIE task task-1 is pending (wait)",
        "KIE task task-1 is pending (queueing)",
        "KIE task task-1 is running (generating)",
        "KIE task task-1 is succeeded (success)",
    ]


def test_wait_first_poll_after_and_jitter(make_client: Any, clock: list[float], sleeps: list[float]) -> None:
    client, _ = make_client(*[runway_state("generating")] * 5, runway_state("success"))
    client.wait_for_task("task-1", poll=PollPolicy(interval=10.0, first_poll_after=3.0, jitter=0.2))
    assert sleeps[0] == 3.0
    assert len(sleeps) == 6
    assert all(8.0 <= s <= 12.0 for s in sleeps[1:])
    assert len(set(sleeps[1:])) > 1


def test_wait_failure_raises_with_kie_code_and_message(make_client: Any, clock: list[float]) -> None:
    client, _ = make_client(
        runway_state("generating"), runway_state("fail", failCode=400, failMsg="Content moderation")
    )
    with pytest.raises(KieTaskFailedError) as info:
        client.wait_for_task("task-1", poll=POLL)
    error = info.value
    assert (error.task_id, error.fail_code, error.fail_msg) == ("task-1", "400", "Content moderation")
    assert str(error) == "KIE task task-1 failed (failCode=400): Content moderation"
    assert error.retryable is False


def test_wait_failure_without_reason(make_client: Any, clock: list[float]) -> None:
    client, _ = make_client(env({"taskId": "al-1", "successFlag": 3}))
    with pytest.raises(KieTaskFailedError, match="failCode=None"):
        client.wait_for_task("al-1", TaskKind.ALEPH, poll=POLL)


def test_wait_can_return_a_failed_record(make_client: Any, clock: list[float]) -> None:
    client, transport = make_client(env({"taskId": "al-1", "successFlag": 0, "errorMessage": "too large"}))
    record = client.wait_for_task("al-1", TaskKind.ALEPH, poll=POLL, raise_on_failure=False)
    assert record.state is TaskState.FAILED
    assert record.fail_msg == "too large"
    assert transport.paths() == ["/api/v1/aleph/record-info"]


def test_wait_times_out(make_client: Any, clock: list[float], sleeps: list[float]) -> None:
    client, transport = make_client(runway_state("generating"))
    with pytest.raises(KieWaitTimeoutError) as info:
        client.wait_for_task("task-1", poll=POLL, timeout=25.0)
    error = info.value
    assert transport.count == 3
    assert sleeps == [10.0, 10.0]
    assert error.waited == 20.0
    assert error.last_state == "running"
    assert str(error) == "KIE task task-1 still running after waiting 20 s"


def test_wait_timeout_shorter_than_one_interval(
    make_client: Any, clock: list[float], sleeps: list[float]
) -> None:
    client, transport = make_client(runway_state("queueing"))
    with pytest.raises(KieWaitTimeoutError, match="still pending"):
        client.wait_for_task("task-1", poll=POLL, timeout=5.0)
    assert transport.count == 1
    assert sleeps == []


def test_wait_rides_out_a_transient_read_error(
    make_client: Any, clock: list[float], sleeps: list[float]
) -> None:
    client, transport = make_client(
        runway_state("generating"),
        (502, "<html>bad gateway</html>"),
        runway_state("success"),
        retry=RetryPolicy(base_delay=1.0, jitter=0.0),
    )
    assert client.wait_for_task("task-1", poll=POLL).state is TaskState.SUCCEEDED
    assert transport.count == 3
    assert sleeps == [10.0, 1.0]


def test_wait_backs_off_through_an_outage_until_the_timeout(
    make_client: Any, clock: list[float], sleeps: list[float]
) -> None:
    # A KIE outage is no reason to abandon a clip that may still finish: poll less often, up to the timeout.
    client, _ = make_client((500, "<html>down</html>"), retry=RetryPolicy(max_attempts=1, jitter=0.0))
    with pytest.raises(KieWaitTimeoutError):
        client.wait_for_task("task-1", poll=POLL, timeout=200.0)
    assert sleeps == [20.0, 40.0, 80.0]


def test_wait_recovers_after_an_outage(make_client: Any, clock: list[float], sleeps: list[float]) -> None:
    client, _ = make_client(
        (500, "<html>down</html>"),
        (503, "<html>down</html>"),
        env({"taskId": "task-1", "state": "success"}),
        retry=RetryPolicy(max_attempts=1, jitter=0.0),
    )
    assert client.wait_for_task("task-1", poll=POLL).state.value == "succeeded"
    assert sleeps == [20.0, 40.0]


def test_wait_stops_at_once_on_an_error_polling_cannot_fix(make_client: Any, clock: list[float]) -> None:
    client, transport = make_client(env(None, code=401, msg="bad key"))
    with pytest.raises(KieAuthError):
        client.wait_for_task("task-1", poll=POLL)
    assert transport.count == 1


def test_wait_gives_a_new_task_a_short_grace_when_kie_does_not_know_it_yet(
    make_client: Any, clock: list[float]
) -> None:
    not_found = env(None, code=422, msg="recordInfo is null")
    client, _ = make_client(not_found, not_found, env({"taskId": "task-1", "state": "success"}))
    assert client.wait_for_task("task-1", poll=POLL).state.value == "succeeded"
    client, _ = make_client(not_found)
    with pytest.raises(KieTaskNotFoundError):
        client.wait_for_task("task-1", poll=POLL)


def test_wait_jobs_task(make_client: Any, clock: list[float]) -> None:
    client, transport = make_client(
        env({"taskId": "jb-1", "state": "queuing"}),
        env({"taskId": "jb-1", "state": "success", "resultJson": '{"resultUrls": ["https://f/x.mp4"]}'}),
    )
    record = client.wait_for_task("jb-1", TaskKind.JOBS, poll=POLL)
    assert record.video_url == "https://f/x.mp4"
    assert transport.paths() == ["/api/v1/jobs/recordInfo"] * 2


def test_poll_policy() -> None:
    policy = PollPolicy(interval=10.0, jitter=0.0, error_backoff_max=50.0)
    assert policy.next_delay() == 10.0
    assert [policy.next_delay(n) for n in (1, 2, 3)] == [20.0, 40.0, 50.0]
    with pytest.raises(ValueError, match="interval"):
        PollPolicy(interval=0)
    with pytest.raises(ValueError, match="jitter"):
        PollPolicy(jitter=1.5)
