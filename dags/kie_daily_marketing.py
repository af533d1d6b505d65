"""
### kie_daily_marketing: the day's marketing clips, generated, extended and stored every morning

What it shows:

- a cron-scheduled DAG reading the day's prompts from a versioned file (`dags/prompts/daily_marketing.json`),
  filled in with the run's data interval (`{date}`, `{weekday}`);
- **dynamic task mapping**: one `RunwayGenerateOperator` per prompt, then one `RunwayExtendOperator` per clip
  marked for extension (`extend_prompt`), fed straight from the upstream results;
- every MP4 and cover stored under a date-partitioned path: `<output_root>/daily/<YYYY-MM-DD>/<name>.mp4`;
- a manifest of the day's clips and an **Asset** event (`kie://marketing/daily-clips`) that
  `kie_publish_on_asset` is scheduled on.

Needs: the `kie_default` connection (see the README; `make demo` points it at the offline emulator) and a pool
named `kie` sized to your KIE concurrency cap
(`airflow pools set kie 10 "KIE concurrent generations" --include-deferred`).
Params: `output_root` (default `output`, relative to the worker's working directory), `prompts_file`,
`quality`, `poll_interval`. No Variables are needed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task

from airflow_provider_kie.operators.runway import RunwayExtendOperator, RunwayGenerateOperator
from airflow_provider_kie.params import poll_interval_param

DAILY_CLIPS = Asset("kie://marketing/daily-clips")
PROMPTS_DIR = Path(__file__).parent / "prompts"
OUTPUT_DIR = "{{ params.output_root }}/daily/{{ data_interval_start | ds }}"

with DAG(
    dag_id="kie_daily_marketing",
    description="Generate, extend and store the day's marketing clips with KIE Runway",
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["kie", "video", "marketing"],
    doc_md=__doc__,
    params={
        "output_root": Param(
            "output",
            type="string",
            description="Root of the stored clips (local path, or s3://, gs://... URL)",
        ),
        "prompts_file": Param("daily_marketing.json", type="string", description="File in dags/prompts/"),
        "quality": Param("720p", enum=["720p", "1080p"], description="Quality of the generated clips"),
        "poll_interval": poll_interval_param(),
    },
) as dag:

    @task
    def load_prompts(params: dict[str, Any], data_interval_start: datetime) -> list[dict[str, Any]]:
        """Read the versioned prompt file and fill in the day; one entry per clip to generate."""
        spec = json.loads((PROMPTS_DIR / params["prompts_file"]).read_text())
        fill = {
            "date": data_interval_start.strftime("%Y-%m-%d"),
            "weekday": data_interval_start.strftime("%A"),
        }
        clips = []
        for clip in spec["clips"]:
            clips.append(
                {
                    "prompt": clip["prompt"].format(**fill),
                    "aspect_ratio": clip.get("aspect_ratio", "16:9"),
                    "duration": clip.get("duration", 5),
                    "output_name": clip["name"],
                }
            )
        print(f"Prompt file v{spec.get('version')}: {len(clips)} clips for {fill['date']}")
        return clips

    @task
    def select_extensions(results: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
        """Pair each generated clip marked with an ``extend_prompt`` with its continuation."""
        spec = json.loads((PROMPTS_DIR / params["prompts_file"]).read_text())
        wanted = {c["name"]: c["extend_prompt"] for c in spec["clips"] if c.get("extend_prompt")}
        extensions = []
        for result in results:
            name = Path(result["video_path"] or result["kie_task_id"]).stem
            if name in wanted:
                extensions.append(
                    {"source": result, "prompt": wanted[name], "output_name": f"{name}-extended"}
                )
        return extensions

    # none_failed: a day without clips to extend skips `extend`, and the manifest must still be written.
    @task(outlets=[DAILY_CLIPS], trigger_rule="none_failed")
    def write_manifest(generated: list[dict[str, Any]], extended: list[dict[str, Any]]) -> str:
        """Record the day's clips next to them and announce them on the Asset."""
        context = get_current_context()
        clips = [*generated, *extended]
        paths = [c["video_path"] for c in clips if c.get("video_path")]
        manifest_dir = Path(paths[0]).parent if paths else Path(str(context["params"]["output_root"]))
        manifest = manifest_dir / "manifest.json"
        manifest.write_text(json.dumps({"run_id": context["run_id"], "clips": clips}, indent=2))
        context["outlet_events"][DAILY_CLIPS].extra = {"manifest": str(manifest), "videos": paths}
        print(f"{len(clips)} clips; manifest at {manifest}")
        return str(manifest)

    # What every clip task shares, generated or extended.
    clip_settings: dict[str, Any] = {
        "quality": "{{ params.quality }}",
        "output_dir": OUTPUT_DIR,
        "poll_interval": "{{ params.poll_interval }}",
        "deferrable": True,
        "pool": "kie",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
    }
    prompts = load_prompts()
    generated = RunwayGenerateOperator.partial(task_id="generate", **clip_settings).expand_kwargs(prompts)
    extended = RunwayExtendOperator.partial(task_id="extend", **clip_settings).expand_kwargs(
        select_extensions(results=generated.output)
    )
    write_manifest(generated=generated.output, extended=extended.output)
