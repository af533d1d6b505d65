"""A distributed Airflow deployment for the e2e suite: CeleryExecutor, two Celery workers, two triggerers.

:class:`CeleryStack` is the e2e suite's :class:`~.kie_e2e_stack.AirflowStack` (fresh PostgreSQL database,
API server, scheduler, dag processor, first triggerer, the KIE emulator) with what a multi-node cluster adds:

- the CeleryExecutor, its broker a Redis database number of the suite's own (``KIE_E2E_REDIS_DB``, 13 by
  default) on 127.0.0.1:6379, flushed before and after, and its result backend the same PostgreSQL database;
- a second triggerer and ``workers`` Celery workers (distinct Celery hostnames, small concurrency), each with
  its own log-server port and pid file, as separate machines would have;
- the emulator with a concurrency cap (KIE's per-account limit), which the ``kie`` pool is sized to;
- heartbeat and queued-task timeouts short enough that a worker killed -9 is noticed in seconds, not minutes.

Like the base stack, every process runs in its own process group tagged with the session token, so teardown
stops what it started by pid. A Celery worker's task processes live in process groups of their own (the task
supervisor puts them there), so :meth:`CeleryStack.kill_worker` kills the worker's descendants as well: what
losing the node looks like.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

import psutil

from .kie_e2e_stack import AIRFLOW_BIN, AirflowStack, E2EError, free_port, tail, wait_for

#: Where the suite expects Redis (as it expects PostgreSQL on 127.0.0.1:5432).
REDIS_HOST = os.environ.get("KIE_E2E_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("KIE_E2E_REDIS_PORT", "6379"))
#: The suite's own Redis database number: nothing else on the machine is expected to use it.
REDIS_DB = int(os.environ.get("KIE_E2E_REDIS_DB", "13"))
#: The celery worker's log line once it consumes (``<hostname> ready.``).
WORKER_READY = re.compile(r"\S+@\S+ ready\.")


@dataclass
class RedisDB:
    """One numbered Redis database: the Celery broker of a session, flushed before and after it."""

    host: str = REDIS_HOST
    port: int = REDIS_PORT
    number: int = REDIS_DB

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.number}"

    def _client(self) -> Any:
        import redis

        return redis.Redis(host=self.host, port=self.port, db=self.number, socket_timeout=5)

    def unavailable(self) -> str | None:
        """Why this database cannot be used (Redis does not answer, or the number does not exist), or None."""
        try:
            import redis
        except ImportError:
            return "the redis client package is not installed in this venv (the celery extra brings it)"
        try:
            with contextlib.closing(self._client()) as client:
                client.ping()
        except redis.RedisError as exc:
            return f"Redis does not answer at {self.url}: {exc}"
        return None

    def flush(self) -> None:
        with contextlib.closing(self._client()) as client:
            client.flushdb()

    def dump(self) -> bytes:
        """Every key and value of the database (lists, hashes, sets, strings), for the API-key scan."""
        parts: list[bytes] = []
        with contextlib.closing(self._client()) as client:
            for key in client.scan_iter(count=500):
                kind = client.type(key)
                if kind == b"string":
                    values = [client.get(key) or b""]
                elif kind == b"list":
                    values = client.lrange(key, 0, -1)
                elif kind == b"hash":
                    values = [k + b"=" + v for k, v in client.hgetall(key).items()]
                elif kind == b"set":
                    values = list(client.smembers(key))
                elif kind == b"zset":
                    values = client.zrange(key, 0, -1)
                else:
                    values = []
                parts.append(key + b" " + b" ".join(values))
        return b"\n".join(parts)


@dataclass
class CeleryStack(AirflowStack):
    """:class:`AirflowStack` on the CeleryExecutor with two triggerers and ``workers`` Celery workers."""

    redis: RedisDB = field(default_factory=RedisDB)
    workers: int = 2
    worker_concurrency: int = 3
    #: Each triggerer alone can hold every wait the pool allows, so losing one loses no capacity.
    triggerer_capacity: int = 8
    #: KIE's per-account limit of unfinished tasks in the emulator; size the ``kie`` pool to it.
    concurrency_cap: int = 8
    #: Seconds without a task heartbeat before the scheduler fails the try (Airflow's default: 300). Not
    #: much less: on a loaded machine the API server that records heartbeats can stall for half a minute.
    heartbeat_timeout: int = 45
    #: Seconds a task may stay queued (a killed worker's undelivered message) before it is queued again.
    #: It is also the lifetime of the workload's token (Airflow 3.3), which a busy machine may need: a task
    #: that reaches the API server later fails its start with "Signature has expired".
    queued_timeout: int = 180

    def __post_init__(self) -> None:
        super().__post_init__()
        #: Triggerer component name -> its TriggererJob id (the ``triggerer_id`` of the trigger rows it runs).
        self.triggerer_jobs: dict[str, int] = {}
        self.worker_names: list[str] = []

    def env(self) -> dict[str, str]:
        celery = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            # Celery's database result backend on the metadata database: no second store to run.
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.db.url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",  # the scheduler's state fetch: no process pool
            "AIRFLOW__CELERY__OPERATION_TIMEOUT": "10",  # a busy 2-core machine answers slowly
            "AIRFLOW__TRIGGERER__CAPACITY": str(self.triggerer_capacity),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(self.queued_timeout),
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
        }
        return {**super().env(), **celery, **self.extra_env}

    # -- set-up ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self.redis.flush()  # a crashed earlier session may have left messages behind
        self.component_logs.mkdir(parents=True, exist_ok=True)
        if not self.external_emulator_url:
            self._start_capped_emulator()
        super().start()
        self.triggerer_jobs["triggerer"] = self._wait_for_new_triggerer_job(set())
        # The second triggerer and the workers start together: on a small machine their start-up dominates.
        second = self._start_extra(
            "triggerer-2",
            [AIRFLOW_BIN, "triggerer", "--pid", str(self.home / "triggerer-2.pid")],
            {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())},
        )
        for number in range(1, self.workers + 1):
            name = f"celery-worker-{number}"
            cmd = [
                AIRFLOW_BIN, "celery", "worker",
                "--celery-hostname", f"kie-e2e-worker-{number}@%h",
                "--concurrency", str(self.worker_concurrency),
                "--pid", str(self.home / f"{name}.pid"),
                "--without-mingle", "--without-gossip",
            ]  # fmt: skip
            self._start_extra(name, cmd, {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
            self.worker_names.append(name)
        self.triggerer_jobs[second.name] = self._wait_for_new_triggerer_job(set(self.triggerer_jobs.values()))
        for name in self.worker_names:
            self._wait_for_worker(name)

    def _start_capped_emulator(self) -> None:
        """The emulator with ``concurrency_cap``, handed to the base stack as an external one."""
        log = self.component_logs / "emulator.log"
        cmd = [
            sys.executable, "-m", "airflow_provider_kie.emulator", "--port", "0",
            "--time-scale", str(self.time_scale), "--api-key", self.api_key, "--seed", "7",
            "--concurrency-cap", str(self.concurrency_cap), "--log-level", "warning",
        ]  # fmt: skip
        plain = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        component = self.procs.start("emulator", cmd, {**plain, "PYTHONUNBUFFERED": "1"}, self.root, log)
        self.components["emulator"] = component

        def listening() -> str | None:
            if not component.alive():
                raise E2EError(f"the emulator exited early:\n{tail(log)}")
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("KIE emulator listening on "):
                    return line.rsplit(" ", 1)[1].strip()
            return None

        self.external_emulator_url = wait_for(listening, 60, "the emulator to listen", interval=0.1)

    def _start_extra(self, name: str, cmd: list[str], env: dict[str, str]) -> Any:
        log = self.component_logs / f"{name}.log"
        component = self.procs.start(name, cmd, {**self.env(), **env}, self.workdir, log)
        self.components[name] = component
        return component

    def _wait_for_new_triggerer_job(self, known: set[int]) -> int:
        def new_job() -> int | None:
            for row in self.triggerer_job_rows():
                if row["id"] not in known and row["state"] == "running":
                    return int(row["id"])
            return None

        return wait_for(new_job, 120, "a new triggerer job", interval=0.5, on_timeout=self.diagnostics)

    def _wait_for_worker(self, name: str) -> None:
        component = self.components[name]

        def ready() -> bool:
            if not component.alive():
                raise E2EError(f"{name} exited with {component.popen.returncode}:\n{tail(component.log)}")
            return bool(WORKER_READY.search(component.log.read_text(errors="replace")))

        wait_for(ready, 120, f"{name} to consume", interval=0.5, on_timeout=self.diagnostics)

    def stop(self) -> list[str]:
        try:
            return super().stop()
        finally:
            with contextlib.suppress(Exception):
                self.redis.flush()

    # -- the cluster as the test sees it ----------------------------------------------------------------
    def triggerer_job_rows(self) -> list[dict[str, Any]]:
        return self.db.rows(
            "SELECT id, state, hostname, latest_heartbeat FROM job "
            "WHERE job_type = 'TriggererJob' ORDER BY id"
        )

    def worker_descendants(self, name: str) -> set[int]:
        """Pids of every process under a Celery worker (pool processes, task supervisors, task processes)."""
        try:
            children = psutil.Process(self.components[name].pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return set()
        return {child.pid for child in children}

    def kill_worker(self, name: str) -> list[int]:
        """``kill -9`` a Celery worker as a lost node: its process group and every descendant, whatever its
        group. Returns the descendants' pids (task processes among them)."""
        component = self.components[name]
        descendants = self.worker_descendants(name)
        self.procs.kill(component, signal.SIGKILL)
        for pid in descendants:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        component.popen.wait(timeout=15)

        def all_gone() -> bool:
            for pid in descendants:
                with contextlib.suppress(psutil.NoSuchProcess):
                    if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                        return False
            return True

        wait_for(all_gone, 15, f"every process of {name} to die", interval=0.1)
        return sorted(descendants)
