"""What the operators and the sensor return (and push to XCom): small, JSON-able, typed."""

from __future__ import annotations

from typing import Literal, TypedDict

from airflow_provider_kie.client import TaskRecord

__all__ = ["ClipResult", "SubmittedResult", "clip_result"]


class SubmittedResult(TypedDict):
    """An operator with ``wait_for_completion=False``: the task was submitted (or an earlier try's was)."""

    kie_task_id: str
    kind: str
    state: Literal["submitted"]


class ClipResult(TypedDict):
    """One finished clip: KIE's ids and links, and where its media was stored (``None`` when not stored)."""

    kie_task_id: str
    kind: str
    state: str
    video_url: str | None
    cover_url: str | None
    video_id: str | None
    video_path: str | None
    cover_path: str | None
    parent_task_id: str | None


def clip_result(
    record: TaskRecord, video_path: str | None = None, cover_path: str | None = None
) -> ClipResult:
    return ClipResult(
        kie_task_id=record.task_id,
        kind=record.kind.value,
        state=record.state.value,
        video_url=record.video_url,
        cover_url=record.cover_url,
        video_id=record.video_id,
        video_path=video_path,
        cover_path=cover_path,
        parent_task_id=record.parent_task_id,
    )
