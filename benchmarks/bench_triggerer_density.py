"""Benchmark 2: triggerer density - thousands of RunwayTaskTriggers in one asyncio loop.

Workload: N concurrent ``RunwayTaskTrigger`` s (the provider's, unchanged) in one asyncio event loop, as in
one triggerer process, polling the KIE emulator, which runs in its own process. Triggers arrive uniformly over
one mean poll interval (as deferrals from a campaign would), so their polls are spread like a triggerer's in
steady state; then the loop is measured for a further window. Each trigger polls every 30 s on average
(jitter 0.2), the interval ``design.md`` sizes 10k waits for.

Baseline: the same trigger loop with a naive client strategy: a fresh ``httpx.AsyncClient()`` (default SSL
context, so the CA bundle is loaded each time) for every poll, as triggers that open a session per request do.
For reference, ``per-trigger`` is the provider's previous design: one ``AsyncKieClient`` per trigger, kept for
its whole wait (the shipped trigger shares one client per event loop and connection).

Reported per N: peak RSS per trigger (peak RSS of the process minus its RSS before the first trigger, over N),
CPU per poll (process CPU in the steady window over polls answered in it), event-loop lag p50/p99/max in the
steady window (a sleeper's wake-up delay), and the lag max during arrivals.

Each (variant, N) runs in a fresh child process so peak-RSS figures do not leak between runs.

    python benchmarks/bench_triggerer_density.py          # 1k/5k/10k, naive 1k, per-trigger 10k (~5.5 min)
    python benchmarks/bench_triggerer_density.py --quick  # 500/2000, 10 s interval (~1.5 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchkit

HERE = Path(__file__).resolve()
TARGET_LAG_P99_S = 0.200


# -- child: one variant at one size --------------------------------------------------------------------------
def _naive_trigger_class() -> type:
    import httpx

    from airflow_provider_kie.client.calls import calls
    from airflow_provider_kie.client.envelope import decode_envelope
    from airflow_provider_kie.client.records import TaskKind, TaskRecord
    from airflow_provider_kie.hooks.kie import KieHook
    from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

    class PerPollClient:
        """A fresh ``httpx.AsyncClient()`` per poll, with httpx's defaults (its own SSL context)."""

        def __init__(self, base_url: str, api_key: str) -> None:
            self.base_url = base_url
            self.headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}

        async def __aenter__(self) -> PerPollClient:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def get_task(self, task_id: str, kind: TaskKind = TaskKind.RUNWAY) -> TaskRecord:
            call = calls.get_task(task_id, kind)
            async with httpx.AsyncClient(headers=self.headers, timeout=30.0) as http:
                response = await http.request(call.method, self.base_url + call.path, params=call.params)
            return call.parse(decode_envelope(response, call.path, lambda text: text))

    class NaivePerPollTrigger(RunwayTaskTrigger):
        """RunwayTaskTrigger's own loop; only the HTTP client strategy differs."""

        @contextlib.asynccontextmanager
        async def _client(self) -> Any:
            settings = await KieHook(self.kie_conn_id).aget_settings()
            yield PerPollClient(settings.base_url, settings.api_key)

    return NaivePerPollTrigger


