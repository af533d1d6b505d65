"""A real Airflow deployment for the e2e suite: metadata DB, API server, scheduler, dag processor, triggerer.

Everything lives in one temporary directory and every process is started in its own process group and
tagged with ``KIE_E2E_SESSION=<token>`` in its environment, so teardown can stop what it started by pid and
prove afterwards (by scanning the process table for the tag) that nothing was left behind.

The test process never imports Airflow: it drives the deployment through the REST API, reads the metadata
database with ``psql`` (PostgreSQL) or ``sqlite3``, and reads task logs from disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

import airflow_provider_kie

T = TypeVar("T")

VENV_BIN = Path(sys.executable).parent
AIRFLOW_BIN = str(VENV_BIN / "airflow")
REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DAGS = REPO_ROOT / "dags"
E2E_DAGS = Path(__file__).resolve().parent / "dags"
EMULATOR_ASSETS = Path(airflow_provider_kie.__file__).parent / "emulator" / "assets"

MP4_FTYP = b"ftyp"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TERMINAL_RUN_STATES = ("success", "failed")
#: Components started by :meth:`AirflowStack.start`, in start order (stopped in reverse).
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def airflow_version() -> tuple[int, int]:
    """(major, minor) of the Airflow in this venv, which the deployment runs; read from the package's
    metadata, so the test process still never imports Airflow."""
    from importlib.metadata import version

    major, minor = version("apache-airflow").split(".")[:2]
    return int(major), int(minor)


#: The Airflow the deployment runs, as (major, minor): the e2e suite runs on 3.3 and on 3.1 (``make test``).
AIRFLOW_VERSION = airflow_version()
#: Airflow 3.3 added ``task_state_store``: durable resume and the submit marker. On older minors the
#: provider's documented fallback applies instead (README, "Supported versions"): the KIE task id lives in
#: XCom only, which a new try starts without, so a retry after the submit submits afresh with a warning.
HAS_TASK_STATE_STORE = AIRFLOW_VERSION >= (3, 3)


class E2EError(AssertionError):
    """Something in the deployment did not happen in time; carries the diagnostics to read first."""


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.25,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy; raise with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            details = on_timeout() if on_timeout else ""
            raise E2EError(f"timed out after {timeout:.0f} s waiting for {what}\n{details}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"<no {path}>"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text[-lines:])


# ---------------------------------------------------------------------------------------------------------
# Metadata databases
# ---------------------------------------------------------------------------------------------------------
class MetadataDB:
    """The metadata database of one session: created fresh, read by tests, dropped at the end."""

    kind: str
    url: str

    def create(self) -> None:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a SELECT as dicts."""
        raise NotImplementedError

    def dump(self) -> str:
        """Every row of every table as text (for the API-key scan)."""
        raise NotImplementedError

    def has_table(self, name: str) -> bool:
        """Whether the schema ``airflow db migrate`` made has a table ``name``."""
        raise NotImplementedError


