"""Running the emulator in the background of a Python process (tests, demos, notebooks)."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn

from airflow_provider_kie.emulator.app import create_app
from airflow_provider_kie.emulator.config import DEFAULT_HOST, UPLOAD_HOST_PREFIX, EmulatorConfig
from airflow_provider_kie.emulator.faults import FaultRule, SignatureFault
from airflow_provider_kie.emulator.models import CallbackAttempt, EmulatorStats, TaskSnapshot
from airflow_provider_kie.emulator.routes_media import MEDIA_PATH, media_ext
from airflow_provider_kie.emulator.runway_api_config import (
    DEFAULT_RUNWAY_API_KEY,
    RUNWAY_API_PREFIX,
    RUNWAY_API_VERSION,
)
from airflow_provider_kie.emulator.runway_api_state import RunwayApiStats, RunwayApiTaskSnapshot
from airflow_provider_kie.emulator.state import EmulatorState

#: Bearer key handed out by :attr:`RunningEmulator.api_key` when the config accepts any key.
DEFAULT_TEST_API_KEY = "emulator-test-key"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = any free port), bound before the server starts so the
    port is known and cannot be taken by someone else in between."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def base_url_for(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class RunningEmulator:
    """Handle on a running emulator: where it listens and its state, with shortcuts for tests.

    Attributes:
        base_url: Stands in for ``https://api.kie.ai``.
        upload_base_url: Stands in for ``https://kieai.redpandaai.co``: ``base_url + "/upload-host"``.
        state: The emulated account (live; safe to use from any thread).

    Runway's own developer API is served too: :attr:`runway_base_url` stands in for
    ``https://api.dev.runwayml.com``, :attr:`runway_api_key` is a key it accepts, and
    :meth:`runway_api_stats` counts its creates (paid, refunded, throttled) and DELETEs.
    """

    base_url: str
    upload_base_url: str
    state: EmulatorState
    _server: EmulatorServer | None = field(default=None, repr=False)

    @property
    def config(self) -> EmulatorConfig:
        """The configuration the emulator currently runs with."""
        return self.state.config

    def reconfigure(self, config: EmulatorConfig | None = None, **changes: Any) -> EmulatorConfig:
        """Switch the running emulator to ``config`` (or the current config with ``changes``) and reset it.

        Example: ``emu.reconfigure(concurrency_cap=2, time_scale=1.0)``.
        """
        new_config = dataclasses.replace(config or self.state.config, **changes)
        self.state.reconfigure(new_config)
        return new_config

    @property
    def api_key(self) -> str:
        """A bearer key the emulator accepts (the first configured one, or any key when none is
        configured)."""
        if self.config.api_keys:
            return sorted(self.config.api_keys)[0]
        return DEFAULT_TEST_API_KEY

    @property
    def auth_headers(self) -> dict[str, str]:
        """``Authorization`` header carrying :attr:`api_key`."""
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def runway_base_url(self) -> str:
        """Stands in for Runway's ``https://api.dev.runwayml.com``: ``base_url + "/runway-api"``."""
        return self.base_url + RUNWAY_API_PREFIX

    @property
    def runway_api_key(self) -> str:
        """A key the emulated Runway API accepts (the first configured one, else one of Runway's shape)."""
        keys = self.config.runway_api.api_keys
        return sorted(keys)[0] if keys else DEFAULT_RUNWAY_API_KEY

    @property
    def runway_api_headers(self) -> dict[str, str]:
        """``Authorization`` with :attr:`runway_api_key` and the ``X-Runway-Version`` Runway requires."""
        return {"Authorization": f"Bearer {self.runway_api_key}", "X-Runway-Version": RUNWAY_API_VERSION}

    def runway_api_stats(self) -> RunwayApiStats:
        """Counters of the emulated Runway API: creates received/accepted/paid/refunded/throttled, DELETEs
        (cancels, deletions, not found), credits."""
        return self.state.runway_api.stats()

    def runway_api_tasks(self) -> list[RunwayApiTaskSnapshot]:
        """Every Runway API task (status, cost, refund, throttling, frame size)."""
        return self.state.runway_api.tasks()

    def set_runway_api_credits(self, balance: int) -> None:
        """Set the emulated Runway organisation's credit balance."""
        self.state.runway_api.set_credits(balance)

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on the emulator."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def set_faults(self, *rules: FaultRule, seed: int | None = None) -> None:
        """Replace the active fault rules (and optionally the seed)."""
        self.state.set_faults(rules, seed=seed)

    def add_fault(self, rule: FaultRule) -> None:
        """Add one fault rule."""
        self.state.add_fault(rule)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.state.clear_faults()

    def reset(self) -> None:
        """Forget tasks, uploads, links, counters; credits and faults back to the configuration."""
        self.state.reset()

    def stats(self) -> EmulatorStats:
        """Current counters."""
        return self.state.stats()

    def tasks(self) -> list[TaskSnapshot]:
        """Every task."""
        return self.state.tasks()

    def callback_log(self) -> list[CallbackAttempt]:
        """Every callback attempt."""
        return self.state.callback_log()

    def forge_callback(
        self, task_id: str, *, signature: SignatureFault | str | None = "wrong_key", url: str | None = None
    ) -> None:
        """POST ``task_id``'s callback body now (whatever its state) with spoiled headers: ``signature`` is a
        :class:`SignatureFault` (``"wrong_key"``, ``"other_task"``, ``"stale"``, ``"future"``,
        ``"unsigned"``) or ``None`` for a correctly signed one. Sent once to ``url`` (default: the task's
        ``callBackUrl``), logged with the fault ``callback_forged``. Example: ``emu.forge_callback(task_id,
        signature="stale")``."""
        self.state.forge_callback(task_id, signature=signature, url=url)

    def replay_callback(self, task_id: str) -> CallbackAttempt:
        """POST the last callback sent for ``task_id`` again now, same body and headers (old timestamp and
        signature); returns the attempt replayed. Logged with the fault ``callback_replay``."""
        return self.state.replay_callback(task_id)

    def set_credits(self, balance: int) -> None:
        """Set the credit balance."""
        self.state.set_credits(balance)

    def advance_time(self, kie_seconds: float) -> None:
        """Jump ahead ``kie_seconds`` of KIE time."""
        self.state.advance_time(kie_seconds)

    def set_market_outputs(self, model: str, count: int | None) -> None:
        """Make Market tasks of ``model`` (``"*"``: every model) yield ``count`` results (``None``: back to
        the configuration/catalogue). Cleared by :meth:`reset`."""
        self.state.set_market_outputs(model, count)

    def media_bytes(self, url: str) -> bytes | None:
        """The bytes the emulator serves at a task media ``url`` (rendered if needed), or ``None`` when it
        serves nothing there now. Lets tests compare a stored file with what was served."""
        match = MEDIA_PATH.match(urlsplit(url).path)
        if match is None:
            return None
        ext = media_ext(match["ext"])
        job = self.state.resolve_media(match["task_id"], match["variant"] or "", ext)
        return None if job is None else self.state.render_media(job)


