"""File uploads on KIE's upload host: stream, base64 and URL variants, and their answers."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import (
    KieBadRequestError,
    KieResponseError,
    KieUnprocessableError,
    KieValidationError,
    RetryPolicy,
    UploadedFile,
)

UPLOAD_HOST = "kieai.redpandaai.co"
FULL_ANSWER = {
    "success": True,
    "code": 200,
    "msg": "File uploaded successfully",
    "data": {
        "fileName": "fox.png",
        "filePath": "airflow/images/fox.png",
        "downloadUrl": "https://tempfile.redpandaai.co/airflow/images/fox.png",
        "fileSize": 1234,
        "mimeType": "image/png",
        "uploadedAt": "2025-06-01T10:00:00.000Z",
    },
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def multipart_parts(request: httpx.Request) -> dict[str, tuple[dict[str, str], bytes]]:
    """Split a multipart body into {name: (headers, content)}."""
    boundary = re.search(r"boundary=([^;]+)", request.headers["content-type"]).group(1)  # type: ignore[union-attr]
    parts: dict[str, tuple[dict[str, str], bytes]] = {}
    for chunk in request.content.split(b"--" + boundary.encode())[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, _, body = chunk[2:-2].partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(": ")
            headers[key.lower()] = value
        name = re.search(r'name="([^"]+)"', headers["content-disposition"]).group(1)  # type: ignore[union-attr]
        parts[name] = (headers, body)
    return parts


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "fox.png"
    path.write_bytes(PNG)
    return path


def test_stream_upload_sends_multipart_to_upload_host(make_client: Any, png_file: Path) -> None:
    client, transport = make_client(FULL_ANSWER)
    uploaded = client.upload_file(png_file, "/airflow/images/")
    assert uploaded == UploadedFile(
        download_url="https://tempfile.redpandaai.co/airflow/images/fox.png",
        file_name="fox.png",
        file_path="airflow/images/fox.png",
        file_size=1234,
        mime_type="image/png",
        uploaded_at="2025-06-01T10:00:00.000Z",
    )
    request = transport.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"https://{UPLOAD_HOST}/api/file-stream-upload"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    assert set(parts) == {"uploadPath", "fileName", "file"}
    assert parts["uploadPath"][1] == b"airflow/images"
    assert parts["fileName"][1] == b"fox.png"
    file_headers, file_bytes = parts["file"]
    assert file_bytes == PNG
    assert 'filename="fox.png"' in file_headers["content-disposition"]
    assert file_headers["content-type"] == "image/png"


def test_stream_upload_file_name_override(make_client: Any, png_file: Path) -> None:
    client, transport = make_client(FULL_ANSWER)
    client.upload_file(str(png_file), "imgs", file_name="cover.jpg")
    parts = multipart_parts(transport.requests[0])
    assert parts["fileName"][1] == b"cover.jpg"
    assert parts["file"][0]["content-type"] == "image/jpeg"
    assert parts["file"][1] == PNG


def test_retried_stream_upload_resends_the_whole_file(
    make_client: Any, png_file: Path, sleeps: list[float]
) -> None:
    client, transport = make_client(
        (503, "<html>busy</html>"),
        (200, {"code": 500, "msg": "storage hiccup"}),
        FULL_ANSWER,
        retry=RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0),
    )
    assert client.upload_file(png_file, "imgs").download_url.endswith("/fox.png")
    assert transport.count == 3
    for request in transport.requests:
        assert multipart_parts(request)["file"][1] == PNG
        assert int(request.headers["content-length"]) == len(request.content)
    assert sleeps == [1.0, 2.0]


def test_stream_upload_closes_the_file_each_attempt(make_client: Any, png_file: Path, mocker: Any) -> None:
    opened: list[Any] = []
    real_open = Path.open

    def tracking_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        opened.append(handle)
        return handle

    mocker.patch.object(Path, "open", tracking_open)
    client, _ = make_client((500, "<html>busy</html>"), FULL_ANSWER, retry=RetryPolicy(jitter=0.0))
    client.upload_file(png_file, "imgs")
    assert len(opened) == 2
    assert all(handle.closed for handle in opened)


def test_stream_upload_missing_file_is_a_validation_error(make_client: Any, tmp_path: Path) -> None:
    client, transport = make_client(FULL_ANSWER)
    with pytest.raises(KieValidationError) as info:
        client.upload_file(tmp_path / "missing.png", "imgs")
    assert info.value.fields == ("source",)
    assert "must be an existing file" in str(info.value)
    assert transport.count == 0


@pytest.mark.parametrize("upload_path", ["", "   "])
def test_upload_path_required(make_client: Any, png_file: Path, upload_path: str) -> None:
    client, transport = make_client(FULL_ANSWER)
    for send in (
        lambda: client.upload_file(png_file, upload_path),
        lambda: client.upload_base64(b"abc", upload_path),
        lambda: client.upload_from_url("https://img.example.com/a.png", upload_path),
    ):
        with pytest.raises(KieValidationError) as info:
            send()
        assert info.value.fields == ("upload_path",)
    assert transport.count == 0


def test_base64_upload_from_bytes(make_client: Any) -> None:
    client, transport = make_client(FULL_ANSWER)
    uploaded = client.upload_base64(PNG, "airflow/images", file_name="fox.png")
    assert uploaded.download_url == "https://tempfile.redpandaai.co/airflow/images/fox.png"
    request = transport.requests[0]
    assert str(request.url) == f"https://{UPLOAD_HOST}/api/file-base64-upload"
    body = json.loads(request.content)
    assert body == {
        "base64Data": base64.b64encode(PNG).decode("ascii"),
        "uploadPath": "airflow/images",
        "fileName": "fox.png",
    }
    assert base64.b64decode(body["base64Data"]) == PNG


def test_base64_upload_from_data_url_is_sent_as_is(make_client: Any) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode("ascii")
    client, transport = make_client(FULL_ANSWER)
    client.upload_base64(data_url, "imgs")
    assert transport.json_bodies() == [{"base64Data": data_url, "uploadPath": "imgs"}]


def test_base64_upload_empty_data_rejected(make_client: Any) -> None:
    client, transport = make_client(FULL_ANSWER)
    for empty in (b"", ""):
        with pytest.raises(KieValidationError) as info:
            client.upload_base64(empty, "imgs")
        assert info.value.fields == ("data",)
    assert transport.count == 0


def test_url_upload(make_client: Any) -> None:
    client, transport = make_client(FULL_ANSWER)
    uploaded = client.upload_from_url(" https://img.example.com/fox.png ", "imgs", file_name="fox.png")
    assert uploaded.file_size == 1234
    request = transport.requests[0]
    assert str(request.url) == f"https://{UPLOAD_HOST}/api/file-url-upload"
    assert json.loads(request.content) == {
        "fileUrl": "https://img.example.com/fox.png",
        "uploadPath": "imgs",
        "fileName": "fox.png",
    }


def test_url_upload_rejects_plain_http(make_client: Any) -> None:
    client, transport = make_client(FULL_ANSWER)
    with pytest.raises(KieValidationError) as info:
        client.upload_from_url("http://img.example.com/fox.png", "imgs")
    assert info.value.fields == ("file_url",)
    assert "https://" in str(info.value)
    assert transport.count == 0


def test_answer_with_file_url_instead_of_download_url(make_client: Any) -> None:
    answer = {"success": True, "code": 200, "msg": "ok", "data": {"fileUrl": "https://t.example/x.png"}}
    client, _ = make_client(answer)
    uploaded = client.upload_base64(b"x", "imgs")
    assert uploaded == UploadedFile(download_url="https://t.example/x.png")
    assert uploaded.to_dict() == {
        "download_url": "https://t.example/x.png",
        "file_name": None,
        "file_path": None,
        "file_size": None,
        "mime_type": None,
        "uploaded_at": None,
    }


@pytest.mark.parametrize(("size", "expected"), [(1234, 1234), ("1234", 1234), ("12.5", None), (None, None)])
def test_answer_file_size_forms(make_client: Any, size: Any, expected: int | None) -> None:
    answer = {"code": 200, "msg": "ok", "data": {"downloadUrl": "https://t.example/x", "fileSize": size}}
    client, _ = make_client(answer)
    assert client.upload_base64(b"x", "imgs").file_size == expected


@pytest.mark.parametrize("data", [{}, {"fileName": "x.png"}, None, "https://t.example/x.png"])
def test_answer_without_a_url_is_a_response_error(make_client: Any, data: Any) -> None:
    client, transport = make_client({"success": True, "code": 200, "msg": "ok", "data": data})
    with pytest.raises(KieResponseError) as info:
        client.upload_base64(b"x", "imgs")
    assert info.value.http_status == 200
    assert transport.count == 1


def test_success_false_is_a_refusal_sent_once(make_client: Any) -> None:
    answer = {"success": False, "code": 200, "msg": "upload failed: file type not allowed", "data": None}
    client, transport = make_client(answer)
    with pytest.raises(KieBadRequestError) as info:
        client.upload_from_url("https://img.example.com/fox.png", "imgs")
    assert info.value.kie_message == "upload failed: file type not allowed"
    assert info.value.http_status == 200
    assert transport.count == 1


def test_success_false_with_error_code_uses_the_code(make_client: Any) -> None:
    answer = {"success": False, "code": 422, "msg": "unsupported file type", "data": None}
    client, transport = make_client(answer)
    with pytest.raises(KieUnprocessableError):
        client.upload_base64(b"x", "imgs")
    assert transport.count == 1


def test_uploads_use_the_configured_upload_host_not_the_api_host(make_client: Any, png_file: Path) -> None:
    client, transport = make_client(
        FULL_ANSWER, base_url="https://api.test", upload_base_url="https://upload.test/kie/"
    )
    client.upload_file(png_file, "a")
    client.upload_base64(b"x", "a")
    client.upload_from_url("https://img.example.com/x.png", "a")
    assert [str(r.url) for r in transport.requests] == [
        "https://upload.test/kie/api/file-stream-upload",
        "https://upload.test/kie/api/file-base64-upload",
        "https://upload.test/kie/api/file-url-upload",
    ]
    assert all(r.headers["authorization"].startswith("Bearer ") for r in transport.requests)


def test_uploads_get_the_long_upload_timeout(make_client: Any, png_file: Path) -> None:
    client, transport = make_client(FULL_ANSWER)
    client.upload_file(png_file, "a")
    timeout = transport.requests[0].extensions["timeout"]
    assert timeout == {"connect": 10.0, "read": 300.0, "write": 300.0, "pool": 300.0}
