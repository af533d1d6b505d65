"""The upload host under ``/upload-host``: stream, base64 and URL uploads, served back, expiring."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator.media import cover_image
from airflow_provider_kie.emulator.server import RunningEmulator

PNG = cover_image()


@pytest.fixture
def upload(emu: RunningEmulator) -> Iterator[httpx.Client]:
    """A client on the upload host's base URL."""
    with httpx.Client(
        base_url=emu.upload_base_url, headers=emu.auth_headers, trust_env=False, timeout=10.0
    ) as client:
        yield client


def _assert_uploaded(answer: dict[str, Any], *, name: str | None, path: str, size: int, mime: str) -> str:
    assert answer["success"] is True and answer["code"] == 200 and answer["msg"]
    data = answer["data"]
    assert set(data) == {"fileName", "filePath", "downloadUrl", "fileSize", "mimeType", "uploadedAt"}
    if name is not None:
        assert data["fileName"] == name
    assert data["filePath"] == f"{path}/{data['fileName']}"
    assert data["fileSize"] == size and data["mimeType"] == mime
    assert data["uploadedAt"].endswith("Z")
    return str(data["downloadUrl"])


def test_upload_base_url_is_the_prefix(emu: RunningEmulator) -> None:
    assert emu.upload_base_url == emu.base_url + "/upload-host"


def test_stream_upload_and_download_back(upload: httpx.Client, api: httpx.Client) -> None:
    response = upload.post(
        "/api/file-stream-upload",
        files={"file": ("cat.png", PNG, "image/png")},
        data={"uploadPath": "images/user-uploads", "fileName": "my-cat.png"},
    )
    url = _assert_uploaded(
        response.json(), name="my-cat.png", path="images/user-uploads", size=len(PNG), mime="image/png"
    )
    served = api.get(url)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert api.get(url, headers={"Range": "bytes=0-7"}).content == PNG[:8]


def test_stream_upload_without_file_name_invents_one(upload: httpx.Client) -> None:
    response = upload.post(
        "/api/file-stream-upload",
        files={"file": ("clip.mp4", b"0123", "video/mp4")},
        data={"uploadPath": "v"},
    )
    data = response.json()["data"]
    assert data["fileName"].endswith(".mp4") and data["fileName"] != "clip.mp4"
    assert data["mimeType"] == "video/mp4"


def test_stream_upload_errors(upload: httpx.Client) -> None:
    no_file = upload.post("/api/file-stream-upload", data={"uploadPath": "x"}).json()
    assert no_file["success"] is False and no_file["code"] == 400 and "file" in no_file["msg"]
    no_path = upload.post("/api/file-stream-upload", files={"file": ("a.png", PNG, "image/png")}).json()
    assert no_path["code"] == 400 and "uploadPath" in no_path["msg"]
    escape = upload.post(
        "/api/file-stream-upload", files={"file": ("a.png", PNG)}, data={"uploadPath": "a/../../etc"}
    ).json()
    assert escape["code"] == 400


@pytest.mark.parametrize(
    ("payload", "mime"),
    [
        (base64.b64encode(PNG).decode(), "image/png"),  # plain base64: type from fileName
        ("data:image/png;base64," + base64.b64encode(PNG).decode(), "image/png"),
    ],
)
def test_base64_upload(upload: httpx.Client, api: httpx.Client, payload: str, mime: str) -> None:
    answer = upload.post(
        "/api/file-base64-upload", json={"base64Data": payload, "uploadPath": "images", "fileName": "c.png"}
    ).json()
    url = _assert_uploaded(answer, name="c.png", path="images", size=len(PNG), mime=mime)
    assert api.get(url).content == PNG


def test_base64_data_url_without_file_name_keeps_the_type(upload: httpx.Client) -> None:
    payload = "data:image/png;base64," + base64.b64encode(PNG).decode()
    data = upload.post("/api/file-base64-upload", json={"base64Data": payload, "uploadPath": "i"}).json()[
        "data"
    ]
    assert data["fileName"].endswith(".png") and data["mimeType"] == "image/png"


def test_base64_upload_errors(upload: httpx.Client) -> None:
    bad = upload.post("/api/file-base64-upload", json={"base64Data": "***", "uploadPath": "x"}).json()
    assert bad["success"] is False and bad["code"] == 400 and "base64" in bad["msg"]
    missing = upload.post("/api/file-base64-upload", json={"uploadPath": "x"}).json()
    assert missing["code"] == 400


def test_url_upload_of_emulator_urls(
    upload: httpx.Client, api: httpx.Client, kie: Any, emu: RunningEmulator
) -> None:
    video_url = kie.wait_runway(kie.generate_id())["videoInfo"]["videoUrl"]
    answer = upload.post("/api/file-url-upload", json={"fileUrl": video_url, "uploadPath": "videos"}).json()
    clip = api.get(video_url).content  # the task's own clip, as the upload host fetched it
    url = _assert_uploaded(answer, name=None, path="videos", size=len(clip), mime="video/mp4")
    assert api.get(url).content == clip
    # An uploaded file can be re-uploaded by URL, also under the "localhost" name of the same server.
    localhost_url = url.replace("127.0.0.1", "localhost")
    again = upload.post(
        "/api/file-url-upload",
        json={"fileUrl": localhost_url, "uploadPath": "copies", "fileName": "copy.mp4"},
    ).json()
    assert again["data"]["fileSize"] == len(clip)
    synthetic = upload.post(
        "/api/file-url-upload",
        json={"fileUrl": f"{emu.base_url}/media/synthetic/1234.mp4", "uploadPath": "s"},
    ).json()
    assert synthetic["data"]["fileSize"] == 1234


def test_url_upload_refuses_anything_off_the_emulator(upload: httpx.Client, emu: RunningEmulator) -> None:
    foreign = upload.post(
        "/api/file-url-upload", json={"fileUrl": "https://example.com/cat.png", "uploadPath": "x"}
    ).json()
    assert foreign["success"] is False and foreign["code"] == 400 and "offline" in foreign["msg"]
    missing = upload.post(
        "/api/file-url-upload", json={"fileUrl": f"{emu.base_url}/media/nope.mp4", "uploadPath": "x"}
    ).json()
    assert missing["code"] == 400


def test_upload_host_checks_the_key(emu: RunningEmulator) -> None:
    with httpx.Client(base_url=emu.upload_base_url, trust_env=False) as client:
        answer = client.post("/api/file-base64-upload", json={"base64Data": "AA==", "uploadPath": "x"}).json()
    assert answer == {
        "success": False,
        "code": 401,
        "msg": "You do not have access permissions",
        "data": None,
    }


def test_uploads_expire(upload: httpx.Client, api: httpx.Client, emu: RunningEmulator) -> None:
    answer = upload.post(
        "/api/file-base64-upload", json={"base64Data": base64.b64encode(b"hi").decode(), "uploadPath": "t"}
    ).json()
    url = answer["data"]["downloadUrl"]
    assert api.get(url).status_code == 200
    emu.advance_time(24 * 3600)
    assert api.get(url).status_code == 404


def test_uploaded_image_feeds_image_to_video(upload: httpx.Client, kie: Any) -> None:
    answer = upload.post(
        "/api/file-stream-upload", files={"file": ("a.png", PNG, "image/png")}, data={"uploadPath": "img"}
    ).json()
    task_id = kie.generate_id(imageUrl=answer["data"]["downloadUrl"], aspectRatio=None)
    assert kie.wait_runway(task_id)["state"] == "success"
