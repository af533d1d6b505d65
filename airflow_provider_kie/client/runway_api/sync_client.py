"""The blocking Runway API client, for operators running on a worker and for scripts."""

from __future__ import annotations

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

__all__ = ["RunwayClient"]

T = TypeVar("T")


class RunwayClient(BaseRunwayClient):
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
        self._owns_http = http is None
        self._http = http or httpx.Client(transport=transport, **self._client_kwargs())

    def __enter__(self) -> RunwayClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (of a client this object made)."""
        if self._owns_http:
            self._http.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(call.method, **self._request_kwargs(call))
                return self._parse(call, decode_response(response, call.path, self.redact))
            except httpx.RequestError as exc:  # TransportError, and DecodingError of a bad body
                error: KieError = transport_error(exc, call.path)
            except KieAPIError as exc:
                if call.recover is not None:
                    try:
                        return call.recover(exc)
                    except KieAPIError:
                        pass  # not an answer after all: retry or raise as any refusal
                error = exc
            except KieError as exc:
                error = exc
            time.sleep(self._next_delay(call, error, attempt))

    # -- creates (paid; resent only where Runway surely created nothing) -----------------------------------
    def create(self, request: RunwayApiRequest) -> str:
        """Start the task ``request`` describes (any of the request models); returns Runway's task id."""
        return self._send(calls.create(request))

    def image_to_video(self, request: RunwayImageToVideoRequest) -> str:
        """``POST /v1/image_to_video``; returns the task id."""
        return self.create(request)

    def text_to_video(self, request: RunwayTextToVideoRequest) -> str:
        """``POST /v1/text_to_video``; returns the task id."""
        return self.create(request)

    def video_to_video(self, request: RunwayVideoToVideoRequest) -> str:
        """``POST /v1/video_to_video`` (Aleph 2); returns the task id."""
        return self.create(request)

    def video_upscale(self, request: RunwayVideoUpscaleRequest) -> str:
        """``POST /v1/video_upscale``; returns the task id."""
        return self.create(request)

    def character_performance(self, request: RunwayCharacterPerformanceRequest) -> str:
        """``POST /v1/character_performance`` (Act-Two); returns the task id."""
        return self.create(request)

    # -- tasks and organisation (free) ---------------------------------------------------------------------
    def get_task(self, task_id: str) -> TaskRecord:
        """The task as it is now (kind ``runway_api``). Runway asks for polls at most every 5 s per task."""
        return self._send(calls.get_task(task_id))

    def cancel_task(self, task_id: str) -> bool:
        """Cancel a pending, throttled or running task, or delete a finished one (``DELETE /v1/tasks/{id}``).

        True when Runway acknowledged it; False when it knows no such task (already deleted).
        """
        return self._send(calls.cancel_task(task_id))

    def get_organization(self) -> RunwayOrganization:
        """Credit balance and tier limits (``GET /v1/organization``)."""
        return self._send(calls.get_organization())

    def wait_for_task(
        self,
        task_id: str,
        *,
        poll: PollPolicy | None = None,
        timeout: float | None = None,
        raise_on_failure: bool = True,
    ) -> TaskRecord:
        """Poll until the task succeeds, fails or is cancelled, logging each status change once.

        ``THROTTLED`` and ``PENDING`` are waits (polled at the slow pace), never failures.

        :param timeout: seconds to wait in all; ``None`` waits for ever.
        :param raise_on_failure: raise :class:`KieTaskFailedError` (:class:`KieTaskCancelledError` for a
            cancelled task) instead of returning the record.
        :raises KieWaitTimeoutError: the task was still unfinished after ``timeout`` seconds.
        """
        tracker = self._tracker(poll)
        started = time.monotonic()
        if tracker.policy.first_poll_after:
            time.sleep(tracker.policy.first_poll_after)
        while True:
            outcome: TaskRecord | KieError
            try:
                outcome = self.get_task(task_id)
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
            time.sleep(step)
