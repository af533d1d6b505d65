"""
### kie_e2e_deferrable, kie_e2e_blocking: one clip, with Airflow retries (e2e suite only)

The e2e suite kills task processes and checks that Airflow's *retry* reconnects to the clip saved in
`task_state_store` instead of paying for a new one. The sample DAGs' retry settings are theirs to choose
(the campaign has none; the daily DAG waits a minute), so these two DAGs pin what the test needs: one retry,
two seconds later. `kie_e2e_blocking` waits in the worker (`deferrable=False`), so a task process exists to
kill while the clip generates; `kie_e2e_deferrable` waits in the triggerer like the sample DAGs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_kie.operators.runway import RunwayGenerateOperator

for dag_id, deferrable in (("kie_e2e_deferrable", True), ("kie_e2e_blocking", False)):
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["kie", "e2e"],
        doc_md=__doc__,
        params={
            "prompt": Param("A paper boat drifting down a rain gutter, macro lens", type="string"),
            "output_root": Param("output", type="string"),
            "poll_interval": Param(1, type="number", exclusiveMinimum=0),
        },
    ) as dag:
        RunwayGenerateOperator(
            task_id="generate",
            prompt="{{ params.prompt }}",
            aspect_ratio="16:9",
            output_dir="{{ params.output_root }}/e2e",
            output_name="clip",
            poll_interval="{{ params.poll_interval }}",
            deferrable=deferrable,
            pool="kie",
            retries=1,
            retry_delay=timedelta(seconds=2),
        )
    globals()[dag_id] = dag
