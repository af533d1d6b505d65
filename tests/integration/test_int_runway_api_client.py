"""RunwayClient and AsyncRunwayClient against the emulated Runway API over loopback HTTP.

Create -> poll -> succeeded -> download (a clip the emulator rendered for that task, at the ratio's size),
cancel, throttling, a create whose answer is lost, and the organisation, each with both client flavours.
Paid creates and DELETEs are read from the emulator's own counters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kie.client import (
    KieAuthError,
    KieSubmitOutcomeUnknownError,
    KieTaskCancelledError,
    PollPolicy,
    RetryPolicy,
    TaskKind,
    TaskRecord,
    TaskState,
)
from airflow_provider_kie.client.runway_api import (
    AsyncRunwayClient,
    RunwayClient,
    RunwayImageToVideoRequest,
    RunwayTextToVideoRequest,
)
from airflow_provider_kie.client.storage import store_url
from airflow_provider_kie.emulator import FaultRule, RunningEmulator
from airflow_provider_kie.emulator.render import embedded_task_id

pytestmark = pytest.mark.integration

FAST_POLL = PollPolicy(interval=0.02, jitter=0.1, error_backoff_max=0.1)
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.1, max_retry_after=5.0)
#: Emulated seconds a "slow" task stays pending, then running (BASE_CONFIG's 0.005 scale: 50 real seconds).
SLOW = 10_000.0


def fox(**overrides: Any) -> RunwayTextToVideoRequest:
    fields: dict[str, Any] = {"model": "gen4.5", "prompt_text": "a red fox at dawn", "ratio": "1280:720"}
    fields["duration"] = 5
    return RunwayTextToVideoRequest(**{**fields, **overrides})


@dataclasses.dataclass
class Runway:
    """One client flavour against the emulator: ``runway("get_organization")`` calls it on a fresh client."""

    mode: str
    emu: RunningEmulator
    api_key: str | None = None

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        options: dict[str, Any] = {
            "base_url": self.emu.runway_base_url,
            "retry": FAST_RETRY,
            "submit_retry": FAST_RETRY,
        }
        key = self.api_key or self.emu.runway_api_key
        if self.mode == "sync":
            with RunwayClient(key, **options) as client:
                return getattr(client, method)(*args, **kwargs)

        async def run() -> Any:
            async with AsyncRunwayClient(key, **options) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(run())

    def slow(self, **changes: Any) -> None:
        config = dataclasses.replace(self.emu.config.runway_api, pending_s=SLOW, running_s=SLOW, **changes)
        self.emu.reconfigure(runway_api=config)


@pytest.fixture(params=["sync", "async"])
def runway(request: pytest.FixtureRequest, emu: RunningEmulator) -> Runway:
    return Runway(request.param, emu)


def probe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=width,height:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = json.loads(result.stdout)
    return {**found["streams"][0], "duration": float(found["format"]["duration"])}


def test_create_poll_succeed_download(runway: Runway, tmp_path: Path) -> None:
    task_id = runway("text_to_video", fox(ratio="720:1280", duration=4))
    record: TaskRecord = runway("wait_for_task", task_id, poll=FAST_POLL, timeout=30)
    assert (record.kind, record.state, record.task_id) == (TaskKind.RUNWAY_API, TaskState.SUCCEEDED, task_id)
    assert len(record.result_urls) == 1
    stored = store_url(record.result_urls[0], tmp_path / "fox.mp4")
    data = Path(stored.path).read_bytes()
    assert embedded_task_id(data) == task_id and stored.content_type == "video/mp4"
    clip = probe(Path(stored.path))
    assert (clip["width"], clip["height"]) == (720, 1280) and abs(clip["duration"] - 4) < 0.6
    stats = runway.emu.runway_api_stats()
    assert (stats.creates_accepted, stats.paid_creates, stats.credits_spent) == (1, 1, 4 * 12)


def test_a_local_image_goes_as_a_data_uri(runway: Runway, tmp_path: Path, media: Any) -> None:
    image, _ = media.write_inputs(tmp_path)
    request = RunwayImageToVideoRequest(model="gen4_turbo", prompt_image=image, ratio="960:960", duration=2)
    record = runway("wait_for_task", runway("image_to_video", request), poll=FAST_POLL, timeout=30)
    assert record.state is TaskState.SUCCEEDED
    assert [(t.width, t.height, t.clip_seconds) for t in runway.emu.runway_api_tasks()] == [(960, 960, 2.0)]


def test_cancel_ends_the_task_as_cancelled(runway: Runway) -> None:
    runway.slow()
    task_id = runway("text_to_video", fox())
    assert runway("cancel_task", task_id) is True
    record = runway("get_task", task_id)
    assert record.cancelled and record.state is TaskState.FAILED and record.raw_state == "CANCELLED"
    with pytest.raises(KieTaskCancelledError):
        runway("wait_for_task", task_id, poll=FAST_POLL, timeout=30)
    assert runway("cancel_task", task_id) is True  # a second DELETE deletes the cancelled task
    assert runway("cancel_task", task_id) is False  # and then there is nothing left
    stats = runway.emu.runway_api_stats()
    assert (stats.deletes, stats.cancels, stats.deletions, stats.deletes_not_found) == (3, 1, 1, 1)
    assert (stats.paid_creates, stats.refunded_creates) == (0, 1)  # cancelled while PENDING: refunded


def test_throttled_tasks_wait_their_turn(runway: Runway) -> None:
    runway.emu.reconfigure(
        runway_api=dataclasses.replace(runway.emu.config.runway_api, max_concurrent_generations=1)
    )
    first, second = runway("text_to_video", fox()), runway("text_to_video", fox())
    waiting = runway("get_task", second)
    if waiting.raw_state == "THROTTLED":  # the first may already be done on a slow machine
        assert waiting.state is TaskState.PENDING and not waiting.is_terminal
    for task_id in (first, second):
        assert runway("wait_for_task", task_id, poll=FAST_POLL, timeout=30).state is TaskState.SUCCEEDED
    assert runway.emu.runway_api_stats().throttled_creates == 1


def test_a_create_whose_answer_is_lost_is_not_sent_again(runway: Runway) -> None:
    runway.emu.set_faults(
        FaultRule(
            "server_error", endpoint="/runway-api/v1/text_to_video", when="after", status=502, end_call=1
        )
    )
    with pytest.raises(KieSubmitOutcomeUnknownError):
        runway("text_to_video", fox())
    assert runway.emu.stats().calls_by_endpoint["/runway-api/v1/text_to_video"] == 1
    assert runway.emu.runway_api_stats().paid_creates == 1  # Runway charged it: a resend would pay twice


def test_a_rate_limited_create_is_sent_again(runway: Runway) -> None:
    runway.emu.set_faults(
        FaultRule("rate_limited", endpoint="/runway-api/v1/text_to_video", end_call=1, retry_after_s=0)
    )
    assert runway("text_to_video", fox())
    assert runway.emu.stats().calls_by_endpoint["/runway-api/v1/text_to_video"] == 2
    assert runway.emu.runway_api_stats().paid_creates == 1


def test_organization_and_a_kie_key_sent_to_runway(runway: Runway) -> None:
    runway("text_to_video", fox())
    organization = runway("get_organization")
    assert organization.credit_balance == runway.emu.config.runway_api.initial_credits - 60
    limits = organization.limits_for("gen4.5")
    assert limits is not None and limits.daily_generations == 1 and limits.max_concurrent_generations == 2
    with pytest.raises(KieAuthError):
        dataclasses.replace(runway, api_key=runway.emu.api_key)("get_organization")
