"""The asyncio Runway API client, for triggers in the triggerer's event loop and async code.

A triggerer runs many triggers in one loop: pass them one shared ``httpx.AsyncClient`` (``http=``) rather
than a connection pool each. Credentials travel with each request, never on the shared client.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_kie.client.records import TaskKind, TaskRecord
from airflow_provider_kie.client.runway_api._base import BaseRunwayClient, only_runway_api
from airflow_provider_kie.client.runway_api.calls import calls
from airflow_provider_kie.client.sending import AsyncSending

if TYPE_CHECKING:
    from airflow_provider_kie.client.runway_api import requests as models
    from airflow_provider_kie.client.runway_api.organization import RunwayOrganization

__all__ = ["AsyncRunwayClient"]


class AsyncRunwayClient(AsyncSending, BaseRunwayClient):
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
        self._open(transport, http)

    # -- creates (paid) --------------------------------------------------------------------------------------
    async def create(self, request: models.RunwayApiRequest) -> str:
        """Start the task ``request`` describes; returns Runway's task id. Building the payload reads local
        files (at most 5 MB): done in a worker thread, so the event loop is not blocked by storage I/O."""
        call = await asyncio.to_thread(calls.create, request)
        return await self._send(call)

    async def image_to_video(self, request: models.RunwayImageToVideoRequest) -> str:
        """``POST /v1/image_to_video``; returns the task id."""
        return await self.create(request)

    async def text_to_video(self, request: models.RunwayTextToVideoRequest) -> str:
        """``POST /v1/text_to_video``; returns the task id."""
        return await self.create(request)

    async def video_to_video(self, request: models.RunwayVideoToVideoRequest) -> str:
        """``POST /v1/video_to_video`` (Aleph 2); returns the task id."""
        return await self.create(request)

    async def video_upscale(self, request: models.RunwayVideoUpscaleRequest) -> str:
        """``POST /v1/video_upscale``; returns the task id."""
        return await self.create(request)

    async def character_performance(self, request: models.RunwayCharacterPerformanceRequest) -> str:
        """``POST /v1/character_performance`` (Act-Two); returns the task id."""
        return await self.create(request)

    # -- tasks and organisation (free) -----------------------------------------------------------------------
    async def get_task(self, task_id: str, kind: TaskKind | str | None = None) -> TaskRecord:
        """The task as it is now (kind ``runway_api``); ``kind``, the trigger's, must be ``runway_api``."""
        only_runway_api(kind)
        return await self._send(calls.get_task(task_id))

    async def cancel_task(self, task_id: str) -> bool:
        """Cancel (or delete, once finished) a task; True when acknowledged, False when unknown."""
        return await self._send(calls.cancel_task(task_id))

    async def get_organization(self) -> RunwayOrganization:
        """Credit balance and tier limits."""
        return await self._send(calls.get_organization())
