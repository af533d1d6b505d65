"""Benchmark 4: polling cost - status calls per clip and detection latency of each poll policy.

Policies: the default ``PollPolicy()`` (which follows KIE's phases: see ``client/polling.py``) against fixed
polling every 5 s, 10 s (the target's reference, and the old default) and 30 s, all with jitter 0.2.

Workload: clips whose generation takes 30, 60, 90, 120, 150 or 180 s (after KIE's 5 s ``wait`` and 10 s
``queueing``), equally many per policy and duration, submitted in random order over an arrival window, each
waited for by the provider's ``RunwayTaskTrigger`` (its own loop, with the policy under test substituted for
the fixed one it builds from ``poll_interval``). Durations outside that spread (15 s and 300 s) are measured
too, as a robustness check, but not pooled. One emulator process per duration (their timelines differ),
all outside the benchmark's event loop.

Detection latency: from the instant KIE's task turned ``success`` (the emulator's ``done_at``) to the
trigger's event. (In Airflow the task then still needs a worker to run ``execute_complete``; that cost is
the same for every policy.) Calls: status requests the trigger made for the clip.

Time scale: the emulator runs KIE's clock ``--scale`` times real time (0.1: a 195 s clip takes 19.5 s), and
each policy is ``policy.scaled(scale)`` - every interval and threshold multiplied by the same factor - so
calls and latencies, reported in KIE seconds (real / scale), are those of the unscaled run. Only fixed costs
(a ~2 ms HTTP round trip, timer resolution) are magnified, by 1/scale: ~0.02 KIE s at 0.1.

    python benchmarks/bench_polling_cost.py          # 40 clips per policy and duration, scale 0.1 (~2 min)
    python benchmarks/bench_polling_cost.py --quick  # 8 clips, scale 0.05 (~1 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import os
import random
import sys
import time
from collections import defaultdict
from typing import Any

import benchkit

SPREAD = (30, 60, 90, 120, 150, 180)
OUTSIDE = (15, 300)
WAIT_S, QUEUEING_S = 5.0, 10.0


def policies() -> dict[str, Any]:
    from airflow_provider_kie.client import PollPolicy

    return {
        "default": PollPolicy(),
        "fixed 5 s": PollPolicy(interval=5.0),
        "fixed 10 s": PollPolicy(interval=10.0),
        "fixed 30 s": PollPolicy(interval=30.0),
    }


async def run_clips(
    args: argparse.Namespace, emulators: dict[int, benchkit.EmulatorProcess]
) -> list[dict[str, Any]]:
    from airflow_provider_kie.client import AsyncKieClient, PollPolicy, RetryPolicy, RunwayGenerateRequest
    from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

    # The trigger builds its schedule in poll_policy() from its poll_interval; hand it the (scaled) policy
    # under test instead, per clip (a context variable: each clip runs in its own asyncio task).
    current: contextvars.ContextVar[PollPolicy] = contextvars.ContextVar("policy")

    class TriggerUnderTest(RunwayTaskTrigger):
        def poll_policy(self) -> PollPolicy:
            return current.get()

    calls: dict[str, int] = defaultdict(int)
    original_get_task = AsyncKieClient.get_task

    async def counting_get_task(self: AsyncKieClient, task_id: str, *a: Any, **kw: Any) -> Any:
        calls[task_id] += 1
        return await original_get_task(self, task_id, *a, **kw)

    AsyncKieClient.get_task = counting_get_task  # type: ignore[method-assign]

    scaled = {name: policy.scaled(args.scale) for name, policy in policies().items()}
    durations = [*SPREAD, *OUTSIDE]
    plan = [
        (name, g)
        for name in scaled
        for g in durations
        for _ in range(args.clips if g in SPREAD else args.outside_clips)
    ]
    random.Random(args.seed).shuffle(plan)
    request = RunwayGenerateRequest(prompt="polling", duration=5, quality="720p", aspect_ratio="16:9")
    submitters = {
        g: AsyncKieClient(benchkit.API_KEY, base_url=emu.base_url, retry=RetryPolicy.none())
        for g, emu in emulators.items()
    }
    results: list[dict[str, Any]] = []
    monitor = benchkit.LoopLagMonitor(0.02)
    monitor.start()

    async def one(name: str, g: int) -> None:
        task_id = await submitters[g].runway_generate(request)
        current.set(scaled[name])
        trigger = TriggerUnderTest(kie_task_id=task_id, kie_conn_id=f"kie_g{g}")
        async for event in trigger.run():
            results.append(
                {
                    "policy": name,
                    "g": g,
                    "task_id": task_id,
                    "status": event.payload["status"],
                    "event_at": time.time(),
                }
            )

    window = args.arrivals * args.scale
    started = time.perf_counter()
    tasks = []
    for i, (name, g) in enumerate(plan):
        await asyncio.sleep(max(0.0, started + window * i / len(plan) - time.perf_counter()))
        tasks.append(asyncio.create_task(one(name, g)))
    await asyncio.gather(*tasks)
    await monitor.stop()
    for client in submitters.values():
        await client.aclose()
    for result in results:
        result["calls"] = calls[result["task_id"]]
    lags = monitor.lags()
    print(
        f"event-loop lag during the run: p99 {benchkit.percentile(lags, 99) * 1000:.1f} ms, "
        f"max {max(lags, default=0) * 1000:.1f} ms (≈{benchkit.percentile(lags, 99) / args.scale:.2f} KIE s)"
    )
    return results


def summarise(results: list[dict[str, Any]], names: list[str], gs: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        rows = [r for r in results if r["policy"] == name and r["g"] in gs]
        lat = [r["latency_kie"] for r in rows]
        out[name] = {
            "clips": len(rows),
            "calls": sum(r["calls"] for r in rows) / max(1, len(rows)),
            "median": benchkit.median(lat),
            "mean": sum(lat) / max(1, len(lat)),
            "p90": benchkit.percentile(lat, 90),
            "max": max(lat, default=float("nan")),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=40, help="clips per policy and duration in the spread")
    parser.add_argument("--outside-clips", type=int, default=8, help="clips per policy at 15 s and 300 s")
    parser.add_argument("--scale", type=float, default=0.1, help="real seconds per KIE second")
    parser.add_argument("--arrivals", type=float, default=800.0, help="KIE seconds over which clips start")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", default=None, help="also write every clip's figures to this file")
    parser.add_argument("--quick", action="store_true", help="8 clips per cell, 3 outside, scale 0.05")
    args = parser.parse_args()
    if args.quick:
        args.clips, args.outside_clips, args.scale = 8, 3, 0.05
    print(benchkit.machine_line())
    print(
        f"polling cost: {args.clips} clips per policy x generating time {list(SPREAD)} s "
        f"(+{args.outside_clips} at {list(OUTSIDE)} s, not pooled), after {WAIT_S:.0f} s wait + "
        f"{QUEUEING_S:.0f} s queueing; "
        f"time scale {args.scale}; one emulator process per generating time"
    )
    benchkit.use_airflow_env()
    with contextlib.ExitStack() as stack:
        emulators: dict[int, benchkit.EmulatorProcess] = {}
        for g in (*SPREAD, *OUTSIDE):
            emu = stack.enter_context(
                benchkit.emulator_process(
                    time_scale=args.scale,
                    rate_limit=10**9,
                    concurrency_cap=10**9,
                    initial_credits=10**12,
                    timeline={"wait_s": WAIT_S, "queueing_s": QUEUEING_S, "generating_s": float(g)},
                )
            )
            emulators[g] = emu
            os.environ[f"AIRFLOW_CONN_KIE_G{g}"] = json.dumps(
                {"conn_type": "kie", "password": benchkit.API_KEY, "host": emu.base_url}
            )
        t0 = time.perf_counter()
        results = asyncio.run(run_clips(args, emulators))
        print(f"ran {len(results)} clips in {time.perf_counter() - t0:.0f} s")
        done_at = {t["task_id"]: t["done_at"] for emu in emulators.values() for t in emu.tasks()}
    for r in results:
        r["latency_kie"] = (r["event_at"] - done_at[r["task_id"]]) / args.scale
    bad = [r for r in results if r["status"] != "succeeded"]
    if bad:
        print(f"WARNING: {len(bad)} waits did not end in success: {bad[:3]}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)

    names = list(policies())
    pooled = summarise(results, names, SPREAD)
    ref5, ref10 = pooled["fixed 5 s"], pooled["fixed 10 s"]
    benchkit.table(
        f"Polling cost over generating times {SPREAD[0]}-{SPREAD[-1]} s (pooled; latency in KIE seconds, "
        "from KIE's success to the trigger's event)",
        [
            "policy",
            "clips",
            "calls/clip",
            "calls vs fixed 10 s",
            "median latency",
            "median vs fixed 5 s",
            "mean",
            "p90",
            "max",
        ],
        [
            [
                name,
                p["clips"],
                p["calls"],
                p["calls"] / ref10["calls"],
                p["median"],
                p["median"] / ref5["median"],
                p["mean"],
                p["p90"],
                p["max"],
            ]
            for name, p in pooled.items()
        ],
    )
    per_g_rows = []
    for g in (*SPREAD, *OUTSIDE):
        cell = summarise(results, names, (g,))
        per_g_rows.append(
            [f"{g} s" + ("" if g in SPREAD else " (outside)")]
            + [f"{cell[n]['calls']:.1f} / {cell[n]['median']:.1f}" for n in names]
        )
    benchkit.table(
        "Per generating time: calls per clip / median latency (KIE s)",
        ["generating", *names],
        per_g_rows,
    )
    default = pooled["default"]
    calls_ok = default["calls"] <= ref10["calls"]
    latency_ok = default["median"] <= ref5["median"]
    benchkit.table(
        "Target: the default policy makes no more calls than fixed 10 s polling, with median detection "
        "latency <= fixed 5 s polling",
        [
            "default calls/clip",
            "fixed 10 s calls/clip",
            "default median s",
            "fixed 5 s median s",
            "calls",
            "latency",
            "target",
        ],
        [
            [
                default["calls"],
                ref10["calls"],
                default["median"],
                ref5["median"],
                benchkit.verdict(calls_ok),
                benchkit.verdict(latency_ok),
                benchkit.verdict(calls_ok and latency_ok),
            ]
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