def _per_trigger_class() -> type:
    """The provider's previous design, for reference: one ``AsyncKieClient`` per trigger, kept for its run."""
    from airflow_provider_kie.client import RetryPolicy
    from airflow_provider_kie.hooks.kie import KieHook
    from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

    class PerTriggerClientTrigger(RunwayTaskTrigger):
        @contextlib.asynccontextmanager
        async def _client(self) -> Any:
            hook = KieHook(self.kie_conn_id, retry=RetryPolicy.none())
            async with await hook.get_async_client() as client:
                yield client

    return PerTriggerClientTrigger


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    from airflow_provider_kie.client import AsyncKieClient, KieError
    from airflow_provider_kie.hooks.kie import KieHook
    from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

    ids = Path(args.ids_file).read_text().split()[: args.n]
    trigger_cls: type = {
        "provider": lambda: RunwayTaskTrigger,
        "naive": _naive_trigger_class,
        "per-trigger": _per_trigger_class,
    }[args.variant]()

    polls = 0
    errors = 0

    def counting(get_task: Any) -> Any:
        async def wrapper(self: Any, *a: Any, **kw: Any) -> Any:
            nonlocal polls, errors
            try:
                record = await get_task(self, *a, **kw)
            except KieError:
                errors += 1
                raise
            polls += 1
            return record

        return wrapper

    AsyncKieClient.get_task = counting(AsyncKieClient.get_task)  # type: ignore[method-assign]

    # New TCP connections (each one a TLS handshake against real KIE): how often a poll reuses nothing.
    import httpcore._backends.auto as httpcore_auto

    connects = 0
    connect_tcp = httpcore_auto.AutoBackend.connect_tcp

    async def counting_connect(self: Any, *a: Any, **kw: Any) -> Any:
        nonlocal connects
        connects += 1
        return await connect_tcp(self, *a, **kw)

    httpcore_auto.AutoBackend.connect_tcp = counting_connect  # type: ignore[method-assign]
    # Warm up everything a first trigger pays once per process (imports, connection lookup, SSL context).
    async with await KieHook().get_async_client() as warm:
        await warm.get_task(ids[0])
    if args.variant == "naive":
        async with trigger_cls(kie_task_id=ids[0])._client() as client:
            await client.get_task(ids[0])
        client_cls = type(client)
        client_cls.get_task = counting(client_cls.get_task)
    polls = errors = 0

    # The loop's cost with no trigger at all (lag monitor, Airflow's background threads), subtracted below.
    idle_monitor = benchkit.LoopLagMonitor(interval=0.02)
    idle_monitor.start()
    idle_cpu = benchkit.cpu_seconds()
    await asyncio.sleep(3.0)
    idle_util = (benchkit.cpu_seconds() - idle_cpu) / 3.0
    await idle_monitor.stop()

    gc_pauses = benchkit.GcPauses()
    objects0 = len(gc.get_objects())
    rss0 = benchkit.rss_bytes()
    monitor = benchkit.LoopLagMonitor(interval=0.02)
    monitor.start()
    events: list[Any] = []

    async def run_one(task_id: str) -> None:
        trigger = trigger_cls(kie_task_id=task_id, poll_interval=args.interval)
        async for event in trigger.run():
            events.append(event.payload)

    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    ramp_end = started + args.ramp
    # Arrivals: uniformly over the ramp, whatever the loop's own delays.
    while len(tasks) < len(ids):
        now = time.perf_counter()
        due = len(ids) if now >= ramp_end else int(len(ids) * (now - started) / args.ramp)
        for task_id in ids[len(tasks) : max(due, len(tasks))]:
            tasks.append(asyncio.create_task(run_one(task_id)))
        await asyncio.sleep(0.1)
    arrivals_done = time.perf_counter()
    rss_after_ramp = benchkit.rss_bytes()
    objects_per_trigger = (len(gc.get_objects()) - objects0) / len(ids)
    # The steady window starts once every trigger exists: their polls are then spread evenly over an interval.
    window_start = max(arrivals_done, ramp_end)
    await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
    cpu_a, polls_a, errors_a, connects_a = benchkit.cpu_seconds(), polls, errors, connects
    switches_a = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    await asyncio.sleep(args.steady)
    window_end = time.perf_counter()
    cpu_b, polls_b, errors_b, connects_b = benchkit.cpu_seconds(), polls, errors, connects
    switches_b = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    rss_end = benchkit.rss_bytes()
    peak = benchkit.peak_rss_bytes()
    sockets = benchkit.open_sockets()
    await monitor.stop()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)

    gc_pauses.stop()
    steady = monitor.lags(window_start, window_end)
    ramp_lags = monitor.lags(started, window_start)
    window_polls = polls_b - polls_a
    return {
        "variant": args.variant,
        "n": len(ids),
        "rss0_mib": rss0 / benchkit.MIB,
        "peak_rss_mib": peak / benchkit.MIB,
        "rss_after_ramp_mib": rss_after_ramp / benchkit.MIB,
        "rss_end_mib": rss_end / benchkit.MIB,
        "peak_kib_per_trigger": (peak - rss0) / 1024 / len(ids),
        "window_s": window_end - window_start,
        "window_polls": window_polls,
        "window_errors": errors_b - errors_a,
        "polls_per_s": window_polls / (window_end - window_start),
        "expected_polls_per_s": len(ids) / args.interval,
        "idle_cpu_util": idle_util,
        "cpu_ms_per_poll": (cpu_b - cpu_a - idle_util * (window_end - window_start))
        * 1000
        / max(1, window_polls),
        "raw_cpu_ms_per_poll": (cpu_b - cpu_a) * 1000 / max(1, window_polls),
        "cpu_util": (cpu_b - cpu_a) / (window_end - window_start),
        # Times the process went to sleep waiting (mostly the loop blocking in epoll with nothing ready).
        "connects_per_poll": (connects_b - connects_a) / max(1, window_polls),
        "sleeps_per_poll": (switches_b - switches_a) / max(1, window_polls),
        "lag_p50_ms": benchkit.percentile(steady, 50) * 1000,
        "lag_p99_ms": benchkit.percentile(steady, 99) * 1000,
        "lag_max_ms": max(steady, default=float("nan")) * 1000,
        "ramp_lag_max_ms": max(ramp_lags, default=float("nan")) * 1000,
        "ramp_overrun_s": arrivals_done - ramp_end,
        "events": len(events),
        "gc_objects_before": objects0,
        "gc_objects_per_trigger": objects_per_trigger,
        "gc_max_ms": gc_pauses.max_ms(window_start, window_end),
        "gc_gen2_count": gc_pauses.count(2, window_start, window_end),
        "open_sockets": sockets,
    }


