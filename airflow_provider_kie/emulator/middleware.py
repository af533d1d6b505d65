"""Outermost ASGI layer: counts calls per endpoint and injects response faults.

It must wrap the FastAPI app from the outside (see :class:`airflow_provider_kie.emulator.app.EmulatorApp`):
only there does it receive the server's own ``send`` callable, through which it can reach the connection's
transport to close it without a response (a "dropped connection"). Raising an exception instead would make
uvicorn answer 500, which is not the fault we want to show the client.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_kie.emulator.config import UPLOAD_HOST_PREFIX
from airflow_provider_kie.emulator.errors import MSG_MAINTENANCE, MSG_RATE_LIMITED, MSG_SERVER_ERROR
from airflow_provider_kie.emulator.faults import FaultKind, FaultRule, FaultTiming
from airflow_provider_kie.emulator.runway_api_config import RUNWAY_API_PREFIX, RUNWAY_CDN_PREFIX
from airflow_provider_kie.emulator.state import EmulatorState

ADMIN_PREFIX = "/_emulator"
# A JSON answer cut in the middle of the task id: what a proxy that gives up mid-body produces.
MALFORMED_JSON_BODY = b'{"code": 200, "msg": "success", "data": {"taskId": "ee603959-de'


class ConnectionDropped(Exception):
    """Raised when the server gives no access to the connection, so it cannot be closed silently."""


def endpoint_key(path: str) -> str:
    """The name a call is counted under: the path, with per-file media and upload paths grouped."""
    for prefix in (
        "/media/synthetic/",
        "/media/dl/",
        "/media/",
        f"{UPLOAD_HOST_PREFIX}/files/",
        f"{RUNWAY_API_PREFIX}/v1/tasks/",
        f"{RUNWAY_CDN_PREFIX}/",
    ):
        if path.startswith(prefix):
            return prefix + "*"
    return path


async def drop_connection(send: Send) -> None:
    """Close the client connection without (or in the middle of) a response.

    Works with uvicorn (h11 and httptools), whose ``send`` is a bound method of the request cycle holding the
    transport. Waiting until uvicorn has seen the disconnect keeps it from writing a 500 of its own.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionDropped(
            "cannot reach the connection to drop it; the server will answer an error instead"
        )
    transport.close()
    # The transport reports the loss only once its write buffer (a truncated body's head) has drained, which
    # takes as long as the client takes to read it; bounded so a stalled client cannot pin this request.
    deadline = asyncio.get_running_loop().time() + 10.0
    while not getattr(cycle, "disconnected", True) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.001)


def _client_gone(send: Send) -> bool:
    """Whether uvicorn has seen the client disconnect (False when the server does not tell)."""
    return bool(getattr(getattr(send, "__self__", None), "disconnected", False))


