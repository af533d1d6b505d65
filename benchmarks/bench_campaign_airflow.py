"""Benchmark 3, real-Airflow figure: a campaign of N clips under KIE's limits, run by real Airflow.

The in-process figure (``bench_campaign.py``) plays the operator's code paths with a stand-in for Airflow and
a scaled clock. This one runs them in a real deployment - the e2e suite's ``AirflowStack``
(``tests/e2e/kie_e2e_stack.py``): a fresh PostgreSQL database, LocalExecutor, scheduler, dag processor,
triggerer, api-server - at KIE's real time, since Airflow's own costs (task starts, scheduler loops) do not
scale. The DAG (``benchmarks/dags/kie_bench_campaign.py``) is the set-up ``kie_campaign_fanout``
documents: N mapped ``RunwayGenerateOperator`` tasks, deferrable, ``retries=0``, in a ``kie`` pool of C
slots created with ``include_deferred=True``, and enough worker slots (16) that the pool is the limit. The
operator polls with its default policy.

KIE is the emulator in its own process: 20 submits per 10 s, concurrency cap C, T = 5 s wait + 10 s
queueing + 60 s generating = 75 s. Reported: makespan (the DAG run's start_date -> end_date) / bound, bound
= max(N / (20 per 10 s), ceil(N / C) * T); failed tasks; duplicate paid submissions (paid KIE tasks per
clip beyond the first, from the emulator's task list); 429s; concurrency-cap refusals; and where the pool
slots' time went beyond T, from the task instances (sampled every 0.5 s) and the emulator's task records.

    python benchmarks/bench_campaign_airflow.py            # N=200 (bound 1,500 s; ~30 min)
    python benchmarks/bench_campaign_airflow.py --n 60     # bound 450 s (~10 min)
    python benchmarks/bench_campaign_airflow.py --quick    # N=30, bound 225 s (~6 min)
"""

from __future__ import annotations

import argparse
import collections
import math
import secrets
import sys
import time
from typing import Any

import benchkit

TARGET_RATIO = 1.10
DAG_FILE, DAG_ID = "kie_bench_campaign.py", "kie_bench_campaign"
KIE_WAIT_S, KIE_QUEUEING_S = 5.0, 10.0
RATE_LIMIT, RATE_WINDOW_S = 20, 10.0


def emulator_config(args: argparse.Namespace) -> dict[str, Any]:
    """KIE's limits and a T-second timeline, at real time."""
    return {
        "time_scale": 1.0,
        "rate_limit": RATE_LIMIT,
        "rate_window_s": RATE_WINDOW_S,
        "concurrency_cap": args.cap,
        "initial_credits": 10**9,
        "timeline": {"wait_s": KIE_WAIT_S, "queueing_s": KIE_QUEUEING_S, "generating_s": args.generating},
    }


def bound_s(args: argparse.Namespace) -> float:
    t = KIE_WAIT_S + KIE_QUEUEING_S + args.generating
    return max(args.n / (RATE_LIMIT / RATE_WINDOW_S), math.ceil(args.n / args.cap) * t)


def run_campaign(stack: Any, emu: benchkit.EmulatorProcess, args: argparse.Namespace) -> dict[str, Any]:
    """Create the pool, trigger the campaign, wait for it, and measure it."""
    pool = {"name": "kie", "slots": args.cap, "description": "KIE concurrency", "include_deferred": True}
    stack.call("POST", "/pools", json=pool)
    run_id = f"bench__campaign__{secrets.token_hex(3)}"
    emu.reset()
    sampler = benchkit.TaskInstanceSampler(stack.db, DAG_ID, run_id).start()
    cpu_before = benchkit.machine_cpu_ticks()
    try:
        stack.trigger(DAG_ID, run_id, {})
        run = benchkit.wait_dag_run(stack, DAG_ID, run_id, timeout=3 * bound_s(args) + 600, sampler=sampler)
    finally:
        sampler.stop()
    busy = benchkit.machine_busy_cores(cpu_before, benchkit.machine_cpu_ticks())
    rows = benchkit.task_instance_rows(stack.db, DAG_ID, run_id)
    started, ended = benchkit.epoch(run["start_date"]), benchkit.epoch(run["end_date"])
    stats, tasks = emu.stats(), emu.tasks()
    paid = [t for t in tasks if not t["refunded"]]
    per_prompt = collections.Counter(t["prompt"] for t in paid)
    return {
        "state": run["state"],
        "makespan": ended - started,
        "bound": bound_s(args),
        "waves": math.ceil(args.n / args.cap),
        "failed": sum(r["state"] != "success" for r in rows),
        "tasks": len(rows),
        "duplicates": sum(count - 1 for count in per_prompt.values()),
        "paid": stats["paid_submissions"],
        "rate_limited": stats["rate_limited"],
        "cap_refusals": stats["refunded_submissions"],
        "status_calls": stats["calls_by_endpoint"].get("/api/v1/runway/record-detail", 0),
        "max_pool_held": sampler.max_in(benchkit.POOL_STATES),
        "max_running": sampler.max_in(("running",)),
        "busy_cores": busy,
        "failures": benchkit.failure_reasons(stack, DAG_ID, run_id, "generate", rows),
        **slot_time(rows, sampler, paid, args.cap, started),
    }


