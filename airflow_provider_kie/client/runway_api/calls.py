"""Every Runway API endpoint as a :class:`~airflow_provider_kie.client.calls.Call`, without doing I/O.

The same ``Call`` the KIE client uses: the sync and async Runway clients differ only in how they send a call
and sleep, so the endpoints cannot drift apart. Paths and shapes:
https://github.com/runwayml/sdk-python/blob/main/api.md.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from airflow_provider_kie.client.calls import Call
from airflow_provider_kie.client.errors import (
    FieldError,
    KieAPIError,
    KieResponseError,
    KieTaskNotFoundError,
    KieValidationError,
)
from airflow_provider_kie.client.records import TaskKind, TaskRecord, parse_record
from airflow_provider_kie.client.retry import CallKind
from airflow_provider_kie.client.runway_api.http import SERVICE
from airflow_provider_kie.client.runway_api.organization import RunwayOrganization, parse_organization
from airflow_provider_kie.client.runway_api.requests import RunwayApiRequest

__all__ = ["calls", "task_path"]

#: Runway's task ids are UUIDs; anything with a slash, a dot segment or a query would address another path.
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _bad_answer(endpoint: str, what: str, data: Any, status: int = 200) -> KieResponseError:
    # Twice the excerpt length: the client redacts the key, then shortens.
    return KieResponseError(
        what, http_status=status, endpoint=endpoint, body_excerpt=str(data)[:400], service=SERVICE
    )


def _checked_task_id(task_id: str) -> str:
    text = task_id.strip() if isinstance(task_id, str) else ""
    if not _TASK_ID.match(text):
        raise KieValidationError(
            f"{SERVICE} task lookup",
            [FieldError("task_id", f"must be a Runway task id such as a UUID (got {task_id!r})")],
        )
    return text


def task_path(task_id: str) -> str:
    """``/v1/tasks/<id>`` for a checked task id."""
    return "/v1/tasks/" + quote(_checked_task_id(task_id), safe="")


class _RunwayCalls:
    """Factory of every Runway API call. Stateless; use the module-level :data:`calls`."""

    def create(self, request: RunwayApiRequest) -> Call[str]:
        """``POST /v1/<endpoint>`` for any request model: a paid create answering ``{"id"}``.

        The payload is built here (local files read into data URIs), so a too-big file fails before any
        request.
        """
        if not isinstance(request, RunwayApiRequest):
            raise TypeError(f"expected a Runway API request model, got {type(request).__name__}")
        path = f"/v1/{request.endpoint}"

        def parse(data: Any) -> str:
            task_id = data.get("id") if isinstance(data, dict) else None
            if not isinstance(task_id, str) or not task_id.strip():
                raise _bad_answer(path, "a create answer without an id", data)
            return task_id

        return Call("POST", path, CallKind.SUBMIT, parse, json=request.to_payload())

    def get_task(self, task_id: str) -> Call[TaskRecord]:
        """``GET /v1/tasks/{id}``: the task as a :class:`TaskRecord` of kind ``runway_api``."""
        path = task_path(task_id)

        def parse(data: Any) -> TaskRecord:
            return parse_record(TaskKind.RUNWAY_API, data, endpoint=path)

        return Call("GET", path, CallKind.SAFE, parse)

    def cancel_task(self, task_id: str) -> Call[bool]:
        """``DELETE /v1/tasks/{id}``: cancel a pending, throttled or running task; delete a finished one.

        Free and repeatable, so retried like a read. Answers True when Runway acknowledged it (204), False
        when Runway knows no such task (404: never existed, or already deleted, as a retried DELETE whose
        first attempt went through finds it). Refunds: Runway refunds a task cancelled while PENDING or
        THROTTLED, not one it saw RUNNING, and never a deleted finished one (SDK ``tasks.delete``).
        """
        path = task_path(task_id)

        def recover(error: KieAPIError) -> bool:
            if isinstance(error, KieTaskNotFoundError):
                return False
            raise error

        return Call("DELETE", path, CallKind.SAFE, lambda data: True, recover=recover)

    def get_organization(self) -> Call[RunwayOrganization]:
        """``GET /v1/organization``: credits and tier limits. Free: a good connection test."""
        path = "/v1/organization"

        def parse(data: Any) -> RunwayOrganization:
            try:
                return parse_organization(data)
            except ValueError as exc:
                raise _bad_answer(path, str(exc), data) from None

        return Call("GET", path, CallKind.SAFE, parse)


calls = _RunwayCalls()
