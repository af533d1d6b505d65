"""
### Benchmark 3, real-Airflow figure: N clips in the `kie` pool (run by `bench_campaign_airflow.py` only)

The set-up `kie_campaign_fanout` documents - mapped deferrable `RunwayGenerateOperator` tasks in the `kie`
pool (C slots, `include_deferred=True`), `retries=0` - without its matrix and summary tasks, so the run is
the clips alone, and without its `poll_interval` Param (10 s), so the operator's default polling is measured.

N comes from the environment the benchmark gives every Airflow component (`KIE_BENCH_CAMPAIGN_CLIPS`), so
the mapped tasks exist as soon as the run is created.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_kie.operators.runway import RunwayGenerateOperator

CLIPS = int(os.environ.get("KIE_BENCH_CAMPAIGN_CLIPS", "200"))

with DAG(
    dag_id="kie_bench_campaign",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "benchmark"],
    doc_md=__doc__,
    # Only running/queued tasks count here; the pool is the limit under test.
    max_active_tasks=max(16, CLIPS),
) as dag:
    RunwayGenerateOperator.partial(
        task_id="generate",
        duration=5,
        quality="720p",
        aspect_ratio="16:9",
        output_dir="output/kie_bench_campaign",
        deferrable=True,
        pool="kie",
        retries=0,
    ).expand(prompt=[f"campaign clip {i:04d}: a product shot, variant {i}" for i in range(CLIPS)])
