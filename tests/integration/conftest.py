"""Fixtures for the integration tests: the real provider over loopback HTTP against the KIE emulator.

Nothing here reaches the internet: the emulator listens on 127.0.0.1, the ``kie_default`` connection points
at it, and the Airflow metadata DB is a SQLite file in the throwaway ``AIRFLOW_HOME`` made by
``tests/conftest.py``.

Fixtures:

* ``emu`` - one emulator for the session, reset to :data:`BASE_CONFIG` before each test (tests change it with
  ``emu.reconfigure(...)``);
* ``kie_conn`` - ``AIRFLOW_CONN_KIE_DEFAULT`` pointing at ``emu`` with its key; call it again
  (``kie_conn(api_key=...)``) after a reconfigure that changes the accepted keys;
* ``airflow_db`` - ``airflow db migrate`` once per session (a subprocess, ~6 s);
* ``dags`` - build-and-run helpers around ``dag.test()`` and readers of what a run left in the DB;
* ``fast_backoff`` - shrinks the operators' "KIE is busy" backoff and disables the client's own submit retry,
  so a refusal reaches the operator's (deferred) backoff at once;
* ``dag_kwargs`` - what every test DAG shares (manual schedule, start date before the logical date);
* ``media`` - the emulator's sample MP4 and PNG, and checks of stored files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_kie._compat import HAS_TASK_STATE_STORE
from airflow_provider_kie.client import Backoff, RetryPolicy
from airflow_provider_kie.emulator import EmulatorConfig, RunningEmulator, running_emulator
from airflow_provider_kie.emulator.media import cover_image, sample_video
from airflow_provider_kie.emulator.render import embedded_task_id

#: A "2-minute" Runway generation takes ~0.4 s; Aleph ~0.7 s.
TIME_SCALE = 0.005
BASE_CONFIG = EmulatorConfig(time_scale=TIME_SCALE)
#: The logical date of every dag.test run: ``{{ ds }}`` renders as 2025-03-01.
LOGICAL_DATE = pendulum.datetime(2025, 3, 1, tz="UTC")
MP4_BRAND_OFFSET = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- the emulator -----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _loopback_bypasses_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy configured on the machine must not see (or break) traffic to the emulator."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost,::1")


@pytest.fixture(scope="session")
def emu_session() -> Iterator[RunningEmulator]:
    with running_emulator(BASE_CONFIG) as emulator:
        yield emulator


@pytest.fixture
def emu(emu_session: RunningEmulator) -> RunningEmulator:
    """The session emulator on :data:`BASE_CONFIG` with a fresh account (no tasks, counters at 0)."""
    emu_session.reconfigure(BASE_CONFIG)
    return emu_session


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Reads retried quickly: 4 attempts, ~10-40 ms apart."""
    return RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.1, max_retry_after=5.0)