@dataclass
class PostgresDB(MetadataDB):
    """A fresh database on the local PostgreSQL, reached with the ``psql`` and ``pg_dump`` clients."""

    host: str
    port: int
    user: str
    name: str
    driver: str
    kind: str = "postgresql"

    @property
    def url(self) -> str:  # type: ignore[override]
        return f"postgresql+{self.driver}://{self.user}@{self.host}:{self.port}/{self.name}"

    def _psql(self, sql: str, database: str | None = None, timeout: float = 60) -> str:
        cmd = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *self._conn_args(database), "-c", sql]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr.strip()} [{sql[:200]}]")
        return done.stdout

    def _conn_args(self, database: str | None = None) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database or self.name]

    def create(self) -> None:
        self._drop_stale()
        self._psql(f'CREATE DATABASE "{self.name}"', database="postgres")

    def _drop_stale(self) -> None:
        """Drop databases of earlier sessions that died without teardown (older than an hour, idle)."""
        names = self._psql(
            "SELECT datname FROM pg_database WHERE datname LIKE 'kie_e2e_%' AND datname NOT IN "
            "(SELECT datname FROM pg_stat_activity WHERE datname IS NOT NULL)",
            database="postgres",
        ).split()
        for name in names:
            try:
                started = int(name.split("_")[2])
            except (IndexError, ValueError):
                continue
            if time.time() - started > 3600:
                with contextlib.suppress(RuntimeError):
                    self._psql(f'DROP DATABASE IF EXISTS "{name}"', database="postgres")

    def drop(self) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', database="postgres")

    def rows(self, sql: str) -> list[dict[str, Any]]:
        out = self._psql(f"SELECT coalesce(json_agg(q), '[]'::json) FROM ({sql}) q").strip()
        return list(json.loads(out or "[]"))

    def dump(self) -> str:
        cmd = ["pg_dump", *self._conn_args(), "--data-only", "--no-owner", "--no-privileges"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    def has_table(self, name: str) -> bool:
        return bool(self.rows(f"SELECT 1 FROM information_schema.tables WHERE table_name = '{name}'"))


@dataclass
class SqliteDB(MetadataDB):
    """Opt-in fallback (``KIE_E2E_DB=sqlite``) for machines without a PostgreSQL driver. Known to race."""

    path: Path
    kind: str = "sqlite"

    @property
    def url(self) -> str:  # type: ignore[override]
        return f"sqlite:///{self.path}"

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def drop(self) -> None:
        self.path.unlink(missing_ok=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with contextlib.closing(self._connect()) as conn:
            return [dict(row) for row in conn.execute(sql).fetchall()]

    def dump(self) -> str:
        with contextlib.closing(self._connect()) as conn:
            return "\n".join(conn.iterdump())

    def has_table(self, name: str) -> bool:
        return bool(self.rows(f"SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{name}'"))


def pg_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pg_user(host: str, port: int) -> str | None:
    """The first of postgres/root (or $KIE_E2E_PGUSER) that trust auth lets in, or None."""
    candidates = [os.environ.get("KIE_E2E_PGUSER"), "postgres", "root"]
    for user in filter(None, candidates):
        done = subprocess.run(
            [
                "psql",
                "-X",
                "-At",
                "-h",
                host,
                "-p",
                str(port),
                "-U",
                user,
                "-d",
                "postgres",
                "-c",
                "SELECT 1",
            ],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
        if done.returncode == 0:
            return user
    return None


def pg_driver() -> str | None:
    """The SQLAlchemy driver name of an installed PostgreSQL DB-API module, or None."""
    import importlib.util

    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg"), ("pg8000", "pg8000")):
        if importlib.util.find_spec(module) is not None:
            return driver
    return None


# ---------------------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Component:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class ProcessRegistry:
    """Every process this session started, each in its own process group, all tagged with ``token``."""

    token: str
    started: list[Component] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> Component:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            popen = subprocess.Popen(
                cmd,
                env={**env, "KIE_E2E_SESSION": self.token},
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: killpg reaches its children too
            )
        component = Component(name, popen, log)
        self.started.append(component)
        return component

    def kill(self, component: Component, sig: int = signal.SIGKILL) -> None:
        """Signal the component's whole process group (what an OOM kill or a node loss looks like)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(component.pid, sig)

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM every group at once, give them ``grace`` seconds together, then SIGKILL the groups."""
        for component in self.started:
            if component.alive():
                self.kill(component, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for component in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for component in self.started:
            self.kill(component, signal.SIGKILL)  # the group may outlive its leader
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.popen.wait(timeout=5)

    def strays(self) -> list[psutil.Process]:
        """Live processes carrying this session's tag (task processes live in their own groups)."""
        found = []
        for proc in psutil.process_iter(["pid"]):
            if proc.pid == os.getpid():
                continue
            try:
                if proc.environ().get("KIE_E2E_SESSION") == self.token and proc.status() != "zombie":
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def kill_strays(self) -> list[str]:
        """Kill tagged leftovers; return a description of each (empty when teardown was clean)."""
        described = []
        for proc in self.strays():
            with contextlib.suppress(psutil.Error):
                described.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:160]}")
                proc.kill()
        return described


# ---------------------------------------------------------------------------------------------------------
# The emulator's control plane
# ---------------------------------------------------------------------------------------------------------
@dataclass
class EmulatorControl:
    base_url: str
    http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=f"{self.base_url}/_emulator", timeout=15, trust_env=False)

    def reset(self) -> None:
        self.http.post("/reset").raise_for_status()

    def set_faults(self, rules: Iterable[dict[str, Any]], seed: int = 7) -> None:
        self.http.post("/faults", json={"rules": list(rules), "seed": seed}).raise_for_status()

    def clear_faults(self) -> None:
        self.http.delete("/faults").raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get("/stats").raise_for_status().json())

    def tasks(self) -> list[dict[str, Any]]:
        return list(self.http.get("/tasks").raise_for_status().json())

    def advance(self, kie_seconds: float) -> None:
        self.http.post("/advance", json={"kie_seconds": kie_seconds}).raise_for_status()

    def calls(self, endpoint: str) -> int:
        return int(self.stats()["calls_by_endpoint"].get(endpoint, 0))

    @property
    def runway_base_url(self) -> str:
        """The emulated Runway developer API (stands in for ``https://api.dev.runwayml.com``); it accepts any
        key of Runway's shape (``key_`` + 128 hex digits)."""
        return f"{self.base_url}/runway-api"

    def set_runway_credits(self, balance: int) -> None:
        """Set the emulated Runway organisation's credit balance (``reset`` restores the initial one)."""
        self.http.post("/runway-api/credits", json={"balance": balance}).raise_for_status()

    def close(self) -> None:
        self.http.close()


