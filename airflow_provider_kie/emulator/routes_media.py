"""Serving of produced media, download links, uploaded files and synthetic bodies (GET and HEAD, with Range).

These URLs stand for KIE's file CDN, so they need no API key, and they answer plain HTTP statuses (404 gone,
403 expired link, 416 bad range) rather than KIE envelopes. A task's files are ``/media/<task id>.mp4|png``
(its main result and cover) and ``/media/<task id>/<variant>.mp4|png`` (further results ``1``, ``2``...; Veo's
``origin``, ``full``, ``1080p``, ``4k``); they are rendered on first request (see :mod:`.render`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from airflow_provider_kie.emulator.config import UPLOAD_HOST_PREFIX
from airflow_provider_kie.emulator.media import (
    IMAGE_TYPE,
    MAX_SYNTHETIC_BYTES,
    VIDEO_TYPE,
    bytes_response,
    synthetic_bytes,
    synthetic_response,
)
from airflow_provider_kie.emulator.render import MediaExt
from airflow_provider_kie.emulator.state import EmulatorState

#: Task ids are UUIDs (Runway, Aleph), ``task_<model>_<ms>`` (Market, with dots and underscores) or
#: ``veo_task_<hex>``; a variant is a path segment of its own. ``synthetic/`` and ``dl/`` are other routes.
MEDIA_PATH = re.compile(
    r"^/media/(?!synthetic/|dl/)(?P<task_id>[A-Za-z0-9._-]+?)(?:/(?P<variant>[A-Za-z0-9-]+))?"
    r"\.(?P<ext>mp4|png)$"
)
SYNTHETIC_PATH = re.compile(r"^/media/synthetic/(?P<size>\d{1,15})\.mp4$")
UPLOAD_FILES_PREFIX = f"{UPLOAD_HOST_PREFIX}/files/"


def media_ext(value: str) -> MediaExt:
    """``mp4`` or ``png`` (what :data:`MEDIA_PATH` matched)."""
    return "mp4" if value == "mp4" else "png"


async def task_media(state: EmulatorState, path: str) -> tuple[bytes, str] | None:
    """Body and type of a task's file while it is servable (rendered on first request)."""
    match = MEDIA_PATH.match(path)
    if match is None:
        return None
    ext = media_ext(match["ext"])
    job = state.resolve_media(match["task_id"], match["variant"] or "", ext)
    if job is None:
        return None
    data = await state.render_media_async(job)
    return data, VIDEO_TYPE if ext == "mp4" else IMAGE_TYPE


def synthetic_size(path: str) -> int | None:
    """Size asked for by ``/media/synthetic/<n>.mp4``, or ``None``."""
    match = SYNTHETIC_PATH.match(path)
    if match is None or int(match["size"]) > MAX_SYNTHETIC_BYTES:
        return None
    return int(match["size"])


async def local_file(state: EmulatorState, path: str, *, max_bytes: int) -> tuple[bytes, str] | None:
    """Body and type of any file this emulator serves at ``path`` (used by file-url-upload to stay
    offline)."""
    found = await task_media(state, path)
    if found is not None:
        return found
    if path.startswith(UPLOAD_FILES_PREFIX):
        upload = state.get_upload(unquote(path[len(UPLOAD_FILES_PREFIX) :]))
        return None if upload is None else (upload.data, upload.mime_type)
    size = synthetic_size(path)
    if size is not None and size <= max_bytes:
        return synthetic_bytes(0, size - 1), VIDEO_TYPE
    return None


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)


async def _serve(state: EmulatorState, path: str, request: Request) -> Response:
    method = request.method
    range_header = request.headers.get("range")
    size = synthetic_size(path)
    if size is not None:
        return synthetic_response(size, method=method, range_header=range_header)
    found = await task_media(state, path)
    if found is None:
        return _not_found()
    data, media_type = found
    return bytes_response(data, media_type, method=method, range_header=range_header)


def build_media_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/media`` and the upload host's ``/files``."""
    router = APIRouter(tags=["media"])

    @router.api_route("/media/synthetic/{name}", methods=["GET", "HEAD"])
    async def synthetic(name: str, request: Request) -> Response:
        """``/media/synthetic/<n>.mp4``: ``n`` deterministic bytes, streamed; for download benchmarks."""
        return await _serve(state, f"/media/synthetic/{name}", request)

    @router.api_route("/media/dl/{token}/{name}", methods=["GET", "HEAD"])
    async def download_link(token: str, name: str, request: Request) -> Response:
        """A link minted by ``common/download-url``: 403 once its TTL is over, 404 once the media expired."""
        link, valid = state.resolve_download_link(token)
        if link is None:
            return _not_found()
        if not valid:
            return PlainTextResponse("Request has expired", status_code=403)
        return await _serve(state, link.target_path, request)

    @router.api_route("/media/{name}", methods=["GET", "HEAD"])
    async def produced(name: str, request: Request) -> Response:
        """A task's video (``.mp4``) or cover (``.png``): 404 before success and after the retention
        period."""
        return await _serve(state, f"/media/{name}", request)

    @router.api_route("/media/{task_id}/{name}", methods=["GET", "HEAD"])
    async def produced_variant(task_id: str, name: str, request: Request) -> Response:
        """A task's further result (``1``, ``2``...) or Veo file (``origin``, ``full``, ``1080p``, ``4k``):
        404 until it exists and after the retention period."""
        return await _serve(state, f"/media/{task_id}/{name}", request)

    @router.api_route(UPLOAD_FILES_PREFIX + "{file_path:path}", methods=["GET", "HEAD"])
    async def uploaded(file_path: str, request: Request) -> Response:
        """A file stored by the upload host, until its retention ends."""
        upload = state.get_upload(file_path)
        if upload is None:
            return _not_found()
        return bytes_response(
            upload.data, upload.mime_type, method=request.method, range_header=request.headers.get("range")
        )

    return router
