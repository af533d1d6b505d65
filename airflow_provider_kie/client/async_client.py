"""The asyncio KIE client, for triggers in the triggerer's event loop and async code."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_kie.client._base import BaseKieClient
from airflow_provider_kie.client.calls import UploadedFile, calls
from airflow_provider_kie.client.records import TaskKind, TaskRecord
from airflow_provider_kie.client.sending import AsyncSending

if TYPE_CHECKING:
    from airflow_provider_kie.client.market import MarketJobRequest
    from airflow_provider_kie.client.models import (
        AlephGenerateRequest,
        RunwayExtendRequest,
        RunwayGenerateRequest,
    )
    from airflow_provider_kie.client.veo import Veo4kResult, VeoExtendRequest, VeoGenerateRequest

__all__ = ["AsyncKieClient"]


class AsyncKieClient(AsyncSending, BaseKieClient):
    """Async client for every KIE endpoint the provider uses; one pooled connection set per instance.

    Use it as an async context manager, or await :meth:`aclose`. See :class:`BaseKieClient` for the
    parameters;
    ``transport`` replaces the network (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any
    ) -> None:
        super().__init__(api_key, **kwargs)
        self._open(transport, None)

    # -- submits (paid) ------------------------------------------------------------------------------
    async def runway_generate(self, request: RunwayGenerateRequest) -> str:
        """Submit a text- or image-to-video task; returns KIE's task id."""
        return await self._send(calls.runway_generate(request))

    async def runway_extend(self, request: RunwayExtendRequest) -> str:
        """Submit an extension of a succeeded task; returns the new task id."""
        return await self._send(calls.runway_extend(request))

    async def aleph_generate(self, request: AlephGenerateRequest) -> str:
        """Submit an Aleph video-to-video task; returns KIE's task id."""
        return await self._send(calls.aleph_generate(request))

    async def jobs_create_task(self, request: MarketJobRequest) -> str:
        """Submit a task to KIE's Market (unified jobs) API; returns KIE's task id."""
        return await self._send(calls.jobs_create_task(request))

    async def veo_generate(self, request: VeoGenerateRequest) -> str:
        """Submit a Veo 3.1 generation; returns KIE's task id (read it with ``TaskKind.VEO``)."""
        return await self._send(calls.veo_generate(request))

    async def veo_extend(self, request: VeoExtendRequest) -> str:
        """Submit an extension of a Veo 3.1 clip; returns the new task id."""
        return await self._send(calls.veo_extend(request))

    async def veo_request_4k(
        self, task_id: str, index: int = 0, callback_url: str | None = None
    ) -> Veo4kResult:
        """Start the 4K version of a succeeded Veo task (paid), or, asked again, learn how it goes.

        KIE refuses a repeat with code 422 instead of starting another upgrade; that comes back as
        ``Veo4kResult(repeated=True)``, with ``result_urls`` once the 4K video exists
        (https://docs.kie.ai/veo3-api/get-veo-3-4k-video).
        """
        return await self._send(calls.veo_request_4k(task_id, index, callback_url))

    # -- reads -------------------------------------------------------------------------------------------
    async def veo_get_1080p(self, task_id: str, index: int = 0) -> str | None:
        """The 1080P link of a succeeded Veo task, or ``None`` while KIE still makes it (ask again in
        20-30 s). No extra credits are documented for it."""
        return await self._send(calls.veo_get_1080p(task_id, index))

    async def get_task(self, task_id: str, kind: TaskKind = TaskKind.RUNWAY) -> TaskRecord:
        """Read a task's current record."""
        return await self._send(calls.get_task(task_id, kind))

    async def get_credits(self) -> int:
        """The account's remaining credits."""
        return await self._send(calls.get_credits())

    async def get_download_url(self, url: str) -> str:
        """A fresh direct link (valid ~20 min) for a file KIE produced."""
        return await self._send(calls.get_download_url(url))

    # -- uploads (free, on the upload host) --------------------------------------------------------------
    async def upload_file(
        self, source: str | os.PathLike[str], upload_path: str, file_name: str | None = None
    ) -> UploadedFile:
        """Upload a local file (multipart stream)."""
        return await self._send(calls.upload_file(source, upload_path, file_name))

    async def upload_base64(
        self, data: bytes | str, upload_path: str, file_name: str | None = None
    ) -> UploadedFile:
        """Upload bytes, a base64 string or a data URL."""
        return await self._send(calls.upload_base64(data, upload_path, file_name))

    async def upload_from_url(
        self, file_url: str, upload_path: str, file_name: str | None = None
    ) -> UploadedFile:
        """Have the upload host fetch a public URL."""
        return await self._send(calls.upload_from_url(file_url, upload_path, file_name))
