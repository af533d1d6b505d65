"""Fixtures for the receiver and plugin tests: a migrated throwaway metadata DB, waiting task instances
(a DAG run, a deferred task instance and its ``kie_task_id`` XCom, as the operators leave them), and ``kie``
connections with callbacks on or off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kie.callbacks.urls import CallbackTarget

#: The API key of every connection these fixtures define (tests check it is logged nowhere).
API_KEY = "kie-api-key-callback-test-8d1b"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Migrate the throwaway metadata DB (the tests' own AIRFLOW_HOME) once per session."""
    home = os.environ["AIRFLOW_HOME"]
    assert "kie-tests-airflow-" in home, "refusing to migrate a DB outside the tests' AIRFLOW_HOME"
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    Path(home, "dags").mkdir(exist_ok=True)


@pytest.fixture
def make_wait(airflow_db: None) -> Callable[..., CallbackTarget]:
    """``make_wait(kie_task_id, conn_id=..., map_index=-1, push=True)``: a deferred task instance of a new
    DAG run that pushed ``kie_task_id`` to XCom (``push=False``: it pushed nothing)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import insert

    def make(
        kie_task_id: str, conn_id: str = "kie_cb", map_index: int = -1, push: bool = True
    ) -> CallbackTarget:
        dag_id = f"cb_dag_{uuid.uuid4().hex[:8]}"
        run_id = f"manual__2025-03-01T00:00:00+00:00_{uuid.uuid4().hex[:6]}"
        with create_session() as session:
            session.execute(
                insert(DagRun.__table__).values(
                    dag_id=dag_id,
                    run_id=run_id,
                    run_type="manual",
                    state="running",
                    run_after=datetime.now(timezone.utc),
                )
            )
            session.execute(
                insert(TaskInstance.__table__).values(
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id="generate",
                    map_index=map_index,
                    pool="default_pool",
                    state="deferred",
                    try_number=1,
                )
            )
        if push:
            with create_session() as session:
                XComModel.set(
                    "kie_task_id",
                    kie_task_id,
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id="generate",
                    map_index=map_index,
                    session=session,
                )
        return CallbackTarget(conn_id, dag_id, run_id, "generate", map_index)

    return make


@pytest.fixture
def kie_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``kie_connection(conn_id, conn_type="kie", **extra)``: define a connection through the environment."""

    def define(conn_id: str = "kie_cb", conn_type: str = "kie", **extra: Any) -> None:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps(
                {"conn_type": conn_type, "password": API_KEY, "host": "https://api.kie.ai", "extra": extra}
            ),
        )

    return define
