"""
### kie_runway_backends: one brief on Runway through KIE and on Runway's own API, side by side

What it shows:

- moving a clip between backends is one argument: the two tasks are the same `RunwayGenerateOperator` with
  the same brief, frame and length; one runs on the `kie_default` connection (KIE's Runway API), the other
  on `runway_default` (a `runway` connection: Runway's own API), where it also names the Runway model and,
  optionally, a `seed` for a repeatable clip (Runway's API takes one; KIE's Runway does not);
- both wait in the triggerer (`deferrable=True`); on Runway's API a task instance that is cleared, marked
  failed or success, or times out while deferred also cancels its Runway task (KIE has no cancel endpoint);
- both clips stored under one run folder, `<output_root>/backends/<YYYY-MM-DD>/<backend>/<backend>.mp4`,
  and compared on a **contact sheet** (`contact-sheet.html` and `manifest.json`), rendered whatever
  happened upstream (`all_done`): a backend that failed gets a failure card with its reason.

Needs: the `kie_default` connection (type `kie`) and the `runway_default` connection (type `runway`, the
Runway API secret in its password). Params: `brief`, `aspect_ratio`, `duration`, `runway_model`, `seed`,
`output_root`, `poll_interval`. No Variables are needed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from airflow.sdk import DAG, Param, get_current_context, task

from airflow_provider_kie.operators.runway import RUNWAY_API_DEFAULT_MODEL, RunwayGenerateOperator
from airflow_provider_kie.params import poll_interval_param
from airflow_provider_kie.reports import render_contact_sheet

# `run_after` rather than `ds`: a manual run (this DAG has no schedule) may have no logical date.
RUN_DIR = "{{ params.output_root }}/backends/{{ dag_run.run_after | ds }}"
SHEET_NAME = "contact-sheet.html"


class Backend(NamedTuple):
    """One side of the comparison: its task, its name on the sheet, its connection and task kind."""

    task_id: str
    label: str
    conn_id: str
    kind: str  # the TaskKind value its task is read back with


BACKENDS = (
    Backend("kie", "Runway via KIE", "kie_default", "runway"),
    Backend("runway_api", "Runway's own API", "runway_default", "runway_api"),
)

with DAG(
    dag_id="kie_runway_backends",
    description="One brief on Runway through KIE and through Runway's own API, on one contact sheet",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "runway", "video", "bake-off"],
    doc_md=__doc__,
    params={
        "brief": Param(
            "A paper boat drifting down a rain-soaked street at dusk, neon reflections, slow tracking shot",
            type="string",
            minLength=1,
            # Runway's API counts at most 1000 UTF-16 units for gen4.5; KIE's Runway takes 1800 characters.
            maxLength=1000,
            description="The brief both backends get, word for word",
        ),
        # The two frames both backends make at 720p (gen4.5's text-to-video takes 1280:720 and 720:1280).
        "aspect_ratio": Param("16:9", enum=["16:9", "9:16"], description="Both clips' frame"),
        "duration": Param(5, enum=[5, 10], description="Seconds, on both backends"),
        "runway_model": Param(
            RUNWAY_API_DEFAULT_MODEL,
            enum=[RUNWAY_API_DEFAULT_MODEL, "veo3.1", "veo3.1_fast"],
            description="The model on Runway's own API (KIE picks its Runway model itself)",
        ),
        "seed": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            maximum=4294967295,
            description="Runway's API only: a seed for a repeatable clip; empty for a random one",
        ),
        "output_root": Param(
            "output",
            type="string",
            description="Root of the stored clips (a local path: the sheet is written there)",
        ),
        "poll_interval": poll_interval_param(),
    },
) as dag:
    # Same brief, same frame, same length: only the connection (and what only Runway's API takes) differs.
    # No Airflow retries: a refused brief is the finding, and a retry could pay for it again.
    common: dict[str, Any] = {
        "prompt": "{{ params.brief }}",
        "aspect_ratio": "{{ params.aspect_ratio }}",
        "duration": "{{ params.duration }}",
        "quality": "720p",
        "poll_interval": "{{ params.poll_interval }}",
        "deferrable": True,
        "retries": 0,
    }
    on_kie = RunwayGenerateOperator(
        task_id="kie",
        kie_conn_id="kie_default",
        output_dir=f"{RUN_DIR}/kie",
        output_name="kie",
        **common,
    )
    on_runway_api = RunwayGenerateOperator(
        task_id="runway_api",
        kie_conn_id="runway_default",
        model="{{ params.runway_model }}",
        # An empty Param renders as "None"; "" is "no seed" to the operator.
        seed="{{ params.seed if params.seed is not none else '' }}",
        output_dir=f"{RUN_DIR}/runway-api",
        output_name="runway-api",
        **common,
    )

    def _failure_reason(backend: Backend, task_id: str | None) -> str:
        """Why a backend has no clip, in words for its failure card (the task log has the details)."""
        from airflow_provider_kie.client import KieError, TaskKind, TaskState
        from airflow_provider_kie.hooks.runway import generation_hook

        if not task_id:
            return "No task: the submit was refused or its outcome is unknown (see the task log)."
        try:
            record = generation_hook(backend.conn_id).get_conn().get_task(task_id, TaskKind(backend.kind))
        except KieError as exc:
            return f"Could not read task {task_id}: {exc}"
        if record.state is TaskState.SUCCEEDED:
            return "The clip was made but could not be stored; see the task log."
        return record.fail_msg or f"Task still {record.raw_state}."

    @task(trigger_rule="all_done")
    def contact_sheet(run_dir: str, params: dict[str, Any]) -> str:
        """Render the run folder's contact sheet from both backends' results, a failed one included."""
        ti = get_current_context()["ti"]
        brief = params["brief"]
        clips = []
        for backend in BACKENDS:
            # Pulled here, not passed as XComArgs: a failed upstream has no result to resolve.
            result = ti.xcom_pull(task_ids=backend.task_id)
            if result:
                clip = {**result, "label": backend.label, "prompt": result.get("prompt") or brief}
            else:
                task_id = ti.xcom_pull(task_ids=backend.task_id, key="kie_task_id")
                clip = {
                    "label": backend.label,
                    "kind": backend.kind,
                    "prompt": brief,
                    "kie_task_id": task_id,
                    "state": "failed",
                    "error": _failure_reason(backend, task_id),
                }
            clips.append(clip)
        page = render_contact_sheet(brief, clips, Path(run_dir) / SHEET_NAME)
        failed = [c["label"] for c in clips if c.get("error")]
        print(f"Contact sheet of {len(clips)} backends at {page}; failed: {', '.join(failed) or 'none'}")
        return str(page)

    [on_kie, on_runway_api] >> contact_sheet(run_dir=RUN_DIR)
