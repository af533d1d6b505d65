"""Benchmark 1's duplicate payment, reproduced: Airflow runs one task instance twice, KIE is paid once.

The mechanism (benchmarks/README.md, "Airflow issues seen"; Airflow 3.3.2's source): the LocalExecutor puts
every queued workload on a multiprocessing pipe its worker processes read one at a time, and with
non-deferrable tasks the scheduler queues far more workloads than there are workers. Once the pipe is full
(36 workloads of 1.45 kB in benchmark 1), the scheduler's next ``put`` blocks until a worker finishes its
task: the scheduler loop, and with it the scheduler job's heartbeat, stands still for a whole wave of tasks
(75 s in benchmark 1). The next orphan check (``[scheduler] orphaned_tasks_check_interval``) then finds its
*own* job's heartbeat older than ``[scheduler] scheduler_health_check_threshold``, marks it failed ("Marked 1
SchedulerJob instances as failed") and resets every task instance that job queued, running ones included
("Reset the following N orphaned TaskInstances"). Each reset gives the task instance a new try and a new id,
with ``retries=0`` too, while the process of the old try is still running: it learns that only at its next
heartbeat. An old try that submits in that window, or whose submit is in flight, pays; it cannot save the
KIE task id (the store answers 404 for its old id) and the new try, finding no id, paid again.

This test forces the same Airflow path without 40 queued tasks: one non-deferrable clip (benchmark 1's own
DAG, ``retries=0``), its submit answered late by the emulator (KIE has taken, and charged for, the clip), and
the scheduler process stopped (``SIGSTOP``) for longer than a lowered ``scheduler_health_check_threshold``
meanwhile, as the full pipe stopped it. The scheduler resets the task instance and runs a second try while the
first one still waits for KIE's answer. The submit marker the first try wrote before its request makes the
second try stop instead of paying again: one payment (the code before the marker paid twice here).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from .conftest import API_KEY, TIMINGS, _metadata_db
from .kie_e2e_stack import (
    HAS_TASK_STATE_STORE,
    REPO_ROOT,
    TERMINAL_RUN_STATES,
    AirflowStack,
    partial_files,
    wait_for,
)

pytestmark = [
    pytest.mark.e2e,
    # The module starts a deployment of its own (counted in the test's time): 25 s on a quiet machine, up to
    # 3 min when other stacks share its 2 cores.
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not HAS_TASK_STATE_STORE, reason="the submit marker lives in task_state_store (Airflow >= 3.3)"
    ),
]

BENCH_DAG = REPO_ROOT / "benchmarks" / "dags" / "kie_bench_worker_slots.py"
DAG_ID = "kie_bench_slots_blocking"  # RunwayGenerateOperator, deferrable=False, retries=0
TASK_ID = "generate"
GENERATE = "/api/v1/runway/generate"
#: The scheduler counts as gone this long after its last heartbeat (Airflow's default: 30 s). Lowered so a
#: short stall does what benchmark 1's 75 s stall did; the scheduler heartbeats every 2 s in the e2e stack.
HEALTH_CHECK_THRESHOLD_S = 8
#: How long the scheduler stands still: past the threshold, with a margin for the heartbeat it writes on
#: waking (benchmark 1's scheduler still found itself stale right after "Heartbeat recovered").
STALL_S = HEALTH_CHECK_THRESHOLD_S + 6
#: KIE answers the paid submit this late (it charged at once): longer than the stall and the reset that
#: follows it, shorter than the client's 30 s read timeout.
SUBMIT_ANSWER_DELAY_S = 27


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    """A deployment of its own: the e2e stack with benchmark 1's DAG (one clip), a scheduler that counts as
    gone after ``HEALTH_CHECK_THRESHOLD_S`` and checks for orphaned tasks every 2 s (default 300 s)."""
    root = tmp_path_factory.mktemp("kie-e2e-duplicate")
    db = _metadata_db(root)
    deployment = AirflowStack(
        root=root,
        db=db,
        api_key=API_KEY,
        extra_env={
            "KIE_BENCH_SLOTS_CLIPS": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": str(HEALTH_CHECK_THRESHOLD_S),
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "2",
        },
        extra_dags=(BENCH_DAG,),
    )
    started = time.monotonic()
    try:
        deployment.start()
        deployment.wait_for_dags([DAG_ID])
        TIMINGS.append(("duplicate: set-up of its own deployment", time.monotonic() - started))
        yield deployment
    finally:
        strays = deployment.stop()
        leftovers = deployment.procs.strays()
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=False)
        mine = [line for line in ps.stdout.splitlines() if str(root) in line]
        if strays or leftovers or mine:
            raise AssertionError(
                "processes outlived teardown:\n" + "\n".join([*strays, *map(str, leftovers), *mine])
            )


def submit_never_came(stack: AirflowStack, run_id: str) -> bool:
    """Fail at once when the run ended before its submit (an overloaded machine can time out the task's
    start at the api-server): nothing to reproduce then."""
    run = stack.run(DAG_ID, run_id)
    if run["state"] in TERMINAL_RUN_STATES:
        raise AssertionError(
            f"the run ended ({run['state']}) before its first submit: {stack.ti_states(DAG_ID, run_id)}\n"
            f"{stack.diagnostics()}"
        )
    return False


def stall(pid: int, seconds: float) -> None:
    """Stop the scheduler process (only it: its LocalExecutor workers and their tasks run on), as a full
    executor pipe stops its loop, then let it go on."""
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_task_instance_run_twice_by_a_stalled_scheduler_pays_once(stack: AirflowStack) -> None:
    emu = stack.emulator
    assert emu is not None
    emu.reset()
    emu.set_faults(
        [
            {
                "kind": "delay",
                "endpoint": GENERATE,
                "method": "POST",
                "end_call": 1,
                "delay_s": SUBMIT_ANSWER_DELAY_S,
                "when": "after",  # processed (and paid) at once, answered late
            }
        ]
    )
    run_id = f"e2e__duplicate__{secrets.token_hex(3)}"
    stack.trigger(DAG_ID, run_id, {})
    try:
        wait_for(
            lambda: emu.calls(GENERATE) >= 1 or submit_never_came(stack, run_id),
            240,
            "the first submit to reach KIE",
            interval=0.2,
            on_timeout=lambda: f"{stack.ti_states(DAG_ID, run_id)}\n{stack.diagnostics()}",
        )
        submitted_at = time.monotonic()
        first = stack.ti(DAG_ID, run_id, TASK_ID, 0)
        assert first["state"] == "running", first
        stall(stack.components["scheduler"].pid, STALL_S)

        run = stack.wait_run(DAG_ID, run_id, timeout=150)
        # KIE's held answer goes out (or is dropped with its client) SUBMIT_ANSWER_DELAY_S after the submit;
        # only then is the count of paid clips final.
        time.sleep(max(0.0, SUBMIT_ANSWER_DELAY_S + 1 - (time.monotonic() - submitted_at)))
    finally:
        stack.fail_run(DAG_ID, run_id)
        emu.clear_faults()

    scheduler_log = stack.components["scheduler"].log.read_text(errors="replace")
    # Airflow ran the task instance twice, retries=0 notwithstanding: the stalled scheduler marked its own job
    # failed and reset the task instance that was running.
    assert "Marked 1 SchedulerJob instances as failed" in scheduler_log, stack.diagnostics()
    assert "Reset the following 1 orphaned TaskInstances" in scheduler_log, stack.diagnostics()
    ti = stack.ti(DAG_ID, run_id, TASK_ID, 0)
    assert ti["try_number"] == first["try_number"] + 1, (first, ti)
    second_log = stack.task_log(DAG_ID, run_id, TASK_ID, 0, attempt=ti["try_number"])
    # The second try found the first try's submit marker without a task id and stopped before paying.
    assert "saved no KIE task id" in second_log and "resubmit_on_unknown_outcome" in second_log, second_log
    assert "Submitted KIE" not in second_log, second_log
    assert (run["state"], ti["state"]) == ("failed", "failed"), (run, ti)

    stats = emu.stats()
    assert emu.calls(GENERATE) == 1, stats
    assert stats["paid_submissions"] == 1, stats  # the code before the marker paid 2 here
    assert stats["faults_injected"] == {"delay": 1}, stats
    assert partial_files(stack.workdir) == []
