"""Async client parity: submits, read retries, outcome-unknown, uploads and waits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from airflow_provider_kie.client import (
    USER_AGENT,
    AlephGenerateRequest,
    AsyncKieClient,
    JobsCreateTaskRequest,
    KieAuthError,
    KieRateLimitError,
    KieServerError,
    KieSubmitOutcomeUnknownError,
    KieTaskFailedError,
    KieTransportError,
    KieWaitTimeoutError,
    PollPolicy,
    RetryPolicy,
    RunwayExtendRequest,
    RunwayGenerateRequest,
    TaskKind,
    TaskState,
)

T = TypeVar("T")
POLL = PollPolicy(interval=10.0, jitter=0.0)
FAST = RetryPolicy(max_attempts=4, base_delay=1.0, jitter=0.0)
GENERATE = RunwayGenerateRequest(prompt="fox", duration=10, quality="720p", aspect_ratio="9:16")


def env(data: Any, code: int = 200, msg: str = "success") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def run(client: AsyncKieClient, use: Callable[[AsyncKieClient], Awaitable[T]]) -> T:
    """Run ``use(client)`` in a fresh event loop and close the client afterwards."""

    async def main() -> T:
        async with client:
            return await use(client)

    return asyncio.run(main())


def test_async_submits(make_async_client: Any, api_key: str, sleeps: list[float]) -> None:
    client, transport = make_async_client(env({"taskId": "new-1"}))

    async def submit_all(kie: AsyncKieClient) -> list[str]:
        return [
            await kie.runway_generate(GENERATE),
            await kie.runway_extend(RunwayExtendRequest(task_id="new-0", prompt="on", quality="720p")),
            await kie.aleph_generate(
                AlephGenerateRequest(prompt="snow", video_url="https://c.example/v.mp4")
            ),
            await kie.jobs_create_task(JobsCreateTaskRequest(model="m", input={"a": 1})),
        ]

    assert run(client, submit_all) == ["new-1"] * 4
    assert transport.paths() == [
        "/api/v1/runway/generate",
        "/api/v1/runway/extend",
        "/api/v1/aleph/generate",
        "/api/v1/jobs/createTask",
    ]
    assert transport.json_bodies()[0] == {
        "prompt": "fox",
        "duration": 10,
        "quality": "720p",
        "aspectRatio": "9:16",
        "waterMark": "",
    }
    for request in transport.requests:
        assert request.headers["authorization"] == f"Bearer {api_key}"
        assert request.headers["user-agent"] == USER_AGENT
    assert sleeps == []


def test_async_client_is_closed_after_use(make_async_client: Any) -> None:
    client, _ = make_async_client(env(5))
    assert run(client, lambda kie: kie.get_credits()) == 5
    assert client._http.is_closed


def test_async_read_retries_with_backoff(make_async_client: Any, sleeps: list[float]) -> None:
    client, transport = make_async_client(
        (503, "<html>busy</html>"),
        (200, env(None, code=455, msg="maintenance")),
        httpx.ReadTimeout("timed out"),
        env({"taskId": "t", "state": "generating"}),
        retry=FAST,
    )
    record = run(client, lambda kie: kie.get_task("t"))
    assert record.state is TaskState.RUNNING
    assert transport.count == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_async_read_gives_up_after_max_attempts(make_async_client: Any, sleeps: list[float]) -> None:
    client, transport = make_async_client(httpx.ConnectError("refused"), retry=FAST)
    with pytest.raises(KieTransportError) as info:
        run(client, lambda kie: kie.get_credits())
    assert info.value.request_sent is False
    assert transport.count == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_async_read_does_not_retry_auth_error(make_async_client: Any, sleeps: list[float]) -> None:
    client, transport = make_async_client((200, env(None, code=401, msg="bad key")), retry=FAST)
    with pytest.raises(KieAuthError):
        run(client, lambda kie: kie.get_credits())
    assert transport.count == 1
    assert sleeps == []


def test_async_retry_after(make_async_client: Any, sleeps: list[float]) -> None:
    client, transport = make_async_client(
        (429, env(None, code=429, msg="slow"), {"Retry-After": "6"}), env(3), retry=RetryPolicy(jitter=0.25)
    )
    assert run(client, lambda kie: kie.get_credits()) == 3
    assert transport.count == 2
    assert 6.0 <= sleeps[0] <= 7.5


def test_async_retry_after_above_max_ends_retries(make_async_client: Any, sleeps: list[float]) -> None:
    client, transport = make_async_client(
        (429, env(None, code=429, msg="slow"), {"Retry-After": "600"}), env(3), retry=FAST
    )
    with pytest.raises(KieRateLimitError):
        run(client, lambda kie: kie.get_credits())
    assert transport.count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        ((500, env(None, code=500, msg="oops")), KieServerError),
        ((200, env(None, code=500, msg="This field is required")), KieServerError),
        (httpx.ReadTimeout("read timed out"), KieTransportError),
        (httpx.RemoteProtocolError("Server disconnected"), KieTransportError),
    ],
    ids=["http-500", "body-500", "read-timeout", "remote-protocol"],
)
def test_async_submit_outcome_unknown_is_not_resent(
    make_async_client: Any, sleeps: list[float], failure: Any, cause: type
) -> None:
    client, transport = make_async_client(failure, env({"taskId": "dup"}))
    with pytest.raises(KieSubmitOutcomeUnknownError) as info:
        run(client, lambda kie: kie.runway_generate(GENERATE))
    assert type(info.value.cause) is cause
    assert transport.count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "failure",
    [
        (429, env(None, code=429, msg="slow")),
        (200, env(None, code=455, msg="m")),
        httpx.ConnectError("refused"),
    ],
    ids=["429", "455", "connect-error"],
)
def test_async_submit_resends_when_nothing_was_created(
    make_async_client: Any, sleeps: list[float], failure: Any
) -> None:
    client, transport = make_async_client(
        failure, env({"taskId": "new-1"}), submit_retry=RetryPolicy(base_delay=1.5, jitter=0.0)
    )
    assert (
        run(
            client,
            lambda kie: kie.aleph_generate(
                AlephGenerateRequest(prompt="snow", video_url="https://c.example/v.mp4")
            ),
        )
        == "new-1"
    )
    assert transport.count == 2
    assert sleeps == [1.5]


def test_async_upload_file(make_async_client: Any, tmp_path: Path, sleeps: list[float]) -> None:
    path = tmp_path / "clip.mp4"
    content = b"\x00\x00\x00\x18ftypmp42" + b"x" * 4096
    path.write_bytes(content)
    answer = {"success": True, "code": 200, "msg": "ok", "data": {"fileUrl": "https://t.example/clip.mp4"}}
    client, transport = make_async_client((502, "<html>busy</html>"), answer, retry=FAST)
    uploaded = run(client, lambda kie: kie.upload_file(path, "videos"))
    assert uploaded.download_url == "https://t.example/clip.mp4"
    assert transport.count == 2
    for request in transport.requests:
        assert str(request.url) == "https://kieai.redpandaai.co/api/file-stream-upload"
        assert content in request.content
        assert b'name="uploadPath"\r\n\r\nvideos\r\n' in request.content
    assert sleeps == [1.0]


def test_async_upload_base64_and_url(make_async_client: Any) -> None:
    answer = {"success": True, "code": 200, "msg": "ok", "data": {"downloadUrl": "https://t.example/a"}}
    client, transport = make_async_client(answer)

    async def both(kie: AsyncKieClient) -> list[str]:
        first = await kie.upload_base64(b"hello", "imgs")
        second = await kie.upload_from_url("https://img.example.com/a.png", "imgs")
        return [first.download_url, second.download_url]

    assert run(client, both) == ["https://t.example/a"] * 2
    assert transport.json_bodies() == [
        {"base64Data": "aGVsbG8=", "uploadPath": "imgs"},
        {"fileUrl": "https://img.example.com/a.png", "uploadPath": "imgs"},
    ]


def test_async_wait_logs_changes_and_returns(
    make_async_client: Any, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    client, transport = make_async_client(
        env({"taskId": "t", "state": "wait"}),
        env({"taskId": "t", "state": "generating"}),
        env({"taskId": "t", "state": "generating"}),
        env({"taskId": "t", "state": "success", "videoInfo": {"videoUrl": "https://f/v.mp4"}}),
    )
    with caplog.at_level(logging.INFO, logger="airflow_provider_kie.client"):
        record = run(
            client,
            lambda kie: kie.wait_for_task("t", poll=PollPolicy(interval=10, first_poll_after=2, jitter=0.0)),
        )
    assert record.video_url == "https://f/v.mp4"
    assert transport.count == 4
    assert sleeps == [2, 10.0, 10.0, 10.0]
    assert [r.getMessage() for r in caplog.records if r.name == "airflow_provider_kie.client"] == [
        "KIE task t is pending (wait)",
        "KIE task t is running (generating)",
        "KIE task t is succeeded (success)",
    ]


def test_async_wait_failure(make_async_client: Any) -> None:
    client, _ = make_async_client(
        env({"taskId": "al-1", "successFlag": 0, "errorCode": 451, "errorMessage": "cannot fetch video"})
    )
    with pytest.raises(KieTaskFailedError) as info:
        run(client, lambda kie: kie.wait_for_task("al-1", TaskKind.ALEPH, poll=POLL))
    assert (info.value.fail_code, info.value.fail_msg) == ("451", "cannot fetch video")


def test_async_wait_failure_returned_when_asked(make_async_client: Any) -> None:
    client, _ = make_async_client(env({"taskId": "t", "state": "fail", "failMsg": "nope"}))
    record = run(client, lambda kie: kie.wait_for_task("t", poll=POLL, raise_on_failure=False))
    assert record.state is TaskState.FAILED


def test_async_wait_timeout(make_async_client: Any, sleeps: list[float]) -> None:
    client, transport = make_async_client(env({"taskId": "t", "state": "generating"}))
    with pytest.raises(KieWaitTimeoutError) as info:
        run(client, lambda kie: kie.wait_for_task("t", poll=POLL, timeout=5.0))
    assert info.value.last_state == "running"
    assert transport.count == 1
    assert sleeps == []


def test_async_unknown_state_keeps_waiting(
    make_async_client: Any, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    client, transport = make_async_client(
        env({"taskId": "t", "state": "paused"}), env({"taskId": "t", "state": "success"})
    )
    with caplog.at_level(logging.WARNING, logger="airflow_provider_kie.client.records"):
        record = run(client, lambda kie: kie.wait_for_task("t", poll=POLL))
    assert record.state is TaskState.SUCCEEDED
    assert transport.count == 2
    assert "unknown state 'paused'" in caplog.text


def test_async_submit_with_undecodable_body_is_outcome_unknown(make_async_client: Any) -> None:
    client, transport = make_async_client(
        (200, b"not gzip", {"content-encoding": "gzip"}), env({"taskId": "x"})
    )
    with pytest.raises(KieSubmitOutcomeUnknownError) as info:
        run(client, lambda kie: kie.runway_generate(GENERATE))
    assert isinstance(info.value.cause, KieTransportError)
    assert transport.count == 1


def test_async_unreadable_data_echoing_the_key_is_redacted(make_async_client: Any, api_key: str) -> None:
    client, _ = make_async_client(env({"echo": api_key}))
    with pytest.raises(KieSubmitOutcomeUnknownError) as info:
        run(client, lambda kie: kie.runway_generate(GENERATE))
    assert api_key not in str(info.value)
    assert api_key not in repr(info.value.cause)
    assert "{'echo': '***'}" in str(info.value)
