"""The emulator's pure parts, on a fake clock: no HTTP, no sleeping."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from airflow_provider_kie.emulator import EmulatorConfig, FaultRule, PhaseTimeline, SubmissionKind
from airflow_provider_kie.emulator.callbacks import callback_headers, webhook_signature
from airflow_provider_kie.emulator.errors import KieRefusal
from airflow_provider_kie.emulator.faults import FaultPlan
from airflow_provider_kie.emulator.media import RangeNotSatisfiable, parse_range, synthetic_bytes
from airflow_provider_kie.emulator.payloads import aleph_record, callback_payload, runway_record
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.validation import (
    AlephGenerateRequest,
    parse_aleph_generate,
    parse_jobs_create_task,
    parse_runway_extend,
    parse_runway_generate,
)
from airflow_provider_kie.emulator.validation_veo import parse_veo_extend, parse_veo_generate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_state(**config: object) -> tuple[EmulatorState, FakeClock]:
    clock = FakeClock()
    values: dict[str, object] = {"timeline": PhaseTimeline(1, 2, 3), **config}
    return EmulatorState(EmulatorConfig(**values), clock=clock, monotonic=clock), clock  # type: ignore[arg-type]


def submit(state: EmulatorState, prompt: str = "p") -> str:
    request = parse_runway_generate(
        {"prompt": prompt, "duration": 5, "quality": "720p", "aspectRatio": "1:1"}
    )
    return state.submit_generate(request, base_url="http://emu", endpoint="/api/v1/runway/generate").task_id


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (0, "wait"),
        (0.99, "wait"),
        (1, "queueing"),
        (2.99, "queueing"),
        (3, "generating"),
        (5.99, "generating"),
        (6, "success"),
        (600, "success"),
    ],
)
def test_phase_boundaries(elapsed: float, expected: str) -> None:
    state, clock = make_state()
    task_id = submit(state)
    clock.now += elapsed
    task, now = state.get_task(task_id, family="runway")
    assert runway_record(task, now)["state"] == expected


def test_time_scale_applies_to_every_phase() -> None:
    state, clock = make_state(time_scale=0.5)
    task_id = submit(state)
    clock.now += 2.99  # 6 KIE seconds = 3 real seconds
    assert state.snapshot(task_id).state == "generating"  # type: ignore[union-attr]
    clock.now += 0.01
    assert state.snapshot(task_id).state == "success"  # type: ignore[union-attr]


def test_concurrency_slots_free_up_when_tasks_finish() -> None:
    state, clock = make_state(concurrency_cap=1)
    first = submit(state)
    second = submit(state)
    assert state.snapshot(second).state == "fail"  # type: ignore[union-attr]
    assert state.credits == 10_000 - 12  # refunded at once
    clock.now += 6
    assert state.snapshot(first).state == "success"  # type: ignore[union-attr]
    third = submit(state)
    assert state.snapshot(third).state == "wait"  # type: ignore[union-attr]


def test_task_fault_refund_happens_when_the_failure_shows() -> None:
    state, clock = make_state()
    state.set_faults([FaultRule("task_fail")])
    task_id = submit(state)
    assert state.credits == 10_000 - 12 and state.stats().paid_submissions == 1
    clock.now += 6
    assert state.snapshot(task_id).state == "fail"  # type: ignore[union-attr]
    assert state.credits == 10_000 and state.stats().refunded_submissions == 1
    task, _ = state.get_task(task_id, family="runway")
    assert callback_payload(task)["code"] == 500


def test_rate_limit_window_uses_the_monotonic_clock() -> None:
    state, clock = make_state(rate_limit=2, rate_window_s=10)
    state.admit_submission()
    clock.now += 4
    state.admit_submission()
    with pytest.raises(KieRefusal) as refused:
        state.admit_submission()
    assert refused.value.http_status == 429 and refused.value.headers == {"Retry-After": "6"}
    clock.now += 6
    state.admit_submission()


def test_api_keys() -> None:
    state, _ = make_state(api_keys={"k"})
    state.check_api_key("Bearer k")
    state.check_api_key("bearer  k ")
    for bad in (None, "", "Bearer", "Bearer x", "Token k", "k", "Bearer k\u00e9"):
        with pytest.raises(KieRefusal) as refused:
            state.check_api_key(bad)
        assert refused.value.code == 401 and refused.value.http_status == 200


def test_aleph_record_and_payload_shapes() -> None:
    state, clock = make_state()
    request: AlephGenerateRequest = parse_aleph_generate(
        {"prompt": "p", "videoUrl": "https://e.com/v.mp4", "seed": 3, "ignored": 1}
    )
    task = state.submit_aleph(request, base_url="http://emu", endpoint="/api/v1/aleph/generate")
    assert (
        aleph_record(task, clock.now)["paramJson"]
        == '{"prompt":"p","videoUrl":"https://e.com/v.mp4","seed":3}'
    )
    clock.now += 1_000
    record = aleph_record(task, clock.now)
    assert (
        record["successFlag"] == 1
        and record["response"]["resultVideoUrl"] == f"http://emu/media/{task.task_id}.mp4"
    )
    assert callback_payload(task)["taskId"] == task.task_id


def test_cost_table_falls_back_to_defaults() -> None:
    config = EmulatorConfig(costs={(SubmissionKind.ALEPH, 5, "720p"): 1})
    assert config.cost_of(SubmissionKind.ALEPH, 5, "720p") == 1
    assert config.cost_of(SubmissionKind.GENERATE, 10, "720p") == 30
    assert config.cost_of(SubmissionKind.GENERATE, 10, "1080p") == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"time_scale": 0}, {"rate_limit": 0}, {"concurrency_cap": 0}, {"initial_credits": -1}],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(**kwargs)  # type: ignore[arg-type]


def test_fault_plan_counts_every_matching_call() -> None:
    plan = FaultPlan(
        [FaultRule("server_error", endpoint="/a", end_call=1), FaultRule("maintenance", endpoint="/*")]
    )
    assert plan.pick_response_fault("GET", "/a").kind.value == "server_error"  # type: ignore[union-attr]
    # The second rule counted call 1 too, so its decisions do not depend on the first one firing.
    assert plan.pick_response_fault("GET", "/a").kind.value == "maintenance"  # type: ignore[union-attr]
    assert plan.pick_task_fault("/a", "prompt") is None  # response rules never hit tasks


def test_fault_plan_is_reproducible_across_instances() -> None:
    rule = FaultRule("server_error", probability=0.3)

    def run(seed: int) -> list[bool]:
        plan = FaultPlan([rule], seed=seed)
        return [plan.pick_response_fault("GET", "/x") is not None for _ in range(200)]

    assert run(42) == run(42) and run(42) != run(43)
    assert 30 < sum(run(42)) < 90


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-4", 10, (0, 4)),
        ("bytes=5-", 10, (5, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=2-100", 10, (2, 9)),
        ("bytes=0-1,3-4", 10, None),
        ("bytes=5-2", 10, None),
        ("bytes=a-b", 10, None),
        ("items=0-1", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=-0", "bytes=20-30"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 10)


def test_synthetic_bytes_are_position_based() -> None:
    whole = synthetic_bytes(0, 999)
    assert synthetic_bytes(300, 309) == whole[300:310]
    assert whole[:3] == b"\x00\x01\x02" and whole[256] == 0


def test_webhook_signature_matches_kie_formula() -> None:
    expected = base64.b64encode(hmac.new(b"key", b"task-1.1700000000", hashlib.sha256).digest()).decode()
    assert webhook_signature("key", "task-1", 1700000000) == expected
    headers = callback_headers("key", "task-1", now=1700000000.7)
    assert headers["X-Webhook-Timestamp"] == "1700000000" and headers["X-Webhook-Signature"] == expected
    assert "X-Webhook-Signature" not in callback_headers(None, "task-1")


def test_the_emulator_imports_neither_the_client_nor_airflow() -> None:
    """It must implement KIE's rules on its own, or a client bug could hide behind shared code."""
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_kie.emulator, airflow_provider_kie.emulator.__main__\n"
        "forbidden = ('airflow.', 'airflow_provider_kie.client', 'airflow_provider_kie.hooks')\n"
        "bad = [m for m in sys.modules if m == 'airflow' or m.startswith(forbidden)]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _submit_family(state: EmulatorState, family: str, parent: str = "") -> str:
    """One accepted submission of ``family`` through its ``submit_*`` method."""
    if family == "generate":
        body = {"prompt": "p", "duration": 5, "quality": "1080p", "aspectRatio": "9:16"}
        task = state.submit_generate(parse_runway_generate(body), base_url="http://emu", endpoint="/g")
    elif family == "extend":
        body = {"taskId": parent, "prompt": "p", "quality": "1080p"}
        task = state.submit_extend(parse_runway_extend(body), base_url="http://emu", endpoint="/e")
    elif family == "aleph":
        body = {"prompt": "p", "videoUrl": "https://e.com/v.mp4", "aspectRatio": "21:9"}
        task = state.submit_aleph(parse_aleph_generate(body), base_url="http://emu", endpoint="/a")
    elif family == "veo":
        body = {"prompt": "p", "aspect_ratio": "9:16", "resolution": "1080p"}
        task = state.submit_veo(parse_veo_generate(body), base_url="http://emu", endpoint="/v")
    elif family == "veo_extend":
        body = {"taskId": parent, "prompt": "p", "model": "lite"}
        task = state.submit_veo_extend(parse_veo_extend(body), base_url="http://emu", endpoint="/ve")
    else:
        body = {"model": "kling/v2-video", "input": {"prompt": "p"}}
        task = state.submit_jobs(parse_jobs_create_task(body), base_url="http://emu", endpoint="/j")
    return task.task_id


