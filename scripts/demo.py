"""`make demo`: run the daily marketing DAG end to end and leave real MP4 files in ./output/; then, offline,
the model bake-off, whose HTML contact sheet compares one brief on four models.

By default everything is offline: the KIE emulator serves on a free loopback port, Airflow runs in a
throwaway AIRFLOW_HOME on SQLite, and the DAG runs through ``dag.test()`` (triggers run inline).

Set ``KIE_API_KEY`` to run the same DAG against the live KIE API instead: that spends real credits.

The Airflow run's own log goes to ``<output>/demo-airflow.log``; this script prints a short summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from airflow_provider_kie.testing import DagRunFailed, OfflineAirflow, emulator_connection, is_mp4, is_png

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "kie_daily_marketing"
BAKEOFF_DAG_ID = "kie_model_bakeoff"
LIVE_BASE_URL = "https://api.kie.ai"


def _print_clips(clips: list[dict[str, str]], root: Path) -> list[str]:
    """One line per clip; return the task ids whose files are missing or invalid."""
    invalid = []
    for clip in clips:
        video, cover = Path(clip["video_path"] or ""), Path(clip["cover_path"] or "")
        ok = video.is_file() and is_mp4(video) and cover.is_file() and is_png(cover)
        if not ok:
            invalid.append(clip["kie_task_id"])
        parent = f"extends {clip['parent_task_id'][:8]}" if clip.get("parent_task_id") else "generated"
        shown = video.relative_to(root) if video.is_relative_to(root) else video
        size = video.stat().st_size if video.is_file() else 0
        verdict = "MP4 + PNG cover OK" if ok else "INVALID"
        print(
            f"  {clip['state']:<9}  {clip['kie_task_id'][:8]}  {parent:<16}  {shown}",
            f"({size} bytes, {verdict})",
        )
    return invalid


def main() -> int:
    parser = argparse.ArgumentParser(description="Run kie_daily_marketing end to end (offline by default).")
    parser.add_argument("--output", type=Path, default=REPO / "output", help="where the clips go")
    parser.add_argument("--time-scale", type=float, default=0.02, help="emulator speed: 0.02 = 50x faster")
    args = parser.parse_args()
    output = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    log = output / "demo-airflow.log"
    log.write_text("")
    live_key = os.environ.get("KIE_API_KEY", "").strip()
    started = time.monotonic()

    with ExitStack() as stack:
        emulator = None
        if live_key:
            print(f"KIE_API_KEY is set: running against the LIVE KIE API at {LIVE_BASE_URL} (spends credits)")
            connection = {"conn_type": "kie", "password": live_key, "host": LIVE_BASE_URL}
            poll_interval: float | None = None  # the operators' default: polls follow the clip's phase
        else:
            from airflow_provider_kie.emulator.config import EmulatorConfig
            from airflow_provider_kie.emulator.server import running_emulator

            emulator = stack.enter_context(running_emulator(EmulatorConfig(time_scale=args.time_scale)))
            speed = f"a 75 s clip takes ~{75 * args.time_scale:.1f} s"
            print(f"KIE emulator at {emulator.base_url} (offline; {speed})")
            connection = emulator_connection(emulator)
            poll_interval = 0.5
        print("Preparing a throwaway Airflow home (SQLite) ...")
        try:
            airflow = stack.enter_context(
                OfflineAirflow.create(dags_folder=REPO / "dags", connection=connection, log=log)
            )
            print(f"Running {DAG_ID} with dag.test() ...")
            state = airflow.run_dag(DAG_ID, {"output_root": str(output), "poll_interval": poll_interval})
        except DagRunFailed as exc:
            print(exc)
            return 1
        stats = emulator.stats() if emulator is not None else None
        sheet = None
        if emulator is not None and state == "success":
            # The model bake-off: one brief on four models, compared on an HTML contact sheet. Offline only:
            # against the live API it would buy four more clips, which a demo should not do unasked.
            print(f"Running {BAKEOFF_DAG_ID} with dag.test() ...")
            try:
                bakeoff = airflow.run_dag(
                    BAKEOFF_DAG_ID, {"output_root": str(output), "poll_interval": poll_interval}
                )
            except DagRunFailed as exc:
                print(exc)
                return 1
            sheets = sorted(output.glob("bakeoff/*/contact-sheet.html"), key=lambda p: p.stat().st_mtime)
            if bakeoff != "success" or not sheets:
                print(f"The bake-off run ended {bakeoff}; see {log}")
                return 1
            sheet = sheets[-1]

    manifests = sorted(output.glob("daily/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if state != "success" or not manifests:
        print(f"The DAG run ended {state}; see {log}")
        return 1
    clips = json.loads(manifests[-1].read_text())["clips"]
    print(f"\nDAG run {state} in {time.monotonic() - started:.0f} s; {len(clips)} clips:")
    invalid = _print_clips(clips, output.parent)
    print(f"Manifest:    {manifests[-1]}")
    if stats is not None:
        polls = stats.calls_by_endpoint.get("/api/v1/runway/record-detail", 0)
        used = stats.credits_charged - stats.credits_refunded
        print(f"Credits:     {used} used ({stats.paid_submissions} paid submissions, {polls} status polls)")
    if sheet is not None:
        print(f"Bake-off:    {sheet}  (open it in a browser to compare the models)")
    print(f"Airflow log: {log}")
    if invalid:
        print(f"Invalid or missing files for: {', '.join(invalid)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
