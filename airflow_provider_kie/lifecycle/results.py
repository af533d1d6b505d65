"""What the operators and the sensor return (and push to XCom): small, JSON-able, typed."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal, TypedDict

from airflow_provider_kie.client import TaskRecord

__all__ = ["ClipResult", "SubmittedResult", "clip_result", "generation_seconds"]


class SubmittedResult(TypedDict):
    """An operator with ``wait_for_completion=False``: the task was submitted (or an earlier try's was)."""

    kie_task_id: str
    kind: str
    state: Literal["submitted"]


class ClipResult(TypedDict):
    """One finished clip: KIE's ids and links, and where its media was stored (``None`` when not stored).

    ``video_path``/``cover_path`` are the first video and its cover; ``files`` lists every stored file
    (each of the task's result URLs, in KIE's order, then the cover), for the families that return several.
    """

    kie_task_id: str
    kind: str
    state: str
    video_url: str | None
    cover_url: str | None
    video_id: str | None
    video_path: str | None
    cover_path: str | None
    parent_task_id: str | None
    files: list[str]
    result_urls: list[str]
    model: str | None
    prompt: str | None
    resolution: str | None
    #: KIE's ``costTime`` (market) or the span between the record's create and complete times, in seconds.
    generation_seconds: float | None
    #: Credits the task cost, where KIE's record reports it (most records do not), else ``None``. Never
    #: worked out from the balance before and after: the tasks of a DAG (and any other client of the
    #: account) pay from the same balance at the same time, so the difference is not this clip's price.
    credits: float | None


def clip_result(
    record: TaskRecord,
    video_path: str | None = None,
    cover_path: str | None = None,
    files: list[str] | None = None,
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
        files=files if files is not None else [p for p in (video_path, cover_path) if p],
        result_urls=list(record.result_urls or ([record.video_url] if record.video_url else [])),
        model=record.model,
        prompt=record.prompt,
        resolution=record.resolution,
        generation_seconds=generation_seconds(record),
        credits=record.credits,
    )


def generation_seconds(record: TaskRecord) -> float | None:
    """How long KIE took, from what the record reports: ``costTime`` (ms) or complete minus create time."""
    if record.cost_time_ms is not None:
        return round(record.cost_time_ms / 1000.0, 3)
    start, end = _epoch(record.created_at), _epoch(record.completed_at)
    if start is None or end is None or end < start:
        return None
    return round(end - start, 3)


def _epoch(value: str | None) -> float | None:
    """KIE's times come as epoch milliseconds, epoch seconds or ISO 8601 text, by family."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    return number / 1000.0 if number > 1e11 else number