@pytest.mark.parametrize(
    ("family", "cost", "duration", "quality", "aspect_ratio", "model"),
    [
        ("generate", 30, 5, "1080p", "9:16", ""),
        ("extend", 30, 5, "1080p", "9:16", ""),  # the parent's ratio
        ("aleph", 60, 5, "720p", "21:9", ""),
        ("jobs", 20, 0, "", None, "kling/v2-video"),  # the model is no quality
        ("veo", 65, 8, "", "9:16", "veo3_fast"),  # Fast at 1080p
        ("veo_extend", 30, 8, "", "16:9", "veo3_lite"),  # the parent's ratio, Lite's price
    ],
)
def test_every_family_takes_the_one_submit_path(
    family: str, cost: int, duration: int, quality: str, aspect_ratio: str | None, model: str
) -> None:
    state, clock = make_state()
    parent = ""
    if family == "extend":
        parent = _submit_family(state, "generate")
        clock.now += 6
    elif family == "veo_extend":
        body = {"prompt": "p"}
        parent = state.submit_veo(parse_veo_generate(body), base_url="http://emu", endpoint="/v").task_id
        clock.now += 1_000
    before = state.stats()
    task_id = _submit_family(state, family, parent)
    snapshot = state.snapshot(task_id)
    assert snapshot is not None and snapshot.kind == family and snapshot.cost == cost
    assert (snapshot.duration, snapshot.quality, snapshot.aspect_ratio, snapshot.model) == (
        duration,
        quality,
        aspect_ratio,
        model,
    )
    assert snapshot.parent_task_id == parent
    after = state.stats()
    assert after.credits_charged - before.credits_charged == cost
    assert after.accepted_by_kind[family] == before.accepted_by_kind.get(family, 0) + 1
    assert after.submissions_received == before.submissions_received + 1


