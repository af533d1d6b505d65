"""
### kie_e2e_celery_campaign: N deferrable clips in the `kie` pool, with Airflow retries (e2e suite only)

The distributed e2e test (tests/e2e/test_e2e_celery.py) runs this campaign on two Celery workers and two
triggerers and kills one of each mid-run. Unlike the sample campaign it pins what that test needs:

- one clip per map index, stored as `<output_root>/celery/clip-NN.mp4` (and its `.png` cover), so "stored
  exactly once" is a directory listing;
- `retries=2`, two seconds apart: a task whose worker is killed -9 is failed by Airflow's heartbeat check and
  its retry must reconnect to the clip its first try paid for (never pay again);
- the `kie` pool with deferred tasks counted (`include_deferred`), sized to KIE's concurrency cap, so the
  clips queue in Airflow, not in KIE's refusals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_kie.operators.runway import RunwayGenerateOperator

with DAG(
    dag_id="kie_e2e_celery_campaign",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "e2e"],
    doc_md=__doc__,
    params={
        "clips": Param(30, type="integer", minimum=1, maximum=200),
        "output_root": Param("output", type="string"),
        "poll_interval": Param(1, type="number", exclusiveMinimum=0),
    },
) as dag:

    @task
    def clip_list(params: dict[str, Any]) -> list[dict[str, str]]:
        """One entry per clip: its prompt and its file name (``clip-NN``)."""
        return [
            {
                "prompt": f"Campaign shot {i + 1}: a paper lantern rising over a night market",
                "output_name": f"clip-{i:02d}",
            }
            for i in range(int(params["clips"]))
        ]

    RunwayGenerateOperator.partial(
        task_id="generate",
        aspect_ratio="16:9",
        output_dir="{{ params.output_root }}/celery",
        poll_interval="{{ params.poll_interval }}",
        deferrable=True,
        pool="kie",
        retries=2,
        retry_delay=timedelta(seconds=2),
    ).expand_kwargs(clip_list())
