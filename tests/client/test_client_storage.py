"""store_url: complete-or-nothing downloads, size checks, link refresh, remote destinations."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from airflow_provider_kie.client import KieStorageError, RetryPolicy
from airflow_provider_kie.client.storage import store_url

BODY = bytes(range(256)) * 64  # 16 KiB


def _client(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_a_complete_download_lands_at_the_destination(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers  # the API key never goes to the media host
        return httpx.Response(200, content=BODY, headers={"Content-Type": "video/mp4"})

    stored = store_url("https://media.test/v.mp4", tmp_path / "out" / "clip.mp4", http=_client(handler))
    assert Path(stored.path).read_bytes() == BODY
    assert stored.size == len(BODY)
    assert stored.content_type == "video/mp4"
    assert _leftovers(tmp_path / "out") == ["clip.mp4"]


def test_a_truncated_body_never_reaches_the_destination(tmp_path):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        # Content-Length promises more than the body holds.
        return httpx.Response(200, content=BODY[:1000], headers={"Content-Length": str(len(BODY))})

    with pytest.raises(KieStorageError, match="got 1000 of 16384 bytes"):
        store_url(
            "https://media.test/v.mp4",
            tmp_path / "clip.mp4",
            http=_client(handler),
            retry=RetryPolicy(max_attempts=2),
        )
    assert len(calls) == 2
    assert _leftovers(tmp_path) == []


def test_an_existing_file_survives_a_failed_download(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"previous good clip")

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection")

    with pytest.raises(KieStorageError):
        store_url(
            "https://media.test/v.mp4", target, http=_client(handler), retry=RetryPolicy(max_attempts=2)
        )
    assert target.read_bytes() == b"previous good clip"
    assert _leftovers(tmp_path) == ["clip.mp4"]


def test_an_expired_link_is_refreshed_and_the_download_retried(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/expired.mp4":
            return httpx.Response(403, text="link expired")
        return httpx.Response(200, content=BODY)

    refreshed = []

    def refresh(url: str) -> str:
        refreshed.append(url)
        return "https://media.test/fresh.mp4?token=abc"

    stored = store_url(
        "https://media.test/expired.mp4", tmp_path / "clip.mp4", refresh_url=refresh, http=_client(handler)
    )
    assert refreshed == ["https://media.test/expired.mp4"]
    assert Path(stored.path).read_bytes() == BODY


def test_a_short_body_is_retried_with_a_fresh_link(tmp_path):
    answers = iter(
        [
            httpx.Response(200, content=BODY[:10], headers={"Content-Length": "99"}),
            httpx.Response(200, content=BODY),
        ]
    )

    stored = store_url(
        "https://media.test/v.mp4",
        tmp_path / "clip.mp4",
        refresh_url=lambda url: url + "?fresh",
        http=_client(lambda request: next(answers)),
    )
    assert stored.size == len(BODY)


def test_a_server_error_is_reported_after_the_attempts(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="oops")

    with pytest.raises(KieStorageError, match="attempt 3"):
        store_url("https://media.test/v.mp4?sig=secret", tmp_path / "clip.mp4", http=_client(handler))
    assert _leftovers(tmp_path) == []


def test_log_lines_and_errors_drop_signed_query_strings(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    with pytest.raises(KieStorageError) as raised:
        store_url(
            "https://media.test/v.mp4?sig=SECRET-TOKEN",
            tmp_path / "c.mp4",
            http=_client(handler),
            retry=RetryPolicy(max_attempts=1),
        )
    assert "SECRET-TOKEN" not in str(raised.value)


def test_a_remote_object_store_destination(tmp_path, mocker):
    from airflow.sdk import ObjectStoragePath

    # The object-store branch (stage locally, then one whole-file upload) on a file:// path, with the
    # locality check forced off: what s3:// or gs:// destinations go through.
    mocker.patch("airflow_provider_kie.client.storage._is_local", return_value=False)
    destination = ObjectStoragePath(f"file://{tmp_path}/bucket/clip.mp4")
    (tmp_path / "bucket").mkdir()
    stored = store_url(
        "https://media.test/v.mp4", destination, http=_client(lambda r: httpx.Response(200, content=BODY))
    )
    assert stored.path == str(destination)
    assert destination.read_bytes() == BODY
    assert _leftovers(tmp_path / "bucket") == ["clip.mp4"]


def test_file_url_destination(tmp_path):
    stored = store_url(
        "https://media.test/v.mp4",
        f"file://{tmp_path}/d/clip.mp4",
        http=_client(lambda r: httpx.Response(200, content=BODY)),
    )
    assert Path(stored.path) == tmp_path / "d" / "clip.mp4"
    assert (tmp_path / "d" / "clip.mp4").read_bytes() == BODY


def test_temp_files_left_by_a_killed_try_are_cleaned_up(tmp_path):
    # A worker killed mid-download (kill -9) never runs its cleanup; the next try must not leave that behind.
    stale = tmp_path / ".clip.mp4.deadbeef.partial"
    stale.write_bytes(b"half a video")
    other = tmp_path / ".other.mp4.deadbeef.partial"
    other.write_bytes(b"another clip's download, in progress")
    store_url(
        "https://media.test/v.mp4",
        tmp_path / "clip.mp4",
        http=_client(lambda r: httpx.Response(200, content=BODY)),
    )
    assert _leftovers(tmp_path) == [".other.mp4.deadbeef.partial", "clip.mp4"]


def test_no_fresh_link_is_fetched_after_the_last_attempt(tmp_path):
    refreshed = []

    def refresh(url: str) -> str:
        refreshed.append(url)
        return url

    with pytest.raises(KieStorageError):
        store_url(
            "https://media.test/v.mp4",
            tmp_path / "clip.mp4",
            refresh_url=refresh,
            http=_client(lambda r: httpx.Response(403)),
            retry=RetryPolicy(max_attempts=3),
        )
    assert len(refreshed) == 2


@pytest.fixture(autouse=True)
def _no_backoff_sleeps(mocker):
    """The backoff between download attempts is real seconds; these tests only count the attempts."""
    return mocker.patch("airflow_provider_kie.client.storage.time.sleep")


def test_attempts_are_spaced_by_the_shared_backoff(tmp_path, _no_backoff_sleeps):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    policy = RetryPolicy(max_attempts=3, base_delay=2.0, max_delay=10.0, jitter=0.0)
    with pytest.raises(KieStorageError, match="attempt 3"):
        store_url("https://media.test/v.mp4", tmp_path / "clip.mp4", http=_client(handler), retry=policy)
    assert [c.args[0] for c in _no_backoff_sleeps.call_args_list] == [2.0, 4.0]
