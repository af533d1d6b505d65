"""KIE task records, normalised into one lifecycle: pending -> running -> succeeded | failed.

KIE reports progress four ways: Runway's ``state`` string, Aleph's ``successFlag`` plus ``errorMessage``,
the Market (jobs) API's ``state``, and Veo 3.1's ``successFlag`` 0/1/2/3. The second backend, Runway's own
API, adds a fifth: its ``status`` (``PENDING``, ``THROTTLED``, ``RUNNING``, ``SUCCEEDED``, ``FAILED``,
``CANCELLED``). :class:`TaskRecord` keeps what every caller needs (state, URLs, failure reason, expiry,
parent task) and the raw state for logs, so callers never branch on the API family.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from airflow_provider_kie.client.errors import KieResponseError

__all__ = [
    "CONCURRENCY_LIMIT_MARKER",
    "RUNWAY_API_CANCELLED",
    "TaskKind",
    "TaskRecord",
    "TaskState",
    "parse_record",
]

log = logging.getLogger(__name__)

#: KIE fails (rather than queues) a task over the account's concurrency cap, with a message like
#: "Reached the limit for concurrent generations". Such a task cost nothing and may be resubmitted.
CONCURRENCY_LIMIT_MARKER = "limit for concurrent generations"


class TaskState(str, Enum):
    """The provider's lifecycle of a KIE task."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED)


class TaskKind(str, Enum):
    """Which KIE API family a task belongs to; it decides the status endpoint."""

    RUNWAY = "runway"
    ALEPH = "aleph"
    #: The Market (unified jobs) API: ``/api/v1/jobs/recordInfo``.
    JOBS = "jobs"
    #: Veo 3.1: ``/api/v1/veo/record-info``.
    VEO = "veo"
    #: Runway's own developer API (``https://api.dev.runwayml.com``): ``GET /v1/tasks/{id}``, read with
    #: :class:`~airflow_provider_kie.client.runway_api.RunwayClient`, not with the KIE client.
    RUNWAY_API = "runway_api"


_RUNWAY_STATES = {
    "wait": TaskState.PENDING,
    "queueing": TaskState.PENDING,
    "generating": TaskState.RUNNING,
    "success": TaskState.SUCCEEDED,
    "fail": TaskState.FAILED,
}
_JOBS_STATES = {
    "waiting": TaskState.PENDING,
    "queuing": TaskState.PENDING,
    "generating": TaskState.RUNNING,
    "success": TaskState.SUCCEEDED,
    "fail": TaskState.FAILED,
}
#: Runway's own API: ``GET /v1/tasks/{id}`` answers one of the statuses of the runwayml SDK's
#: ``TaskRetrieveResponse`` (https://github.com/runwayml/sdk-python/blob/main/api.md, type in
#: src/runwayml/types/task_retrieve_response.py). ``THROTTLED`` is waiting, not failing: the task is
#: stored and starts once the organisation is under its concurrency limit
#: (https://docs.dev.runwayml.com/usage/tiers). ``CANCELLED`` ("a cancelled or deleted task") ends the task
#: as a failure that :attr:`TaskRecord.cancelled` tells apart; Runway's guide also spells it ``CANCELED``.
_RUNWAY_API_STATES = {
    "PENDING": TaskState.PENDING,
    "THROTTLED": TaskState.PENDING,
    "RUNNING": TaskState.RUNNING,
    "SUCCEEDED": TaskState.SUCCEEDED,
    "FAILED": TaskState.FAILED,
    "CANCELLED": TaskState.FAILED,
    "CANCELED": TaskState.FAILED,
}
#: ``fail_code`` of a cancelled Runway API task (Runway sends no failure fields with ``CANCELLED``).
RUNWAY_API_CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class TaskRecord:
    """One KIE task as last read from KIE.

    ``raw_state`` is KIE's own word (``generating``, ``successFlag=0``...), for logs. URLs are KIE's and
    expire: store the media (see ``airflow_provider_kie.client.storage``) rather than passing the links on.

    ``result_urls`` holds every output link in KIE's order (a Market model may give several); ``video_url``
    stays the first video. ``model`` is KIE's model name where the record says it, ``cost_time_ms`` the
    Market's ``costTime``, ``resolution`` Veo's, and ``credits`` a cost where a record reports one.

    ``cancelled`` is True for a task that ended because it was cancelled or deleted (Runway's own API,
    ``CANCELLED``; its state is ``failed``), and ``progress`` Runway's own API's 0-1 progress of a running
    task.
    """

    task_id: str
    kind: TaskKind
    state: TaskState
    raw_state: str
    video_url: str | None = None
    cover_url: str | None = None
    video_id: str | None = None
    parent_task_id: str | None = None
    fail_code: str | None = None
    fail_msg: str | None = None
    expired: bool = False
    created_at: str | None = None
    completed_at: str | None = None
    prompt: str | None = None
    result_urls: tuple[str, ...] = ()
    model: str | None = None
    cost_time_ms: int | None = None
    resolution: str | None = None
    credits: float | None = None
    cancelled: bool = False
    progress: float | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @property
    def hit_concurrency_limit(self) -> bool:
        """True when KIE failed the task only because too many were running; resubmitting is safe."""
        return self.state is TaskState.FAILED and CONCURRENCY_LIMIT_MARKER in (self.fail_msg or "").lower()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (enums as their values), small enough for XCom and trigger events."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["state"] = self.state.value
        data["result_urls"] = list(self.result_urls)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRecord:
        """Inverse of :meth:`to_dict`; a dict written before a field existed gets its default."""
        fields = dict(data)
        fields["kind"] = TaskKind(fields["kind"])
        fields["state"] = TaskState(fields["state"])
        fields["result_urls"] = tuple(fields.get("result_urls") or ())
        return cls(**fields)


