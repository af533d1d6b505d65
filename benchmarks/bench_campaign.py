"""Benchmark 3: a campaign of N clips under KIE's limits (20 submits per 10 s, concurrency cap C).

In-process figure (this script): N ``RunwayGenerateOperator`` tasks run through the provider's own code
paths - ``execute`` (validate, submit, remember, defer), ``RunwayTaskTrigger`` (poll), ``execute_complete``
(re-read, finish) and, when KIE refuses (429, concurrency cap), ``_back_off`` deferring to
``TimeDeltaTrigger`` and ``resume_submit`` - against the emulator in its own process. A small harness
stands in for Airflow:

- worker slots: a thread pool runs each synchronous step on a *fresh* operator instance (as every Airflow try
  or resume does), with a fake context (``ti.xcom_push``, a ``task_state_store``);
- ``TaskDeferred`` hands the trigger - rebuilt from ``trigger.serialize()`` as the triggerer does - to one
  asyncio loop (the triggerer); its first event resumes the task via ``resume_execution`` on a worker;
- scenario ``pool``: the sample DAG's set-up - tasks in a pool of C slots with ``--include-deferred``, so at
  most C clips are in flight; scenario ``backoff``: no pool, every clip is admitted at once and KIE's
  refusals are handled by the operator's backoff alone.

Time is scaled so the run is short: KIE durations (emulator ``time_scale``), the rate window, the trigger's
poll schedule (``PollPolicy.scaled``), the operator's backoff constants, the client's retry delays and the
timeouts are all multiplied by the same factor, so the figures are the real-time ones played faster. Figures
are printed in KIE seconds (real seconds / scale). Retry-After is read on the scaled clock too: the emulator
sends whole real seconds (at least 1, so 1 KIE s once scaled, where KIE's 10 s window implies at most 10).

Reported: makespan / bound, bound = max(N / (20 per 10 s), ceil(N / C) * T); failed tasks; duplicate paid
submissions (paid tasks per clip beyond the first); 429s received; concurrency-cap refusals.
The real-Airflow figure (scheduler, triggerer, LocalExecutor workers) is ``bench_campaign_airflow.py``.

    python benchmarks/bench_campaign.py            # N=200, C=10, T=75 s, both scenarios, scale 0.05 (~3 min)
    python benchmarks/bench_campaign.py --quick    # N=60, C=10, scale 0.02
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import importlib
import logging
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import benchkit

TARGET_RATIO = 1.10


@dataclass
class FakeTI:
    """The part of a task instance the operators use."""

    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class StateStore:
    """``task_state_store``: survives tries of one task."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


@dataclass
class Clip:
    index: int
    prompt: str
    store: StateStore = field(default_factory=StateStore)
    ti: FakeTI = field(default_factory=FakeTI)
    started: float = 0.0
    finished: float = 0.0
    outcome: str = "pending"
    error: str = ""
    result: Any = None
    deferrals: collections.Counter[str] = field(default_factory=collections.Counter)
    #: When the KIE trigger's event for each KIE task id came out of the triggerer.
    detected: dict[str, float] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        return {"ti": self.ti, "task_state_store": self.store}


