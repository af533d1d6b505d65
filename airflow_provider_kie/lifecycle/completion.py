"""Step 6, the end of a clip's life, shared by the operators and the sensor.

Once a KIE task has ended: turn the trigger's event (or a polled record) into success or a clear failure,
re-read the record for fresh URLs, store video and cover in the user's storage, tell any outlet Asset where
they are, and return a small JSON-able result for XCom.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_kie.client import KieStorageError, TaskKind, TaskRecord, TaskState
from airflow_provider_kie.client.storage import store_url
from airflow_provider_kie.exceptions import (
    KieClipFailedException,
    KieClipUnavailableException,
    KieWaitException,
)
from airflow_provider_kie.lifecycle.results import ClipResult, clip_result

if TYPE_CHECKING:
    import logging

    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_kie.hooks.runway import GenerationHook

__all__ = ["finish_clip", "record_from_event", "resolve_output", "store_clip"]


def record_from_event(event: Mapping[str, Any] | None) -> TaskRecord:
    """The finished task's record from a trigger event; raise a clear error for any other event."""
    if not event:
        raise KieWaitException("The KIE trigger ended without an event")
    status = event.get("status")
    task_id = event.get("kie_task_id")
    if status == TaskState.SUCCEEDED.value or status == TaskState.FAILED.value:
        return TaskRecord.from_dict(event["record"])
    if status == "timeout":
        raise KieWaitException(
            f"Timed out waiting for KIE task {task_id} after {event.get('waited')} s "
            f"(last state: {event.get('last_state')}). The task may still finish at KIE; a retry of this "
            "Airflow task reconnects to it instead of paying for a new one."
        )
    raise KieWaitException(
        f"Waiting for KIE task {task_id} failed: {event.get('error_type')}: {event.get('message')}"
    )


def is_partial_event(event: Mapping[str, Any] | None) -> bool:
    """True for an event whose record lacks fields the clip is stored from: one sent by a trigger of an
    earlier provider version (still deferred across an upgrade). Its record is read again before storing."""
    record = (event or {}).get("record")
    return not isinstance(record, Mapping) or "result_urls" not in record


def resolve_output(output: str | ObjectStoragePath | None) -> ObjectStoragePath | None:
    """Turn the ``output`` parameter (a templated string or an ObjectStoragePath) into a path."""
    if output is None or (isinstance(output, str) and not output.strip()):
        return None
    from airflow.sdk import ObjectStoragePath

    if isinstance(output, ObjectStoragePath):
        return output
    text = str(output).strip()
    if "://" not in text:
        text = "file://" + posixpath.abspath(text)
    return ObjectStoragePath(text)


def _suffix(url: str | None, default: str) -> str:
    suffix = posixpath.splitext(urlsplit(url or "").path)[1].lower()
    return suffix if suffix in (".mp4", ".mov", ".webm", ".png", ".jpg", ".jpeg", ".webp") else default


def store_clip(
    hook: GenerationHook,
    record: TaskRecord,
    output: ObjectStoragePath | None,
    name: str | None,
    log: logging.Logger | Any,
    *,
    refresh: bool = True,
) -> ClipResult:
    """Finish a clip: fail clearly, or re-read it, store its media under ``output`` and describe it.

    ``name`` is the file stem (default: the KIE task id): the first video is ``<stem>.mp4``, any further
    result of the task ``<stem>-2.mp4``, ``<stem>-3.png``... (each keeps its own extension) and the cover
    ``<stem>.png``. ``refresh=False`` stores ``record`` as given: its links were just obtained (a Veo
    upgrade), and a re-read would bring back the un-upgraded ones.
    """
    if record.state is TaskState.FAILED:
        raise KieClipFailedException(record.to_dict())
    client = hook.get_conn()
    # URLs in the trigger event may be minutes old; a fresh read also reports expiry.
    fresh = client.get_task(record.task_id, TaskKind(record.kind)) if refresh else record
    if fresh.state is TaskState.FAILED:
        raise KieClipFailedException(fresh.to_dict())
    if output is None:
        log.info("KIE task %s succeeded; no output configured, so nothing is downloaded", fresh.task_id)
        return clip_result(fresh)
    if fresh.expired:
        raise KieClipUnavailableException(
            f"KIE task {fresh.task_id} succeeded, but KIE deleted its media (kept 14 days)"
        )
    urls = list(fresh.result_urls) or ([fresh.video_url] if fresh.video_url else [])
    if not urls:
        raise KieClipUnavailableException(f"KIE task {fresh.task_id} succeeded but reports no result URL")
    stem = name or fresh.task_id
    files: list[str] = []
    try:
        for number, url in enumerate(urls, start=1):
            target = f"{stem}{'' if number == 1 else f'-{number}'}{_suffix(url, '.mp4')}"
            files.append(store_url(url, output / target, refresh_url=client.get_download_url).path)
        cover_path = None
        if fresh.cover_url:
            cover_name = f"{stem}{_suffix(fresh.cover_url, '.png')}"
            if any(posixpath.basename(path) == cover_name for path in files):
                cover_name = f"{stem}-cover{_suffix(fresh.cover_url, '.png')}"  # a result is an image too
            cover_path = store_url(
                fresh.cover_url, output / cover_name, refresh_url=client.get_download_url
            ).path
            files.append(cover_path)
    except KieStorageError as exc:
        # Retryable: the next try reconnects to this succeeded task and stores it from fresh links.
        raise KieClipUnavailableException(f"KIE task {fresh.task_id} succeeded, but {exc}") from exc
    extra = f" (+{len(urls) - 1} more result files)" if len(urls) > 1 else ""
    log.info("KIE task %s stored: video %s%s, cover %s", fresh.task_id, files[0], extra, cover_path)
    return clip_result(fresh, files[0], cover_path, files)


def finish_clip(
    context: Context, task: Any, hook: GenerationHook, record: TaskRecord, *, refresh: bool = False
) -> ClipResult:
    """Store a finished clip for ``task`` (an operator or sensor with ``output_dir``/``output_name``).

    Also pushes the video link for :class:`~airflow_provider_kie.links.KieVideoLink` and tells the task's
    outlet Assets where the files are.
    """
    from airflow_provider_kie.links import KieVideoLink

    result = store_clip(
        hook, record, resolve_output(task.output_dir), task.output_name, task.log, refresh=refresh
    )
    if result["video_url"]:
        context["ti"].xcom_push(key=KieVideoLink().xcom_key, value=result["video_url"])
    add_asset_extra(context, list(task.outlets or []), result)
    task._lineage_result = result  # what OpenLineage reports for this task (airflow_provider_kie.lineage)
    return result


def add_asset_extra(context: Context, outlets: list[Any], result: ClipResult) -> None:
    """Attach the stored paths to the event of every Asset among ``outlets``."""
    from airflow.sdk import Asset

    events = context.get("outlet_events")
    if events is None:
        return
    for outlet in outlets:
        if isinstance(outlet, Asset):
            events[outlet].extra.update(
                {
                    "kie_task_id": result["kie_task_id"],
                    "video_path": result["video_path"],
                    "cover_path": result["cover_path"],
                    "video_url": result["video_url"],
                    "files": list[Any](result["files"]),
                    "model": result["model"],
                }
            )
