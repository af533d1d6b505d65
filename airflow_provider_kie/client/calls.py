"""Every KIE endpoint as a :class:`Call`: what to send and how to read the answer, without doing I/O.

The sync and async clients differ only in how they send a call and sleep between attempts; keeping the
endpoints here means the two cannot drift apart.
"""

from __future__ import annotations

import base64
import contextlib
import mimetypes
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, Literal, TypeVar

from airflow_provider_kie.client.errors import (
    FieldError,
    KieAPIError,
    KieResponseError,
    KieUnprocessableError,
    KieValidationError,
)
from airflow_provider_kie.client.models import check_url
from airflow_provider_kie.client.records import TaskKind, TaskRecord, parse_record
from airflow_provider_kie.client.retry import CallKind

if TYPE_CHECKING:
    # Annotations only: the Market catalogue and the Veo models load with the first request that needs them,
    # not with every DAG file that imports a client.
    from airflow_provider_kie.client.market import MarketJobRequest
    from airflow_provider_kie.client.models import (
        AlephGenerateRequest,
        RunwayExtendRequest,
        RunwayGenerateRequest,
    )
    from airflow_provider_kie.client.veo import Veo4kResult, VeoExtendRequest, VeoGenerateRequest

__all__ = ["Call", "UploadedFile", "calls"]

T = TypeVar("T")

Host = Literal["api", "upload"]

