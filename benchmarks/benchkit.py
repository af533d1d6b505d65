"""What the benchmarks share: an emulator in its own process, process metrics, event-loop lag, tables.

Every benchmark imports this module from its own directory (``python benchmarks/bench_x.py`` puts
``benchmarks/`` first on ``sys.path``). Nothing here is timed against a threshold: the benchmarks print ratios
against a baseline measured in the same run.

The emulator runs as a child process (``python benchmarks/benchkit.py serve '<json config>'``) so that its
request handling does not share the benchmark's event loop or GIL. It is the provider's own emulator app
(``airflow_provider_kie.emulator.create_app``); this wrapper only exists because the emulator's command line
has no flag for the phase timeline, which the density and polling benchmarks need to set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
API_KEY = "bench-api-key-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


# -- process metrics (from /proc: no psutil needed) ------------------------------------------------------
def _status_kib(field_name: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def rss_bytes(pid: int | str = "self") -> int:
    """Current resident set size."""
    return _status_kib("VmRSS", pid) * 1024


def peak_rss_bytes(pid: int | str = "self") -> int:
    """Peak resident set size since the process started (VmHWM)."""
    return _status_kib("VmHWM", pid) * 1024


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process (all its threads)."""
    if pid == "self":
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_cpu_seconds() -> float:
    """CPU seconds of this process's reaped children (``curl``, fresh interpreters)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def open_sockets(pid: int | str = "self") -> int:
    """Sockets the process holds open."""
    count = 0
    fd_dir = f"/proc/{pid}/fd"
    for name in os.listdir(fd_dir):
        with contextlib.suppress(OSError):
            if os.readlink(f"{fd_dir}/{name}").startswith("socket:"):
                count += 1
    return count


# -- statistics ----------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


class LoopLagMonitor:
    """Measures how late the event loop wakes a sleeper: the delay every other coroutine also suffers.

    A task sleeps ``interval`` seconds again and again and records how much later than asked it woke up.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (monotonic time of wake-up, lag in seconds)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.samples.append((now, max(0.0, now - before - self.interval)))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def lags(self, since: float = 0.0, until: float = math.inf) -> list[float]:
        """Lag samples (seconds) taken between two ``time.perf_counter()`` instants."""
        return [lag for at, lag in self.samples if since <= at <= until]


class GcPauses:
    """Durations of the garbage collector's pauses (stop-the-world: every coroutine waits for them)."""

    def __init__(self) -> None:
        import gc

        self.pauses: list[tuple[float, int, float]] = []  # (end time, generation, seconds)
        self._started = 0.0
        self._gc = gc
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            now = time.perf_counter()
            self.pauses.append((now, int(info.get("generation", -1)), now - self._started))

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self._gc.callbacks.remove(self._callback)

    def max_ms(self, since: float = 0.0, until: float = math.inf) -> float:
        return max((p for at, _, p in self.pauses if since <= at <= until), default=0.0) * 1000

    def count(self, generation: int, since: float = 0.0, until: float = math.inf) -> int:
        return sum(1 for at, gen, _ in self.pauses if gen == generation and since <= at <= until)


# -- output --------------------------------------------------------------------------------------------------
def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A small fixed-width table (also valid Markdown)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [f"\n{title}\n"]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def note(text: str) -> None:
    print(text, flush=True)


def machine_line() -> str:
    """One line describing the machine, printed with every run."""
    import platform

    import httpx

    cores = os.cpu_count()
    return (
        f"machine: {cores} cores, Python {platform.python_version()}, httpx {httpx.__version__}, "
        f"{platform.system()} {platform.release()}"
    )


