"""
### kie_model_bakeoff: one creative brief on several video models at once, compared on one page

What it shows:

- the same brief (a DAG Param) sent in parallel to four KIE backends: Runway (`RunwayGenerateOperator`),
  Veo 3.1 Fast (`VeoGenerateOperator`) and, through KIE's Market API, Kling 2.6 (`KlingOperator`) and
  Sora 2 (`Sora2Operator`), each given KIE's own `model` name and `input` fields;
- every clip stored under one run folder, one sub-folder per model:
  `<output_root>/bakeoff/<YYYY-MM-DD>/<model>/<model>.mp4` (and its cover);
- a **contact sheet** rendered whatever happened upstream (`all_done`): `contact-sheet.html` in the run
  folder, a self-contained page (works offline, from a zip or a file share) with each model's playable clip,
  cover, credits spent and generation time, plus `manifest.json` with the same data. A model that failed gets
  a failure card with KIE's reason; the other models' clips are still compared. The task returns the page's
  path, and the run succeeds once the page is written (a failed model stays visible as its failed task).

Needs: the `kie_default` connection and the `kie` pool
(`airflow pools set kie 10 "KIE concurrent generations" --include-deferred`). Params: `brief`,
`aspect_ratio`, `duration`, `output_root`, `poll_interval`. No Variables are needed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from airflow.sdk import DAG, Param, get_current_context, task

from airflow_provider_kie.operators.market import KlingOperator, Sora2Operator
from airflow_provider_kie.operators.runway import RunwayGenerateOperator
from airflow_provider_kie.operators.veo import VeoGenerateOperator
from airflow_provider_kie.params import poll_interval_param
from airflow_provider_kie.reports import render_contact_sheet

# The run folder. `run_after` rather than `ds`: a manual or API-triggered run (this DAG has no schedule) may
# have no logical date, and then `ds` is not in the template context at all.
RUN_DIR = "{{ params.output_root }}/bakeoff/{{ dag_run.run_after | ds }}"
SHEET_NAME = "contact-sheet.html"


class Entrant(NamedTuple):
    """One model of the bake-off: its task, its name on the sheet, and what its result is read with."""

    task_id: str
    label: str
    folder: str  # sub-folder of the run folder, and the stored files' stem
    kind: str  # the KIE API family (TaskKind value) its task is read back from
    model: str | None  # KIE's model name; Runway's API takes none


ENTRANTS = (
    Entrant("runway", "Runway", "runway", "runway", None),
    Entrant("veo3_fast", "Veo 3.1 Fast", "veo3-fast", "veo", "veo3_fast"),
    Entrant("kling", "Kling 2.6", "kling-2.6", "jobs", "kling-2.6/text-to-video"),
    Entrant("sora2", "Sora 2", "sora-2", "jobs", "sora-2-text-to-video"),
)
BY_TASK = {entrant.task_id: entrant for entrant in ENTRANTS}

with DAG(
    dag_id="kie_model_bakeoff",
    description="One creative brief on Runway, Veo 3.1, Kling 2.6 and Sora 2 at once, on one contact sheet",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "video", "bake-off"],
    doc_md=__doc__,
    params={
        "brief": Param(
            "A ceramic mug of coffee steaming on a sunlit kitchen table, slow push-in, warm morning light",
            type="string",
            minLength=1,
            # Kling 2.6's limit (https://docs.kie.ai/market/kling/text-to-video), the lowest of the four.
            maxLength=1000,
            description="The creative brief every model gets, word for word (at most 1000 characters)",
        ),
        "aspect_ratio": Param(
            "16:9",
            enum=["16:9", "9:16"],
            description="Every model's frame; Sora 2 takes it as landscape or portrait",
        ),
        "duration": Param(
            5,
            enum=[5, 10],
            description="Seconds, for Runway and Kling 2.6 (Veo 3.1 sets its own length; Sora 2 makes 10 s)",
        ),
        "output_root": Param(
            "output",
            type="string",
            description="Root of the stored clips (a local path: the sheet is written there)",
        ),
        "poll_interval": poll_interval_param(),
    },
) as dag:
    # What every model's task shares. A failed model is the bake-off's finding, shown on the sheet; KIE's
    # transient trouble (429, 455, 5xx reads) is retried inside the operators, so an Airflow retry would
    # mostly resubmit - and pay again for - a brief a model refused on content grounds.
    common: dict[str, Any] = {
        "poll_interval": "{{ params.poll_interval }}",
        "deferrable": True,
        "pool": "kie",
        "retries": 0,
    }

    def stored(task_id: str) -> dict[str, str]:
        """Where an entrant's clip goes: its own folder of the run folder, files named after it."""
        folder = BY_TASK[task_id].folder
        return {"output_dir": f"{RUN_DIR}/{folder}", "output_name": folder}

    runway = RunwayGenerateOperator(
        task_id="runway",
        prompt="{{ params.brief }}",
        duration="{{ params.duration }}",
        quality="720p",  # 1080p is refused with 10 s clips
        aspect_ratio="{{ params.aspect_ratio }}",
        **stored("runway"),
        **common,
    )
    veo = VeoGenerateOperator(
        task_id="veo3_fast",
        prompt="{{ params.brief }}",
        model="veo3_fast",  # Veo 3.1 Fast (https://docs.kie.ai/veo3-api/generate-veo-3-video)
        generation_type="TEXT_2_VIDEO",
        aspect_ratio="{{ params.aspect_ratio }}",
        **stored("veo3_fast"),
        **common,
    )
    # Market models take KIE's own field names in `input` (templated, like every operator parameter).
    kling = KlingOperator(
        task_id="kling",
        model="kling-2.6/text-to-video",
        # https://docs.kie.ai/market/kling/text-to-video: all four fields required; duration is a string.
        # No sound: it costs extra, and the other models are compared silent.
        input={
            "prompt": "{{ params.brief }}",
            "sound": False,
            "aspect_ratio": "{{ params.aspect_ratio }}",
            "duration": "{{ params.duration }}",
        },
        **stored("kling"),
        **common,
    )
    sora = Sora2Operator(
        task_id="sora2",
        model="sora-2-text-to-video",
        # https://docs.kie.ai/market/sora2/sora-2-text-to-video: orientation words, and n_frames is the
        # clip's length in seconds ("10" or "15").
        input={
            "prompt": "{{ params.brief }}",
            "aspect_ratio": "{{ 'portrait' if params.aspect_ratio == '9:16' else 'landscape' }}",
            "n_frames": "10",
        },
        **stored("sora2"),
        **common,
    )

    def _failure_reason(kie_task_id: str | None, kind: str) -> str:
        """Why a model has no clip, in words for its failure card (the task log has the details)."""
        from airflow_provider_kie.client import KieError, TaskKind, TaskState
        from airflow_provider_kie.hooks.kie import KieHook

        if not kie_task_id:
            return "No KIE task: the submit was refused or its outcome is unknown (see the task log)."
        try:
            record = KieHook().get_conn().get_task(kie_task_id, TaskKind(kind))
        except KieError as exc:
            return f"Could not read KIE task {kie_task_id}: {exc}"
        if record.state is TaskState.SUCCEEDED:
            expired = " (KIE's media expired)" if record.expired else ""
            return f"KIE produced the clip but it could not be stored{expired}; see the task log."
        return record.fail_msg or f"KIE task still {record.raw_state}."

    @task(trigger_rule="all_done")
    def contact_sheet(run_dir: str, params: dict[str, Any]) -> str:
        """Render the run folder's contact sheet from every model's result, failed models included."""
        ti = get_current_context()["ti"]
        brief = params["brief"]
        clips = []
        for entrant in ENTRANTS:
            # Pulled here, not passed as XComArgs: a failed upstream has no result, and resolving its
            # XComArg would fail this task too.
            result = ti.xcom_pull(task_ids=entrant.task_id)
            if result:
                clip = {**result, "label": entrant.label}
                clip["prompt"] = clip.get("prompt") or brief
                clip["model"] = clip.get("model") or entrant.model
            else:
                kie_task_id = ti.xcom_pull(task_ids=entrant.task_id, key="kie_task_id")
                clip = {
                    "label": entrant.label,
                    "kind": entrant.kind,
                    "model": entrant.model,
                    "prompt": brief,
                    "kie_task_id": kie_task_id,
                    "state": "failed",
                    "error": _failure_reason(kie_task_id, entrant.kind),
                }
            clips.append(clip)
        page = render_contact_sheet(brief, clips, Path(run_dir) / SHEET_NAME)
        failed = [c["label"] for c in clips if c.get("error")]
        print(f"Contact sheet of {len(clips)} models at {page}; failed: {', '.join(failed) or 'none'}")
        return str(page)

    [runway, veo, kling, sora] >> contact_sheet(run_dir=RUN_DIR)