@pytest.fixture
def kie_conn(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Point ``kie_default`` at the emulator (done once already); returns the key it configured."""

    def connect(api_key: str | None = None, conn_id: str = "kie_default") -> str:
        key = api_key or emu.api_key
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps(
                {
                    "conn_type": "kie",
                    "password": key,
                    "host": emu.base_url,
                    "extra": {"upload_base_url": emu.upload_base_url},
                }
            ),
        )
        return key

    connect()
    return connect


@pytest.fixture
def fast_backoff(mocker: Any) -> None:
    """Operator backoff of ~25-400 ms instead of 7.5 s-5 min; refused submits go straight to that backoff."""
    mocker.patch(
        "airflow_provider_kie.lifecycle.load.LOAD_BACKOFF", Backoff(base=0.0375, cap=0.3, jitter=1 / 3)
    )
    mocker.patch("airflow_provider_kie.client._base.DEFAULT_SUBMIT_RETRY", RetryPolicy.none())


# -- media ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Media:
    video: bytes
    cover: bytes

    def write_inputs(self, directory: Path) -> tuple[Path, Path]:
        """A local PNG and MP4 to use as image-to-video and Aleph inputs."""
        directory.mkdir(parents=True, exist_ok=True)
        image, video = directory / "product.png", directory / "footage.mp4"
        image.write_bytes(self.cover)
        video.write_bytes(self.video)
        return image, video

    def assert_stored_video(self, path: str | None) -> None:
        """A complete MP4 the emulator rendered for one task (it writes the task id into every clip)."""
        assert path is not None
        data = Path(path).read_bytes()
        assert data[MP4_BRAND_OFFSET : MP4_BRAND_OFFSET + 4] == b"ftyp", f"{path} is not an MP4"
        assert embedded_task_id(data), f"{path} is not a clip the emulator rendered for a task"

    def assert_stored_cover(self, path: str | None) -> None:
        assert path is not None
        data = Path(path).read_bytes()
        assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"


@pytest.fixture(scope="session")
def media() -> Media:
    return Media(video=sample_video(), cover=cover_image())


# -- Airflow ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def airflow_db() -> float:
    """Migrate the throwaway metadata DB once; returns the seconds it took (about 6 s on 2 cores)."""
    home = os.environ["AIRFLOW_HOME"]
    assert "kie-tests-airflow-" in home, "refusing to migrate a DB outside the tests' AIRFLOW_HOME"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # dag.test() parses the dags-folder bundle before each run; give it an (empty) folder to parse.
    Path(home, "dags").mkdir(exist_ok=True)
    return time.monotonic() - started


@dataclass
class DagRunner:
    """Runs DAGs built inside tests with ``dag.test()`` and reads back what the run left in the DB."""

    prefix: str

    def dag_id(self, name: str = "") -> str:
        """A DAG id unique to this test (re-registering an id would version the same DAG)."""
        return f"{self.prefix}{name}_{uuid.uuid4().hex[:6]}"

    def run(self, dag: Any) -> Any:
        """Register ``dag`` (dag.test() needs it serialized in the DB) and run it; returns the DagRun."""
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.collection import update_dag_parsing_results_in_db
        from airflow.serialization.serialized_objects import LazyDeserializedDAG
        from airflow.utils.session import create_session

        DagBundlesManager().sync_bundles_to_db()
        with create_session() as session:
            update_dag_parsing_results_in_db(
                "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
            )
        return dag.test(logical_date=LOGICAL_DATE)

    def task_instances(self, dag_run: Any) -> dict[str, Any]:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id
                )
            ).all()
            for row in rows:
                session.expunge(row)
        return {row.task_id: row for row in rows}

    def states(self, dag_run: Any) -> dict[str, str]:
        return {task_id: str(ti.state) for task_id, ti in self.task_instances(dag_run).items()}

    def xcoms(self, dag_run: Any) -> dict[tuple[str, str], Any]:
        """Every XCom of the run, ``{(task_id, key): value}``."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(
                select(XComModel).where(
                    XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id
                )
            ).all()
            return {(row.task_id, row.key): XComModel.deserialize_value(row) for row in rows}

    def rendered_fields(self, dag_run: Any) -> dict[str, dict[str, Any]]:
        from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(
                select(RTIF).where(RTIF.dag_id == dag_run.dag_id, RTIF.run_id == dag_run.run_id)
            ).all()
            return {row.task_id: dict(row.rendered_fields) for row in rows}

    def asset_events(self, dag_run: Any) -> list[dict[str, Any]]:
        from airflow.models.asset import AssetEvent
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(
                select(AssetEvent).where(
                    AssetEvent.source_dag_id == dag_run.dag_id, AssetEvent.source_run_id == dag_run.run_id
                )
            ).all()
            return [
                {"task_id": row.source_task_id, "uri": row.asset.uri, "extra": dict(row.extra or {})}
                for row in rows
            ]

    def state_store(self, dag_run: Any) -> dict[tuple[str, str], Any]:
        """The task_state_store rows of the run, ``{(task_id, key): value}``; empty before Airflow 3.3."""
        if not HAS_TASK_STATE_STORE:
            return {}
        from airflow.models.task_state_store import TaskStateStoreModel as Store
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(
                select(Store).where(Store.dag_id == dag_run.dag_id, Store.run_id == dag_run.run_id)
            ).all()
            return {(row.task_id, row.key): json.loads(row.value) for row in rows}


@pytest.fixture
def dags(airflow_db: float, request: pytest.FixtureRequest) -> DagRunner:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    return DagRunner(prefix=f"it_{name}")


@pytest.fixture
def dag_kwargs() -> dict[str, Any]:
    """Arguments every test DAG shares: manual, no catch-up, started before :data:`LOGICAL_DATE`."""
    return {"schedule": None, "start_date": pendulum.datetime(2025, 1, 1, tz="UTC"), "catchup": False}