#: KIE's status endpoint for each task family.
RECORD_PATHS = {
    TaskKind.RUNWAY: "/api/v1/runway/record-detail",
    TaskKind.ALEPH: "/api/v1/aleph/record-info",
    TaskKind.JOBS: "/api/v1/jobs/recordInfo",
    TaskKind.VEO: "/api/v1/veo/record-info",
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One KIE endpoint invocation, described without sending it.

    ``open_file`` is called afresh for every attempt, so a retried upload re-reads its file from the start.
    ``recover`` turns a refusal that is an answer, not a failure, into a result (Veo's "1080P is
    processing"); it re-raises the error when that does not apply.
    """

    method: str
    path: str
    kind: CallKind
    parse: Callable[[Any], T]
    host: Host = "api"
    params: dict[str, str] | None = None
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    open_file: Callable[[], tuple[str, IO[bytes], str]] | None = field(default=None, repr=False)
    recover: Callable[[KieAPIError], T] | None = field(default=None, repr=False)

    @contextlib.contextmanager
    def request_kwargs(self) -> Iterator[dict[str, Any]]:
        """The keyword arguments for ``httpx.Client.request`` (minus method and URL) for one attempt."""
        kwargs: dict[str, Any] = {}
        if self.params is not None:
            kwargs["params"] = self.params
        if self.json is not None:
            kwargs["json"] = self.json
        if self.open_file is None:
            yield kwargs
            return
        name, stream, content_type = self.open_file()
        try:
            kwargs["data"] = self.form or {}
            kwargs["files"] = {"file": (name, stream, content_type)}
            yield kwargs
        finally:
            stream.close()


@dataclass(frozen=True)
class UploadedFile:
    """A file on KIE's upload host. Use ``download_url`` as an ``image_url`` or ``video_url``.

    KIE deletes uploads after 24 hours to 3 days: upload right before the submit that needs them.
    """

    download_url: str
    file_name: str | None = None
    file_path: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    uploaded_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "download_url": self.download_url,
            "file_name": self.file_name,
            "file_path": self.file_path,
            "file_size": self.file_size,
            "mime_type": self.mime_type,
            "uploaded_at": self.uploaded_at,
        }


def _bad_answer(endpoint: str, what: str, data: Any) -> KieResponseError:
    # Twice the excerpt length: the client redacts the key, then shortens (BaseKieClient._parse).
    return KieResponseError(what, http_status=200, endpoint=endpoint, body_excerpt=str(data)[:400])


def _task_id(endpoint: str) -> Callable[[Any], str]:
    def parse(data: Any) -> str:
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not task_id:
            raise _bad_answer(endpoint, "a success without data.taskId", data)
        return str(task_id)

    return parse


def _credits(data: Any) -> int:
    # Documented as an integer; tolerate "123" and 123.0 rather than fail a connection test.
    try:
        return int(float(data))
    except (TypeError, ValueError, OverflowError):
        raise _bad_answer("/api/v1/chat/credit", "a credit balance that is not a number", data) from None


def _download_url(data: Any) -> str:
    url = data if isinstance(data, str) else (data or {}).get("url") if isinstance(data, dict) else None
    if not url:
        raise _bad_answer("/api/v1/common/download-url", "no download URL", data)
    return str(url)


def _uploaded(endpoint: str) -> Callable[[Any], UploadedFile]:
    def parse(data: Any) -> UploadedFile:
        if not isinstance(data, dict):
            raise _bad_answer(endpoint, "an upload answer without data", data)
        # KIE's pages name the link downloadUrl or fileUrl: accept both.
        url = data.get("downloadUrl") or data.get("fileUrl")
        if not url:
            raise _bad_answer(endpoint, "an upload answer without downloadUrl", data)
        size = data.get("fileSize")
        return UploadedFile(
            download_url=str(url),
            file_name=data.get("fileName"),
            file_path=data.get("filePath"),
            file_size=int(size) if isinstance(size, (int, float, str)) and str(size).isdigit() else None,
            mime_type=data.get("mimeType"),
            uploaded_at=data.get("uploadedAt"),
        )

    return parse


def _links(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(url) for url in value if isinstance(url, str) and url.strip()]


def _checked_task_id(task_id: str) -> str:
    if not isinstance(task_id, str) or not task_id.strip():
        raise KieValidationError("Veo request", [FieldError("task_id", "must not be empty")])
    return task_id.strip()


def _checked_index(index: int) -> int:
    # "video index" on KIE's 1080P and 4K pages: which of the task's videos, from 0.
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise KieValidationError(
            "Veo request", [FieldError("index", f"must be an integer >= 0 (got {index!r})")]
        )
    return index


def _check_upload_path(upload_path: str) -> str:
    if not upload_path or not upload_path.strip():
        raise KieValidationError(
            "upload", [FieldError("upload_path", "must name a folder, e.g. 'airflow/images'")]
        )
    return upload_path.strip().strip("/")


class _Calls:
    """Factory of every KIE call. Stateless; use the module-level :data:`calls`."""

    def runway_generate(self, request: RunwayGenerateRequest) -> Call[str]:
        path = "/api/v1/runway/generate"
        return Call("POST", path, CallKind.SUBMIT, _task_id(path), json=request.to_payload())

    def runway_extend(self, request: RunwayExtendRequest) -> Call[str]:
        path = "/api/v1/runway/extend"
        return Call("POST", path, CallKind.SUBMIT, _task_id(path), json=request.to_payload())

    def aleph_generate(self, request: AlephGenerateRequest) -> Call[str]:
        path = "/api/v1/aleph/generate"
        return Call("POST", path, CallKind.SUBMIT, _task_id(path), json=request.to_payload())

    def jobs_create_task(self, request: MarketJobRequest) -> Call[str]:
        path = "/api/v1/jobs/createTask"
        return Call("POST", path, CallKind.SUBMIT, _task_id(path), json=request.to_payload())

    def veo_generate(self, request: VeoGenerateRequest) -> Call[str]:
        path = "/api/v1/veo/generate"
        return Call("POST", path, CallKind.SUBMIT, _task_id(path), json=request.to_payload())

    def veo_extend(self, request: VeoExtendRequest) -> Call[str]:
        path = "/api/v1/veo/extend"
        return Call("POST", path, CallKind.SUBMIT, _task_id(path), json=request.to_payload())

    def veo_get_1080p(self, task_id: str, index: int = 0) -> Call[str | None]:
        """``GET /api/v1/veo/get-1080p-video``: the 1080P link of a succeeded Veo task, ``None`` while KIE
        still makes it (https://docs.kie.ai/veo3-api/get-veo-3-1080-p-video).

        KIE makes the 1080P version on request, in ~1-3 minutes; until it is ready the endpoint answers a
        non-200 code ("1080P is processing. It should be ready in 1-2 minutes"), to be asked again every
        20-30 s. The page documents no extra credits for it (the 4K page does for 4K), and the answer is a
        link, ``data.resultUrl``, not a task. A safe call: asking again only asks.
        """
        path = "/api/v1/veo/get-1080p-video"

        def parse(data: Any) -> str | None:
            url = data.get("resultUrl") if isinstance(data, dict) else None
            return str(url) if isinstance(url, str) and url.strip() else None

        def recover(error: KieAPIError) -> str | None:
            if "processing" in error.kie_message.lower():
                return None
            raise error

        params = {"taskId": _checked_task_id(task_id), "index": str(_checked_index(index))}
        return Call("GET", path, CallKind.SAFE, parse, params=params, recover=recover)

    def veo_request_4k(
        self, task_id: str, index: int = 0, callback_url: str | None = None
    ) -> Call[Veo4kResult]:
        """``POST /api/v1/veo/get-4k-video``: start (or ask after) the 4K version of a Veo task.

        Paid: the first request costs extra credits (about two Fast generations, per
        https://docs.kie.ai/veo3-api/get-veo-3-4k-video) and starts a ~5-10 minute job, so it is a submit
        (never resent blindly). A repeat for the same task is refused with code 422 rather than run again:
        "4k is processing..." while it runs, "The video has been generated successfully" with
        ``resultUrls`` once done; both come back as a :class:`Veo4kResult` with ``repeated=True``.
        """
        from airflow_provider_kie.client.veo import Veo4kResult

        path = "/api/v1/veo/get-4k-video"
        body: dict[str, Any] = {"taskId": _checked_task_id(task_id), "index": _checked_index(index)}
        if callback_url:
            try:
                body["callBackUrl"] = check_url(callback_url)
            except ValueError as exc:
                raise KieValidationError("Veo 4K request", [FieldError("callback_url", str(exc))]) from None

        def result(data: Any, *, repeated: bool, message: str | None) -> Veo4kResult:
            data = data if isinstance(data, dict) else {}
            return Veo4kResult(
                task_id=str(data.get("taskId") or body["taskId"]),
                result_urls=tuple(_links(data.get("resultUrls"))),
                image_urls=tuple(_links(data.get("imageUrls"))),
                repeated=repeated,
                message=message,
            )

        def recover(error: KieAPIError) -> Veo4kResult:
            message = error.kie_message.lower()
            if isinstance(error, KieUnprocessableError) and (
                "processing" in message or "generated successfully" in message
            ):
                return result(error.data, repeated=True, message=error.kie_message)
            raise error

        return Call(
            "POST",
            path,
            CallKind.SUBMIT,
            lambda data: result(data, repeated=False, message=None),
            json=body,
            recover=recover,
        )

    def get_task(self, task_id: str, kind: TaskKind) -> Call[TaskRecord]:
        if not task_id or not task_id.strip():
            raise KieValidationError("task lookup", [FieldError("task_id", "must not be empty")])
        path = RECORD_PATHS[kind]

        def parse(data: Any) -> TaskRecord:
            return parse_record(kind, data, endpoint=path)

        return Call("GET", path, CallKind.SAFE, parse, params={"taskId": task_id.strip()})

    def get_credits(self) -> Call[int]:
        return Call("GET", "/api/v1/chat/credit", CallKind.SAFE, _credits)

    def get_download_url(self, url: str) -> Call[str]:
        return Call("POST", "/api/v1/common/download-url", CallKind.SAFE, _download_url, json={"url": url})

    def upload_file(
        self, source: str | os.PathLike[str], upload_path: str, file_name: str | None = None
    ) -> Call[UploadedFile]:
        """Multipart stream upload of a local file; KIE's route for files over 10 MB, fine for any size."""
        source_path = Path(source)
        if not source_path.is_file():
            raise KieValidationError(
                "upload", [FieldError("source", f"must be an existing file (got {source})")]
            )
        name = file_name or source_path.name
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        path = "/api/file-stream-upload"
        form = {"uploadPath": _check_upload_path(upload_path), "fileName": name}

        def open_file() -> tuple[str, IO[bytes], str]:
            return name, source_path.open("rb"), content_type

        return Call(
            "POST", path, CallKind.SAFE, _uploaded(path), host="upload", form=form, open_file=open_file
        )

    def upload_base64(
        self, data: bytes | str, upload_path: str, file_name: str | None = None
    ) -> Call[UploadedFile]:
        """Base64 upload: ``data`` is raw bytes (encoded here) or a base64 string or data URL, sent as is."""
        encoded = base64.b64encode(data).decode("ascii") if isinstance(data, bytes) else data
        if not encoded:
            raise KieValidationError("upload", [FieldError("data", "must not be empty")])
        body: dict[str, Any] = {"base64Data": encoded, "uploadPath": _check_upload_path(upload_path)}
        if file_name:
            body["fileName"] = file_name
        path = "/api/file-base64-upload"
        return Call("POST", path, CallKind.SAFE, _uploaded(path), host="upload", json=body)

    def upload_from_url(
        self, file_url: str, upload_path: str, file_name: str | None = None
    ) -> Call[UploadedFile]:
        """Ask KIE's upload host to fetch ``file_url`` itself."""
        try:
            file_url = check_url(file_url)
        except ValueError as exc:
            raise KieValidationError("upload", [FieldError("file_url", str(exc))]) from None
        body: dict[str, Any] = {"fileUrl": file_url, "uploadPath": _check_upload_path(upload_path)}
        if file_name:
            body["fileName"] = file_name
        path = "/api/file-url-upload"
        return Call("POST", path, CallKind.SAFE, _uploaded(path), host="upload", json=body)


calls = _Calls()
