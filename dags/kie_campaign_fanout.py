"""
### kie_campaign_fanout: one campaign, every prompt in every aspect ratio, within KIE's limits

What it shows:

- a campaign of N prompts x aspect ratios (16:9, 9:16, 1:1 by default) expanded into mapped
  `RunwayGenerateOperator` tasks;
- respecting the account's limits: the tasks run in the `kie` pool (size it to your KIE concurrency cap) and
  each operator backs off, deferred, when KIE answers 429 or the concurrency cap, so a large campaign
  queues instead of failing;
- a summary task that runs whatever happened upstream (`all_done`) and writes a manifest (JSON and CSV) of
  every clip, failures included with KIE's reason; it then fails the run if any clip failed.

Needs: the `kie_default` connection and the `kie` pool
(`airflow pools set kie 10 "KIE concurrent generations" --include-deferred`). Params: `campaign`, `prompts`,
`aspect_ratios`, `duration`, `quality`, `output_root`, `poll_interval`. No Variables are needed.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException

from airflow_provider_kie.operators.runway import RunwayGenerateOperator
from airflow_provider_kie.params import poll_interval_param

MANIFEST_FIELDS = [
    "clip",
    "prompt",
    "aspect_ratio",
    "status",
    "kie_task_id",
    "video_path",
    "cover_path",
    "error",
]

with DAG(
    dag_id="kie_campaign_fanout",
    description="Fan a campaign out over prompts x aspect ratios with KIE Runway, then summarise",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "video", "campaign"],
    doc_md=__doc__,
    params={
        "campaign": Param("spring-launch", type="string", pattern=r"^[a-z0-9][a-z0-9-]*$"),
        "prompts": Param(
            [
                "A sneaker bouncing in slow motion on a neon-lit rooftop at dusk",
                "Close-up of rain drops sliding off a waterproof jacket, studio lighting",
            ],
            type="array",
            minItems=1,
            description="One clip per prompt and aspect ratio",
        ),
        "aspect_ratios": Param(["16:9", "9:16", "1:1"], type="array", minItems=1),
        "duration": Param(5, enum=[5, 10]),
        "quality": Param("720p", enum=["720p", "1080p"]),
        "output_root": Param("output", type="string"),
        "poll_interval": poll_interval_param(),
    },
) as dag:

    @task
    def build_matrix(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every (prompt, aspect ratio) pair, named ``<prompt #>-<ratio>``."""
        return [
            {
                "prompt": prompt,
                "aspect_ratio": ratio,
                "output_name": f"p{i + 1:02d}-{ratio.replace(':', 'x')}",
            }
            for i, prompt in enumerate(params["prompts"])
            for ratio in params["aspect_ratios"]
        ]

    def _failure_reason(kie_task_id: str | None) -> str:
        """Why a clip has no result, in words for the manifest (the task log has the details)."""
        from airflow_provider_kie.client import KieError, TaskState
        from airflow_provider_kie.hooks.kie import KieHook

        if not kie_task_id:
            return "no KIE task: the submit was refused or its outcome is unknown (see the task log)"
        try:
            record = KieHook().get_conn().get_task(kie_task_id)
        except KieError as exc:
            return f"could not read KIE task: {exc}"
        if record.state is TaskState.SUCCEEDED:
            expired = " (KIE's media expired)" if record.expired else ""
            return f"KIE produced the clip but it could not be stored{expired}; see the task log"
        return record.fail_msg or f"KIE task still {record.raw_state}"

    @task(trigger_rule="all_done")
    def summarize(matrix: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """Write manifest.json and manifest.csv for every clip, failed ones included."""
        context = get_current_context()
        ti = context["ti"]
        rows = []
        for index, entry in enumerate(matrix):
            result = ti.xcom_pull(task_ids="generate", map_indexes=index)
            kie_task_id = ti.xcom_pull(task_ids="generate", map_indexes=index, key="kie_task_id")
            row = {
                "clip": entry["output_name"],
                "prompt": entry["prompt"],
                "aspect_ratio": entry["aspect_ratio"],
            }
            if result:
                row |= {
                    "status": "succeeded",
                    "kie_task_id": result["kie_task_id"],
                    "video_path": result["video_path"],
                }
                row |= {"cover_path": result["cover_path"], "error": ""}
            else:
                error = _failure_reason(kie_task_id)
                row |= {
                    "status": "failed",
                    "kie_task_id": kie_task_id or "",
                    "video_path": "",
                    "cover_path": "",
                }
                row["error"] = error
            rows.append(row)
        out = Path(params["output_root"]) / "campaigns" / params["campaign"]
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text(json.dumps(rows, indent=2))
        with (out / "manifest.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        succeeded = sum(r["status"] == "succeeded" for r in rows)
        print(f"Campaign {params['campaign']}: {succeeded}/{len(rows)} clips stored; manifest in {out}")
        if succeeded < len(rows):
            # The run's state comes from its leaf tasks: fail here so a partial campaign is visible.
            failed = len(rows) - succeeded
            raise AirflowFailException(f"{failed} of {len(rows)} clips failed; see {out / 'manifest.csv'}")
        return {"manifest": str(out / "manifest.json"), "succeeded": succeeded, "failed": 0}

    matrix = build_matrix()
    generate = RunwayGenerateOperator.partial(
        task_id="generate",
        duration="{{ params.duration }}",
        quality="{{ params.quality }}",
        output_dir="{{ params.output_root }}/campaigns/{{ params.campaign }}",
        poll_interval="{{ params.poll_interval }}",
        deferrable=True,
        pool="kie",
        # A failed clip is recorded in the manifest; clear its task to try it again. KIE's transient trouble
        # (429, 455, 5xx reads) is already retried inside the operator, so Airflow retries would mostly
        # resubmit prompts KIE refused on content grounds.
        retries=0,
    ).expand_kwargs(matrix)
    generate >> summarize(matrix=matrix)