class EmulatorServer:
    """Uvicorn serving the emulator on a background thread.

    Args:
        config: The configuration (defaults: :class:`EmulatorConfig`).
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        log_level: Uvicorn's log level; access logs are off (they cost CPU in benchmarks).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.state = EmulatorState(config or EmulatorConfig())
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self, timeout_s: float = 15.0) -> RunningEmulator:
        """Start serving and return once the emulator answers HTTP."""
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        sock = bind_socket(self.host, self.port)
        uv_config = uvicorn.Config(
            create_app(state=self.state),
            log_config=None,  # leave the host process's logging (pytest, Airflow) alone
            log_level=self.log_level,
            access_log=False,
            lifespan="on",
            # Bounded: a test may leave a "delay" fault sleeping; shutdown must not wait for it.
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(uv_config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="kie-emulator", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        base_url = base_url_for(sock)
        try:
            self._wait_until_ready(base_url, timeout_s)
        except BaseException:
            self.stop()
            raise
        return RunningEmulator(
            base_url=base_url,
            upload_base_url=base_url + UPLOAD_HOST_PREFIX,
            state=self.state,
            _server=self,
        )

    def _wait_until_ready(self, base_url: str, timeout_s: float) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    raise RuntimeError("KIE emulator failed to start (see the uvicorn log)")
                if self._server.started:
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get("/_emulator/health").status_code == 200:
                            return
                time.sleep(0.01)
        raise TimeoutError(f"KIE emulator did not answer within {timeout_s} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.state.media.close()


@contextlib.contextmanager
def running_emulator(
    config: EmulatorConfig | None = None, *, host: str = DEFAULT_HOST, port: int = 0
) -> Iterator[RunningEmulator]:
    """Serve the emulator on a free loopback port for the duration of the ``with`` block.

    Example::

        with running_emulator(EmulatorConfig(time_scale=0.01)) as emu:
            httpx.post(emu.url("/api/v1/runway/generate"), headers=emu.auth_headers, json={...})
            assert emu.stats().paid_submissions == 1
    """
    server = EmulatorServer(config, host=host, port=port)
    handle = server.start()
    try:
        yield handle
    finally:
        server.stop()
