"""The sample DAGs, run by a real scheduler, triggerer and LocalExecutor against the KIE emulator.

Each run is checked in full: every task state, every XCom result, every stored file (byte for byte the MP4
and PNG the emulator served), and the emulator's account of what was paid for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .kie_e2e_stack import AirflowStack, EmulatorControl, check_mp4, check_png, partial_files, wait_for

pytestmark = pytest.mark.e2e

POLL = 1  # seconds between status polls (the DAGs' poll_interval Param)
DAILY_CLIPS = {"hero": "16:9", "story": "9:16", "feed": "1:1"}


def check_clip(result: dict, folder: Path, name: str, kind: str, emulator_url: str) -> None:
    """One ClipResult from XCom: succeeded, its files stored where promised and intact."""
    assert result["state"] == "succeeded", result
    assert result["kind"] == kind, result
    assert result["video_url"].startswith(emulator_url), result
    assert Path(result["video_path"]) == folder / f"{name}.mp4", result
    assert Path(result["cover_path"]) == folder / f"{name}.png", result
    check_mp4(result["video_path"])
    check_png(result["cover_path"])


def test_daily_marketing_then_publish_on_asset(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """Generate 3 clips, extend the hero clip, write the manifest; the Asset event starts the publisher."""
    stack.set_paused("kie_publish_on_asset", False)
    published_before = {r["dag_run_id"] for r in stack.runs("kie_publish_on_asset")}
    dag = "kie_daily_marketing"
    run_id = runs.trigger(dag, {"output_root": str(out), "poll_interval": POLL})
    run = runs.wait(dag, run_id)
    states = stack.ti_states(dag, run_id)
    assert run["state"] == "success", states
    expected = {
        ("load_prompts", -1),
        ("generate", 0),
        ("generate", 1),
        ("generate", 2),
        ("select_extensions", -1),
        ("extend", 0),
        ("write_manifest", -1),
    }
    assert states == dict.fromkeys(expected, "success")
    # The manual run took the due interval's logical date, so no scheduled run was created next to it.
    assert [r["dag_run_id"] for r in stack.runs(dag)] == [run_id]

    day = run["data_interval_start"][:10]
    folder = out / "daily" / day
    prompts = stack.xcom(dag, run_id, "load_prompts")
    assert [p["output_name"] for p in prompts] == list(DAILY_CLIPS)
    generated = {}
    for index, prompt in enumerate(prompts):
        result = stack.xcom(dag, run_id, "generate", index)
        check_clip(result, folder, prompt["output_name"], "runway", emu.base_url)
        assert stack.xcom(dag, run_id, "generate", index, key="kie_task_id") == result["kie_task_id"]
        generated[prompt["output_name"]] = result
    extended = stack.xcom(dag, run_id, "extend", 0)
    check_clip(extended, folder, "hero-extended", "runway", emu.base_url)
    assert extended["parent_task_id"] == generated["hero"]["kie_task_id"]
    manifest_path = stack.xcom(dag, run_id, "write_manifest")
    assert Path(manifest_path) == folder / "manifest.json"
    manifest = json.loads(Path(manifest_path).read_text())
    assert manifest["run_id"] == run_id
    assert manifest["clips"] == [*generated.values(), extended]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{n}.{ext}" for n in [*DAILY_CLIPS, "hero-extended"] for ext in ("mp4", "png")] + ["manifest.json"]
    )

    stats = emu.stats()
    assert stats["paid_submissions"] == 4, stats
    assert stats["accepted_by_kind"] == {"generate": 3, "extend": 1}, stats
    tasks = {t["task_id"]: t for t in emu.tasks()}
    assert {r["kie_task_id"] for r in [*generated.values(), extended]} == set(tasks)
    for name, result in generated.items():
        assert tasks[result["kie_task_id"]]["aspect_ratio"] == DAILY_CLIPS[name]
    assert partial_files(out) == []

    # The Asset event starts kie_publish_on_asset, which copies the day's files (relative default path:
    # under the workers' working directory).
    def publish_run() -> dict | None:
        new = [r for r in stack.runs("kie_publish_on_asset") if r["dag_run_id"] not in published_before]
        return new[0] if new else None

    publisher = wait_for(publish_run, 60, "the Asset event to start kie_publish_on_asset", interval=1)
    assert publisher["run_type"] == "asset_triggered", publisher
    done = runs.wait("kie_publish_on_asset", publisher["dag_run_id"], timeout=120)
    assert done["state"] == "success"
    pub_states = stack.ti_states("kie_publish_on_asset", publisher["dag_run_id"])
    assert pub_states == {("collect_manifests", -1): "success", ("publish", -1): "success"}
    assert stack.xcom("kie_publish_on_asset", publisher["dag_run_id"], "collect_manifests") == [manifest_path]
    files = stack.xcom("kie_publish_on_asset", publisher["dag_run_id"], "publish")["files"]
    target = stack.workdir / "output" / "published" / day
    assert sorted(Path(f).name for f in files) == sorted(
        f"{n}.{ext}" for n in [*DAILY_CLIPS, "hero-extended"] for ext in ("mp4", "png")
    )
    for name in files:
        path = stack.workdir / name  # relative paths resolve against the worker's working directory
        assert path.parent == target
        (check_mp4 if name.endswith(".mp4") else check_png)(path)
    receipt = json.loads((target / "published.json").read_text())
    assert receipt["source"] == manifest_path
    assert emu.stats()["paid_submissions"] == 4  # publishing costs nothing
    stack.set_paused("kie_publish_on_asset", True)


def test_image_to_video_uploads_animates_and_restyles(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """Two local product images uploaded and animated; the first clip uploaded again and restyled by Aleph."""
    dag = "kie_image_to_video"
    run_id = runs.trigger(dag, {"output_root": str(out), "poll_interval": POLL})
    run = runs.wait(dag, run_id)
    states = stack.ti_states(dag, run_id)
    assert run["state"] == "success", states
    assert states == {
        ("list_images", -1): "success",
        ("animate", 0): "success",
        ("animate", 1): "success",
        ("restyle", -1): "success",
    }
    assert [r["dag_run_id"] for r in stack.runs(dag)] == [run_id]
    folder = out / "products" / run["data_interval_start"][:10]
    images = stack.xcom(dag, run_id, "list_images")
    names = [i["output_name"] for i in images]
    assert names == ["espresso-machine", "travel-mug"]
    animated = [stack.xcom(dag, run_id, "animate", i) for i in range(2)]
    for name, result in zip(names, animated, strict=True):
        check_clip(result, folder, name, "runway", emu.base_url)
    restyled = stack.xcom(dag, run_id, "restyle")
    check_clip(restyled, folder, f"{names[0]}-restyled", "aleph", emu.base_url)

    stats = emu.stats()
    assert stats["paid_submissions"] == 3, stats
    assert stats["accepted_by_kind"] == {"generate": 2, "aleph": 1}, stats
    assert stats["uploads"] == 3, stats  # two product images, then the first clip for Aleph
    tasks = {t["task_id"]: t for t in emu.tasks()}
    assert tasks[animated[0]["kie_task_id"]]["aspect_ratio"] is None  # image-to-video: the image decides
    assert partial_files(out) == []
