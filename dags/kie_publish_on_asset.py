"""
### kie_publish_on_asset: publish new clips as soon as `kie_daily_marketing` announces them

What it shows:

- **data-aware scheduling**: this DAG runs whenever the `kie://marketing/daily-clips` Asset gets an event,
  i.e. each time `kie_daily_marketing` has stored a day's clips;
- reading the event's extra (the manifest path and the stored videos) to pick up exactly the new files;
- a stand-in publishing step: files are copied to `<publish_root>/<YYYY-MM-DD>/` and a `published.json`
  receipt is written. Replace `publish` with your CMS, social scheduler or CDN upload.

Needs: nothing from KIE: it only reads the user's own storage. Params: `publish_root`, and `manifest` for
manual runs without an Asset event (e.g. `dag.test(run_conf={"manifest": ".../manifest.json"})`).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task

DAILY_CLIPS = Asset("kie://marketing/daily-clips")

with DAG(
    dag_id="kie_publish_on_asset",
    description="Publish the clips that kie_daily_marketing announces on its Asset",
    schedule=[DAILY_CLIPS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "video", "publishing"],
    doc_md=__doc__,
    params={
        "publish_root": Param("output/published", type="string"),
        "manifest": Param(None, type=["null", "string"], description="Manifest to publish on manual runs"),
    },
) as dag:

    @task
    def collect_manifests(params: dict[str, Any]) -> list[str]:
        """The manifests announced by the Asset events that triggered this run (or the manual one)."""
        context = get_current_context()
        manifests = [
            event.extra["manifest"]
            for events in context["triggering_asset_events"].values()
            for event in events
            if event.extra.get("manifest")
        ]
        if not manifests and params.get("manifest"):
            manifests = [params["manifest"]]
        if not manifests:
            raise ValueError("No manifest: run from an Asset event, or pass the `manifest` param")
        return manifests

    @task
    def publish(manifests: list[str], params: dict[str, Any]) -> dict[str, Any]:
        """Copy every stored video and cover to the publishing area and write a receipt."""
        published = []
        for manifest_path in manifests:
            manifest = json.loads(Path(manifest_path).read_text())
            target = Path(params["publish_root"]) / Path(manifest_path).parent.name
            target.mkdir(parents=True, exist_ok=True)
            for clip in manifest["clips"]:
                for key in ("video_path", "cover_path"):
                    if clip.get(key):
                        published.append(str(shutil.copy2(clip[key], target / Path(clip[key]).name)))
            (target / "published.json").write_text(
                json.dumps({"source": manifest_path, "files": published}, indent=2)
            )
        print(f"Published {len(published)} files from {len(manifests)} manifest(s)")
        return {"files": published}

    publish(collect_manifests())
