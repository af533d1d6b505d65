"""The file-upload host (``kieai.redpandaai.co`` on KIE), served under ``/upload-host`` on the same server.

Its envelope adds ``success`` to KIE's, and ``data.downloadUrl`` is the URL to pass on as ``imageUrl`` /
``videoUrl``. Files are kept in memory for ``upload_retention_s`` (scaled). ``file-url-upload`` only fetches
URLs this emulator serves itself (produced media, uploaded files, synthetic bodies): anything else is refused
with code 400 rather than fetched, so the emulator never reaches the network.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import posixpath
import re
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from airflow_provider_kie.emulator.config import LOOPBACK_HOSTS, UPLOAD_HOST_PREFIX
from airflow_provider_kie.emulator.envelopes import authorized_json, base_url_of, upload_error, upload_ok
from airflow_provider_kie.emulator.errors import KieRefusal
from airflow_provider_kie.emulator.payloads import iso_time_ms
from airflow_provider_kie.emulator.routes_media import local_file
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.urlcheck import is_http_url

_SAFE_PATH = re.compile(r"^[A-Za-z0-9._\-/]+$")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,]*)?;base64,(?P<data>.*)$", re.DOTALL)
_DEFAULT_TYPE = "application/octet-stream"


def _bad(msg: str) -> KieRefusal:
    return KieRefusal(400, msg)


def _upload_path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip("/ "):
        raise _bad("uploadPath is required")
    path = value.strip("/ ")
    if not _SAFE_PATH.match(path) or ".." in path.split("/"):
        raise _bad("uploadPath may only contain letters, digits, '.', '_', '-' and '/' (no '..')")
    return path


def _file_name(value: Any, *, fallback_ext: str) -> str:
    if value is None or value == "":
        # KIE invents a name when none is given; keep the extension so the MIME type survives.
        return f"{uuid.uuid4().hex}{fallback_ext}"
    if not isinstance(value, str) or "/" in value or value in (".", ".."):
        raise _bad("fileName must be a plain file name")
    return value


def _mime_for(name: str, declared: str | None) -> str:
    if declared and declared != _DEFAULT_TYPE:
        return declared
    return mimetypes.guess_type(name)[0] or declared or _DEFAULT_TYPE


def _ext_for(name: str | None, mime: str | None) -> str:
    ext = posixpath.splitext(name or "")[1]
    if not ext and mime:
        ext = mimetypes.guess_extension(mime) or ""
    return ext


def _own_url(request: Request, state: EmulatorState, url: str) -> bool:
    """Whether ``url`` points at this emulator (by any loopback name, or its public base URL)."""
    target = urlsplit(url)
    own = urlsplit(base_url_of(request))
    public = urlsplit(state.config.public_base_url or "")
    if target.netloc in (own.netloc, public.netloc) and target.netloc:
        return True
    try:
        same_port = target.port == own.port
    except ValueError:  # a port that is not a number
        return False
    return target.hostname in LOOPBACK_HOSTS and own.hostname in LOOPBACK_HOSTS and same_port


def build_upload_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/upload-host/api``."""
    router = APIRouter(prefix=f"{UPLOAD_HOST_PREFIX}/api", tags=["upload"])

    def store(request: Request, upload_path: str, file_name: str, data: bytes, mime: str) -> JSONResponse:
        max_bytes = state.config.max_upload_bytes
        if len(data) > max_bytes:
            raise _bad(f"file is larger than the {max_bytes} bytes allowed")
        file_path = f"{upload_path}/{file_name}"
        upload = state.store_upload(file_path, file_name, data, mime)
        base = state.config.public_base_url or base_url_of(request)
        return upload_ok(
            {
                "fileName": file_name,
                "filePath": file_path,
                "downloadUrl": f"{base}{UPLOAD_HOST_PREFIX}/files/{quote(file_path)}",
                "fileSize": len(data),
                "mimeType": mime,
                "uploadedAt": iso_time_ms(upload.uploaded_at),
            }
        )

    @router.post("/file-stream-upload")
    async def stream_upload(request: Request) -> JSONResponse:
        """Multipart ``file`` + ``uploadPath`` (+ optional ``fileName``): KIE's way for files over 10 MB."""
        try:
            state.check_api_key(request.headers.get("authorization"))
            try:
                form = await request.form(max_files=1, max_fields=10)
            except HTTPException as exc:
                raise _bad(f"invalid multipart body: {exc.detail}") from exc
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise _bad("file is required (multipart field 'file')")
            upload_path = _upload_path(form.get("uploadPath"))
            data = await file.read(state.config.max_upload_bytes + 1)
            name = _file_name(form.get("fileName"), fallback_ext=_ext_for(file.filename, file.content_type))
            return store(request, upload_path, name, data, _mime_for(name, file.content_type))
        except KieRefusal as error:
            return upload_error(error)

    @router.post("/file-base64-upload")
    async def base64_upload(request: Request) -> JSONResponse:
        """JSON ``base64Data`` (plain base64 or a ``data:`` URL) + ``uploadPath`` (+ ``fileName``)."""
        try:
            body = await authorized_json(request, state)
            raw = body.get("base64Data")
            if not isinstance(raw, str) or not raw.strip():
                raise _bad("base64Data is required")
            declared: str | None = None
            match = _DATA_URL.match(raw.strip())
            if match is not None:
                declared, raw = match["mime"], match["data"]
            try:
                data = base64.b64decode("".join(raw.split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _bad("base64Data is not valid base64") from exc
            upload_path = _upload_path(body.get("uploadPath"))
            name = _file_name(body.get("fileName"), fallback_ext=_ext_for(None, declared))
            return store(request, upload_path, name, data, _mime_for(name, declared))
        except KieRefusal as error:
            return upload_error(error)

    @router.post("/file-url-upload")
    async def url_upload(request: Request) -> JSONResponse:
        """JSON ``fileUrl`` + ``uploadPath`` (+ ``fileName``); offline: only URLs served by this emulator."""
        try:
            body = await authorized_json(request, state)
            file_url = body.get("fileUrl")
            if not isinstance(file_url, str) or not is_http_url(file_url):
                raise _bad("fileUrl is required and must be an http(s) URL")
            upload_path = _upload_path(body.get("uploadPath"))
            if not _own_url(request, state, file_url):
                raise _bad("fileUrl: the emulator is offline and only fetches URLs it serves itself")
            found = await local_file(state, urlsplit(file_url).path, max_bytes=state.config.max_upload_bytes)
            if found is None:
                raise _bad("fileUrl: failed to download the file (not found or expired)")
            data, declared = found
            url_name = posixpath.basename(urlsplit(file_url).path)
            name = _file_name(body.get("fileName") or url_name, fallback_ext=_ext_for(url_name, declared))
            return store(request, upload_path, name, data, _mime_for(name, declared))
        except KieRefusal as error:
            return upload_error(error)

    return router