def test_jobs_tasks_are_priced_by_model_not_by_quality() -> None:
    state, _ = make_state(costs={(SubmissionKind.JOBS, 0, "kling/v2-video"): 7})
    task_id = _submit_family(state, "jobs")
    snapshot = state.snapshot(task_id)
    assert snapshot is not None and snapshot.cost == 7 and snapshot.quality == ""


@pytest.mark.parametrize("family", ["generate", "aleph", "jobs"])
def test_task_faults_and_refunds_hit_every_family(family: str) -> None:
    state, clock = make_state(initial_credits=100)
    state.set_faults([FaultRule("task_fail", fail_code=501, fail_msg="boom")])
    task_id = _submit_family(state, family)
    clock.now += 1_000
    snapshot = state.snapshot(task_id)
    assert snapshot is not None and snapshot.state == "fail" and snapshot.refunded
    assert (snapshot.fail_code, snapshot.fail_msg) == (501, "boom")
    stats = state.stats()
    assert state.credits == 100 and stats.faults_injected == {"task_fail": 1}
    assert stats.refunded_submissions == 1 and stats.paid_submissions == 0


def test_a_refused_extension_charges_nothing() -> None:
    state, _ = make_state()
    parent = _submit_family(state, "generate")  # still running: cannot be extended
    with pytest.raises(KieRefusal) as refused:
        _submit_family(state, "extend", parent)
    assert refused.value.code == 422 and "only a successfully generated video" in refused.value.msg
    assert state.credits == 10_000 - 30 and state.stats().submissions_accepted == 1
