"""The API key appears nowhere a run leaves traces: trigger kwargs, XCom, rendered fields, task state, Asset
events, the metadata DB's task rows, and the task logs."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, Asset

from airflow_provider_kie.emulator import RunningEmulator
from airflow_provider_kie.operators.runway import RunwayAlephOperator, RunwayGenerateOperator
from airflow_provider_kie.sensors.runway import RunwayTaskSensor
from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

pytestmark = pytest.mark.integration


def _dump(value: Any) -> str:
    if isinstance(value, dict):
        value = {str(k): v for k, v in value.items()}
    return json.dumps(value, default=str)


def _rows(model: Any, **where: Any) -> list[dict[str, Any]]:
    """Every column of the matching rows, as plain values."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return [
            {c.name: getattr(row, c.key, None) for c in model.__table__.columns}
            for row in session.scalars(query).all()
        ]


def test_the_api_key_never_leaves_the_connection(
    emu: RunningEmulator,
    kie_conn: Any,
    dags: Any,
    dag_kwargs: dict[str, Any],
    media: Any,
    capfd: Any,
    caplog: Any,
    tmp_path: Path,
    mocker: Any,
) -> None:
    key = f"kie-sk-LEAKCHECK-{uuid.uuid4().hex}"
    emu.reconfigure(api_keys={key})  # only this key works: a successful run proves it was used
    kie_conn(api_key=key)
    _, video = media.write_inputs(tmp_path / "inputs")
    serialized = mocker.spy(RunwayTaskTrigger, "serialize")
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        gen = RunwayGenerateOperator(
            task_id="gen",
            prompt="a red fox",
            deferrable=True,
            poll_interval=0.2,
            output_dir=str(tmp_path / "clips" / "{{ ds }}"),
            outlets=[Asset("file:///kie-int/secrets")],
        )
        sense = RunwayTaskSensor(
            task_id="sense",
            kie_task_id="{{ ti.xcom_pull(task_ids='gen', key='kie_task_id') }}",
            deferrable=True,
            poll_interval=0.2,
            timeout=60,
        )
        RunwayAlephOperator(
            task_id="aleph", prompt="as ink", video=str(video), deferrable=False, poll_interval=0.2
        )
        gen >> sense
    run = dags.run(dag)
    assert dags.states(run) == {"gen": "success", "sense": "success", "aleph": "success"}

    # Serialized trigger kwargs: primitives only, no key.
    gen_task_id = dags.xcoms(run)[("gen", "kie_task_id")]
    trigger_kwargs = [kwargs for _, kwargs in serialized.spy_return_list]
    assert {kwargs["kie_task_id"] for kwargs in trigger_kwargs} == {gen_task_id}
    assert all(kwargs["kie_conn_id"] == "kie_default" for kwargs in trigger_kwargs)
    assert all(key not in _dump(kwargs) for kwargs in trigger_kwargs)

    # Everything the run stored in the metadata DB.
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.models.trigger import Trigger

    xcoms = dags.xcoms(run)
    assert xcoms[("gen", "return_value")]["state"] == "succeeded"
    stored = {
        "xcom": xcoms,
        "rendered": dags.rendered_fields(run),
        "task_state_store": dags.state_store(run),
        "asset_events": dags.asset_events(run),
        "task_instances": _rows(TaskInstance, dag_id=run.dag_id),
        "task_instance_history": _rows(TaskInstanceHistory, dag_id=run.dag_id),
        "dag_run": _rows(DagRun, dag_id=run.dag_id),
        "triggers": _rows(Trigger),
    }
    assert stored["rendered"]["gen"]["kie_conn_id"] == "kie_default"
    for name, value in stored.items():
        assert key not in _dump(value), f"the API key leaked into {name}"

    # Task logs: what dag.test printed, what was logged, and any log file under AIRFLOW_HOME.
    out, err = capfd.readouterr()
    assert "Submitted KIE Runway generate task" in out  # the capture does see the task logs...
    assert "Waiting for KIE runway task" in out  # ...and the trigger's
    assert key not in out
    assert key not in err
    assert key not in caplog.text
    log_files = [p for p in Path(os.environ["AIRFLOW_HOME"]).rglob("*") if p.is_file() and "log" in p.name]
    for path in log_files:
        assert key not in path.read_text(errors="replace"), f"the API key leaked into {path}"