# -- an isolated Airflow environment -------------------------------------------------------------------------
def airflow_env(base_url: str | None = None, home: str | None = None) -> dict[str, str]:
    """Environment for Airflow code in this process or a child: throwaway AIRFLOW_HOME, no examples, and a
    ``kie_default`` connection pointing at the emulator when ``base_url`` is given."""
    env = {
        "AIRFLOW_HOME": home or tempfile.mkdtemp(prefix="kie-bench-airflow-"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    if base_url is not None:
        env["AIRFLOW_CONN_KIE_DEFAULT"] = json.dumps(
            {
                "conn_type": "kie",
                "password": API_KEY,
                "host": base_url,
                "extra": {"upload_base_url": base_url + "/upload-host"},
            }
        )
    return env


def use_airflow_env(base_url: str | None = None) -> None:
    """Apply :func:`airflow_env` to this process; call before anything imports Airflow."""
    os.environ.update(airflow_env(base_url))


# -- the emulator in a child process -------------------------------------------------------------------------
@dataclass
class EmulatorProcess:
    """The KIE emulator in its own process, on a free loopback port.

    :param config: ``EmulatorConfig`` fields as JSON-able values; ``timeline`` is a dict of
        ``PhaseTimeline`` fields.
    """

    config: dict[str, Any] = field(default_factory=dict)
    tls: TlsFiles | None = None
    popen: subprocess.Popen[str] | None = None
    base_url: str = ""

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        self.popen = subprocess.Popen(
            [PYTHON, str(Path(__file__).resolve()), "serve", json.dumps(self._serve_config())],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            cwd=str(ROOT),
            start_new_session=True,
        )
        assert self.popen.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            if not line:
                raise RuntimeError("the emulator process exited before it was ready")
            if line.startswith("READY "):
                self.base_url = line.split()[1]
                return self
        self.stop()
        raise TimeoutError("the emulator did not start")

    def _serve_config(self) -> dict[str, Any]:
        if self.tls is None:
            return self.config
        return {**self.config, "__tls__": {"certfile": self.tls.certfile, "keyfile": self.tls.keyfile}}

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        verify: Any = True if self.tls is None else self.tls.bundle
        response = httpx.request(
            method, self.base_url + "/_emulator" + path, timeout=60.0, verify=verify, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "/stats")
        return result

    def tasks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.admin("GET", "/tasks")
        return result

    def reset(self) -> None:
        self.admin("POST", "/reset")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.popen = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def emulator_process(tls: TlsFiles | None = None, **config: Any) -> Iterator[EmulatorProcess]:
    """``with emulator_process(time_scale=0.1) as emu: ...`` - an emulator child process."""
    process = EmulatorProcess(config, tls)
    with process:
        yield process


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1, and a CA bundle (certifi's plus it) for clients, so that
    loading the bundle costs what loading the real one does. Point clients at it with ``SSL_CERT_FILE``."""

    certfile: str
    keyfile: str
    bundle: str

    @classmethod
    def create(cls, directory: str) -> TlsFiles:
        import certifi

        key, cert, bundle = (str(Path(directory) / name) for name in ("key.pem", "cert.pem", "bundle.pem"))
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key,
                "-out",
                cert,
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
        Path(bundle).write_text(Path(certifi.where()).read_text() + "\n" + Path(cert).read_text())
        return cls(cert, key, bundle)


def _serve(config_json: str) -> None:
    """Child-process entry: serve the emulator with the given config until SIGINT/SIGTERM."""
    import uvicorn

    from airflow_provider_kie.emulator import EmulatorConfig, PhaseTimeline, create_app
    from airflow_provider_kie.emulator.server import base_url_for, bind_socket

    fields = json.loads(config_json)
    tls = fields.pop("__tls__", None) or {}
    for name in ("timeline", "aleph_timeline"):
        if name in fields:
            fields[name] = PhaseTimeline(**fields[name])
    config = EmulatorConfig(**fields)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
            ssl_certfile=tls.get("certfile"),
            ssl_keyfile=tls.get("keyfile"),
        )
    )
    url = base_url_for(sock)
    print(f"READY {url.replace('http://', 'https://') if tls else url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    sock.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        _serve(sys.argv[2])
    else:
        sys.exit("usage: benchkit.py serve '<json EmulatorConfig fields>'")
