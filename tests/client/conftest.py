"""Fixtures for the KIE client tests: scripted httpx mock transports and recorded (never real) sleeps.

Nothing here touches the network: every client is built on ``httpx.MockTransport``, and a test that
forgot to script an answer gets an assertion error from the transport, not a real request.

Steps scripted into a transport, one per request (the last one repeats):

* a ``dict`` or ``list``: a JSON body under HTTP 200;
* ``(status, body)`` or ``(status, body, headers)``: ``body`` a dict/list (JSON), ``str`` or ``bytes`` (raw);
* an exception instance: raised by the transport (``httpx.ConnectError(...)`` and the like);
* a callable: called with the ``httpx.Request``, returns one of the above.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import AsyncKieClient, KieClient, RetryPolicy

#: A recognisable fake key: any error message or repr that contains it is a leak.
API_KEY = "kie-test-KEY-7f3a9c1e5b2d"
#: No test needs more requests than this; a client stuck in a loop fails fast instead of hanging.
MAX_REQUESTS = 100


class ScriptedTransport:
    """Answers requests from a script and records every request it was sent."""

    def __init__(self, *steps: Any) -> None:
        assert steps, "script at least one answer"
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    @property
    def count(self) -> int:
        return len(self.requests)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def json_bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host in ("api.kie.ai", "kieai.redpandaai.co", "api.test", "upload.test"), (
            f"unexpected host {request.url.host}"
        )
        self.requests.append(request)
        assert len(self.requests) <= MAX_REQUESTS, "the client keeps sending: a retry or poll loop never ends"
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if callable(step) and not isinstance(step, BaseException):
            step = step(request)
        return _build(step)


def _build(step: Any) -> httpx.Response:
    if isinstance(step, BaseException):
        raise step
    if isinstance(step, httpx.Response):
        return step
    headers: dict[str, str] = {}
    if isinstance(step, tuple):
        status, body, *rest = step
        headers = rest[0] if rest else {}
    else:
        status, body = 200, step
    if isinstance(body, (dict, list)):
        return httpx.Response(status, json=body, headers=headers)
    if isinstance(body, str):
        body = body.encode()
    return httpx.Response(status, content=body, headers=headers)


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture(autouse=True)
def sleeps(mocker: Any) -> list[float]:
    """Every sleep the clients ask for, in order; nothing actually waits (sync and async alike)."""
    asked: list[float] = []
    # The patch replaces time.sleep / asyncio.sleep module-wide: an emulator serving in this process (another
    # test module's, on its own thread and event loop) must keep really sleeping, and its sleeps are not
    # the client's. Only the test's own thread is faked and recorded.
    test_thread = threading.get_ident()
    real_sleep, real_async_sleep = time.sleep, asyncio.sleep

    def fake_sleep(seconds: float) -> None:
        if threading.get_ident() != test_thread:
            real_sleep(seconds)
            return
        asked.append(seconds)

    async def fake_async_sleep(seconds: float, *args: Any) -> Any:
        if threading.get_ident() != test_thread:
            return await real_async_sleep(seconds, *args)
        asked.append(seconds)
        return args[0] if args else None

    mocker.patch("airflow_provider_kie.client.sending.time.sleep", new=fake_sleep)
    mocker.patch("airflow_provider_kie.client.sending.asyncio.sleep", new=fake_async_sleep)
    return asked


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """A read policy with exact, jitter-free delays: 1, 2, 4, ... seconds, 4 attempts."""
    return RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=60.0, jitter=0.0, max_retry_after=120.0)


@pytest.fixture
def make_client() -> Any:
    """``make_client(*steps, **client_kwargs) -> (KieClient, ScriptedTransport)``."""
    made: list[KieClient] = []

    def factory(*steps: Any, **kwargs: Any) -> tuple[KieClient, ScriptedTransport]:
        transport = ScriptedTransport(*steps)
        client = KieClient(kwargs.pop("api_key", API_KEY), transport=httpx.MockTransport(transport), **kwargs)
        made.append(client)
        return client, transport

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def make_async_client() -> Callable[..., tuple[AsyncKieClient, ScriptedTransport]]:
    """``make_async_client(*steps, **client_kwargs) -> (AsyncKieClient, ScriptedTransport)``.

    Use the client inside one ``asyncio.run`` (``async with client:`` closes it).
    """

    def factory(*steps: Any, **kwargs: Any) -> tuple[AsyncKieClient, ScriptedTransport]:
        transport = ScriptedTransport(*steps)
        client = AsyncKieClient(
            kwargs.pop("api_key", API_KEY), transport=httpx.MockTransport(transport), **kwargs
        )
        return client, transport

    return factory