def child_main(args: argparse.Namespace) -> None:
    result = asyncio.run(_child(args))
    print("RESULT " + json.dumps(result), flush=True)


# -- parent: emulator, tasks, one child per configuration ----------------------------------------------------
async def _create_tasks(base_url: str, n: int) -> list[str]:
    from airflow_provider_kie.client import AsyncKieClient, RetryPolicy, RunwayGenerateRequest

    request = RunwayGenerateRequest(prompt="density", duration=5, quality="720p", aspect_ratio="16:9")
    slots = asyncio.Semaphore(16)
    async with AsyncKieClient(benchkit.API_KEY, base_url=base_url, retry=RetryPolicy.none()) as client:

        async def submit() -> str:
            async with slots:
                return await client.runway_generate(request)

        return list(await asyncio.gather(*(submit() for _ in range(n))))


def run_child(
    emu: benchkit.EmulatorProcess, args: argparse.Namespace, variant: str, n: int, ids: str
) -> dict:
    command = [
        benchkit.PYTHON,
        str(HERE),
        "--child",
        "--variant",
        variant,
        "--n",
        str(n),
        "--ids-file",
        ids,
        "--interval",
        str(args.interval),
        "--ramp",
        str(args.ramp),
        "--steady",
        str(args.steady),
    ]
    env = {**os.environ, **benchkit.airflow_env(emu.base_url), "PYTHONPATH": str(benchkit.ROOT)}
    emu_cpu = emu.cpu_seconds()
    limit = args.ramp + args.steady + 120
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=limit)
    emu_cpu = emu.cpu_seconds() - emu_cpu
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"child {variant} n={n} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["emulator_cpu_util"] = emu_cpu / (args.ramp + args.steady)
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    result["log_warnings"] = len(warnings)
    return result


