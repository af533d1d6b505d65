"""Callback-woken waits on the real stack: KIE (the emulator) calls the provider's receiver in the api-server,
and the deferred waits end on their callbacks, with at most one status read each.

The `kie_callbacks` connection (see kie_e2e_stack.py) sets `callback_base_url` to this deployment's api-server
and `webhook_secret` to the emulated account's webhook key, which signs every callback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psutil
import pytest

from .kie_e2e_stack import AirflowStack, EmulatorControl, check_mp4, files_containing, wait_for

pytestmark = pytest.mark.e2e

DAG = "kie_e2e_callbacks"
STATUS = "/api/v1/runway/record-detail"


def _callbacks(emu: EmulatorControl) -> list[dict[str, Any]]:
    return list(emu.http.get("/callbacks").raise_for_status().json())


def _refusals(stack: AirflowStack) -> dict[str, int]:
    """The receiver's refusal counts by reason (its ``_stats`` route; the api-server runs one worker)."""
    answer = httpx.get(f"http://127.0.0.1:{stack.api_port}/kie/callbacks/_stats", timeout=15, trust_env=False)
    answer.raise_for_status()
    return dict(answer.json()["refused"])


def _trigger_logs(stack: AirflowStack) -> str:
    return "\n".join(
        p.read_text(errors="replace") for p in sorted((stack.home / "logs").rglob("*.log")) if DAG in str(p)
    )


def _run(stack: AirflowStack, runs: Any, out: Path, n: int, **conf: Any) -> tuple[str, dict[str, Any]]:
    run_id = runs.trigger(DAG, {"n": n, "output_root": str(out), **conf})
    return run_id, runs.wait(DAG, run_id)


def _check_every_clip_stored_once(stack: AirflowStack, run_id: str, out: Path, n: int) -> set[str]:
    ids = set()
    for index in range(n):
        result = stack.xcom(DAG, run_id, "generate", index)
        assert result["state"] == "succeeded", result
        assert Path(result["video_path"]) == out / "callbacks" / f"clip-{index}.mp4"
        check_mp4(result["video_path"])
        ids.add(result["kie_task_id"])
    assert len(ids) == n
    assert sorted(p.name for p in (out / "callbacks").glob("*.mp4")) == sorted(
        f"clip-{i}.mp4" for i in range(n)
    )
    return ids


