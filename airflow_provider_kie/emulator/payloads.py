"""KIE's JSON shapes for task records and callbacks, rendered from emulator tasks."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from airflow_provider_kie.emulator.config import SubmissionKind
from airflow_provider_kie.emulator.models import Task, TaskPhase
from airflow_provider_kie.emulator.payloads_veo import is_veo, veo_callback

RUNWAY_SUCCESS_MSG = "All generated successfully."


def generate_time(timestamp: float) -> str:
    """Runway's ``generateTime`` format, ``YYYY-MM-DD HH:MM:SS`` (UTC here; KIE does not state its zone)."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(timestamp: float) -> str:
    """Aleph's ISO-8601 times, e.g. ``2023-08-15T14:30:45Z``."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_time_ms(timestamp: float) -> str:
    """The upload host's ``uploadedAt``, ISO-8601 with milliseconds."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def runway_record(task: Task, now: float) -> dict[str, Any]:
    """``data`` of ``GET /api/v1/runway/record-detail``.

    ``videoInfo`` is null until success; ``failCode``/``failMsg`` are empty strings unless the task failed
    (KIE's docs show both an int and ``""`` for ``failCode``, so clients must take either).
    """
    state = task.state_at(now)
    success = state is TaskPhase.SUCCESS
    failed = state is TaskPhase.FAIL
    return {
        "taskId": task.task_id,
        "parentTaskId": task.spec.parent_task_id,
        "generateParam": {"prompt": task.spec.prompt, "imageUrl": task.spec.image_url, "expandPrompt": False},
        "state": state.value,
        "generateTime": generate_time(task.created_at),
        "videoInfo": (
            {
                "videoId": task.video_id,
                "taskId": task.task_id,
                "videoUrl": task.video_url,
                "imageUrl": task.image_url_out,
            }
            if success
            else None
        ),
        "failCode": task.fail_code if failed else "",
        "failMsg": task.fail_msg if failed else "",
        "expireFlag": 1 if success and task.media_expired(now) else 0,
    }


def aleph_record(task: Task, now: float) -> dict[str, Any]:
    """``data`` of ``GET /api/v1/aleph/record-info``: running = successFlag 0 and no error; failed =
    successFlag 0 with ``errorMessage``; ``paramJson`` is a JSON *string*."""
    state = task.state_at(now)
    success = state is TaskPhase.SUCCESS
    failed = state is TaskPhase.FAIL
    return {
        "taskId": task.task_id,
        "paramJson": json.dumps(task.spec.params, ensure_ascii=False, separators=(",", ":")),
        "response": (
            {"taskId": task.task_id, "resultVideoUrl": task.video_url, "resultImageUrl": task.image_url_out}
            if success
            else None
        ),
        "createTime": iso_time(task.created_at),
        "completeTime": iso_time(task.done_at) if state.is_terminal else None,
        "successFlag": 1 if success else 0,
        "errorCode": (task.fail_code or 0) if failed else 0,
        "errorMessage": task.fail_msg if failed else "",
    }


#: The Market API spells three of the lifecycle states its own way.
JOBS_STATES = {
    TaskPhase.WAIT: "waiting",
    TaskPhase.QUEUEING: "queuing",
    TaskPhase.GENERATING: "generating",
    TaskPhase.SUCCESS: "success",
    TaskPhase.FAIL: "fail",
}


def epoch_ms(timestamp: float) -> int:
    """The Market API's times: epoch milliseconds."""
    return int(timestamp * 1000)


def cost_time_ms(task: Task) -> int:
    """Milliseconds the task took, submission to completion (the Market's ``costTime``)."""
    return epoch_ms(task.done_at) - epoch_ms(task.created_at)


def jobs_record(task: Task, now: float) -> dict[str, Any]:
    """``data`` of ``GET /api/v1/jobs/recordInfo`` (https://docs.kie.ai/market/common/get-task-detail):
    ``param`` and ``resultJson`` (``{"resultUrls": [...]}``, every result in order: MP4s for video models,
    PNGs for image models) are JSON *strings*; times are epoch ms; ``costTime`` is the task's duration in ms
    once it succeeded (null before; KIE's model pages document it as "available when task is success");
    ``failCode`` (a string, as the page types it) and ``failMsg`` are ``""`` unless the task failed."""
    state = task.state_at(now)
    failed = state is TaskPhase.FAIL
    changed_at = max(
        t for t in (task.created_at, task.wait_until, task.queue_until, task.done_at) if t <= now
    )
    return {
        "taskId": task.task_id,
        "model": task.spec.model,
        "state": JOBS_STATES[state],
        "param": json.dumps(task.spec.params, ensure_ascii=False, separators=(",", ":")),
        "resultJson": (
            json.dumps({"resultUrls": task.result_urls()}, separators=(",", ":"))
            if state is TaskPhase.SUCCESS
            else ""
        ),
        # The Market page types failCode as a string (Runway pages show numbers): "501", or "" unless failed.
        "failCode": str(task.fail_code or "") if failed else "",
        "failMsg": task.fail_msg if failed else "",
        "costTime": cost_time_ms(task) if state is TaskPhase.SUCCESS else None,
        "completeTime": epoch_ms(task.done_at) if state.is_terminal else None,
        "createTime": epoch_ms(task.created_at),
        "updateTime": epoch_ms(changed_at),
    }


def callback_payload(task: Task) -> dict[str, Any]:
    """The body KIE POSTs to ``callBackUrl`` when ``task`` turns terminal.

    Runway: ``{"code", "msg", "data": {"task_id", "video_id", "video_url", "image_url"}}``, with empty URLs on
    failure (extensions send only ``task_id`` then). Aleph: ``{"code", "msg", "data": {"result_video_url",
    "result_image_url"} | null, "taskId"}``. Jobs: ``{"code", "msg", "data": <the recordInfo data>}``, so the
    task id is ``data.taskId`` (KIE's model pages: "callback content structure is identical to the Query Task
    API response"). Veo: see :func:`.payloads_veo.veo_callback`. The failure ``code`` is the task's
    ``failCode`` (400 for refusals such as moderation, 500 for generation errors).
    """
    if is_veo(task):
        return veo_callback(task)
    code = 200 if task.succeeds else (task.fail_code or 500)
    if task.spec.kind is SubmissionKind.JOBS:
        msg = "Playground task completed successfully." if task.succeeds else task.fail_msg
        return {"code": code, "msg": msg, "data": jobs_record(task, task.done_at)}
    if task.spec.kind is SubmissionKind.ALEPH:
        data: dict[str, Any] | None = (
            {"result_video_url": task.video_url, "result_image_url": task.image_url_out}
            if task.succeeds
            else None
        )
        return {
            "code": code,
            "msg": "success" if task.succeeds else task.fail_msg,
            "data": data,
            "taskId": task.task_id,
        }
    if task.succeeds:
        data = {
            "task_id": task.task_id,
            "video_id": task.video_id,
            "video_url": task.video_url,
            "image_url": task.image_url_out,
        }
        return {"code": code, "msg": RUNWAY_SUCCESS_MSG, "data": data}
    if task.spec.kind is SubmissionKind.EXTEND:
        return {"code": code, "msg": task.fail_msg, "data": {"task_id": task.task_id}}
    data = {"task_id": task.task_id, "video_id": "", "video_url": "", "image_url": ""}
    return {"code": code, "msg": task.fail_msg, "data": data}