def parent_main(args: argparse.Namespace) -> int:
    print(benchkit.machine_line())
    sizes = [int(s) for s in args.sizes.split(",") if s]
    naive_sizes = [int(s) for s in args.naive_sizes.split(",") if s]
    per_trigger_sizes = [int(s) for s in args.per_trigger_sizes.split(",") if s]
    print(
        f"density: provider at {sizes}, naive at {naive_sizes}, per-trigger at {per_trigger_sizes}; "
        f"mean poll interval {args.interval} s, "
        f"arrivals over {args.ramp} s, steady window {args.steady} s; emulator in its own process; "
        f"{'HTTPS (self-signed, certifi bundle + it)' if args.tls else 'plain HTTP'} on loopback"
    )
    config = {
        "rate_limit": 10**9,
        "concurrency_cap": 10**9,
        "initial_credits": 10**12,
        # Nothing finishes during the run: every trigger keeps polling.
        "timeline": {"wait_s": 1.0, "queueing_s": 1.0, "generating_s": 10**7},
    }
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        tls = benchkit.TlsFiles.create(tmp) if args.tls else None
        if tls is not None:
            os.environ["SSL_CERT_FILE"] = tls.bundle  # the provider's and httpx's SSL contexts read it
        emu = stack.enter_context(benchkit.emulator_process(tls=tls, **config))
        benchkit.use_airflow_env(emu.base_url)
        t0 = time.perf_counter()
        ids = asyncio.run(_create_tasks(emu.base_url, max(sizes + naive_sizes + per_trigger_sizes)))
        random.Random(0).shuffle(ids)
        ids_file = str(Path(tmp) / "ids.txt")
        Path(ids_file).write_text("\n".join(ids))
        print(f"created {len(ids)} KIE tasks in {time.perf_counter() - t0:.0f} s")
        plan = [("provider", n) for n in sizes] + [("naive", n) for n in naive_sizes]
        plan += [("per-trigger", n) for n in per_trigger_sizes]
        for variant, n in plan:
            print(f"running {variant} n={n} ...", flush=True)
            results.append(run_child(emu, args, variant, n, ids_file))
    report(results, args)
    return 0


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    rows = []
    for r in results:
        rows.append(
            [
                r["variant"],
                r["n"],
                r["peak_kib_per_trigger"],
                r["cpu_ms_per_poll"],
                f"{r['polls_per_s']:.0f}/{r['expected_polls_per_s']:.0f}",
                r["cpu_util"],
                r["idle_cpu_util"],
                r["sleeps_per_poll"],
                r["lag_p50_ms"],
                r["lag_p99_ms"],
                r["lag_max_ms"],
                r["ramp_lag_max_ms"],
                r["window_errors"],
                r["open_sockets"],
                r["connects_per_poll"],
                r["gc_objects_per_trigger"],
                r["gc_max_ms"],
                r["emulator_cpu_util"],
            ]
        )
    benchkit.table(
        "Triggerer density (steady window; CPU ms/poll net of the idle loop's CPU; lag in ms; CPU in cores)",
        [
            "variant",
            "N",
            "peak KiB/trigger",
            "CPU ms/poll",
            "polls/s got/due",
            "CPU",
            "idle CPU",
            "loop sleeps/poll",
            "lag p50",
            "lag p99",
            "lag max",
            "arrivals lag max",
            "poll errors",
            "sockets",
            "new connections/poll",
            "gc objects/trigger",
            "gc pause max",
            "emulator CPU",
        ],
        rows,
    )
    by = {(r["variant"], r["n"]): r for r in results}
    ratio_rows = []
    for (variant, n), naive in sorted(by.items()):
        if variant != "naive" or ("provider", n) not in by:
            continue
        prov = by[("provider", n)]
        ratio_rows.append(
            [
                n,
                prov["peak_kib_per_trigger"],
                naive["peak_kib_per_trigger"],
                naive["peak_kib_per_trigger"] / prov["peak_kib_per_trigger"],
                prov["cpu_ms_per_poll"],
                naive["cpu_ms_per_poll"],
                naive["cpu_ms_per_poll"] / prov["cpu_ms_per_poll"],
            ]
        )
    if ratio_rows:
        benchkit.table(
            "Provider trigger against the naive baseline (ratio = naive / provider; > 1 means the provider "
            "uses less)",
            [
                "N",
                "KiB/trigger",
                "naive KiB/trigger",
                "memory ratio",
                "CPU ms/poll",
                "naive CPU ms/poll",
                "CPU ratio",
            ],
            ratio_rows,
        )
    biggest = max((r for r in results if r["variant"] == "provider"), key=lambda r: r["n"], default=None)
    if biggest is not None:
        less = all(row[3] > 1 and row[6] > 1 for row in ratio_rows) if ratio_rows else False
        kept_up = biggest["polls_per_s"] >= 0.9 * biggest["expected_polls_per_s"]
        benchkit.table(
            "Target: 10k triggers with event-loop lag p99 < 200 ms, and less memory and CPU than the naive "
            "trigger",
            ["N", "lag p99 ms", "kept up with polls", "less memory and CPU than naive", "target"],
            [
                [
                    biggest["n"],
                    biggest["lag_p99_ms"],
                    "yes" if kept_up else "no",
                    "yes" if less else "no",
                    benchkit.verdict(
                        biggest["n"] >= 10_000
                        and biggest["lag_p99_ms"] < TARGET_LAG_P99_S * 1000
                        and kept_up
                        and less
                    ),
                ]
            ],
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,5000,10000", help="trigger counts of the provider trigger")
    parser.add_argument("--naive-sizes", default="1000", help="trigger counts of the naive baseline")
    parser.add_argument(
        "--per-trigger-sizes",
        default="10000",
        help="trigger counts of the previous design, for reference: one client per trigger",
    )
    parser.add_argument("--interval", type=float, default=30.0, help="mean seconds between polls")
    parser.add_argument("--ramp", type=float, default=None, help="arrival period (default: one interval)")
    parser.add_argument("--steady", type=float, default=20.0, help="measured window after arrivals (s)")
    parser.add_argument("--tls", action="store_true", help="serve the emulator over HTTPS, as KIE is")
    parser.add_argument("--quick", action="store_true", help="500/2000 triggers, 10 s interval")
    parser.add_argument("--json", default=None, help="also write the raw results to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="provider", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ids-file", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick and not args.child:
        args.sizes, args.naive_sizes, args.interval, args.steady = "500,2000", "500", 10.0, 10.0
        args.per_trigger_sizes = "2000"
    if args.ramp is None:
        args.ramp = args.interval
    if args.child:
        child_main(args)
        return 0
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