def slot_time(
    rows: list[dict[str, Any]],
    sampler: benchkit.TaskInstanceSampler,
    paid: list[dict[str, Any]],
    cap: int,
    started: float,
) -> dict[str, Any]:
    """Where a pool slot's time goes beyond KIE's T, per clip, and the KIE slots left idle.

    A clip holds its pool slot from its first queueing to its end; KIE's slot only from KIE accepting it to
    KIE finishing it. The difference is Airflow's cost per clip (a worker start and the submit before, the
    trigger's detection and a second worker start after), and every wave of C clips pays it once.
    """
    by_index = {row["map_index"]: row for row in rows}
    before, detect, after = [], [], []
    for task in paid:
        index = int(task["prompt"].split(" clip ")[1][:4])
        row, first = by_index.get(index), sampler.first_start.get(index)
        if row is None or row["state"] != "success":
            continue
        if first is not None:
            before.append(task["created_at"] - first[0])
        detect.append(row["scheduled_dttm"] - task["done_at"])
        after.append(row["end_date"] - row["scheduled_dttm"])
    return {
        "queued_to_accepted": _mean(before),
        "first_queued_to_running": benchkit.median([s - q for q, s in sampler.first_start.values()]),
        "kie_done_to_event": _mean(detect),
        "event_to_done": _mean(after),
        "pool_free_while_waiting_s": sampler.slot_seconds(benchkit.POOL_STATES, cap, while_waiting=True)
        / cap,
        "kie_idle_while_waiting_s": kie_idle_slot_s(paid, cap, started) / cap,
    }


def kie_idle_slot_s(paid: list[dict[str, Any]], cap: int, started: float) -> float:
    """KIE slot-seconds left unused while some clip had still to be accepted (until the last acceptance)."""
    last_accept = max((t["created_at"] for t in paid), default=started)
    edges = sorted([(t["created_at"], 1) for t in paid] + [(t["done_at"], -1) for t in paid])
    idle, active, previous = 0.0, 0, started
    for at, delta in edges:
        if at > last_accept:
            break
        idle += max(0, cap - active) * (at - previous)
        active, previous = active + delta, at
    return idle


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def print_tables(r: dict[str, Any], args: argparse.Namespace) -> None:
    benchkit.table(
        "Campaign under KIE's limits, real Airflow (seconds; LocalExecutor, PostgreSQL, KIE real time)",
        [
            "N",
            "C",
            "state",
            "makespan s",
            "bound s",
            "makespan / bound",
            "failed",
            "duplicate paid",
            "429s",
            "cap refusals",
            "status calls",
            "max pool slots held",
            "max running",
            "machine busy cores",
        ],
        [
            [
                args.n,
                args.cap,
                r["state"],
                r["makespan"],
                r["bound"],
                r["makespan"] / r["bound"],
                r["failed"],
                r["duplicates"],
                r["rate_limited"],
                r["cap_refusals"],
                r["status_calls"],
                r["max_pool_held"],
                r["max_running"],
                r["busy_cores"],
            ]
        ],
    )
    benchkit.table(
        "Where the pool slots' time went (seconds; means per successful clip unless said)",
        [
            "(makespan - bound) / waves",
            "median first queued -> running (hand-off)",
            "first queued -> accepted by KIE",
            "KIE done -> trigger event",
            "trigger event -> task done",
            "pool slot-s free while clips waited / C",
            "KIE slot-s idle while clips waited / C",
        ],
        [
            [
                (r["makespan"] - r["bound"]) / r["waves"],
                r["first_queued_to_running"],
                r["queued_to_accepted"],
                r["kie_done_to_event"],
                r["event_to_done"],
                r["pool_free_while_waiting_s"],
                r["kie_idle_while_waiting_s"],
            ]
        ],
    )
    for reason in r["failures"][:5]:
        print(f"failed task {reason}")
    ok = r["makespan"] / r["bound"] <= TARGET_RATIO and r["failed"] == 0 and r["duplicates"] == 0
    benchkit.table(
        "Target: <= 1.10 x the bound, with 0 failures and 0 duplicate submissions",
        ["scenario", "makespan / bound", "failed", "duplicate paid", "target"],
        [
            [
                "real Airflow, pool of C",
                r["makespan"] / r["bound"],
                r["failed"],
                r["duplicates"],
                benchkit.verdict(ok),
            ]
        ],
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="clips in the campaign")
    parser.add_argument("--cap", type=int, default=10, help="KIE concurrency cap C (and the pool size)")
    parser.add_argument(
        "--generating", type=float, default=60.0, help="KIE seconds generating (T = 15 + this)"
    )
    parser.add_argument("--slots", type=int, default=16, help="worker slots ([core] parallelism)")
    parser.add_argument("--quick", action="store_true", help="N=30")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy Airflow's task and component logs here")
    args = parser.parse_args()
    if args.quick:
        args.n = 30
    return args


def main() -> int:
    args = parse_args()
    print(benchkit.machine_line())
    print(
        f"campaign (real Airflow): N={args.n}, C={args.cap}, T={15 + args.generating:.0f} s (wait 5, "
        f"queueing 10, generating {args.generating:.0f}), 20 submits per 10 s, KIE real time; pool 'kie' of "
        f"{args.cap} slots with include_deferred; {args.slots} worker slots; operator's default polling; "
        f"bound {bound_s(args):.0f} s",
        flush=True,
    )
    env = {"KIE_BENCH_CAMPAIGN_CLIPS": str(args.n)}
    with (
        benchkit.emulator_process(**emulator_config(args)) as emu,
        benchkit.real_airflow(emu, [DAG_FILE], [DAG_ID], args.slots, env, keep_logs=args.keep_logs) as stack,
    ):
        started = time.monotonic()
        print("running the campaign ...", flush=True)
        result = run_campaign(stack, emu, args)
        print(f"  done in {time.monotonic() - started:.0f} s: {result['state']}", flush=True)
    print_tables(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
