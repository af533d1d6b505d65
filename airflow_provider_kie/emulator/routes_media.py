"""Serving of produced media, download links, uploaded files and synthetic bodies (GET and HEAD, with Range).

These URLs stand for KIE's file CDN, so they need no API key, and they answer plain HTTP statuses (404 gone,
403 expired link, 416 bad range) rather than KIE envelopes.
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
    cover_image,
    sample_video,
    synthetic_bytes,
    synthetic_response,
)
from airflow_provider_kie.emulator.state import EmulatorState

MEDIA_PATH = re.compile(r"^/media/(?P<task_id>[A-Za-z0-9-]+)\.(?P<ext>mp4|png)$")
SYNTHETIC_PATH = re.compile(r"^/media/synthetic/(?P<size>\d{1,15})\.mp4$")
UPLOAD_FILES_PREFIX = f"{UPLOAD_HOST_PREFIX}/files/"


def task_media(state: EmulatorState, path: str) -> tuple[bytes, str] | None:
    """Body and type of ``/media/<task_id>.mp4|png`` while the task's media is servable."""
    match = MEDIA_PATH.match(path)
    if match is None or not state.servable_task_media(match["task_id"]):
        return None
    if match["ext"] == "mp4":
        return sample_video(), VIDEO_TYPE
    return cover_image(), IMAGE_TYPE


def synthetic_size(path: str) -> int | None:
    """Size asked for by ``/media/synthetic/<n>.mp4``, or ``None``."""
    match = SYNTHETIC_PATH.match(path)
    if match is None or int(match["size"]) > MAX_SYNTHETIC_BYTES:
        return None
    return int(match["size"])


def local_file(state: EmulatorState, path: str, *, max_bytes: int) -> tuple[bytes, str] | None:
    """Body and type of any file this emulator serves at ``path`` (used by file-url-upload to stay
    offline)."""
    found = task_media(state, path)
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


def _serve(state: EmulatorState, path: str, request: Request) -> Response:
    method = request.method
    range_header = request.headers.get("range")
    size = synthetic_size(path)
    if size is not None:
        return synthetic_response(size, method=method, range_header=range_header)
    found = task_media(state, path)
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
        return _serve(state, f"/media/synthetic/{name}", request)

    @router.api_route("/media/dl/{token}/{name}", methods=["GET", "HEAD"])
    async def download_link(token: str, name: str, request: Request) -> Response:
        """A link minted by ``common/download-url``: 403 once its TTL is over, 404 once the media expired."""
        link, valid = state.resolve_download_link(token)
        if link is None:
            return _not_found()
        if not valid:
            return PlainTextResponse("Request has expired", status_code=403)
        return _serve(state, link.target_path, request)

    @router.api_route("/media/{name}", methods=["GET", "HEAD"])
    async def produced(name: str, request: Request) -> Response:
        """A task's video (``.mp4``) or cover (``.png``): 404 before success and after the retention
        period."""
        return _serve(state, f"/media/{name}", request)

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