class Campaign:
    """Airflow, reduced to what the operators touch: worker slots, a triggerer loop, an optional pool."""

    def __init__(self, args: argparse.Namespace, scenario: str) -> None:
        from airflow_provider_kie.client import RetryPolicy
        from airflow_provider_kie.hooks.kie import KieHook

        self.args = args
        self.scale = args.scale
        self.scenario = scenario
        self.clips = [Clip(i, f"campaign clip {i:04d}: a product shot, variant {i}") for i in range(args.n)]
        self.workers = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="worker")
        self.pool = threading.Semaphore(args.cap) if scenario == "pool" else None
        self.done = threading.Event()
        self.remaining = args.n
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.loop_thread = threading.Thread(target=self.loop.run_forever, name="triggerer", daemon=True)
        s = self.scale
        # The client's own retry delays, scaled like everything else.
        self.retry = RetryPolicy(base_delay=0.5 * s, max_delay=30 * s, max_retry_after=120)
        shipped = importlib.import_module("airflow_provider_kie.client").DEFAULT_SUBMIT_RETRY
        self.submit_retry = dataclasses.replace(
            shipped,
            base_delay=shipped.base_delay * s,
            max_delay=shipped.max_delay * s,
            max_retry_after=shipped.max_retry_after * s,
        )
        self._hook_cls = KieHook

    # -- operators ----------------------------------------------------------------------------------------
    def operator(self, clip: Clip) -> Any:
        from airflow_provider_kie.operators.runway import RunwayGenerateOperator

        s = self.scale
        op = RunwayGenerateOperator(
            task_id=f"generate_{clip.index:04d}",
            prompt=clip.prompt,
            duration=5,
            quality="720p",
            aspect_ratio="16:9",
            deferrable=True,
            # Unset: the shipped phase-following schedule; scaled with the rest in scenario_run.
            poll_interval=10.0 if self.args.trigger_policy == "fixed" else None,
            timeout=3600.0 * s,
            rate_limit_timeout=3600.0 * s,
        )
        # `hook` is a cached_property: give this instance a hook whose client retries on the scaled clock.
        op.__dict__["hook"] = self._hook_cls(op.kie_conn_id, retry=self.retry, submit_retry=self.submit_retry)
        return op

    def step(self, clip: Clip, method: str | None, kwargs: dict[str, Any] | None) -> None:
        """One synchronous step of a task on a worker: execute, or resume after a trigger event."""
        from airflow.sdk.bases.operator import ExecutorSafeguard
        from airflow.sdk.exceptions import TaskDeferred

        op = self.operator(clip)
        try:
            if method is None:
                # What the task runner passes, so the operator knows it runs inside a task.
                sentinel = {f"{type(op).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
                result = op.execute(clip.context(), **sentinel)
            else:
                result = op.resume_execution(method, kwargs, clip.context())
        except TaskDeferred as deferred:
            clip.deferrals[type(deferred.trigger).__name__] += 1
            future = asyncio.run_coroutine_threadsafe(
                self.trigger(clip, deferred.trigger, deferred.method_name, deferred.kwargs or {}), self.loop
            )
            future.add_done_callback(lambda f: self._harness_error(clip, f))
            return
        except Exception as exc:  # the Airflow task fails (retries=0 in the sample DAG)
            self.finish(clip, "failed", f"{type(exc).__name__}: {exc}")
            return
        clip.result = result
        self.finish(clip, "succeeded")

    async def trigger(self, clip: Clip, trigger: Any, method: str, kwargs: dict[str, Any]) -> None:
        """The triggerer: rebuild the trigger from its serialized form, run it to its first event."""
        classpath, trigger_kwargs = trigger.serialize()
        module, _, name = classpath.rpartition(".")
        rebuilt = getattr(importlib.import_module(module), name)(**trigger_kwargs)
        events = rebuilt.run()
        try:
            event = await events.__anext__()
        except Exception as exc:
            self.finish(clip, "failed", f"trigger crashed: {type(exc).__name__}: {exc}")
            return
        finally:
            await events.aclose()
        if isinstance(event.payload, dict) and "kie_task_id" in event.payload:
            clip.detected[event.payload["kie_task_id"]] = time.time()
        self.workers.submit(self.step, clip, method, {**kwargs, "event": event.payload})

    def _harness_error(self, clip: Clip, future: Any) -> None:
        if not future.cancelled() and future.exception() is not None:
            exc = future.exception()
            self.finish(clip, "failed", f"harness: {type(exc).__name__}: {exc}")

    def finish(self, clip: Clip, outcome: str, error: str = "") -> None:
        clip.outcome, clip.error, clip.finished = outcome, error, time.time()
        if self.pool is not None:
            self.pool.release()
        with self.lock:
            self.remaining -= 1
            if self.remaining == 0:
                self.done.set()

    # -- the run ------------------------------------------------------------------------------------------
    def run(self, timeout: float) -> float:
        self.loop_thread.start()
        started = time.time()
        # The scheduler: queue every clip at once; with a pool, a clip starts only when a slot is free.
        for clip in self.clips:
            if self.pool is not None:
                while not self.pool.acquire(timeout=1.0):
                    if time.time() - started > timeout:
                        break
            clip.started = time.time()
            self.workers.submit(self.step, clip, None, None)
        finished = self.done.wait(max(1.0, timeout - (time.time() - started)))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.workers.shutdown(wait=False, cancel_futures=True)
        if not finished:
            for clip in self.clips:
                if clip.outcome == "pending":
                    clip.outcome, clip.error = "unfinished", "still running at the benchmark's time limit"
        return started


def scenario_run(args: argparse.Namespace, scenario: str) -> dict[str, Any]:
    s = args.scale
    config = {
        "time_scale": s,
        "rate_limit": 20,
        "rate_window_s": 10.0 * s,
        "concurrency_cap": args.cap,
        "initial_credits": 10**9,
        "timeline": {"wait_s": 5.0, "queueing_s": 10.0, "generating_s": args.generating},
    }
    t_kie = 5.0 + 10.0 + args.generating
    bound_kie = max(args.n / (20 / 10.0), math.ceil(args.n / args.cap) * t_kie)
    with benchkit.emulator_process(**config) as emu:
        os.environ.update(benchkit.airflow_env(emu.base_url))
        import airflow_provider_kie.client.envelope as envelope
        import airflow_provider_kie.lifecycle.load as load
        from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

        saved = (load.LOAD_BACKOFF, RunwayTaskTrigger.poll_policy)
        parse_retry_after = envelope.parse_retry_after
        max_backoff = saved[0].cap if args.max_backoff is None else args.max_backoff
        load.LOAD_BACKOFF = dataclasses.replace(saved[0], base=saved[0].base * s, cap=max_backoff * s)
        # The trigger's own schedule (from its poll_interval), played on the scaled clock.
        RunwayTaskTrigger.poll_policy = lambda self: saved[1](self).scaled(s)  # type: ignore[method-assign]

        def scaled_retry_after(value: str | None, **kw: Any) -> float | None:
            seconds = parse_retry_after(value, **kw)
            return None if seconds is None else seconds * s

        envelope.parse_retry_after = scaled_retry_after
        try:
            campaign = Campaign(args, scenario)
            limit = bound_kie * s * 3 + 30
            cpu0 = benchkit.cpu_seconds()
            started = campaign.run(limit)
            cpu = benchkit.cpu_seconds() - cpu0
        finally:
            load.LOAD_BACKOFF, RunwayTaskTrigger.poll_policy = saved  # type: ignore[method-assign]
            envelope.parse_retry_after = parse_retry_after
        stats = emu.stats()
        tasks = emu.tasks()
    clips = campaign.clips
    end = max((c.finished for c in clips if c.outcome == "succeeded"), default=time.time())
    makespan_kie = (end - started) / s
    paid = collections.Counter(t["prompt"] for t in tasks if not t["refunded"])
    by_prompt = {c.prompt: c for c in clips}
    duplicates = sum(max(0, n - 1) for prompt, n in paid.items() if prompt in by_prompt)
    failures = [c for c in clips if c.outcome != "succeeded"]
    backoffs = sum(c.deferrals["DateTimeTrigger"] + c.deferrals["TimeDeltaTrigger"] for c in clips)
    analysis = analyse(campaign, tasks, started, end)
    return {
        "scenario": scenario,
        "n": args.n,
        "cap": args.cap,
        "t_kie": t_kie,
        "makespan_kie": makespan_kie,
        "bound_kie": bound_kie,
        "ratio": makespan_kie / bound_kie,
        "failed": len(failures),
        "failure_examples": sorted({c.error[:160] for c in failures})[:3],
        "duplicates": duplicates,
        "paid": stats["paid_submissions"],
        "rate_limited_429": stats["rate_limited"],
        "cap_refusals": stats["refunded_submissions"],
        "submits": stats["submissions_received"],
        "backoff_deferrals": backoffs,
        "status_calls": stats["calls_by_endpoint"].get("/api/v1/runway/record-detail", 0),
        "harness_cpu_util": cpu / max(1e-9, end - started),
        **analysis,
    }


def analyse(campaign: Campaign, tasks: list[dict[str, Any]], started: float, end: float) -> dict[str, Any]:
    """Where the time beyond the bound went, in KIE seconds: from the emulator's task records (when KIE
    accepted each paid task and when it finished) and the harness's clocks (admission, trigger event, end)."""
    s, cap = campaign.scale, campaign.args.cap
    paid = [t for t in tasks if not t["refunded"]]
    # KIE slots that sat idle while some clip still had to be submitted (it was waiting in a backoff).
    last_accept = max((t["created_at"] for t in paid), default=started)
    edges = sorted([(t["created_at"], 1) for t in paid] + [(t["done_at"], -1) for t in paid])
    idle, active, previous = 0.0, 0, started
    for at, delta in edges:
        if at > last_accept:
            break
        idle += max(0, cap - active) * (at - previous)
        active, previous = active + delta, at
    by_prompt = {t["prompt"]: t for t in paid}
    submit_delay, detection, completion, attempts = [], [], [], []
    for clip in campaign.clips:
        task = by_prompt.get(clip.prompt)
        if clip.outcome != "succeeded" or task is None:
            continue
        submit_delay.append(task["created_at"] - clip.started)
        seen = clip.detected.get(task["task_id"])
        if seen is not None:
            detection.append(seen - task["done_at"])
            completion.append(clip.finished - seen)
        attempts.append(1 + clip.deferrals["TimeDeltaTrigger"])
    return {
        "idle_slot_s_while_waiting": idle / s,
        "idle_share": idle / max(1e-9, cap * (end - started)),
        "median_admit_to_accept_s": benchkit.median(submit_delay) / s if submit_delay else float("nan"),
        "mean_detection_s": sum(detection) / len(detection) / s if detection else float("nan"),
        "mean_completion_s": sum(completion) / len(completion) / s if completion else float("nan"),
        "max_submit_attempts": max(attempts, default=0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="clips in the campaign")
    parser.add_argument("--cap", type=int, default=10, help="KIE concurrency cap C (and the pool size)")
    parser.add_argument(
        "--generating", type=float, default=60.0, help="KIE seconds generating (T = 15 + this)"
    )
    parser.add_argument("--scale", type=float, default=0.05, help="real seconds per KIE second")
    parser.add_argument("--workers", type=int, default=16, help="worker slots of the harness")
    parser.add_argument("--scenarios", default="pool,backoff", help="pool, backoff or both")
    parser.add_argument(
        "--trigger-policy",
        choices=("default", "fixed"),
        default="default",
        help="default: as shipped (poll_interval unset); fixed: poll_interval=10 (the old default)",
    )
    parser.add_argument(
        "--max-backoff",
        type=float,
        default=None,
        help="an experiment: the operator's MAX_BACKOFF in KIE seconds (default: the operator's own, 300)",
    )
    parser.add_argument("--quick", action="store_true", help="N=60 at scale 0.02")
    args = parser.parse_args()
    if args.quick:
        args.n, args.scale = 60, 0.02
    benchkit.use_airflow_env()
    # Thousands of expected "KIE is at capacity; submitting again" warnings would bury the table.
    import airflow.sdk  # noqa: F401 - Airflow configures structlog on import; filter after that
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    logging.getLogger("airflow_provider_kie").setLevel(logging.ERROR)
    print(benchkit.machine_line())
    print(
        f"campaign: N={args.n}, C={args.cap}, T={15 + args.generating:.0f} KIE s (wait 5, queueing 10, "
        f"generating {args.generating:.0f}), 20 submits per 10 KIE s, time scale {args.scale}, "
        f"{args.workers} worker slots; trigger poll policy: {args.trigger_policy}; operator MAX_BACKOFF "
        f"{'as shipped' if args.max_backoff is None else args.max_backoff}; emulator in its own process; "
        "in-process Airflow stand-in"
    )
    results = []
    for scenario in args.scenarios.split(","):
        print(f"running scenario {scenario} ...", flush=True)
        results.append(scenario_run(args, scenario))
    benchkit.table(
        "Campaign under KIE's limits (KIE seconds; in-process operator + trigger code paths)",
        [
            "scenario",
            "N",
            "C",
            "makespan s",
            "bound s",
            "makespan / bound",
            "failed",
            "duplicate paid",
            "429s",
            "cap refusals",
            "backoff deferrals",
            "status calls",
        ],
        [
            [
                r["scenario"],
                r["n"],
                r["cap"],
                r["makespan_kie"],
                r["bound_kie"],
                r["ratio"],
                r["failed"],
                r["duplicates"],
                r["rate_limited_429"],
                r["cap_refusals"],
                r["backoff_deferrals"],
                r["status_calls"],
            ]
            for r in results
        ],
    )
    benchkit.table(
        "Where the time went (KIE seconds; per successful clip unless said)",
        [
            "scenario",
            "median admitted -> accepted by KIE",
            "mean KIE done -> trigger event",
            "mean event -> task done",
            "idle KIE slot-s while clips waited",
            "idle share of C x makespan",
            "max submit attempts",
        ],
        [
            [
                r["scenario"],
                r["median_admit_to_accept_s"],
                r["mean_detection_s"],
                r["mean_completion_s"],
                r["idle_slot_s_while_waiting"],
                r["idle_share"],
                r["max_submit_attempts"],
            ]
            for r in results
        ],
    )
    for r in results:
        if r["failure_examples"]:
            print(f"{r['scenario']}: failures such as {r['failure_examples']}")
    benchkit.table(
        "Target: <= 1.10 x the bound, with 0 failures and 0 duplicate submissions",
        ["scenario", "makespan / bound", "failed", "duplicate paid", "target"],
        [
            [
                r["scenario"],
                r["ratio"],
                r["failed"],
                r["duplicates"],
                benchkit.verdict(r["ratio"] <= TARGET_RATIO and r["failed"] == 0 and r["duplicates"] == 0),
            ]
            for r in results
        ],
    )
    print(
        "real-Airflow figure (scheduler + triggerer + workers): python benchmarks/bench_campaign_airflow.py"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
