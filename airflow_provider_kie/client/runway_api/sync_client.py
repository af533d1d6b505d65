"""The blocking Runway API client, for operators running on a worker and for scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_kie.client.records import TaskKind, TaskRecord
from airflow_provider_kie.client.runway_api._base import BaseRunwayClient, only_runway_api
from airflow_provider_kie.client.runway_api.calls import calls
from airflow_provider_kie.client.sending import SyncSending

if TYPE_CHECKING:
    from airflow_provider_kie.client.runway_api import requests as models
    from airflow_provider_kie.client.runway_api.organization import RunwayOrganization

__all__ = ["RunwayClient"]


class RunwayClient(SyncSending, BaseRunwayClient):
    """Blocking client of Runway's own API. See :class:`BaseRunwayClient` for the parameters.

    :param transport: replaces the network (tests pass ``httpx.MockTransport``).
    :param http: an httpx client to send through instead of one of its own (it is then not closed here).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, **kwargs)
        self._open(transport, http)

    # -- creates (paid; resent only where Runway surely created nothing) -----------------------------------
    def create(self, request: models.RunwayApiRequest) -> str:
        """Start the task ``request`` describes (any of the request models); returns Runway's task id."""
        return self._send(calls.create(request))

    def image_to_video(self, request: models.RunwayImageToVideoRequest) -> str:
        """``POST /v1/image_to_video``; returns the task id."""
        return self.create(request)

    def text_to_video(self, request: models.RunwayTextToVideoRequest) -> str:
        """``POST /v1/text_to_video``; returns the task id."""
        return self.create(request)

    def video_to_video(self, request: models.RunwayVideoToVideoRequest) -> str:
        """``POST /v1/video_to_video`` (Aleph 2); returns the task id."""
        return self.create(request)

    def video_upscale(self, request: models.RunwayVideoUpscaleRequest) -> str:
        """``POST /v1/video_upscale``; returns the task id."""
        return self.create(request)

    def character_performance(self, request: models.RunwayCharacterPerformanceRequest) -> str:
        """``POST /v1/character_performance`` (Act-Two); returns the task id."""
        return self.create(request)

    # -- tasks and organisation (free) ---------------------------------------------------------------------
    def get_task(self, task_id: str, kind: TaskKind | str | None = None) -> TaskRecord:
        """The task as it is now (kind ``runway_api``). Runway asks for polls at most every 5 s per task.

        ``kind`` is there for the generation lifecycle, which reads tasks of either backend as
        ``get_task(id, kind)``: when given it must be ``runway_api``.
        """
        only_runway_api(kind)
        return self._send(calls.get_task(task_id))

    def cancel_task(self, task_id: str) -> bool:
        """Cancel a pending, throttled or running task, or delete a finished one (``DELETE /v1/tasks/{id}``).

        True when Runway acknowledged it; False when it knows no such task (already deleted).
        """
        return self._send(calls.cancel_task(task_id))

    def get_organization(self) -> RunwayOrganization:
        """Credit balance and tier limits (``GET /v1/organization``)."""
        return self._send(calls.get_organization())

    # -- the rest of what the generation lifecycle asks of a KIE client --------------------------------------
    def get_credits(self) -> int:
        """The organisation's credit balance (1 credit = $0.01), for the ``min_credits`` floor."""
        return self.get_organization().credit_balance

    def get_download_url(self, url: str) -> str:
        """Runway's output links are signed direct links with no refresh call: a retried download reuses the
        link (a retry of the Airflow task re-reads the task, which signs new ones)."""
        return url
