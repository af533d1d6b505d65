"""
### Benchmark 1 (worker slots): N clips, each taking T, three ways (run by `bench_worker_slots.py` only)

- `kie_bench_slots_deferrable`: `RunwayGenerateOperator` mapped over N prompts, `deferrable=True`;
- `kie_bench_slots_blocking`: the same with `deferrable=False` (the wait holds a worker slot);
- `kie_bench_slots_floor`: Airflow's own floor - the same mapped shape, each task a deferrable
  `TimeDeltaSensor` wait of T measured from the task's own start (see `OwnStartTimeDeltaSensor`);
- `kie_bench_slots_warmup`: 8 ten-second waits, run first and not measured;
- `kie_bench_slots_waitsensor`: `WaitSensor(T, deferrable=True)`, which ends in the triggerer without a second
  worker start (a lower floor than any operator that must finish on a worker).

N and T come from the environment the benchmark gives every Airflow component (`KIE_BENCH_SLOTS_CLIPS`,
`KIE_BENCH_SLOTS_T`), so the mapped tasks are known when the run is created. No `poll_interval` is set:
the benchmark measures the operator's default polling.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor, WaitSensor
from airflow.sdk import DAG, timezone

from airflow_provider_kie.operators.runway import RunwayGenerateOperator

CLIPS = int(os.environ.get("KIE_BENCH_SLOTS_CLIPS", "50"))
T = timedelta(seconds=float(os.environ.get("KIE_BENCH_SLOTS_T", "60")))


class OwnStartTimeDeltaSensor(TimeDeltaSensor):
    """``TimeDeltaSensor(deferrable=True)`` waiting ``delta`` from the task's own start.

    The stock sensor waits until ``data_interval_end`` (or ``run_after``) + ``delta``: one instant for every
    task of the run, however late a task starts, so it is no floor for clips that each need T from their own
    submit. Only the base time changes here; the deferral (``DateTimeTrigger``) and the resume on a worker
    (``execute_complete``) are the stock sensor's, the same two worker starts a KIE clip needs.

    :param prompt: ignored; it gives the sensor the mapped shape of the KIE run.
    """

    def __init__(self, *, prompt: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt

    def _derive_base_time(self, context: Any) -> datetime:
        return timezone.utcnow()


class PromptWaitSensor(WaitSensor):
    """``WaitSensor`` with the mapped shape of the KIE run (``prompt`` is ignored)."""

    def __init__(self, *, prompt: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt


def _prompts(dag_id: str) -> list[str]:
    return [f"{dag_id} clip {i:03d}: a product shot on a turntable, soft light" for i in range(CLIPS)]


def _dag(dag_id: str) -> DAG:
    return DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["kie", "benchmark"],
        doc_md=__doc__,
        # Only running/queued tasks count here; keep it from ever being the limit instead of the slots.
        max_active_tasks=max(16, CLIPS),
    )


with _dag("kie_bench_slots_warmup") as warmup_dag:
    # Not measured: spawns the LocalExecutor's worker processes and warms caches before the first run. Not
    # shorter than 10 s: Airflow 3.3.2 fails a task whose trigger fires before the scheduler has processed
    # the executor's report on the stint that deferred ("finished with state success, but the task
    # instance's state attribute is queued"); 1 s waits hit that race.
    OwnStartTimeDeltaSensor.partial(
        task_id="wait", delta=timedelta(seconds=10), deferrable=True, retries=0
    ).expand(prompt=[f"warm-up {i}" for i in range(8)])

with _dag("kie_bench_slots_floor") as floor_dag:
    OwnStartTimeDeltaSensor.partial(task_id="wait", delta=T, deferrable=True, retries=0).expand(
        prompt=_prompts("kie_bench_slots_floor")
    )

with _dag("kie_bench_slots_waitsensor") as waitsensor_dag:
    PromptWaitSensor.partial(task_id="wait", time_to_wait=T, deferrable=True, retries=0).expand(
        prompt=_prompts("kie_bench_slots_waitsensor")
    )

for _dag_id, _deferrable in (("kie_bench_slots_deferrable", True), ("kie_bench_slots_blocking", False)):
    with _dag(_dag_id) as _generate_dag:
        RunwayGenerateOperator.partial(
            task_id="generate",
            duration=5,
            quality="720p",
            aspect_ratio="16:9",
            output_dir=f"output/{_dag_id}",
            deferrable=_deferrable,
            retries=0,
        ).expand(prompt=_prompts(_dag_id))
    globals()[_dag_id] = _generate_dag