def test_callbacks_end_every_wait_with_about_one_status_read(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    n = 6
    run_id, run = _run(stack, runs, out, n)
    assert run["state"] == "success", stack.ti_states(DAG, run_id)
    ids = _check_every_clip_stored_once(stack, run_id, out, n)

    stats = emu.stats()
    assert stats["paid_submissions"] == n, stats
    reads = emu.calls(STATUS)
    # The safety-net poll (120 s) never came due: each clip's wait read KIE's record once, after its callback.
    assert reads <= 1.5 * n, f"{reads} status reads for {n} clips"
    delivered = [c for c in _callbacks(emu) if c["task_id"] in ids and c["sent"]]
    assert {c["task_id"] for c in delivered} == ids
    assert all(c["status_code"] == 200 for c in delivered), delivered
    # Every submit carried the provider's receiver URL, made by the operator (the DAG sets no callback_url).
    assert all(f"127.0.0.1:{stack.api_port}/kie/callbacks/kie_callbacks?" in c["url"] for c in delivered)
    woken = _trigger_logs(stack).count("KIE called back for task")
    assert woken >= n, f"{woken} wake-ups logged for {n} clips"
    print(f"\n[e2e] callbacks: {n} clips, {reads} status reads ({reads / n:.2f} per clip), {woken} wake-ups")


def test_a_third_of_callbacks_lost_only_delays_those_waits(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    n = 6
    emu.set_faults([{"kind": "callback_drop", "every": 3}])
    try:
        # A short safety net, so that the two waits whose callbacks are lost end within the test's time.
        run_id, run = _run(stack, runs, out, n, poll_interval=4)
    finally:
        emu.clear_faults()
    assert run["state"] == "success", stack.ti_states(DAG, run_id)
    ids = _check_every_clip_stored_once(stack, run_id, out, n)
    assert emu.stats()["paid_submissions"] == n
    dropped = [c for c in _callbacks(emu) if c["task_id"] in ids and not c["sent"]]
    assert len(dropped) == n // 3, dropped


def test_forged_duplicated_and_replayed_callbacks_complete_nothing_wrongly(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    n = 2
    before = _refusals(stack)
    emu.set_faults([{"kind": "callback_duplicate", "copies": 3}])
    try:
        run_id = runs.trigger(DAG, {"n": n, "output_root": str(out)})

        def live_tasks() -> list[str] | None:
            found = [
                t["task_id"] for t in emu.tasks() if t.get("state") in ("wait", "queueing", "generating")
            ]
            return found if len(found) == n else None

        live = wait_for(live_tasks, 120, f"{n} KIE tasks to be live", interval=0.5)
        forged = ("wrong_key", "other_task", "stale", "future", "unsigned")
        for task_id in live:
            for mode in forged:
                emu.http.post(
                    "/callbacks/forge", json={"task_id": task_id, "signature": mode}
                ).raise_for_status()
        run = runs.wait(DAG, run_id)
    finally:
        emu.clear_faults()
    assert run["state"] == "success", stack.ti_states(DAG, run_id)
    ids = _check_every_clip_stored_once(stack, run_id, out, n)
    assert ids == set(live)

    # Every forged request was refused (401) and counted; KIE's own ended each wait after its clip was done.
    attempts = [c for c in _callbacks(emu) if c["task_id"] in ids]
    refused = [c for c in attempts if "callback_forged" in c["faults"]]
    assert len(refused) == n * len(forged)
    assert {c["status_code"] for c in refused} == {401}, refused
    after = _refusals(stack)
    refusals = sum(count - before.get(reason, 0) for reason, count in after.items())
    assert refusals == n * len(forged), after
    for task_id in ids:
        task = next(t for t in emu.tasks() if t["task_id"] == task_id)
        assert task["state"] == "success", task
    # Duplicates are harmless: 200, one journal line per task.
    duplicates = [c for c in attempts if "callback_duplicate" in c["faults"]]
    assert duplicates and all(c["status_code"] == 200 for c in duplicates)
    # A replay of a genuine callback (same body, headers, fresh enough timestamp) is a harmless duplicate.
    replayed = emu.http.post("/callbacks/replay", json={"task_id": sorted(ids)[0]})
    replayed.raise_for_status()
    wait_for(
        lambda: any("callback_replay" in c["faults"] and c["status_code"] for c in _callbacks(emu)),
        30,
        "the replay to be delivered",
        interval=0.5,
    )
    replay = next(c for c in _callbacks(emu) if "callback_replay" in c["faults"])
    assert replay["status_code"] == 200, replay
    assert emu.stats()["paid_submissions"] >= n
    assert stack.ti_states(DAG, run_id)[("generate", 0)] == "success"


def test_a_triggerer_killed_before_the_callbacks_wakes_the_waits_after_its_restart(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    n = 3
    run_id = runs.trigger(DAG, {"n": n, "output_root": str(out)})

    def deferred() -> bool:
        states = stack.ti_states(DAG, run_id)
        return sum(1 for (task, _), s in states.items() if task == "generate" and s == "deferred") == n

    wait_for(deferred, 120, f"{n} waits to be deferred", interval=0.5)
    stack.kill_component("triggerer")
    try:
        # KIE finishes every clip and calls back while no triggerer runs: the receiver writes the journal.
        def called_back() -> set[str] | None:
            mine = {
                t["task_id"]
                for t in emu.tasks()
                if f"run_id={quote(run_id, safe='')}&" in (t.get("callback_url") or "")
            }
            ok = {c["task_id"] for c in _callbacks(emu) if c["task_id"] in mine and c["status_code"] == 200}
            return ok if len(ok) == n else None

        wait_for(called_back, 120, "KIE's callbacks to be received", interval=0.5)
    finally:
        stack.start_component("triggerer")
    run = runs.wait(DAG, run_id)
    assert run["state"] == "success", stack.ti_states(DAG, run_id)
    _check_every_clip_stored_once(stack, run_id, out, n)
    # The restarted triggerer's waits were woken by the journal lines the callbacks left (their safety-net
    # poll is 120 s away); the log says so for each.
    assert _trigger_logs(stack).count("KIE called back for task") >= n


def test_the_webhook_key_appears_in_no_log(
    stack: AirflowStack, emu: EmulatorControl, runs: Any, out: Path
) -> None:
    stats = f"http://127.0.0.1:{stack.api_port}/kie/callbacks/_stats"
    if not httpx.get(stats, timeout=15, trust_env=False).json()["accepted"]:  # started alone: make one
        assert _run(stack, runs, out, 1)[1]["state"] == "success"
    needle = stack.webhook_key.encode()
    hits = [str(p) for p in files_containing(stack.home / "logs", needle)]
    hits += [str(p) for p in files_containing(stack.component_logs, needle) if "emulator" not in p.name]
    assert hits == [], f"the webhook key leaked into: {hits}"
    # It is really in play: Airflow holds it (every component gets the same environment), and the receiver
    # accepted callbacks signed with it.
    env = psutil.Process(stack.components["scheduler"].pid).environ()
    assert stack.webhook_key in env["AIRFLOW_CONN_KIE_CALLBACKS"]
    assert httpx.get(stats, timeout=15, trust_env=False).json()["accepted"] > 0
