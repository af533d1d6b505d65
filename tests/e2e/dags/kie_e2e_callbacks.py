"""
### kie_e2e_callbacks: clips whose waits KIE's callbacks wake (e2e suite only)

`n` deferrable clips on the `kie_callbacks` connection, whose `callback_base_url` points KIE (the emulator) at
this deployment's api-server: every submit carries the provider's callback URL, and each wait is woken by
its callback, with only a slow safety-net poll (`poll_interval`; null: the provider's default) in between.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from airflow_provider_kie.operators.runway import RunwayGenerateOperator

with DAG(
    dag_id="kie_e2e_callbacks",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "e2e"],
    doc_md=__doc__,
    params={
        "n": Param(6, type="integer", minimum=1),
        "output_root": Param("output", type="string"),
        "poll_interval": Param(None, type=["null", "number"]),
    },
) as dag:

    @task
    def briefs(**context) -> list[str]:
        n = int(context["params"]["n"])
        return [f"Clip {i + 1} of {n}: a lighthouse at dusk, waves in slow motion" for i in range(n)]

    RunwayGenerateOperator.partial(
        task_id="generate",
        kie_conn_id="kie_callbacks",
        aspect_ratio="16:9",
        output_dir="{{ params.output_root }}/callbacks",
        output_name="clip-{{ ti.map_index }}",
        poll_interval="{{ params.poll_interval }}",
        deferrable=True,
        retries=1,
        retry_delay=timedelta(seconds=2),
    ).expand(prompt=briefs())
