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


# -- a real Airflow deployment (benchmark 1, benchmark 3's real-Airflow figure) ---------------------------
BENCH_DAGS = Path(__file__).resolve().parent / "dags"
#: Task-instance states holding an executor slot, and those holding a slot of an ``include_deferred`` pool.
WORKER_STATES = ("queued", "running")
POOL_STATES = ("queued", "running", "deferred")


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU clock ticks of the whole machine since boot, from ``/proc/stat``: every process
    counts, Airflow's short-lived task processes and anything else running on the machine alike."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Cores kept busy on average between two :func:`machine_cpu_ticks` readings."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return (os.cpu_count() or 1) * busy / max(1, total)


def e2e_stack_module() -> Any:
    """``tests/e2e/kie_e2e_stack.py``, the e2e suite's deployment code, imported from the repository root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.e2e import kie_e2e_stack

    return kie_e2e_stack


def _postgres_db(stack: Any) -> Any:
    """A fresh database on the local PostgreSQL, as the e2e suite finds it; exit with the reason if none.

    Named like the e2e suite's (``kie_e2e_<epoch>_...``) so that a later e2e session drops it should this
    process die before its own teardown.
    """
    import secrets

    host = os.environ.get("KIE_E2E_PGHOST", "127.0.0.1")
    port = int(os.environ.get("KIE_E2E_PGPORT", "5432"))
    if not stack.pg_reachable(host, port):
        sys.exit(f"PostgreSQL is unreachable at {host}:{port}; the real-Airflow benchmarks need it")
    user, driver = stack.pg_user(host, port), stack.pg_driver()
    if user is None or driver is None:
        sys.exit(f"PostgreSQL at {host}:{port}: no trust-auth user or no driver (psycopg2) in this venv")
    name = f"kie_e2e_{int(time.time())}_bench_{secrets.token_hex(3)}"
    return stack.PostgresDB(host=host, port=port, user=user, name=name, driver=driver)


@contextlib.contextmanager
def real_airflow(
    emulator: EmulatorProcess,
    dag_files: Sequence[str],
    dag_ids: Sequence[str],
    slots: int,
    env: dict[str, str],
    keep_logs: str | None = None,
) -> Iterator[Any]:
    """A real Airflow deployment - the e2e suite's ``AirflowStack``: fresh PostgreSQL database, LocalExecutor
    with ``slots`` worker slots (``[core] parallelism``), scheduler, dag processor, triggerer, api-server -
    using ``emulator`` as KIE, with ``dag_files`` from ``benchmarks/dags`` and ``env`` given to every
    component. Yields the stack once ``dag_ids`` are parsed; stops every process and drops the database on
    the way out (first copying the task and component logs to ``keep_logs``, when given), then reports any
    process that outlived the teardown."""
    stack_module = e2e_stack_module()
    root = Path(tempfile.mkdtemp(prefix="kie-bench-stack-"))
    stack = stack_module.AirflowStack(
        root=root,
        db=_postgres_db(stack_module),
        api_key=API_KEY,
        parallelism=slots,
        extra_env=env,
        extra_dags=tuple(BENCH_DAGS / name for name in dag_files),
        external_emulator_url=emulator.base_url,
    )
    started = time.monotonic()
    try:
        stack.start()
        stack.wait_for_dags(dag_ids, timeout=180)
        note(f"Airflow deployment ready in {time.monotonic() - started:.0f} s ({stack.db.url}, {root})")
        yield stack
    finally:
        strays = stack.stop()
        leftovers = [str(proc.pid) for proc in stack.procs.strays()]
        import shutil

        if keep_logs:
            for source in (stack.home / "logs", stack.component_logs):
                shutil.copytree(source, Path(keep_logs) / source.name, dirs_exist_ok=True)
            note(f"Airflow logs kept in {keep_logs}")
        shutil.rmtree(root, ignore_errors=True)
        if strays or leftovers:
            note(f"WARNING: processes outlived the teardown and were killed: {strays + leftovers}")


class TaskInstanceSampler:
    """Reads one DAG run's task instances from the metadata database every ``interval`` seconds, in a thread.

    What the final rows cannot tell: how many tasks held a worker (or pool) slot at once, and when each task
    was first queued (a deferred task's ``queued_dttm`` is overwritten when it is queued again to resume).
    One persistent psycopg2 connection: a query costs well under a millisecond of this process's CPU.
    """

    def __init__(self, db: Any, dag_id: str, run_id: str, interval: float = 0.5) -> None:
        import threading

        self.db, self.dag_id, self.run_id, self.interval = db, dag_id, run_id, interval
        #: (epoch seconds, {state: count}) per sample.
        self.samples: list[tuple[float, dict[str, int]]] = []
        #: map_index -> (first queued_dttm, first start_date) as epoch seconds.
        self.first_start: dict[int, tuple[float, float]] = {}
        #: (map_index, state) -> when a sample first saw that task instance in that state.
        self.first_seen: dict[tuple[int, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ti-sampler", daemon=True)

    def start(self) -> TaskInstanceSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host=self.db.host, port=self.db.port, user=self.db.user, dbname=self.db.name)
        conn.autocommit = True
        query = (
            "SELECT map_index, state, extract(epoch FROM queued_dttm), extract(epoch FROM start_date) "
            "FROM task_instance WHERE dag_id = %s AND run_id = %s"
        )
        try:
            with conn.cursor() as cursor:
                while not self._stop.wait(self.interval):
                    cursor.execute(query, (self.dag_id, self.run_id))
                    self._record(time.time(), cursor.fetchall())
        finally:
            conn.close()

    def _record(self, at: float, rows: list[tuple[Any, ...]]) -> None:
        counts: dict[str, int] = {}
        for map_index, state, queued, started in rows:
            counts[state or "none"] = counts.get(state or "none", 0) + 1
            self.first_seen.setdefault((map_index, state or "none"), at)
            if started is not None and queued is not None and map_index not in self.first_start:
                self.first_start[map_index] = (float(queued), float(started))
        self.samples.append((at, counts))

    def latest(self) -> dict[str, int]:
        return dict(self.samples[-1][1]) if self.samples else {}

    def all_seen(self, state: str) -> float:
        """When the last task instance was first seen in ``state`` (NaN if one never was)."""
        indices = {index for index, _ in self.first_seen}
        times = [self.first_seen.get((index, state), math.nan) for index in indices]
        return max(times) if times and not any(math.isnan(t) for t in times) else math.nan

    def max_in(self, states: Sequence[str]) -> int:
        """The most task instances seen at once in ``states``."""
        return max((sum(c.get(s, 0) for s in states) for _, c in self.samples), default=0)

    def slot_seconds(self, states: Sequence[str], slots: int, while_waiting: bool = False) -> float:
        """Integral over the samples of task instances in ``states`` (capped at ``slots``); with
        ``while_waiting``, instead the integral of *free* slots while some task had not been queued yet."""
        total = 0.0
        for (at, counts), (nxt, _) in zip(self.samples, self.samples[1:], strict=False):
            held = min(slots, sum(counts.get(s, 0) for s in states))
            if while_waiting:
                waiting = counts.get("scheduled", 0) + counts.get("none", 0)
                total += (slots - held) * (nxt - at) if waiting else 0.0
            else:
                total += held * (nxt - at)
        return total


def epoch(value: str | None) -> float:
    """An ISO timestamp from the metadata DB or the REST API as epoch seconds (NaN for none)."""
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp() if value else math.nan


def task_instance_rows(db: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Final task-instance rows of a run, timestamps as epoch seconds.

    ``start_date`` is the first start (Airflow keeps it across a deferral), ``scheduled_dttm`` the moment a
    trigger's event re-scheduled the task (for a resumed task), ``queued_dttm`` its last queueing."""
    rows = db.rows(
        "SELECT map_index, state, start_date, end_date, queued_dttm, scheduled_dttm, try_number "
        f"FROM task_instance WHERE dag_id = '{dag_id}' AND run_id = '{run_id}' ORDER BY map_index"
    )
    for row in rows:
        for key in ("start_date", "end_date", "queued_dttm", "scheduled_dttm"):
            row[key] = epoch(row[key])
    return rows


def task_log_records(
    stack: Any, dag_id: str, run_id: str, task_id: str, map_index: int
) -> list[dict[str, Any]]:
    """Every structured (JSON) record of a task instance's logs on disk - worker and trigger parts, all
    tries - in file order; lines that are not JSON are skipped."""
    records = []
    for path in sorted(stack.task_log_dir(dag_id, run_id, task_id, map_index).glob("attempt=*.log*")):
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
    return records


def failure_reasons(
    stack: Any, dag_id: str, run_id: str, task_id: str, rows: list[dict[str, Any]]
) -> list[str]:
    """For each task instance that did not succeed: its map index and first error (or warning) from its
    logs, or the scheduler's word when the task itself logged none (e.g. an executor/state race)."""
    reasons = []
    for row in rows:
        if row["state"] == "success":
            continue
        records = task_log_records(stack, dag_id, run_id, task_id, row["map_index"])
        errors = [r for r in records if r.get("level") in ("error", "critical")]
        errors = errors or [r for r in records if r.get("level") == "warning"]
        if errors:
            text = f"{errors[0].get('event')} {errors[0].get('error_detail') or ''}"
        else:
            text = _scheduler_says(stack, run_id, row["map_index"])
        reasons.append(f"[{row['map_index']}] {row['state']}: {text.strip()[:400]}")
    return reasons


def _scheduler_says(stack: Any, run_id: str, map_index: int) -> str:
    """The scheduler log's error lines about one task instance of ``run_id``."""
    try:
        lines = (stack.component_logs / "scheduler.log").read_text(errors="replace").splitlines()
    except OSError:
        return "no error in the task log"
    about = [
        line for line in lines if run_id in line and f"map_index={map_index}" in line and "error" in line
    ]
    return "scheduler: " + about[0][:400] if about else "no error in the task or scheduler log"


def wait_dag_run(
    stack: Any, dag_id: str, run_id: str, timeout: float, sampler: TaskInstanceSampler | None = None
) -> dict[str, Any]:
    """Wait for a DAG run to end (REST API, every 2 s); print progress every minute."""
    started = last_note = time.monotonic()
    while True:
        run = stack.run(dag_id, run_id)
        if run["state"] in ("success", "failed"):
            return dict(run)
        now = time.monotonic()
        if now - started > timeout:
            stack.fail_run(dag_id, run_id)
            raise TimeoutError(f"{dag_id}/{run_id} still {run['state']} after {timeout:.0f} s")
        if sampler is not None and now - last_note >= 60:
            last_note = now
            note(f"  {now - started:4.0f} s: {sampler.latest()}")
        time.sleep(2)


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
