"""Rate limits and the concurrency cap: refused submits are retried with backoff (deferred in deferrable
mode) until every clip is made, and no clip is paid for twice.

``fast_backoff`` shrinks the operators' backoff (7.5-15 s -> 25-50 ms), disables the client's submit retry,
so every refusal goes through the operator's backoff. A long-running Aleph "blocker" holds the only
concurrency slot until the first backoff releases it (by moving KIE's clock), so the operators are sure to be
refused at least once, however the threads are scheduled.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_kie.client import AlephGenerateRequest, KieClient
from airflow_provider_kie.emulator import EmulatorConfig, FaultRule, PhaseTimeline, RunningEmulator
from airflow_provider_kie.lifecycle.load import LoadBackoff
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.operators.runway import RunwayGenerateOperator

pytestmark = pytest.mark.integration

GENERATE = "/api/v1/runway/generate"
CONCURRENCY_MSG = "Reached the limit for concurrent generations"
#: An Aleph clip that would take ~6 real days at the test time scale.
ENDLESS = PhaseTimeline(wait_s=1e8, queueing_s=0.0, generating_s=0.0)


class FakeTI:
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _operators(count: int, tmp_path: Path, **kwargs: Any) -> list[RunwayGenerateOperator]:
    return [
        RunwayGenerateOperator(
            task_id=f"clip_{i}",
            prompt=f"clip number {i}",
            poll_interval=0.05,
            timeout=120,
            output_dir=str(tmp_path / "clips"),
            **kwargs,
        )
        for i in range(count)
    ]


def _run_together(operators: list[RunwayGenerateOperator]) -> list[Any]:
    """Execute the operators at the same time, each in its own thread, as parallel worker slots would."""
    with ThreadPoolExecutor(len(operators)) as pool:
        futures = [pool.submit(op.execute, {"ti": FakeTI()}) for op in operators]
        return [future.result(timeout=120) for future in futures]


def _block_the_only_slot(emu: RunningEmulator, mocker: Any) -> list[int]:
    """Fill the account's single slot with an endless clip; the operators' first backoff frees it."""
    with KieClient(emu.api_key, base_url=emu.base_url) as client:
        client.aleph_generate(
            AlephGenerateRequest(prompt="hold the slot", video_url="https://example.com/in.mp4")
        )
    backoffs: list[int] = []
    lock = threading.Lock()
    original = LoadBackoff.next

    def counting(
        self: LoadBackoff, reason: str, timeout: float, retry_after: float | None = None
    ) -> tuple[float, LoadBackoff]:
        with lock:
            backoffs.append(self.attempt)
            if len(backoffs) == 1:
                emu.advance_time(2e8)  # the blocker ends; later clips start on the new clock
        return original(self, reason, timeout, retry_after)

    mocker.patch.object(LoadBackoff, "next", counting)
    return backoffs


def _check_no_clip_paid_twice(emu: RunningEmulator, results: list[Any], extra_paid: int = 0) -> None:
    ids = [r["kie_task_id"] for r in results]
    assert len(set(ids)) == len(ids)
    assert all(r["state"] == "succeeded" for r in results)
    succeeded = {t.task_id for t in emu.tasks() if t.state == "success" and t.kind == "generate"}
    assert succeeded == set(ids)
    assert emu.stats().paid_submissions == len(ids) + extra_paid


def test_parallel_clips_wait_out_the_rate_limit(
    emu: RunningEmulator, kie_conn: Any, fast_backoff: None, tmp_path: Path
) -> None:
    emu.reconfigure(rate_limit=2, rate_window_s=2.0)
    results = _run_together(_operators(3, tmp_path, deferrable=False))
    _check_no_clip_paid_twice(emu, results)
    stats = emu.stats()
    assert stats.rate_limited >= 1  # two fit in the window, the third had to wait
    assert stats.submissions_accepted == 3


def test_parallel_clips_wait_out_the_concurrency_cap(
    emu: RunningEmulator, kie_conn: Any, fast_backoff: None, tmp_path: Path, mocker: Any
) -> None:
    emu.reconfigure(EmulatorConfig(time_scale=0.005, concurrency_cap=1, aleph_timeline=ENDLESS))
    backoffs = _block_the_only_slot(emu, mocker)
    results = _run_together(_operators(3, tmp_path, deferrable=False))
    _check_no_clip_paid_twice(emu, results, extra_paid=1)
    refused = [t for t in emu.tasks() if t.state == "fail"]
    assert refused and all(t.fail_msg == CONCURRENCY_MSG and t.refunded for t in refused)
    assert len(backoffs) >= 1
    assert emu.stats().refunded_submissions == len(refused)


def test_deferred_backoff_through_airflow_after_429(
    emu: RunningEmulator,
    kie_conn: Any,
    fast_backoff: None,
    dags: Any,
    dag_kwargs: dict[str, Any],
    mocker: Any,
) -> None:
    emu.set_faults(FaultRule("rate_limited", endpoint=GENERATE, end_call=2, retry_after_s=0))
    resumed = mocker.spy(KieGenerationOperator, "resume_submit")
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        RunwayGenerateOperator(task_id="gen", prompt="a kite", deferrable=True, poll_interval=0.2)
    run = dags.run(dag)

    (ti,) = dags.task_instances(run).values()
    assert (str(ti.state), ti.try_number) == ("success", 1)  # deferrals, not retries
    assert resumed.call_count == 2  # two timed deferrals, then the accepted submit
    stats = emu.stats()
    assert stats.calls_by_endpoint[GENERATE] == 3
    assert stats.faults_injected == {"rate_limited": 2}
    _check_no_clip_paid_twice(emu, [dags.xcoms(run)[("gen", "return_value")]])


def test_deferred_clips_wait_out_the_concurrency_cap(
    emu: RunningEmulator,
    kie_conn: Any,
    fast_backoff: None,
    dags: Any,
    dag_kwargs: dict[str, Any],
    tmp_path: Path,
    mocker: Any,
) -> None:
    emu.reconfigure(EmulatorConfig(time_scale=0.005, concurrency_cap=1, aleph_timeline=ENDLESS))
    backoffs = _block_the_only_slot(emu, mocker)
    resumed = mocker.spy(KieGenerationOperator, "resume_submit")
    with DAG(dags.dag_id(), **dag_kwargs) as dag:
        _operators(3, tmp_path, deferrable=True)
    run = dags.run(dag)

    assert set(dags.states(run).values()) == {"success"}
    assert {ti.try_number for ti in dags.task_instances(run).values()} == {1}
    results = [dags.xcoms(run)[(f"clip_{i}", "return_value")] for i in range(3)]
    _check_no_clip_paid_twice(emu, results, extra_paid=1)
    (refused,) = [t for t in emu.tasks() if t.state == "fail"]  # the first clip, refused once
    assert (refused.fail_msg, refused.refunded) == (CONCURRENCY_MSG, True)
    assert backoffs == [1]
    assert resumed.call_count == 1
