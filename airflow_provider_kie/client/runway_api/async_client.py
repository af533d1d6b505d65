"""The asyncio Runway API client, for triggers in the triggerer's event loop and async code.

A triggerer runs many triggers in one loop: pass them one shared ``httpx.AsyncClient`` (``http=``) rather
than a connection pool each. Credentials travel with each request, never on the shared client.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, TypeVar

import httpx

from airflow_provider_kie.client.calls import Call
from airflow_provider_kie.client.errors import KieAPIError, KieError
from airflow_provider_kie.client.polling import PollPolicy
from airflow_provider_kie.client.records import TaskRecord
from airflow_provider_kie.client.runway_api._base import BaseRunwayClient
from airflow_provider_kie.client.runway_api.calls import calls
from airflow_provider_kie.client.runway_api.http import decode_response, transport_error
from airflow_provider_kie.client.runway_api.organization import RunwayOrganization
from airflow_provider_kie.client.runway_api.requests import (
    RunwayApiRequest,
    RunwayCharacterPerformanceRequest,
    RunwayImageToVideoRequest,
    RunwayTextToVideoRequest,
    RunwayVideoToVideoRequest,
    RunwayVideoUpscaleRequest,
)

__all__ = ["AsyncRunwayClient"]

T = TypeVar("T")


class AsyncRunwayClient(BaseRunwayClient):
    """Async client of Runway's own API; the same calls as :class:`RunwayClient`, awaited.

    :param transport: replaces the network (tests pass ``httpx.MockTransport``).
    :param http: a shared ``httpx.AsyncClient`` to send through (not closed here).

    Use it as an async context manager, or await :meth:`aclose`.
    """

    def __init__(
        self,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, **kwargs)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(transport=transport, **self._client_kwargs())

    async def __aenter__(self) -> AsyncRunwayClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections (of a client this object made)."""
        if self._owns_http:
            await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(call.method, **self._request_kwargs(call))
                return self._parse(call, decode_response(response, call.path, self.redact))
            except httpx.RequestError as exc:
                error: KieError = transport_error(exc, call.path)
            except KieAPIError as exc:
                if call.recover is not None:
                    try:
                        return call.recover(exc)
                    except KieAPIError:
                        pass
                error = exc
            except KieError as exc:
                error = exc
            await asyncio.sleep(self._next_delay(call, error, attempt))

    # -- creates (paid) --------------------------------------------------------------------------------------
    async def create(self, request: RunwayApiRequest) -> str:
        """Start the task ``request`` describes; returns Runway's task id. Building the payload reads local
        files (at most 5 MB): done in a worker thread, so the event loop is not blocked by storage I/O."""
        call = await asyncio.to_thread(calls.create, request)
        return await self._send(call)

    async def image_to_video(self, request: RunwayImageToVideoRequest) -> str:
        """``POST /v1/image_to_video``; returns the task id."""
        return await self.create(request)

    async def text_to_video(self, request: RunwayTextToVideoRequest) -> str:
        """``POST /v1/text_to_video``; returns the task id."""
        return await self.create(request)

    async def video_to_video(self, request: RunwayVideoToVideoRequest) -> str:
        """``POST /v1/video_to_video`` (Aleph 2); returns the task id."""
        return await self.create(request)

    async def video_upscale(self, request: RunwayVideoUpscaleRequest) -> str:
        """``POST /v1/video_upscale``; returns the task id."""
        return await self.create(request)

    async def character_performance(self, request: RunwayCharacterPerformanceRequest) -> str:
        """``POST /v1/character_performance`` (Act-Two); returns the task id."""
        return await self.create(request)

    # -- tasks and organisation (free) -----------------------------------------------------------------------
    async def get_task(self, task_id: str) -> TaskRecord:
        """The task as it is now (kind ``runway_api``)."""
        return await self._send(calls.get_task(task_id))

    async def cancel_task(self, task_id: str) -> bool:
        """Cancel (or delete, once finished) a task; True when acknowledged, False when unknown."""
        return await self._send(calls.cancel_task(task_id))

    async def get_organization(self) -> RunwayOrganization:
        """Credit balance and tier limits."""
        return await self._send(calls.get_organization())

    async def wait_for_task(
        self,
        task_id: str,
        *,
        poll: PollPolicy | None = None,
        timeout: float | None = None,
        raise_on_failure: bool = True,
    ) -> TaskRecord:
        """Poll until the task succeeds, fails or is cancelled (see :meth:`RunwayClient.wait_for_task`)."""
        tracker = self._tracker(poll)
        started = time.monotonic()
        if tracker.policy.first_poll_after:
            await asyncio.sleep(tracker.policy.first_poll_after)
        while True:
            outcome: TaskRecord | KieError
            try:
                outcome = await self.get_task(task_id)
            except KieError as exc:
                outcome = exc
            step = self._wait_step(
                tracker,
                task_id,
                outcome,
                waited=time.monotonic() - started,
                timeout=timeout,
                raise_on_failure=raise_on_failure,
            )
            if isinstance(step, TaskRecord):
                return step
            await asyncio.sleep(step)
