"""Fixtures of the real-Airflow e2e suite: one deployment for the whole ``tests/e2e`` package.

Set-up: a fresh database on the local PostgreSQL, AIRFLOW_HOME in a temp dir, ``airflow db migrate``, the KIE
emulator (subprocess, free port, small time scale, requiring a distinctive API key), the ``kie_default``
connection as ``AIRFLOW_CONN_KIE_DEFAULT``, the api-server (LocalExecutor workers talk to its execution API),
scheduler, dag-processor and triggerer, and the ``kie`` pool. Teardown stops every process by process group,
even after a failure, kills anything else carrying the session's tag, and drops the database.

Skipped, with the reason, when PostgreSQL or a driver for it is missing. ``KIE_E2E_DB=sqlite`` runs the suite
on SQLite instead (for machines without PostgreSQL; Airflow on SQLite is known to race under parallelism).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .kie_e2e_stack import (
    AIRFLOW_VERSION,
    TERMINAL_RUN_STATES,
    AirflowStack,
    EmulatorControl,
    MetadataDB,
    PostgresDB,
    SqliteDB,
    pg_driver,
    pg_reachable,
    pg_user,
)

SAMPLE_DAG_IDS = ("kie_campaign_fanout", "kie_daily_marketing", "kie_image_to_video", "kie_publish_on_asset")
E2E_DAG_IDS = ("kie_e2e_blocking", "kie_e2e_deferrable")
#: The KIE API key of the session: distinctive, so any leak is found by a plain substring scan.
API_KEY = f"kie-e2e-secret-{secrets.token_hex(16)}"
POOL_SLOTS = 4
#: The emulator's clock: KIE seconds per real second. 0.08 makes a clip take 2-5 s. On Airflow < 3.3 the
#: scheduler fails a deferred task whose trigger fired before it had processed the executor's "success" for
#: the deferring process (apache/airflow#66374, #67287: fixed for the scheduled state in 3.2.2, the queued
#: one later); with waits of 2-5 s on a busy machine that race is lost now and then. Clips 2.5x longer there
#: keep every wait well past that event; 3.3 keeps the fast clock.
TIME_SCALE = 0.08 if AIRFLOW_VERSION >= (3, 3) else 0.2

TIMINGS: list[tuple[str, float]] = []


def _metadata_db(root: Path) -> MetadataDB:
    if os.environ.get("KIE_E2E_DB", "postgresql").lower() == "sqlite":
        return SqliteDB(root / "airflow.db")
    host = os.environ.get("KIE_E2E_PGHOST", "127.0.0.1")
    port = int(os.environ.get("KIE_E2E_PGPORT", "5432"))
    reason = None
    user = driver = None
    if not pg_reachable(host, port):
        reason = f"PostgreSQL is unreachable at {host}:{port}"
    elif shutil.which("psql") is None or shutil.which("pg_dump") is None:
        reason = "the PostgreSQL client tools (psql, pg_dump) are not installed"
    elif (user := pg_user(host, port)) is None:
        reason = f"PostgreSQL at {host}:{port} refused trust auth for postgres, root and $KIE_E2E_PGUSER"
    elif (driver := pg_driver()) is None:
        reason = (
            f"PostgreSQL at {host}:{port} is reachable, but no PostgreSQL driver (psycopg2, psycopg, pg8000) "
            "is installed in this venv, so Airflow cannot use it; add one (e.g. psycopg2-binary) to the dev "
            "dependency group, or run with KIE_E2E_DB=sqlite"
        )
    if reason:
        print(f"\n[e2e] SKIPPED: {reason}")
        pytest.skip(f"real-Airflow e2e suite skipped: {reason}")
    assert user is not None and driver is not None
    name = f"kie_e2e_{int(time.time())}_{secrets.token_hex(3)}"
    return PostgresDB(host=host, port=port, user=user, name=name, driver=driver)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    """The deployment shared by every e2e test; stopped after the package's last test."""
    root = tmp_path_factory.mktemp("kie-e2e")
    db = _metadata_db(root)
    deployment = AirflowStack(root=root, db=db, api_key=API_KEY, time_scale=TIME_SCALE)
    started = time.monotonic()
    print(f"\n[e2e] deployment in {root} on {db.kind} ({db.url})")
    try:
        deployment.start()
        deployment.wait_for_dags((*SAMPLE_DAG_IDS, *E2E_DAG_IDS))
        # As the sample DAGs' docs say: deferred clips count against the pool (KIE's concurrency cap).
        pool = {
            "name": "kie",
            "slots": POOL_SLOTS,
            "description": "KIE concurrency",
            "include_deferred": True,
        }
        deployment.call("POST", "/pools", json=pool)
        TIMINGS.append(("set-up (db, migrate, emulator, 4 components, parse)", time.monotonic() - started))
        yield deployment
    finally:
        stopping = time.monotonic()
        strays = deployment.stop()
        leftovers = deployment.procs.strays()
        ps = subprocess.run(["ps", "-eo", "pid,pgid,etime,args"], capture_output=True, text=True, check=False)
        mine = [line for line in ps.stdout.splitlines() if str(root) in line]
        TIMINGS.append(("teardown (stop by process group, drop db)", time.monotonic() - stopping))
        if strays or leftovers or mine:
            raise AssertionError(
                "processes outlived teardown:\n" + "\n".join([*strays, *map(str, leftovers), *mine])
            )


@pytest.fixture
def emu(stack: AirflowStack) -> Iterator[EmulatorControl]:
    """The emulator, reset (no tasks, counters at zero, no faults) before the test and fault-free after."""
    assert stack.emulator is not None
    stack.emulator.reset()
    yield stack.emulator
    stack.emulator.clear_faults()


@dataclass
class Runs:
    """Triggers DAG runs for one test and makes sure none outlives it."""

    stack: AirflowStack
    name: str
    started: list[tuple[str, str]] = field(default_factory=list)

    def trigger(self, dag_id: str, conf: dict[str, Any], label: str = "") -> str:
        run_id = f"e2e__{self.name}{'__' + label if label else ''}__{secrets.token_hex(3)}"
        self.stack.trigger(dag_id, run_id, conf)
        self.started.append((dag_id, run_id))
        return run_id

    def wait(self, dag_id: str, run_id: str, timeout: float = 240) -> dict[str, Any]:
        return self.stack.wait_run(dag_id, run_id, timeout)

    def cleanup(self) -> None:
        for dag_id, run_id in self.started:
            try:
                state = self.stack.run(dag_id, run_id)["state"]
            except Exception:
                continue
            if state not in TERMINAL_RUN_STATES:
                self.stack.fail_run(dag_id, run_id)


@pytest.fixture
def runs(stack: AirflowStack, request: pytest.FixtureRequest) -> Iterator[Runs]:
    tracker = Runs(stack, request.node.name.removeprefix("test_")[:40])
    yield tracker
    tracker.cleanup()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The ``output_root`` of the test's runs."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _timed(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    yield
    TIMINGS.append((request.node.name, time.monotonic() - started))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("kie e2e timings")
    for name, seconds in TIMINGS:
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    terminalreporter.write_line(f"{sum(s for _, s in TIMINGS):7.1f} s  total")
