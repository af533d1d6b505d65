"""Faults injected into a running deployment: killed processes and a misbehaving KIE.

Under every fault the suite checks the three promises of the provider: each clip is paid for exactly once
(the emulator's ``paid_submissions``), no partial file is left at the destination, and every failure that
surfaces says why in the task log.

Four tests kill or fail a try and watch the *retry*. On Airflow 3.3 the retry finds what the earlier try saved
in ``task_state_store`` (the KIE task id, the submit marker). Older minors have no store, and there each of
these tests asserts the documented fallback instead (README, "Supported versions"): the retry warns that it
cannot know what the earlier try paid for and submits a new clip, so that clip is paid for twice.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from .kie_e2e_stack import (
    HAS_TASK_STATE_STORE,
    AirflowStack,
    EmulatorControl,
    check_mp4,
    check_png,
    partial_files,
    wait_for,
)

pytestmark = pytest.mark.e2e

CAMPAIGN = "kie_campaign_fanout"
DEFERRABLE = "kie_e2e_deferrable"  # one clip, retries=1 after 2 s (tests/e2e/dags/kie_e2e_retry.py)
BLOCKING = "kie_e2e_blocking"
GENERATE = "/api/v1/runway/generate"
RECORD = "/api/v1/runway/record-detail"
FIFTEEN_DAYS = 15 * 24 * 3600
#: What a retry logs on Airflow < 3.3 before it submits afresh (airflow_provider_kie/lifecycle/durable.py).
NO_STORE_WARNING = "This Airflow has no task_state_store (Airflow 3.3 added it)"


def campaign(runs, out: Path, name: str, prompts: list[str], ratios: list[str], poll: float = 1) -> str:
    conf = {
        "campaign": name,
        "prompts": prompts,
        "aspect_ratios": ratios,
        "output_root": str(out),
        "poll_interval": poll,
    }
    return runs.trigger(CAMPAIGN, conf, label=name)


def one_clip(runs, out: Path, dag_id: str, prompt: str, poll: float = 1) -> str:
    return runs.trigger(dag_id, {"prompt": prompt, "output_root": str(out), "poll_interval": poll})


def check_e2e_clip(
    stack: AirflowStack, emu: EmulatorControl, dag_id: str, run_id: str, out: Path, paid: int = 1
) -> dict:
    """A one-clip e2e DAG run that ended well: stored once, intact, paid ``paid`` times (once, unless the
    test shows Airflow < 3.3's fallback: a retry that submitted afresh, whose clip is the one stored)."""
    result = stack.xcom(dag_id, run_id, "generate")
    assert result["state"] == "succeeded", result
    assert Path(result["video_path"]) == out / "e2e" / "clip.mp4"
    check_mp4(result["video_path"])
    check_png(result["cover_path"])
    assert stack.xcom(dag_id, run_id, "generate", key="kie_task_id") == result["kie_task_id"]
    stats = emu.stats()
    assert stats["paid_submissions"] == paid, stats
    task_ids = [t["task_id"] for t in emu.tasks()]
    assert len(task_ids) == paid and result["kie_task_id"] in task_ids, (task_ids, result)
    assert partial_files(out) == []
    return result


def campaign_dir(out: Path, name: str) -> Path:
    return out / "campaigns" / name


def manifest_rows(out: Path, name: str) -> list[dict[str, Any]]:
    folder = campaign_dir(out, name)
    rows = json.loads((folder / "manifest.json").read_text())
    with (folder / "manifest.csv").open(newline="") as handle:
        assert [dict(r) for r in csv.DictReader(handle)] == [{k: str(v) for k, v in r.items()} for r in rows]
    return list(rows)


def running_pid(
    stack: AirflowStack, dag_id: str, run_id: str, task_id: str, map_index: int, tries: int
) -> int:
    """The pid of the task process of try ``tries``, once it runs."""

    def pid() -> int | None:
        ti = stack.find_ti(dag_id, run_id, task_id, map_index)
        if ti and ti["state"] == "running" and ti["try_number"] == tries and ti["pid"]:
            return int(ti["pid"])
        return None

    return wait_for(pid, 60, f"{task_id}[{map_index}] try {tries} to run", interval=0.2)


def kill_task_process(pid: int) -> None:
    """``kill -9`` the task process (the supervisor above it lives on and reports the death)."""
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(gone, 10, f"task process {pid} to die")


def check_one_clip(stack: AirflowStack, emu: EmulatorControl, run_id: str, out: Path, name: str) -> dict:
    """A one-clip campaign that ended well: stored once, intact, paid once, manifest says so."""
    result = stack.xcom(CAMPAIGN, run_id, "generate", 0)
    assert result["state"] == "succeeded", result
    folder = campaign_dir(out, name)
    assert Path(result["video_path"]) == folder / "p01-16x9.mp4"
    check_mp4(result["video_path"])
    check_png(result["cover_path"])
    assert stack.xcom(CAMPAIGN, run_id, "summarize") == {
        "manifest": str(folder / "manifest.json"),
        "succeeded": 1,
        "failed": 0,
    }
    [row] = manifest_rows(out, name)
    assert row["status"] == "succeeded" and row["kie_task_id"] == result["kie_task_id"]
    stats = emu.stats()
    assert stats["paid_submissions"] == 1, stats
    assert [t["task_id"] for t in emu.tasks()] == [result["kie_task_id"]]
    assert partial_files(out) == []
    return result


# ---------------------------------------------------------------------------------------------------------
# Killed processes
# ---------------------------------------------------------------------------------------------------------
def test_triggerer_kill9_mid_wait_then_restart(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """Six clips wait; the triggerer's process group is killed -9, then restarted: each stored once."""
    prompts = ["A sneaker bouncing on a neon rooftop", "Rain sliding off a waterproof jacket"]
    ratios = ["16:9", "9:16", "1:1"]
    run_id = campaign(runs, out, "triggerer-kill", prompts, ratios)

    def mid_wait() -> list[int]:
        """Clips the triggerer is really waiting for: their trigger runs (it logged) and KIE is not done."""
        stack.snapshot_triggers()
        states = {t["task_id"]: t["state"] for t in emu.tasks()}
        waiting = []
        for index in range(6):
            folder = stack.task_log_dir(CAMPAIGN, run_id, "generate", index)
            kie_task_id = stack.xcom(CAMPAIGN, run_id, "generate", index, key="kie_task_id")
            if (
                any(folder.glob("attempt=1.log.trigger.*.log"))
                and kie_task_id
                and states.get(kie_task_id) not in (None, "success", "fail")
            ):
                waiting.append(index)
        return waiting if len(waiting) >= 2 else []

    waiting = wait_for(mid_wait, 90, "two clips to be waited for in the triggerer", interval=0.2)
    at_kill = {t["task_id"]: t["state"] for t in emu.tasks()}
    stack.kill_component("triggerer")
    killed_at = time.monotonic()
    generate_states = {
        ti["state"] for ti in stack.task_instances(CAMPAIGN, run_id) if ti["task_id"] == "generate"
    }
    assert "deferred" in generate_states, generate_states
    time.sleep(2)  # long enough for the orphaned triggers to be seen without a live triggerer
    stack.start_component("triggerer")

    run = runs.wait(CAMPAIGN, run_id)
    states = stack.ti_states(CAMPAIGN, run_id)
    assert run["state"] == "success", states
    generate = [ti for ti in stack.task_instances(CAMPAIGN, run_id) if ti["task_id"] == "generate"]
    assert len(generate) == 6
    assert all(ti["state"] == "success" and ti["try_number"] == 1 for ti in generate), generate
    folder = campaign_dir(out, "triggerer-kill")
    results = [stack.xcom(CAMPAIGN, run_id, "generate", i) for i in range(6)]
    for result in results:
        check_mp4(result["video_path"])
        check_png(result["cover_path"])
    assert sorted(Path(r["video_path"]).name for r in results) == sorted(
        f"p{p:02d}-{r.replace(':', 'x')}.mp4" for p in (1, 2) for r in ratios
    )
    assert stack.xcom(CAMPAIGN, run_id, "summarize") == {
        "manifest": str(folder / "manifest.json"),
        "succeeded": 6,
        "failed": 0,
    }
    rows = manifest_rows(out, "triggerer-kill")
    assert [r["status"] for r in rows] == ["succeeded"] * 6
    assert {r["kie_task_id"] for r in rows} == {r["kie_task_id"] for r in results}

    stats = emu.stats()
    assert stats["paid_submissions"] == 6, stats
    assert stats["submissions_received"] == 6, stats
    assert partial_files(out) == []
    # Clips the killed triggerer was waiting for were finished by the new one: trigger logs from two jobs.
    for index in waiting:
        trigger_logs = list(stack.task_log_dir(CAMPAIGN, run_id, "generate", index).glob("*.log.trigger.*"))
        assert len(trigger_logs) == 2, f"generate[{index}] was not handed over: {trigger_logs}"
    print(
        f"\n[e2e] triggerer killed -9 while waiting for clips {waiting} "
        f"(KIE states {sorted(at_kill.values())}); handed over to the new triggerer; "
        f"run finished {time.monotonic() - killed_at:.1f} s after the kill"
    )


def test_task_killed_mid_submit_stops_the_retry_instead_of_paying_again(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """The submit hangs at KIE; the task process is killed -9 mid-request. The provider cannot know whether
    KIE created (and charged for) a clip, so the retry finds the submit marker and fails clearly instead of
    paying again (resubmit_on_unknown_outcome=True would accept that risk).

    Airflow < 3.3 has no store for the marker: the retry warns that it cannot know and submits again."""
    emu.set_faults([{"kind": "delay", "endpoint": GENERATE, "method": "POST", "end_call": 1, "delay_s": 6}])
    run_id = one_clip(runs, out, DEFERRABLE, "A kite over a windy beach")
    wait_for(lambda: emu.calls(GENERATE) >= 1, 60, "the first submit to reach KIE", interval=0.1)
    pid = running_pid(stack, DEFERRABLE, run_id, "generate", -1, tries=1)
    kill_task_process(pid)
    killed_at = time.monotonic()

    run = runs.wait(DEFERRABLE, run_id)
    ti = stack.ti(DEFERRABLE, run_id, "generate")
    first = stack.task_log(DEFERRABLE, run_id, "generate", attempt=1)
    second = stack.task_log(DEFERRABLE, run_id, "generate", attempt=2)
    assert "Submitted KIE" not in first and "signal" in first.lower(), first  # the kill is in the log
    # The held request is answered (or dropped) delay_s after it arrived; only then is the count final.
    time.sleep(max(0.0, 6.5 - (time.monotonic() - killed_at)))
    stats = emu.stats()
    assert stats["faults_injected"] == {"delay": 1}, stats
    assert partial_files(out) == []
    if HAS_TASK_STATE_STORE:
        assert run["state"] == "failed", stack.ti_states(DEFERRABLE, run_id)
        assert (ti["state"], ti["try_number"]) == ("failed", 2)
        assert "Submitted KIE" not in second
        assert "saved no KIE task id" in second and "resubmit_on_unknown_outcome" in second, second
        assert stats["submissions_received"] <= 1 and stats["paid_submissions"] <= 1, stats  # never twice
        return
    # Airflow < 3.3, the documented fallback: no marker, so the retry submits a second time and stores that
    # clip. The killed try's request, held past its client's death, is dropped unprocessed by the emulator
    # (a request KIE did act on would be a second payment: the risk the README states for 3.1 and 3.2).
    assert run["state"] == "success", stack.ti_states(DEFERRABLE, run_id)
    assert (ti["state"], ti["try_number"]) == ("success", 2)
    assert NO_STORE_WARNING in second and "Submitted KIE" in second, second
    assert "saved no KIE task id" not in second
    assert emu.calls(GENERATE) == 2, stats
    check_e2e_clip(stack, emu, DEFERRABLE, run_id, out, paid=stats["paid_submissions"])
    assert stats["paid_submissions"] == 1, stats


def test_task_killed_mid_wait_reconnects_to_saved_clip(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """A blocking wait in the worker is killed -9; the retry reads task_state_store and reconnects.

    Airflow < 3.3: the id was in the XCom only, which the retry starts without; it warns and submits anew."""
    run_id = one_clip(runs, out, BLOCKING, "A paper boat drifting down a rain gutter", poll=0.5)

    def saved() -> str | None:
        return stack.saved_kie_task_id(BLOCKING, run_id, "generate")

    kie_task_id = wait_for(saved, 90, "the KIE task id to be saved", interval=0.2)
    pid = running_pid(stack, BLOCKING, run_id, "generate", -1, tries=1)
    state_at_kill = next(t["state"] for t in emu.tasks() if t["task_id"] == kie_task_id)
    kill_task_process(pid)
    assert state_at_kill not in ("success", "fail"), "the clip ended before the kill: not mid-wait"

    run = runs.wait(BLOCKING, run_id)
    assert run["state"] == "success", stack.ti_states(BLOCKING, run_id)
    ti = stack.ti(BLOCKING, run_id, "generate")
    assert (ti["state"], ti["try_number"]) == ("success", 2)
    second = stack.task_log(BLOCKING, run_id, "generate", attempt=2)
    if not HAS_TASK_STATE_STORE:
        assert NO_STORE_WARNING in second and "Submitted KIE" in second, second
        assert "Reconnecting to KIE task" not in second
        result = check_e2e_clip(stack, emu, BLOCKING, run_id, out, paid=2)  # the fallback's second payment
        assert result["kie_task_id"] != kie_task_id
        print(f"\n[e2e] Airflow < 3.3: killed mid-wait with the clip {state_at_kill}; the retry paid again")
        return
    assert "Submitted KIE" not in second
    resumed = (
        f"Reconnecting to KIE task {kie_task_id} from an earlier try" in second
        or f"KIE task {kie_task_id} already succeeded in an earlier try" in second
    )
    assert resumed, second
    result = check_e2e_clip(stack, emu, BLOCKING, run_id, out)
    assert result["kie_task_id"] == kie_task_id
    print(
        f"\n[e2e] killed mid-wait with the clip {state_at_kill}; retry: "
        f"{'reconnected' if 'Reconnecting' in second else 'found it finished'}"
    )


def test_task_killed_mid_download_stores_without_resubmitting(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """Deferrable: the trigger fired, the worker is downloading when killed -9; the retry only downloads.

    Airflow < 3.3: nothing tells the retry about the finished clip; it warns and pays for a new one."""
    emu.set_faults(
        [{"kind": "delay", "endpoint": "/media/*.mp4", "method": "GET", "end_call": 1, "delay_s": 15}]
    )
    run_id = one_clip(runs, out, DEFERRABLE, "A lighthouse beam sweeping fog")
    wait_for(lambda: emu.calls("/media/*") >= 1, 90, "the download to start", interval=0.1)
    kie_task_id = stack.saved_kie_task_id(DEFERRABLE, run_id, "generate")
    assert kie_task_id, "no KIE task id saved before the download"
    pid = running_pid(stack, DEFERRABLE, run_id, "generate", -1, tries=1)
    kill_task_process(pid)

    run = runs.wait(DEFERRABLE, run_id)
    assert run["state"] == "success", stack.ti_states(DEFERRABLE, run_id)
    ti = stack.ti(DEFERRABLE, run_id, "generate")
    assert (ti["state"], ti["try_number"]) == ("success", 2)
    second = stack.task_log(DEFERRABLE, run_id, "generate", attempt=2)
    if not HAS_TASK_STATE_STORE:
        assert NO_STORE_WARNING in second and "Submitted KIE" in second, second
        assert "already succeeded in an earlier try" not in second
        result = check_e2e_clip(stack, emu, DEFERRABLE, run_id, out, paid=2)  # the fallback's second payment
        assert result["kie_task_id"] != kie_task_id
        return
    assert f"KIE task {kie_task_id} already succeeded in an earlier try" in second, second
    assert "Submitted KIE" not in second
    assert check_e2e_clip(stack, emu, DEFERRABLE, run_id, out)["kie_task_id"] == kie_task_id


# ---------------------------------------------------------------------------------------------------------
# A misbehaving KIE
# ---------------------------------------------------------------------------------------------------------
def test_429_storm_then_455_maintenance_window(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """429s exhaust the client's retries, so the operator backs off deferred; then KIE is in maintenance."""
    # Three 429s use up the client's three submit attempts: the operator backs off, deferred. Then KIE goes
    # into maintenance: two 455s on the next submit (the client's own retries ride them out) and two on the
    # poller's status reads.
    limited = {"kind": "rate_limited", "endpoint": GENERATE, "method": "POST", "retry_after_s": 1}
    emu.set_faults(
        [
            {**limited, "end_call": 3},
            {"kind": "maintenance", "endpoint": GENERATE, "method": "POST", "start_call": 4, "end_call": 5},
            {"kind": "maintenance", "endpoint": RECORD, "method": "GET", "end_call": 2},
        ]
    )
    run_id = campaign(runs, out, "storm", ["Hot air balloons at sunrise"], ["16:9"])
    run = runs.wait(CAMPAIGN, run_id)
    assert run["state"] == "success", stack.ti_states(CAMPAIGN, run_id)
    ti = stack.ti(CAMPAIGN, run_id, "generate", 0)
    # The backoff was a deferral (no slot held, no Airflow retry), not a failure.
    assert (ti["state"], ti["try_number"]) == ("success", 1)
    log = stack.task_log(CAMPAIGN, run_id, "generate", 0)
    assert "KIE is at capacity" in log and "Too many requests" in log, log
    assert log.count("KIE is at capacity") == 1, log  # exactly one deferred backoff
    assert "undergoing maintenance" in log, log  # the poller's maintenance warnings, in the trigger log
    check_one_clip(stack, emu, run_id, out, "storm")
    stats = emu.stats()
    assert stats["faults_injected"] == {"rate_limited": 3, "maintenance": 4}, stats
    assert stats["submissions_received"] == 1, stats


def test_bursts_of_500s_and_dropped_connections_on_reads(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """Five status reads in a row fail (500s, dropped connections): the wait backs off and the clip lands.

    The faults hit the first five reads, so all five are met whatever the clip's length: the worker stores the
    clip from the trigger's record and reads none itself.
    """
    emu.set_faults(
        [
            {"kind": "server_error", "endpoint": RECORD, "method": "GET", "end_call": 2},
            {"kind": "drop_connection", "endpoint": RECORD, "method": "GET", "start_call": 3, "end_call": 3},
            {"kind": "server_error", "endpoint": RECORD, "method": "GET", "start_call": 4, "end_call": 4},
            {"kind": "drop_connection", "endpoint": RECORD, "method": "GET", "start_call": 5, "end_call": 5},
        ]
    )
    run_id = campaign(runs, out, "read-faults", ["A cat chasing a laser dot"], ["16:9"], poll=0.5)
    run = runs.wait(CAMPAIGN, run_id)
    assert run["state"] == "success", stack.ti_states(CAMPAIGN, run_id)
    ti = stack.ti(CAMPAIGN, run_id, "generate", 0)
    assert (ti["state"], ti["try_number"]) == ("success", 1)
    log = stack.task_log(CAMPAIGN, run_id, "generate", 0)
    assert "Polling KIE task" in log and "failed" in log, log
    assert "Server error" in log, log
    check_one_clip(stack, emu, run_id, out, "read-faults")
    stats = emu.stats()
    assert stats["faults_injected"] == {"server_error": 2 + 1, "drop_connection": 2}, stats


def test_truncated_downloads_and_expired_links_are_fetched_again(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """The video arrives cut short twice and the cover link answers 403: fresh links, intact files."""
    emu.set_faults(
        [
            {"kind": "truncate", "endpoint": "/media/*.mp4", "method": "GET", "end_call": 2, "fraction": 0.5},
            {
                "kind": "server_error",
                "endpoint": "/media/*.png",
                "method": "GET",
                "end_call": 1,
                "status": 403,
            },
        ]
    )
    run_id = campaign(runs, out, "media-faults", ["Waves crashing on black sand"], ["16:9"])
    run = runs.wait(CAMPAIGN, run_id)
    assert run["state"] == "success", stack.ti_states(CAMPAIGN, run_id)
    ti = stack.ti(CAMPAIGN, run_id, "generate", 0)
    assert (ti["state"], ti["try_number"]) == ("success", 1)
    log = stack.task_log(CAMPAIGN, run_id, "generate", 0)
    assert log.count("Download of") >= 3, log
    assert "bytes" in log and "HTTP 403" in log, log
    assert "Got a fresh download link" in log, log
    check_one_clip(stack, emu, run_id, out, "media-faults")
    stats = emu.stats()
    assert stats["faults_injected"] == {"truncate": 2, "server_error": 1}, stats
    assert stats["download_links"] == 3, stats


def test_persistently_truncated_download_fails_clearly_and_never_resubmits(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """Every download is cut short: both tries fail saying so; the retry reconnects; no partial file.

    Airflow < 3.3: the retry cannot reconnect; it warns and pays for a second clip that fails the same way."""
    emu.set_faults([{"kind": "truncate", "endpoint": "/media/*", "method": "GET", "fraction": 0.5}])
    run_id = one_clip(runs, out, DEFERRABLE, "Fireflies in a jar")
    run = runs.wait(DEFERRABLE, run_id)
    assert run["state"] == "failed"
    ti = stack.ti(DEFERRABLE, run_id, "generate")
    assert (ti["state"], ti["try_number"]) == ("failed", 2)
    task_ids = [t["task_id"] for t in emu.tasks()]
    for attempt in (1, 2):
        log = stack.task_log(DEFERRABLE, run_id, "generate", attempt=attempt)
        # Half of the task's own clip (the emulator renders each one; its size is the render's).
        cut = re.search(r"received (\d+) bytes, expected (\d+)", log)
        assert "Could not store" in log and cut and int(cut[1]) == int(cut[2]) // 2, log
    second = stack.task_log(DEFERRABLE, run_id, "generate", attempt=2)
    assert not (out / "e2e").exists() or list((out / "e2e").iterdir()) == []
    assert partial_files(out) == []
    stats = emu.stats()
    if not HAS_TASK_STATE_STORE:
        assert NO_STORE_WARNING in second and "Submitted KIE" in second, second
        assert len(task_ids) == 2, task_ids
        # The retry's own clip is the one its XCom names (a retry starts with no XComs).
        assert stack.xcom(DEFERRABLE, run_id, "generate", key="kie_task_id") == task_ids[1]
        assert stats["paid_submissions"] == 2 and stats["submissions_received"] == 2, stats
        return
    [kie_task_id] = task_ids
    assert f"KIE task {kie_task_id} already succeeded in an earlier try" in second, second
    assert "Submitted KIE" not in second
    # A retry starts with no XComs: the resumed try must publish the KIE task id again (it was paid for).
    assert stack.xcom(DEFERRABLE, run_id, "generate", key="kie_task_id") == kie_task_id
    assert stats["paid_submissions"] == 1 and stats["submissions_received"] == 1, stats


def test_expired_media_fails_clearly_and_never_resubmits(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """KIE deleted the clip's media (14-day retention) before it was stored: a clear failure, no new clip."""
    run_id = campaign(runs, out, "expired", ["Autumn leaves in a whirlwind"], ["16:9"])

    def deferred() -> bool:
        ti = stack.find_ti(CAMPAIGN, run_id, "generate", 0)
        return ti is not None and ti["state"] == "deferred"

    wait_for(deferred, 90, "the clip to be waited for in the triggerer", interval=0.2)
    emu.advance(FIFTEEN_DAYS)
    run = runs.wait(CAMPAIGN, run_id)
    states = stack.ti_states(CAMPAIGN, run_id)
    assert states == {("build_matrix", -1): "success", ("generate", 0): "failed", ("summarize", -1): "failed"}
    assert run["state"] == "failed"
    log = stack.task_log(CAMPAIGN, run_id, "generate", 0)
    assert "KIE deleted its media (kept 14 days)" in log, log
    assert "1 of 1 clips failed" in stack.task_log(CAMPAIGN, run_id, "summarize")
    [kie_task_id] = [t["task_id"] for t in emu.tasks()]
    [row] = manifest_rows(out, "expired")
    assert row["status"] == "failed" and row["kie_task_id"] == kie_task_id, row
    assert "could not be stored (KIE's media expired)" in row["error"], row
    assert not any(campaign_dir(out, "expired").glob("*.mp4"))
    assert partial_files(out) == []
    stats = emu.stats()
    assert stats["paid_submissions"] == 1 and stats["submissions_received"] == 1, stats
    print(f"\n[e2e] expired media: manifest error {row['error']!r}")


def test_5xx_on_submit_fails_clearly_instead_of_paying_twice(
    stack: AirflowStack, emu: EmulatorControl, runs, out: Path
) -> None:
    """KIE creates the task, then answers 500: the outcome is unknown, so the task fails without a retry."""
    emu.set_faults(
        [{"kind": "server_error", "endpoint": GENERATE, "method": "POST", "end_call": 1, "when": "after"}]
    )
    run_id = campaign(runs, out, "submit-500", ["A snow globe being shaken"], ["16:9"])
    run = runs.wait(CAMPAIGN, run_id)
    states = stack.ti_states(CAMPAIGN, run_id)
    assert states == {("build_matrix", -1): "success", ("generate", 0): "failed", ("summarize", -1): "failed"}
    assert run["state"] == "failed"
    assert stack.ti(CAMPAIGN, run_id, "generate", 0)["try_number"] == 1
    log = stack.task_log(CAMPAIGN, run_id, "generate", 0)
    assert "ended without a clear answer" in log, log
    assert "set resubmit_on_unknown_outcome=True" in log, log
    [row] = manifest_rows(out, "submit-500")
    assert row["status"] == "failed"
    assert "outcome is unknown" in row["error"], row
    stats = emu.stats()
    assert stats["paid_submissions"] == 1 and stats["submissions_received"] == 1, stats
    assert partial_files(out) == []
    print(f"\n[e2e] 5xx on submit: manifest error {row['error']!r} (KIE did create and charge a task)")