# ---------------------------------------------------------------------------------------------------------
# The deployment
# ---------------------------------------------------------------------------------------------------------
@dataclass
class AirflowStack:
    """One Airflow deployment plus the KIE emulator, all in ``root``."""

    root: Path
    db: MetadataDB
    api_key: str
    parallelism: int = 4
    time_scale: float = 0.08
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    #: The emulated KIE account's webhook HMAC key: it signs every callback, and the ``kie_callbacks``
    #: connection (callbacks on, pointed at this deployment's api-server) checks them with it.
    webhook_key: str = field(default_factory=lambda: "whsec-" + secrets.token_hex(12))
    #: More environment for every component (e.g. a benchmark's ``AIRFLOW__...`` settings); applied last.
    extra_env: dict[str, str] = field(default_factory=dict)
    #: More DAG files to copy into the DAGs folder beside the sample and e2e DAGs.
    extra_dags: tuple[Path, ...] = ()
    #: An emulator the caller runs (e.g. a benchmark's, with a phase timeline its CLI cannot set); when
    #: empty the stack starts its own with ``time_scale``.
    external_emulator_url: str = ""

    def __post_init__(self) -> None:
        self.home = self.root / "airflow-home"
        self.dags = self.root / "dags"
        self.workdir = self.root / "workdir"  # the components' cwd: relative DAG paths land here
        self.component_logs = self.root / "component-logs"
        self.procs = ProcessRegistry(self.token)
        self.components: dict[str, Component] = {}
        self.restarts: dict[str, int] = {}
        self.api_port = free_port()
        self.fernet_key = _fernet_key()
        self.trigger_kwargs_seen: set[str] = set()  # classpath + decrypted kwargs, for the key scan
        self.emulator: EmulatorControl | None = None
        self.emulator_url = ""
        self.api: httpx.Client | None = None

    # -- set-up ---------------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        base.pop("PYTEST_CURRENT_TEST", None)
        api = f"http://127.0.0.1:{self.api_port}"
        conn = {
            "conn_type": "kie",
            "password": self.api_key,
            "host": self.emulator_url,
            "extra": {"upload_base_url": f"{self.emulator_url}/upload-host"},
        }
        return {
            **base,
            "PATH": f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # tests unpause what they run
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # The connection list's Test button exists only when connection testing is enabled.
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db.url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.token * 8,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # The DAG files never change during a session: parse them once, promptly.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            # A triggerer killed with -9 never says goodbye: let its triggers move after 5 s, not 30.
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW_CONN_KIE_DEFAULT": json.dumps(conn),
            # The same account with callbacks: KIE (the emulator) calls this api-server's receiver.
            "AIRFLOW_CONN_KIE_CALLBACKS": json.dumps(
                {
                    **conn,
                    "extra": {
                        **conn["extra"],
                        "callback_base_url": api,
                        "webhook_secret": self.webhook_key,
                    },
                }
            ),
            **self.extra_env,
        }

    def start(self) -> None:
        for path in (self.home, self.workdir, self.component_logs):
            path.mkdir(parents=True, exist_ok=True)
        # A snapshot of the sample DAGs (others may edit dags/ while the suite runs) plus the e2e-only DAG.
        shutil.copytree(SAMPLE_DAGS, self.dags, ignore=shutil.ignore_patterns("__pycache__"))
        for extra in (*E2E_DAGS.glob("*.py"), *self.extra_dags):
            shutil.copy2(extra, self.dags / extra.name)
        self.db.create()
        if self.external_emulator_url:
            self.emulator_url = self.external_emulator_url
            self.emulator = EmulatorControl(self.emulator_url)
        else:
            self._start_emulator()
        migrate = subprocess.run(
            [AIRFLOW_BIN, "db", "migrate"],
            env={**self.env(), "KIE_E2E_SESSION": self.token},
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        (self.component_logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise E2EError(f"airflow db migrate failed:\n{tail(self.component_logs / 'db-migrate.log')}")
        for name in COMPONENTS:
            self.start_component(name)
        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}/api/v2", timeout=30, trust_env=False
        )
        wait_for(
            self._healthy,
            180,
            "api-server, scheduler, dag-processor and triggerer to be healthy",
            interval=1,
            on_timeout=self.diagnostics,
        )
        self._authenticate()
        self._warm_execution_api()

    def _warm_execution_api(self) -> None:
        """Answer one execution-API request before any task makes one.

        The API server builds its execution API on the first request to it, and on a busy 2-core machine
        that took 30-40 s in which the whole server answered nothing: the first task's start (``PATCH
        .../run``) timed out four times and failed, and the test's own REST polls timed out with it.
        """
        url = f"http://127.0.0.1:{self.api_port}/execution/health"

        def answered() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(url, timeout=120, trust_env=False).status_code == 200
            return False

        wait_for(answered, 240, "the execution API to answer", interval=1, on_timeout=self.diagnostics)

    def _authenticate(self) -> None:
        """A bearer token for the REST API. Airflow 3.3's simple auth manager lets every request in as admin
        when ``simple_auth_manager_all_admins`` is on; 3.1 and 3.2 still want a token, which their
        ``GET /auth/token`` hands out without credentials in that mode."""
        assert self.api is not None
        answer = httpx.get(f"http://127.0.0.1:{self.api_port}/auth/token", timeout=30, trust_env=False)
        if answer.status_code in (200, 201):
            self.api.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def _start_emulator(self) -> None:
        log = self.component_logs / "emulator.log"
        cmd = [
            sys.executable, "-m", "airflow_provider_kie.emulator", "--port", "0",
            "--time-scale", str(self.time_scale), "--api-key", self.api_key, "--seed", "7",
            "--log-level", "warning", "--webhook-key", self.webhook_key,
        ]  # fmt: skip
        component = self.procs.start("emulator", cmd, self._plain_env(), self.workdir, log)
        self.components["emulator"] = component

        def listening() -> str | None:
            if not component.alive():
                raise E2EError(f"the emulator exited early:\n{tail(log)}")
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("KIE emulator listening on "):
                    return line.rsplit(" ", 1)[1].strip()
            return None

        self.emulator_url = wait_for(listening, 60, "the emulator to listen", interval=0.1)
        self.emulator = EmulatorControl(self.emulator_url)
        wait_for(lambda: self.emulator.http.get("/health").status_code == 200, 30, "emulator health")

    def _plain_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_component(self, name: str) -> Component:
        count = self.restarts.get(name, 0)
        self.restarts[name] = count + 1
        suffix = f"-{count + 1}" if count else ""
        log = self.component_logs / f"{name}{suffix}.log"
        component = self.procs.start(name, [AIRFLOW_BIN, name], self.env(), self.workdir, log)
        self.components[name] = component
        return component

    def kill_component(self, name: str) -> None:
        """``kill -9`` a component's whole process group and wait until it is gone."""
        component = self.components[name]
        self.procs.kill(component, signal.SIGKILL)
        component.popen.wait(timeout=15)

    def _healthy(self) -> bool:
        for name in COMPONENTS:
            component = self.components[name]
            if not component.alive():
                raise E2EError(f"{name} exited with {component.popen.returncode}:\n{tail(component.log)}")
        assert self.api is not None
        try:
            health = self.api.get("/monitor/health").json()
        except (httpx.HTTPError, ValueError):
            return False
        statuses = [
            (health.get(key) or {}).get("status")
            for key in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        ]
        return all(status == "healthy" for status in statuses)

    def stop(self) -> list[str]:
        """Stop everything started; return descriptions of stray processes that had to be killed."""
        if self.api is not None:
            self.api.close()
        if self.emulator is not None:
            self.emulator.close()
        self.procs.stop_all()
        strays = self.procs.kill_strays()
        with contextlib.suppress(Exception):
            self.db.drop()
        return strays

    def diagnostics(self) -> str:
        parts = [tail(c.log, 25) for c in self.components.values()]
        return "\n".join(parts)

    # -- REST helpers ---------------------------------------------------------------------------------
    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self.api is not None
        response = self.api.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise E2EError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 120) -> None:
        wanted = set(dag_ids)

        def parsed() -> bool:
            found = {d["dag_id"] for d in self.call("GET", "/dags", params={"limit": 100})["dags"]}
            errors = self.call("GET", "/importErrors")["import_errors"]
            if errors:
                raise E2EError(f"DAG import errors: {errors}")
            return wanted <= found

        wait_for(
            parsed, timeout, f"DAGs {sorted(wanted)} to be parsed", interval=1, on_timeout=self.diagnostics
        )

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        """Trigger a run and unpause the DAG.

        A cron-scheduled DAG gets a scheduled run as soon as it is unpaused (its latest interval is due).
        So the manual run takes the logical date of that due run, and is created *before* the unpause: the
        scheduler then finds the interval taken and moves on to tomorrow's.
        """
        dag = self.call("GET", f"/dags/{dag_id}")
        logical_date = dag.get("next_dagrun_logical_date")
        if not dag["is_paused"] and logical_date:
            # Already unpaused: the due interval is taken; a fresh instant keeps data_interval_* defined.
            logical_date = datetime.now(timezone.utc).isoformat()
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf}
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)
        self.set_paused(dag_id, False)
        return dict(run)

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500})
        return list(data["task_instances"])

    def ti_states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
        return {(ti["task_id"], ti["map_index"]): ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def find_ti(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any] | None:
        for ti in self.task_instances(dag_id, run_id):
            if ti["task_id"] == task_id and ti["map_index"] == map_index:
                return ti
        return None  # not created yet (mapped tasks expand once their input exists)

    def ti(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        found = self.find_ti(dag_id, run_id, task_id, map_index)
        if found is None:
            raise E2EError(f"no task instance {task_id}[{map_index}] in {dag_id}/{run_id}")
        return found

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, key: str = "return_value"
    ) -> Any:
        assert self.api is not None
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"map_index": map_index},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        value = response.json()["value"]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value

    def fail_run(self, dag_id: str, run_id: str) -> None:
        """Stop a run a failed test left behind, so it cannot disturb the next test."""
        with contextlib.suppress(Exception):
            self.call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 240) -> dict[str, Any]:
        """Wait until the run ends, snapshotting trigger rows as they come and go."""

        def finished() -> dict[str, Any] | None:
            self.snapshot_triggers()
            run = self.run(dag_id, run_id)
            return run if run["state"] in TERMINAL_RUN_STATES else None

        def explain() -> str:
            states = self.ti_states(dag_id, run_id)
            return f"task states: {states}\n{self.diagnostics()}"

        return wait_for(finished, timeout, f"{dag_id}/{run_id} to finish", interval=1, on_timeout=explain)

    # -- database helpers ------------------------------------------------------------------------------
    def snapshot_triggers(self) -> list[dict[str, Any]]:
        """Current trigger rows, kwargs decrypted; remembered for the API-key scan."""
        rows = self.db.rows("SELECT id, classpath, kwargs, triggerer_id FROM trigger")
        for row in rows:
            row["kwargs_plain"] = _decrypt(self.fernet_key, row["kwargs"])
            self.trigger_kwargs_seen.add(f"{row['classpath']} {row['kwargs_plain']}")
        return rows

    def task_state(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """The task instance's ``task_state_store`` rows (Airflow >= 3.3), key -> JSON text."""
        rows = self.db.rows(
            "SELECT key, value FROM task_state_store WHERE "
            f"dag_id = '{dag_id}' AND run_id = '{run_id}' AND task_id = '{task_id}' "
            f"AND map_index = {map_index}"
        )
        return {row["key"]: row["value"] for row in rows}

    def saved_kie_task_id(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str | None:
        """The KIE task id the running try saved for whoever comes next: in ``task_state_store`` on Airflow
        >= 3.3 (kept across tries), else in the XCom ``kie_task_id`` (the fallback: that try's only)."""
        if HAS_TASK_STATE_STORE:
            saved = self.task_state(dag_id, run_id, task_id, map_index).get("kie_task_id")
            return json.loads(saved) if saved else None
        found = self.xcom(dag_id, run_id, task_id, map_index, key="kie_task_id")
        return str(found) if found else None

    # -- logs -----------------------------------------------------------------------------------------
    def task_log_dir(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Path:
        path = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return path / f"map_index={map_index}" if map_index >= 0 else path

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, attempt: int | None = None
    ) -> str:
        """The task's log (worker and trigger parts) as readable text; one attempt or all of them."""
        folder = self.task_log_dir(dag_id, run_id, task_id, map_index)
        pattern = f"attempt={attempt}.log*" if attempt else "attempt=*.log*"
        return "\n".join(f"=== {p.name}\n{readable_log(p)}" for p in sorted(folder.glob(pattern)))


def readable_log(path: Path) -> str:
    """A structured (JSON lines) Airflow log as plain lines: level, event, then the other fields."""
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            lines.append(raw)
            continue
        if not isinstance(record, dict):
            lines.append(raw)
            continue
        extra = {k: v for k, v in record.items() if k not in ("timestamp", "level", "event", "logger")}
        lines.append(f"{record.get('level', '')} {record.get('event', '')} {extra if extra else ''}")
    return "\n".join(lines)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _decrypt(key: str, value: str | None) -> str:
    if not value or value.startswith("{"):
        return value or ""
    from cryptography.fernet import Fernet, InvalidToken

    try:
        return Fernet(key.encode()).decrypt(value.encode()).decode()
    except InvalidToken:
        return value


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------
def check_mp4(path: str | Path) -> None:
    data = Path(path).read_bytes()
    assert data[4:8] == MP4_FTYP, f"{path}: no MP4 'ftyp' box at offset 4 ({data[:12]!r})"
    # The emulator renders each task's own clip and writes its task id into the MP4's metadata.
    assert b"kie-emulator task_id=" in data, f"{path}: {len(data)} bytes, not a clip the emulator rendered"


def check_png(path: str | Path) -> None:
    data = Path(path).read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path}: no PNG signature ({data[:8]!r})"
    assert len(data) > 100, f"{path}: {len(data)} bytes, too short for a rendered cover"


def partial_files(root: Path) -> list[Path]:
    """Download leftovers (``.<name>.<id>.partial``) anywhere under ``root``, hidden ones included."""
    return sorted(
        p for p in root.rglob("*") if p.is_file() and (".partial" in p.name or p.name.endswith(".tmp"))
    )


def files_containing(root: Path, needle: bytes) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file():
            with contextlib.suppress(OSError):
                if needle in path.read_bytes():
                    yield path
