"""KIE's JSON shapes for Veo 3.1 records and callbacks.

* record-info: https://docs.kie.ai/veo3-api/get-veo-3-video-details
* generation callbacks: https://docs.kie.ai/veo3-api/generate-veo-3-video-callbacks
* 4K callbacks: https://docs.kie.ai/veo3-api/get-veo-3-4k-video-callbacks
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from airflow_provider_kie.emulator.config import SubmissionKind
from airflow_provider_kie.emulator.models import Task, TaskPhase, Upgrade

VEO_SUCCESS_MSG = "Veo3.1 video generated successfully."
VEO_4K_SUCCESS_MSG = "4K Video generated successfully."
#: ``successFlag``: 0 generating, 1 success, 2 failed before completion, 3 created but generation failed.
SUCCESS_FLAG_RUNNING, SUCCESS_FLAG_OK, SUCCESS_FLAG_FAILED, SUCCESS_FLAG_GENERATION_FAILED = 0, 1, 2, 3
#: failCodes of refusals (moderation, concurrency cap): the task failed before generating (flag 2).
_REFUSED_CODES = (400,)


def veo_time(timestamp: float) -> str:
    """Veo's record times as the page's example answer shows them, ``YYYY-MM-DD HH:MM:SS`` (UTC here; the
    schema says ISO date-time: clients should take both)."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def param_json(task: Task) -> str:
    """The accepted request as the JSON string KIE echoes (``paramJson``, ``promptJson``)."""
    return json.dumps(task.spec.params, ensure_ascii=False, separators=(",", ":"))


def success_flag(task: Task, now: float) -> int:
    """``successFlag`` at ``now``: refusals fail with 2, generation failures with 3."""
    state = task.state_at(now)
    if state is TaskPhase.SUCCESS:
        return SUCCESS_FLAG_OK
    if state is TaskPhase.FAIL:
        return SUCCESS_FLAG_FAILED if task.fail_code in _REFUSED_CODES else SUCCESS_FLAG_GENERATION_FAILED
    return SUCCESS_FLAG_RUNNING


def veo_result_info(task: Task) -> dict[str, Any]:
    """``resultUrls``, ``originUrls``, ``resolution`` and ``fullResultUrls`` (the whole video of an
    extension, the result itself otherwise) of a succeeded task."""
    results = task.result_urls()
    full = [task.media_url("full", "mp4")] if task.spec.full_duration_s else results
    return {
        "resultUrls": results,
        "originUrls": [task.media_url("origin", "mp4")],
        "resolution": task.spec.resolution or "720p",
        "fullResultUrls": full,
    }


def veo_record(task: Task, now: float) -> dict[str, Any]:
    """``data`` of ``GET /api/v1/veo/record-info``: ``response`` null until success; ``errorCode`` null and
    ``errorMessage`` "" unless failed; ``fallbackFlag`` false (a legacy field)."""
    state = task.state_at(now)
    failed = state is TaskPhase.FAIL
    response = None
    if state is TaskPhase.SUCCESS:
        response = {"taskId": task.task_id, **veo_result_info(task)}
    return {
        "taskId": task.task_id,
        "paramJson": param_json(task),
        "completeTime": veo_time(task.done_at) if state.is_terminal else None,
        "response": response,
        "successFlag": success_flag(task, now),
        "errorCode": (task.fail_code or 500) if failed else None,
        "errorMessage": task.fail_msg if failed else "",
        "createTime": veo_time(task.created_at),
        "fallbackFlag": False,
    }


def veo_callback(task: Task) -> dict[str, Any]:
    """The generation/extension callback: success ``{"code": 200, "msg", "data": {"taskId", "promptJson",
    "info": {...}, "fallbackFlag"}}``; failure ``{"code": failCode, "msg": reason, "data": {"taskId",
    "fallbackFlag"}}``."""
    if not task.succeeds:
        return {
            "code": task.fail_code or 500,
            "msg": task.fail_msg,
            "data": {"taskId": task.task_id, "fallbackFlag": False},
        }
    info = veo_result_info(task)
    info.pop("fullResultUrls")
    data = {"taskId": task.task_id, "promptJson": param_json(task), "info": info, "fallbackFlag": False}
    return {"code": 200, "msg": VEO_SUCCESS_MSG, "data": data}


def veo_4k_urls(task: Task, upgrade: Upgrade) -> dict[str, list[str]]:
    """``resultUrls`` and ``imageUrls`` of a finished 4K upgrade."""
    return {
        "resultUrls": [task.media_url(upgrade.variant, "mp4")],
        "imageUrls": [task.media_url(upgrade.variant, "png")],
    }


def veo_4k_callback(task: Task, upgrade: Upgrade) -> dict[str, Any]:
    """The 4K callback as its own page documents it: ``data.info`` with the URLs (the 4K endpoint's OpenAPI
    sketches a different ``task_id``/``result_urls`` shape; clients should accept both)."""
    if not upgrade.succeeds:
        return {"code": 500, "msg": upgrade.fail_msg, "data": {"taskId": task.task_id}}
    info = veo_4k_urls(task, upgrade)
    return {"code": 200, "msg": VEO_4K_SUCCESS_MSG, "data": {"taskId": task.task_id, "info": info}}


def is_veo(task: Task) -> bool:
    """Whether ``task`` is a Veo generation or extension."""
    return task.spec.kind in (SubmissionKind.VEO, SubmissionKind.VEO_EXTEND)
