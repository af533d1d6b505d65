"""Fixtures for the emulator's own tests: raw httpx over loopback, never the provider's client."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

# Re-exported so these tests use the same fixtures users get from the plugin.
from airflow_provider_kie.emulator.pytest_plugin import (  # noqa: F401
    fast_test_config,
    kie_emulator,
    kie_emulator_clean,
    kie_emulator_config,
    kie_emulator_session,
)
from airflow_provider_kie.emulator.server import RunningEmulator

TERMINAL_RUNWAY = ("success", "fail")
# Generous: waits end as soon as the condition holds; this only bounds a hung test.
WAIT_TIMEOUT_S = 15.0


@pytest.fixture
def emu(request: pytest.FixtureRequest) -> RunningEmulator:
    """The session emulator, back on the fast test config with a clean account (tests may reconfigure it)."""
    shared: RunningEmulator = request.getfixturevalue("kie_emulator_session")
    shared.reconfigure(fast_test_config())
    return shared


@pytest.fixture
def api(emu: RunningEmulator) -> Iterator[httpx.Client]:
    """A raw httpx client on the emulator's base URL with a bearer key. ``trust_env=False``: no proxy."""
    with httpx.Client(
        base_url=emu.base_url, headers=emu.auth_headers, trust_env=False, timeout=10.0
    ) as client:
        yield client


def wait_until(
    predicate: Callable[[], Any], timeout_s: float = WAIT_TIMEOUT_S, interval_s: float = 0.01
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


@pytest.fixture
def wait() -> Callable[..., Any]:
    """:func:`wait_until`, for test modules (conftest helpers are not importable)."""
    return wait_until


@dataclass
class Kie:
    """Small helpers speaking KIE's API with raw httpx."""

    api: httpx.Client

    def generate(self, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "prompt": "a cat dancing",
            "duration": 5,
            "quality": "720p",
            "aspectRatio": "16:9",
        }
        body.update(overrides)
        return self.api.post("/api/v1/runway/generate", json={k: v for k, v in body.items() if v is not None})

    def generate_id(self, **overrides: Any) -> str:
        answer = self.generate(**overrides).json()
        assert answer["code"] == 200, answer
        return str(answer["data"]["taskId"])

    def extend(self, task_id: str, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {"taskId": task_id, "prompt": "it keeps dancing", "quality": "720p"}
        body.update(overrides)
        return self.api.post("/api/v1/runway/extend", json={k: v for k, v in body.items() if v is not None})

    def aleph(self, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {"prompt": "make it watercolor", "videoUrl": "https://example.com/in.mp4"}
        body.update(overrides)
        return self.api.post("/api/v1/aleph/generate", json={k: v for k, v in body.items() if v is not None})

    def record(self, task_id: str) -> dict[str, Any]:
        answer = self.api.get("/api/v1/runway/record-detail", params={"taskId": task_id}).json()
        assert answer["code"] == 200, answer
        return dict(answer["data"])

    def aleph_record(self, task_id: str) -> dict[str, Any]:
        answer = self.api.get("/api/v1/aleph/record-info", params={"taskId": task_id}).json()
        assert answer["code"] == 200, answer
        return dict(answer["data"])

    def wait_runway(self, task_id: str) -> dict[str, Any]:
        return dict(wait_until(lambda: (r := self.record(task_id))["state"] in TERMINAL_RUNWAY and r))

    def wait_aleph(self, task_id: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            record = self.aleph_record(task_id)
            return record if record["successFlag"] == 1 or record["errorMessage"] else None

        return dict(wait_until(done))


@pytest.fixture
def kie(api: httpx.Client) -> Kie:
    """KIE request helpers bound to ``api``."""
    return Kie(api)


@dataclass(frozen=True)
class Probe:
    """What ffprobe says of a media file."""

    codec: str
    width: int
    height: int
    #: Container duration in seconds (0 for still images).
    duration: float
    tags: dict[str, str]


def ffprobe(data: bytes, directory: Path) -> Probe:
    """Probe ``data`` (written to a file in ``directory``) with the real ffprobe."""
    target = directory / f"probe-{uuid.uuid4().hex}"
    target.write_bytes(data)
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height:format=duration:format_tags",
            "-of",
            "json",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = json.loads(result.stdout)
    stream = found["streams"][0]
    duration = found.get("format", {}).get("duration")
    return Probe(
        codec=stream["codec_name"],
        width=int(stream["width"]),
        height=int(stream["height"]),
        duration=float(duration) if duration not in (None, "N/A") else 0.0,
        tags=dict(found.get("format", {}).get("tags", {})),
    )


@pytest.fixture
def probe(tmp_path: Path) -> Callable[[bytes], Probe]:
    """:func:`ffprobe` bound to the test's temporary directory."""
    return lambda data: ffprobe(data, tmp_path)


@dataclass
class ReceivedCallback:
    """One POST seen by the callback receiver."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class CallbackReceiver:
    """A tiny loopback HTTP server recording POSTs; ``script`` (statuses for the next POSTs, in order), then
    ``status``, and ``delay_s`` shape its answers."""

    url: str
    received: list[ReceivedCallback] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    lock: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int) -> list[ReceivedCallback]:
        def enough() -> list[ReceivedCallback] | None:
            with self.lock:
                return list(self.received) if len(self.received) >= count else None

        return list(wait_until(enough))


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    """A callback receiver on a free loopback port (``.url`` ends in ``/callback``)."""
    receiver: CallbackReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            with receiver.lock:
                status = receiver.script.pop(0) if receiver.script else receiver.status
                receiver.received.append(ReceivedCallback(self.path, dict(self.headers.items()), body))
                receiver.lock.notify_all()
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the emulator gave up waiting (callback timeout tests)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = CallbackReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/callback")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
