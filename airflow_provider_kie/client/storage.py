"""Store KIE's media in the user's own storage before KIE's links expire.

``store_url`` streams one URL into a destination path (local, or any ObjectStoragePath such as ``s3://``):

- the body goes to a temporary file first and reaches the destination only when complete, so a reader never
  sees a partial video: a local destination gets an atomic rename; a remote one gets a single upload of the
  finished file (object stores publish an object only when its upload completes);
- the byte count is checked against ``Content-Length``; a short body is retried, never stored;
- a link that has expired (403/404/410) or broke mid-download is replaced through ``refresh_url`` (KIE's
  download-url endpoint) and the download starts over, after the shared backoff (``DOWNLOAD_RETRY``);
- memory stays flat: each network read is written as it arrives, whatever the file's size. (Re-assembling
  reads into 1 MiB chunks made httpx copy every byte once more: 2.4x slower on a 1 GiB file,
  ``benchmarks/bench_download.py``.)

The API key is never sent to the media host: downloads use their own HTTP client without credentials.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_kie.client._base import USER_AGENT, shared_ssl_context
from airflow_provider_kie.client.errors import KieError, KieStorageError
from airflow_provider_kie.client.retry import RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = ["DOWNLOAD_RETRY", "StoredFile", "store_url"]

log = logging.getLogger(__name__)

#: Bytes per read when copying a finished file to an object store.
CHUNK_SIZE = 1024 * 1024
#: Answers that mean "this link no longer works" rather than "the file is gone for good".
EXPIRED_LINK_STATUSES = frozenset({401, 403, 404, 410})
DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: Downloads of one file: three in all, a second or two apart (a fresh link is fetched in between).
DOWNLOAD_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=4.0)


@dataclass(frozen=True)
class StoredFile:
    """Where a file was stored and how big it is."""

    path: str
    size: int
    content_type: str | None


def _is_local(destination: str | os.PathLike[str] | ObjectStoragePath) -> bool:
    protocol = getattr(destination, "protocol", None)
    if protocol is None:
        return "://" not in str(destination) or str(destination).startswith("file://")
    return protocol in ("file", "local", "")


def _local_path(destination: Any) -> Path:
    text = str(getattr(destination, "path", destination))
    return Path(text.removeprefix("file://"))


@contextlib.contextmanager
def _temp_file_near(target: Path) -> Iterator[Path]:
    """A temp file in the target's directory (same filesystem, so the final rename is atomic).

    Temp files an earlier try left behind (a worker killed mid-download never reaches its cleanup) are
    removed first, so a destination folder never accumulates partial videos.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):
        stale.unlink(missing_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def _download_once(http: httpx.Client, url: str, sink: Path) -> tuple[int, str | None]:
    """Stream ``url`` into ``sink``; return (bytes, content type). Raises on HTTP errors and short bodies."""
    with http.stream("GET", url) as response:
        if response.status_code in EXPIRED_LINK_STATUSES:
            raise _ExpiredLink(response.status_code)
        response.raise_for_status()
        expected = response.headers.get("Content-Length")
        # Content-Length counts encoded bytes; only compare it when the body is not compressed.
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        written = 0
        with sink.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        if expected is not None and not encoded and written != int(expected):
            raise _ShortBody(written, int(expected))
        return written, response.headers.get("Content-Type")


class _ExpiredLink(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _ShortBody(Exception):
    def __init__(self, written: int, expected: int) -> None:
        super().__init__(f"got {written} of {expected} bytes")


def _publish(temp: Path, destination: Any) -> str:
    """Move a finished temp file to the destination in one step; return the destination as a string."""
    if _is_local(destination):
        target = _local_path(destination)
        os.replace(temp, target)
        return str(target)
    # Remote object stores make an object visible only once its upload completes: one whole-file upload.
    with temp.open("rb") as src, destination.open("wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK_SIZE)
    return str(destination)


def store_url(
    url: str,
    destination: str | os.PathLike[str] | ObjectStoragePath,
    *,
    refresh_url: Callable[[str], str] | None = None,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    http: httpx.Client | None = None,
) -> StoredFile:
    """Download ``url`` into ``destination`` completely or not at all.

    :param url: the media URL (KIE's ``videoUrl`` / ``imageUrl``).
    :param destination: the final file path: local path, ``file://`` or any ObjectStoragePath.
    :param refresh_url: given the expired URL, returns a fresh direct link (``KieClient.get_download_url``).
    :param retry: how many downloads to try in all, and the backoff between them.
    :param http: an httpx client to use (tests); a credential-free one is made otherwise.
    :raises KieStorageError: after ``retry.max_attempts`` failures; the destination is left untouched.
    """
    own_client = http is None
    client = http or httpx.Client(
        headers={"User-Agent": USER_AGENT},
        timeout=DOWNLOAD_TIMEOUT,
        verify=shared_ssl_context(),
        follow_redirects=True,
    )
    local = _is_local(destination)
    staging = _local_path(destination) if local else Path(tempfile.gettempdir()) / f"kie-{uuid.uuid4().hex}"
    current = url
    problems: list[str] = []
    try:
        with _temp_file_near(staging) as temp:
            attempts = retry.max_attempts
            for attempt in range(1, attempts + 1):
                if attempt > 1:
                    time.sleep(retry.delay(attempt - 1))
                try:
                    size, content_type = _download_once(client, current, temp)
                except (_ExpiredLink, _ShortBody, httpx.TransportError, httpx.HTTPStatusError) as exc:
                    problems.append(f"attempt {attempt}: {type(exc).__name__.lstrip('_')} {exc}")
                    log.warning(
                        "Download of %s failed (%s); attempt %d of %d", _safe(url), exc, attempt, attempts
                    )
                    retryable_by_refresh = isinstance(exc, (_ExpiredLink, _ShortBody, httpx.TransportError))
                    if refresh_url is not None and retryable_by_refresh and attempt < attempts:
                        try:
                            current = refresh_url(url)
                            log.info("Got a fresh download link for %s", _safe(url))
                        except KieError as refresh_error:
                            problems.append(f"refresh failed: {refresh_error}")
                    continue
                stored = _publish(temp, destination)
                log.info("Stored %s (%d bytes) at %s", _safe(url), size, stored)
                return StoredFile(path=stored, size=size, content_type=content_type)
    finally:
        if own_client:
            client.close()
    raise KieStorageError(f"Could not store {_safe(url)} at {destination}: " + "; ".join(problems))


def _safe(url: str) -> str:
    """A URL for logs without its query string, which may carry a signed token."""
    return url.split("?", 1)[0]