def _text(value: Any) -> str | None:
    """KIE sends ``failCode`` as int or string, and empty strings for "none": normalise both."""
    if value is None or value == "":
        return None
    return str(value)


def _lifecycle(states: Mapping[str, TaskState], raw: str, task_id: Any) -> TaskState:
    """KIE's state word in our lifecycle.

    KIE has added states before: an unknown one must not end a wait that may still succeed, so it counts as
    running, and is logged.
    """
    state = states.get(raw)
    if state is None:
        log.warning("KIE task %s reports unknown state %r; treating it as still running", task_id, raw)
        return TaskState.RUNNING
    return state


def _mapping(value: Any) -> Mapping[str, Any]:
    """A nested object of a record, or an empty one when KIE sends null, "" or anything else."""
    return value if isinstance(value, Mapping) else {}


def _urls(value: Any) -> list[str]:
    """A list of links from KIE: non-empty strings only (KIE sends null for "none yet")."""
    if not isinstance(value, (list, tuple)):
        return []
    return [str(url) for url in value if isinstance(url, str) and url.strip()]


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _credits(data: Mapping[str, Any]) -> float | None:
    """A cost, where a record carries one. No KIE record page documents a cost field; KIE's Veo 4K
    callback names it ``creditsConsumed``, so that name is read when present, and nothing is guessed."""
    value = data.get("creditsConsumed")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _json_object(raw: Any) -> Mapping[str, Any]:
    """A record's JSON-string field (``param``, ``paramJson``, ``resultJson``) as an object, or empty.

    KIE documents these as strings; anything else is treated as absent rather than trusted."""
    if isinstance(raw, str) and raw:
        try:
            return _mapping(json.loads(raw))
        except ValueError:
            return {}
    return {}


def _parse_runway(data: Mapping[str, Any]) -> TaskRecord:
    raw = str(data.get("state") or "")
    state = _lifecycle(_RUNWAY_STATES, raw, data.get("taskId"))
    video = _mapping(data.get("videoInfo"))
    params = _mapping(data.get("generateParam"))
    video_url = _text(video.get("videoUrl"))
    return TaskRecord(
        task_id=str(data.get("taskId") or ""),
        kind=TaskKind.RUNWAY,
        state=state,
        raw_state=raw,
        video_url=video_url,
        result_urls=(video_url,) if video_url else (),
        cover_url=_text(video.get("imageUrl")),
        video_id=_text(video.get("videoId")),
        parent_task_id=_text(data.get("parentTaskId")),
        fail_code=_text(data.get("failCode")),
        fail_msg=_text(data.get("failMsg")),
        expired=str(data.get("expireFlag") or 0) == "1",
        created_at=_text(data.get("generateTime")),
        prompt=_text(params.get("prompt")),
    )


def _parse_aleph(data: Mapping[str, Any]) -> TaskRecord:
    flag = data.get("successFlag")
    error = _text(data.get("errorMessage"))
    response = _mapping(data.get("response"))
    if str(flag) == "1":
        state = TaskState.SUCCEEDED
    elif error or str(flag) in ("2", "3"):
        # Aleph's documented failure is successFlag 0 plus a message; other KIE APIs use 2/3 for
        # "create failed"/"generate failed", accepted here too so a failure never looks like a wait.
        state = TaskState.FAILED
    else:
        state = TaskState.RUNNING
    prompt = _text(_json_object(data.get("paramJson")).get("prompt"))
    video_url = _text(response.get("resultVideoUrl"))
    return TaskRecord(
        task_id=str(data.get("taskId") or ""),
        kind=TaskKind.ALEPH,
        state=state,
        raw_state=f"successFlag={flag}",
        video_url=video_url,
        result_urls=(video_url,) if video_url else (),
        cover_url=_text(response.get("resultImageUrl")),
        fail_code=_text(data.get("errorCode")),
        fail_msg=error,
        expired=str(data.get("expireFlag") or 0) == "1",
        created_at=_text(data.get("createTime")),
        completed_at=_text(data.get("completeTime")),
        prompt=prompt,
    )