def fault_response(rule: FaultRule, path: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a fault that answers instead of the endpoint."""
    headers = {"Content-Type": "application/json"}
    if rule.kind is FaultKind.MALFORMED_JSON:
        return 200, headers, MALFORMED_JSON_BODY
    if path.startswith(RUNWAY_API_PREFIX):
        return _runway_api_fault(rule, headers)
    if rule.kind is FaultKind.RATE_LIMITED:
        status, code, msg = 429, 429, MSG_RATE_LIMITED
        headers["Retry-After"] = str(rule.retry_after_s)
    elif rule.kind is FaultKind.MAINTENANCE:
        status, code, msg = 455, 455, MSG_MAINTENANCE
    elif rule.kind is FaultKind.SERVER_ERROR:
        status, code, msg = rule.status, rule.status, rule.msg or MSG_SERVER_ERROR
    else:  # BODY_ERROR
        status, code, msg = 200, rule.code, rule.msg or MSG_SERVER_ERROR
    envelope: dict[str, Any] = {"code": code, "msg": msg, "data": None}
    if path.startswith(UPLOAD_HOST_PREFIX):
        envelope = {"success": False, **envelope}
    return status, headers, json.dumps(envelope).encode()


def _runway_api_fault(rule: FaultRule, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """The same faults in Runway's own shape: ``{"error"}`` under the HTTP status, which carries the meaning
    (Runway has no body code). KIE's maintenance answer becomes Runway's "shedding load" 503, and a
    ``body_error`` its ``code`` as the HTTP status."""
    if rule.kind is FaultKind.RATE_LIMITED:
        status, msg = 429, "Too many requests"
        headers["Retry-After"] = str(rule.retry_after_s)
    elif rule.kind is FaultKind.MAINTENANCE:
        status, msg = 503, "Service unavailable: shedding load"
    elif rule.kind is FaultKind.SERVER_ERROR:
        status, msg = rule.status, rule.msg or "Internal server error"
    else:  # BODY_ERROR
        status = rule.code if 400 <= rule.code <= 599 else 500
        msg = rule.msg or "Internal server error"
    return status, headers, json.dumps({"error": msg}).encode()


async def _drain(receive: Receive) -> None:
    """Read (and forget) the request body. A socket closed with unread bytes in its receive buffer sends a
    reset instead of a clean close, and the client would see a read error rather than the dropped
    connection the fault stands for (which one depended on whether the body had arrived yet)."""
    message = await receive()
    while message["type"] == "http.request" and message.get("more_body", False):
        message = await receive()


async def _discard(message: Message) -> None:
    """A ``send`` that throws the endpoint's answer away (``when="after"`` faults)."""


class _DelayedSend:
    """Holds the response back ``delay_s`` seconds (``delay`` faults with ``when="after"``)."""

    def __init__(self, send: Send, delay_s: float) -> None:
        self._send = send
        self._delay_s = delay_s
        self._started = False

    async def __call__(self, message: Message) -> None:
        if not self._started:
            self._started = True
            await asyncio.sleep(self._delay_s)
        await self._send(message)


class _TruncatingSend:
    """Forwards the announced ``Content-Length`` but only ``fraction`` of the body, then drops the
    connection."""

    def __init__(self, send: Send, fraction: float) -> None:
        self._send = send
        self._fraction = fraction
        self._remaining: int | None = None
        self._cut = False

    async def __call__(self, message: Message) -> None:
        if self._cut:
            return  # the connection is gone; let the endpoint finish quietly
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", []):
                if name.lower() == b"content-length":
                    self._remaining = int(int(value) * self._fraction)
            await self._send(message)
            return
        if self._remaining is None or message["type"] != "http.response.body":
            await self._send(message)  # no length announced: nothing to betray
            return
        body: bytes = message.get("body", b"")
        if len(body) < self._remaining or (len(body) == self._remaining and message.get("more_body", False)):
            self._remaining -= len(body)
            await self._send({**message, "more_body": True})
            return
        if self._remaining:
            await self._send(
                {"type": "http.response.body", "body": body[: self._remaining], "more_body": True}
            )
        self._cut = True
        await drop_connection(self._send)


class EmulatorMiddleware:
    """Counts every call and applies the first response fault that hits it (see :mod:`.faults`)."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            # The control plane is neither counted nor faulted, so tests can always observe and repair.
            await self.app(scope, receive, send)
            return
        self.state.record_call(endpoint_key(path))
        rule = self.state.faults.pick_response_fault(scope["method"], path)
        if rule is None:
            await self.app(scope, receive, send)
            return
        self.state.record_fault(rule.kind)
        await self._apply(rule, scope, receive, send)

    async def _apply(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        after = rule.when is FaultTiming.AFTER
        if rule.kind is FaultKind.DELAY:
            if after:
                await self.app(scope, receive, _DelayedSend(send, rule.delay_s))
            else:
                await asyncio.sleep(rule.delay_s)
                if not _client_gone(send):
                    # A request its client gave up on is dropped unprocessed, like one stuck in a queue in
                    # front of KIE; use when="after" for "processed, but the answer came too late".
                    await self.app(scope, receive, send)
            return
        if rule.kind is FaultKind.TRUNCATE:
            # HEAD answers carry no body to cut short.
            wrapped = send if scope["method"] == "HEAD" else _TruncatingSend(send, rule.fraction)
            await self.app(scope, receive, wrapped)
            return
        if after:
            await self.app(scope, receive, _discard)
        if rule.kind is FaultKind.DROP_CONNECTION:
            if not after:
                await _drain(receive)
            await drop_connection(send)
            return
        status, headers, body = fault_response(rule, scope["path"])
        headers["Content-Length"] = str(len(body))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