def _parse_jobs(data: Mapping[str, Any]) -> TaskRecord:
    # https://docs.kie.ai/market/common/get-task-detail: resultJson is a JSON string {"resultUrls": [...]},
    # param the request as sent (a JSON string), costTime in milliseconds.
    raw = str(data.get("state") or "")
    state = _lifecycle(_JOBS_STATES, raw, data.get("taskId"))
    urls = _urls(_json_object(data.get("resultJson")).get("resultUrls"))
    param = _json_object(data.get("param"))
    return TaskRecord(
        task_id=str(data.get("taskId") or ""),
        kind=TaskKind.JOBS,
        state=state,
        raw_state=raw,
        video_url=urls[0] if urls else None,
        result_urls=tuple(urls),
        fail_code=_text(data.get("failCode")),
        fail_msg=_text(data.get("failMsg")),
        created_at=_text(data.get("createTime")),
        completed_at=_text(data.get("completeTime")),
        prompt=_text(_mapping(param.get("input")).get("prompt")),
        model=_text(data.get("model")) or _text(param.get("model")),
        cost_time_ms=_int(data.get("costTime")),
        credits=_credits(data),
    )


_VEO_FLAGS = {"0": TaskState.RUNNING, "1": TaskState.SUCCEEDED, "2": TaskState.FAILED, "3": TaskState.FAILED}


def _parse_veo(data: Mapping[str, Any]) -> TaskRecord:
    # https://docs.kie.ai/veo3-api/get-veo-3-video-details: successFlag 0 generating, 1 success, 2 failed,
    # 3 generation failed; response.resultUrls the videos (null until done), fullResultUrls the whole video
    # after an extension, resolution e.g. "1080p"; errorCode/errorMessage when it failed.
    flag = data.get("successFlag")
    state = _lifecycle(_VEO_FLAGS, str(flag), data.get("taskId"))
    response = _mapping(data.get("response"))
    urls = _urls(response.get("resultUrls"))
    urls += [url for url in _urls(response.get("fullResultUrls")) if url not in urls]
    params = _json_object(data.get("paramJson"))
    return TaskRecord(
        task_id=str(data.get("taskId") or ""),
        kind=TaskKind.VEO,
        state=state,
        raw_state=f"successFlag={flag}",
        video_url=urls[0] if urls else None,
        result_urls=tuple(urls),
        fail_code=_text(data.get("errorCode")),
        fail_msg=_text(data.get("errorMessage")),
        created_at=_text(data.get("createTime")),
        completed_at=_text(data.get("completeTime")),
        prompt=_text(params.get("prompt")),
        model=_text(params.get("model")),
        resolution=_text(response.get("resolution")),
        credits=_credits(data),
    )


def _progress(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return min(1.0, max(0.0, float(value)))


def _parse_runway_api(data: Mapping[str, Any]) -> TaskRecord:
    # Runway's own API, GET /v1/tasks/{id} (the runwayml SDK's TaskRetrieveResponse): id, status, createdAt;
    # progress while RUNNING; output (URLs expiring in 24-48 h) once SUCCEEDED; failure and failureCode once
    # FAILED (https://docs.dev.runwayml.com/api-details/task-failures lists the codes).
    raw = str(data.get("status") or "")
    state = _lifecycle(_RUNWAY_API_STATES, raw.upper(), data.get("id"))
    cancelled = raw.upper() in ("CANCELLED", "CANCELED")
    urls = _urls(data.get("output")) if state is TaskState.SUCCEEDED else []
    fail_code = _text(data.get("failureCode"))
    fail_msg = _text(data.get("failure"))
    if cancelled:
        fail_code = fail_code or RUNWAY_API_CANCELLED
        fail_msg = fail_msg or "the task was cancelled or deleted (DELETE /v1/tasks/{id})"
    elif state is TaskState.FAILED and not fail_msg:
        fail_msg = "Runway reported FAILED without a reason"
    return TaskRecord(
        task_id=str(data.get("id") or ""),
        kind=TaskKind.RUNWAY_API,
        state=state,
        raw_state=raw,
        video_url=urls[0] if urls else None,
        result_urls=tuple(urls),
        fail_code=fail_code,
        fail_msg=fail_msg,
        created_at=_text(data.get("createdAt")),
        cancelled=cancelled,
        progress=_progress(data.get("progress")),
    )


_PARSERS = {
    TaskKind.RUNWAY: _parse_runway,
    TaskKind.ALEPH: _parse_aleph,
    TaskKind.JOBS: _parse_jobs,
    TaskKind.VEO: _parse_veo,
    TaskKind.RUNWAY_API: _parse_runway_api,
}


def parse_record(kind: TaskKind, data: Any, *, endpoint: str, http_status: int = 200) -> TaskRecord:
    """Turn the ``data`` of a record endpoint into a :class:`TaskRecord`.

    Raises :class:`KieResponseError` when ``data`` is not an object or has no task id (``taskId`` at KIE,
    ``id`` at Runway's own API).
    """
    runway_api = kind is TaskKind.RUNWAY_API
    if not isinstance(data, Mapping) or not data.get("id" if runway_api else "taskId"):
        raise KieResponseError(
            "a task record without a taskId" + (" (id)" if runway_api else ""),
            http_status=http_status,
            endpoint=endpoint,
            # Twice the excerpt length: the client redacts the key, then shortens (BaseKieClient._parse).
            body_excerpt=str(data)[:400],
            service="Runway API" if runway_api else "KIE",
        )
    return _PARSERS[kind](data)
