"""KieClient and AsyncKieClient against the emulator over loopback HTTP: every endpoint, and every fault.

Each test runs twice, once per client (``kie`` is parametrized sync/async). "Exactly N requests" is read from
the emulator's own counters, so a retry the client should not make (or forgot to make) shows up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import (
    AlephGenerateRequest,
    AsyncKieClient,
    JobsCreateTaskRequest,
    KieAuthError,
    KieClient,
    KieInsufficientCreditsError,
    KieRateLimitError,
    KieResponseError,
    KieServerError,
    KieSubmitOutcomeUnknownError,
    KieTaskFailedError,
    KieTaskNotFoundError,
    KieTransportError,
    KieUnprocessableError,
    KieWaitTimeoutError,
    PollPolicy,
    RetryPolicy,
    RunwayExtendRequest,
    RunwayGenerateRequest,
    TaskKind,
    TaskRecord,
    TaskState,
)
from airflow_provider_kie.emulator import EmulatorConfig, FaultRule, RunningEmulator

pytestmark = pytest.mark.integration

GENERATE = "/api/v1/runway/generate"
EXTEND = "/api/v1/runway/extend"
RECORD = "/api/v1/runway/record-detail"
CREDIT = "/api/v1/chat/credit"
#: Submits resent only where KIE surely created nothing (429/455/refused connection), quickly.
FAST_SUBMIT_RETRY = RetryPolicy(
    max_attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.1, max_retry_after=5.0
)
FAST_POLL = PollPolicy(interval=0.02, jitter=0.1, error_backoff_max=0.1)


@dataclass
class Kie:
    """One client flavour against the emulator: ``kie("get_credits")`` calls a method on a fresh client."""

    mode: str
    api_key: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":
            with KieClient(self.api_key, **self.kwargs) as client:
                return getattr(client, method)(*args, **kwargs)

        async def run() -> Any:
            async with AsyncKieClient(self.api_key, **self.kwargs) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(run())

    def generate(self, prompt: str = "a red fox at dawn", **fields: Any) -> str:
        request = RunwayGenerateRequest(
            prompt=prompt,
            duration=fields.pop("duration", 5),
            quality=fields.pop("quality", "720p"),
            aspect_ratio=fields.pop("aspect_ratio", None if "image_url" in fields else "16:9"),
            **fields,
        )
        return str(self("runway_generate", request))

    def wait(self, task_id: str, kind: TaskKind = TaskKind.RUNWAY, **kwargs: Any) -> TaskRecord:
        kwargs.setdefault("poll", FAST_POLL)
        kwargs.setdefault("timeout", 60)
        return self("wait_for_task", task_id, kind, **kwargs)


@pytest.fixture(params=["sync", "async"])
def make_kie(
    request: pytest.FixtureRequest, emu: RunningEmulator, fast_retry: RetryPolicy
) -> Callable[..., Kie]:
    def make(**overrides: Any) -> Kie:
        kwargs: dict[str, Any] = {
            "base_url": emu.base_url,
            "upload_base_url": emu.upload_base_url,
            "retry": fast_retry,
            "submit_retry": FAST_SUBMIT_RETRY,
            "rng": random.Random(7),
        }
        api_key = overrides.pop("api_key", None) or emu.api_key
        kwargs.update(overrides)
        return Kie(request.param, api_key, kwargs)

    return make


@pytest.fixture
def kie(make_kie: Callable[..., Kie]) -> Kie:
    return make_kie()


def calls(emu: RunningEmulator, endpoint: str) -> int:
    return emu.stats().calls_by_endpoint.get(endpoint, 0)


def fetch(url: str) -> httpx.Response:
    """A plain GET with no credentials, as a media CDN is fetched."""
    return httpx.get(url, timeout=10, trust_env=False)


# -- Runway ------------------------------------------------------------------------------------------------
def test_generate_and_record_detail_map_every_phase(kie: Kie, emu: RunningEmulator) -> None:
    # Real-time phases (5 s wait, 10 s queueing, 60 s generating) moved through with the emulator's clock.
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate(prompt="a lighthouse in a storm", aspect_ratio="9:16")
    seen = []
    for jump in (0, 6, 10, 60):
        emu.advance_time(jump)
        record = kie("get_task", task_id)
        seen.append((record.raw_state, record.state))
    assert seen == [
        ("wait", TaskState.PENDING),
        ("queueing", TaskState.PENDING),
        ("generating", TaskState.RUNNING),
        ("success", TaskState.SUCCEEDED),
    ]
    assert record.task_id == task_id
    assert record.kind is TaskKind.RUNWAY
    assert record.video_url == f"{emu.base_url}/media/{task_id}.mp4"
    assert record.cover_url == f"{emu.base_url}/media/{task_id}.png"
    assert record.video_id
    assert record.prompt == "a lighthouse in a storm"
    assert record.parent_task_id is None
    assert record.expired is False
    stats = emu.stats()
    assert stats.paid_submissions == 1
    assert stats.credits_spent == 12


def test_wait_for_task_polls_through_the_lifecycle(kie: Kie, emu: RunningEmulator, caplog: Any) -> None:
    task_id = kie.generate()
    with caplog.at_level(logging.INFO, logger="airflow_provider_kie.client"):
        record = kie.wait(task_id)
    assert record.state is TaskState.SUCCEEDED
    assert record.video_url == f"{emu.base_url}/media/{task_id}.mp4"
    logged = [r.args[2] for r in caplog.records if r.msg == "KIE task %s is %s (%s)" and r.args[0] == task_id]
    # One line per state change, in lifecycle order, ending with success (fast polls may skip a phase).
    order = ["wait", "queueing", "generating", "success"]
    assert logged[-1] == "success"
    assert logged == sorted(set(logged), key=order.index)
    assert calls(emu, RECORD) >= len(logged)


def test_wait_for_task_times_out_with_the_last_state(kie: Kie, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate()
    with pytest.raises(KieWaitTimeoutError) as raised:
        kie.wait(task_id, timeout=0.2, poll=PollPolicy(interval=0.05, jitter=0.0))
    assert raised.value.task_id == task_id
    assert raised.value.last_state == "pending"


def test_image_to_video_with_an_uploaded_image(
    kie: Kie, emu: RunningEmulator, media: Any, tmp_path: Path
) -> None:
    image, _ = media.write_inputs(tmp_path)
    uploaded = kie("upload_file", image, "kie-int/images")
    assert uploaded.download_url.startswith(f"{emu.upload_base_url}/files/kie-int/images/")
    task_id = kie.generate(image_url=uploaded.download_url)
    record = kie.wait(task_id)
    assert record.state is TaskState.SUCCEEDED
    detail = httpx.get(
        emu.url(RECORD), params={"taskId": task_id}, headers=emu.auth_headers, trust_env=False
    ).json()["data"]
    assert detail["generateParam"]["imageUrl"] == uploaded.download_url
    (snapshot,) = emu.tasks()
    assert snapshot.aspect_ratio is None  # the image decides the ratio


def test_extensions_chain_and_keep_the_parents_ratio(kie: Kie, emu: RunningEmulator) -> None:
    root = kie.generate(aspect_ratio="9:16")
    kie.wait(root)
    first = str(
        kie("runway_extend", RunwayExtendRequest(task_id=root, prompt="the fox runs", quality="720p"))
    )
    first_record = kie.wait(first)
    second = str(kie("runway_extend", RunwayExtendRequest(task_id=first, prompt="it jumps", quality="1080p")))
    second_record = kie.wait(second)
    assert (first_record.parent_task_id, second_record.parent_task_id) == (root, first)
    assert second_record.state is TaskState.SUCCEEDED
    assert second_record.video_url == f"{emu.base_url}/media/{second}.mp4"
    ratios = {t.task_id: (t.kind, t.aspect_ratio) for t in emu.tasks()}
    assert ratios == {root: ("generate", "9:16"), first: ("extend", "9:16"), second: ("extend", "9:16")}
    assert emu.stats().credits_spent == 12 + 12 + 30


def test_extending_an_unfinished_task_is_rejected_once(kie: Kie, emu: RunningEmulator) -> None:
    emu.reconfigure(time_scale=1.0)
    parent = kie.generate()
    with pytest.raises(KieUnprocessableError, match="only a successfully generated video can be extended"):
        kie("runway_extend", RunwayExtendRequest(task_id=parent, prompt="more", quality="720p"))
    with pytest.raises(KieUnprocessableError, match="not found"):
        kie("runway_extend", RunwayExtendRequest(task_id="no-such-task", prompt="more", quality="720p"))
    stats = emu.stats()
    assert calls(emu, EXTEND) == 2  # a refusal is never resent
    assert stats.rejections_by_code == {422: 2}
    assert stats.paid_submissions == 1


# -- Aleph and jobs ------------------------------------------------------------------------------------
def test_aleph_restyles_an_uploaded_video(kie: Kie, emu: RunningEmulator, media: Any) -> None:
    uploaded = kie("upload_base64", media.video, "kie-int/videos", file_name="footage.mp4")
    assert uploaded.mime_type == "video/mp4"
    request = AlephGenerateRequest(
        prompt="as an oil painting", video_url=uploaded.download_url, aspect_ratio="21:9", seed=42
    )
    task_id = str(kie("aleph_generate", request))
    record = kie.wait(task_id, TaskKind.ALEPH)
    assert record.kind is TaskKind.ALEPH
    assert record.state is TaskState.SUCCEEDED
    assert record.raw_state == "successFlag=1"
    assert record.video_url == f"{emu.base_url}/media/{task_id}.mp4"
    assert record.cover_url == f"{emu.base_url}/media/{task_id}.png"
    assert record.prompt == "as an oil painting"
    assert emu.stats().accepted_by_kind == {"aleph": 1}
    # An Aleph id is unknown to the Runway record endpoint, as at KIE.
    with pytest.raises(KieTaskNotFoundError):
        kie("get_task", task_id, TaskKind.RUNWAY)


def test_a_failed_aleph_task_carries_kies_reason(kie: Kie, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("task_fail", endpoint="/api/v1/aleph/generate", fail_code=501, fail_msg="boom"))
    task_id = str(
        kie("aleph_generate", AlephGenerateRequest(prompt="x", video_url="https://example.com/in.mp4"))
    )
    with pytest.raises(KieTaskFailedError) as raised:
        kie.wait(task_id, TaskKind.ALEPH)
    assert (raised.value.task_id, raised.value.fail_code, raised.value.fail_msg) == (task_id, "501", "boom")
    record = kie.wait(task_id, TaskKind.ALEPH, raise_on_failure=False)
    assert record.state is TaskState.FAILED
    assert record.video_url is None
    assert emu.stats().refunded_submissions == 1


@pytest.mark.parametrize(
    ("model", "suffix"), [("runway/text-to-video", ".mp4"), ("flux/kontext-pro", ".png")]
)
def test_jobs_create_task_and_record_info(kie: Kie, emu: RunningEmulator, model: str, suffix: str) -> None:
    task_id = str(kie("jobs_create_task", JobsCreateTaskRequest(model=model, input={"prompt": "a kite"})))
    record = kie.wait(task_id, TaskKind.JOBS)
    assert record.kind is TaskKind.JOBS
    assert record.state is TaskState.SUCCEEDED
    assert record.raw_state == "success"
    assert record.video_url == f"{emu.base_url}/media/{task_id}{suffix}"
    assert emu.stats().credits_spent == 20


# -- common API ------------------------------------------------------------------------------------------
def test_credits_go_down_per_clip(kie: Kie, emu: RunningEmulator) -> None:
    assert kie("get_credits") == 10_000
    kie.generate(duration=10)
    assert kie("get_credits") == 10_000 - 30


def test_download_links_work_expire_and_can_be_renewed(kie: Kie, emu: RunningEmulator, media: Any) -> None:
    task_id = kie.generate()
    record = kie.wait(task_id)
    assert record.video_url is not None
    link = str(kie("get_download_url", record.video_url))
    assert link.startswith(f"{emu.base_url}/media/dl/")
    served = emu.media_bytes(record.video_url)
    assert served and fetch(link).content == served
    emu.advance_time(21 * 60)  # KIE's links live 20 minutes
    assert fetch(link).status_code == 403
    renewed = str(kie("get_download_url", record.video_url))
    assert renewed != link
    assert fetch(renewed).content == served
    with pytest.raises(KieUnprocessableError, match="not a file generated by KIE"):
        kie("get_download_url", "https://example.com/someone-elses.mp4")


def test_the_three_uploads_use_the_upload_host(
    kie: Kie, emu: RunningEmulator, media: Any, tmp_path: Path
) -> None:
    image, _ = media.write_inputs(tmp_path)
    streamed = kie("upload_file", image, "kie-int/a")
    encoded = kie("upload_base64", media.cover, "kie-int/b", file_name="cover.png")
    fetched = kie("upload_from_url", streamed.download_url, "kie-int/c", file_name="copy.png")
    for uploaded, folder, name in (
        (streamed, "a", "product.png"),
        (encoded, "b", "cover.png"),
        (fetched, "c", "copy.png"),
    ):
        assert uploaded.download_url == f"{emu.upload_base_url}/files/kie-int/{folder}/{name}"
        assert uploaded.file_size == len(media.cover)
        assert uploaded.mime_type == "image/png"
        assert fetch(uploaded.download_url).content == media.cover
    by_endpoint = emu.stats().calls_by_endpoint
    for endpoint in ("file-stream-upload", "file-base64-upload", "file-url-upload"):
        assert by_endpoint[f"/upload-host/api/{endpoint}"] == 1
    assert emu.stats().credits_spent == 0  # uploads are free


# -- faults: 429 -----------------------------------------------------------------------------------------
def test_reads_retry_429_honouring_retry_after(kie: Kie, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("rate_limited", endpoint=CREDIT, end_call=2, retry_after_s=0))
    assert kie("get_credits") == 10_000
    assert calls(emu, CREDIT) == 3


def test_a_retry_after_longer_than_allowed_is_not_waited_for(kie: Kie, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("rate_limited", endpoint=CREDIT, retry_after_s=60))
    with pytest.raises(KieRateLimitError) as raised:
        kie("get_credits")
    assert raised.value.retry_after == 60.0
    assert calls(emu, CREDIT) == 1


def test_submits_are_resent_after_429_within_the_submit_budget(kie: Kie, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("rate_limited", endpoint=GENERATE, end_call=2, retry_after_s=0))
    task_id = kie.generate()
    assert [t.task_id for t in emu.tasks()] == [task_id]
    assert calls(emu, GENERATE) == 3
    assert emu.stats().paid_submissions == 1


def test_submits_give_up_after_the_submit_budget(kie: Kie, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("rate_limited", endpoint=GENERATE, retry_after_s=0))
    with pytest.raises(KieRateLimitError):
        kie.generate()
    assert calls(emu, GENERATE) == FAST_SUBMIT_RETRY.max_attempts
    assert emu.stats().submissions_accepted == 0


def test_the_emulators_own_rate_limit(kie: Kie, emu: RunningEmulator) -> None:
    emu.reconfigure(rate_limit=2, rate_window_s=60.0)
    kie.generate()
    kie.generate()
    with pytest.raises(KieRateLimitError) as raised:
        kie.generate()
    # Retry-After is the rest of the 60 s window: longer than the client may wait, so no resend.
    assert raised.value.retry_after is not None and 1 <= raised.value.retry_after <= 60
    stats = emu.stats()
    assert (stats.rate_limited, stats.paid_submissions, calls(emu, GENERATE)) == (1, 2, 3)


# -- faults: 455, 500, body codes, broken answers ------------------------------------------------------------
def test_maintenance_is_retried_for_reads_and_submits(kie: Kie, emu: RunningEmulator) -> None:
    emu.set_faults(
        FaultRule("maintenance", endpoint=CREDIT, end_call=2),
        FaultRule("maintenance", endpoint=GENERATE, end_call=1),
    )
    assert kie("get_credits") == 10_000
    kie.generate()
    assert (calls(emu, CREDIT), calls(emu, GENERATE)) == (3, 2)
    assert emu.stats().paid_submissions == 1


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(FaultRule("server_error", endpoint=RECORD, end_call=2), id="http-500"),
        pytest.param(FaultRule("server_error", endpoint=RECORD, end_call=2, status=502), id="http-502"),
        pytest.param(FaultRule("body_error", endpoint=RECORD, end_call=2, code=500), id="body-500-under-200"),
        pytest.param(FaultRule("drop_connection", endpoint=RECORD, end_call=2), id="dropped"),
        pytest.param(FaultRule("delay", endpoint=RECORD, end_call=1, delay_s=2.5), id="read-timeout"),
    ],
)
def test_transient_read_failures_are_retried(
    make_kie: Callable[..., Kie], emu: RunningEmulator, fault: FaultRule
) -> None:
    kie = make_kie(timeout=httpx.Timeout(1.0, connect=5.0))  # the "delay" fault answers after 2.5 s
    task_id = kie.generate()
    emu.set_faults(fault)
    record = kie("get_task", task_id)
    assert record.task_id == task_id
    assert calls(emu, RECORD) == (fault.end_call or 0) + 1
    assert emu.stats().faults_injected == {fault.kind.value: fault.end_call}


@pytest.mark.parametrize(
    ("fault", "paid"),
    [
        pytest.param(FaultRule("server_error", endpoint=GENERATE), 0, id="500-before"),
        pytest.param(FaultRule("server_error", endpoint=GENERATE, when="after"), 1, id="500-after-created"),
        pytest.param(FaultRule("body_error", endpoint=GENERATE, code=500), 0, id="body-500-under-200"),
        pytest.param(FaultRule("drop_connection", endpoint=GENERATE), 0, id="dropped-before"),
        pytest.param(FaultRule("drop_connection", endpoint=GENERATE, when="after"), 1, id="dropped-after"),
        pytest.param(FaultRule("malformed_json", endpoint=GENERATE, when="after"), 1, id="malformed-after"),
    ],
)
def test_an_ambiguous_submit_failure_is_sent_exactly_once(
    kie: Kie, emu: RunningEmulator, fault: FaultRule, paid: int
) -> None:
    emu.set_faults(fault)
    with pytest.raises(KieSubmitOutcomeUnknownError) as raised:
        kie.generate()
    assert raised.value.endpoint == GENERATE
    assert calls(emu, GENERATE) == 1
    # "after" faults: KIE created (and charged) the task, the client just never heard of it; never twice.
    assert emu.stats().paid_submissions == paid


def test_a_server_error_on_reads_that_persists_is_raised(
    kie: Kie, emu: RunningEmulator, fast_retry: RetryPolicy
) -> None:
    emu.set_faults(FaultRule("server_error", endpoint=CREDIT))
    with pytest.raises(KieServerError) as raised:
        kie("get_credits")
    assert raised.value.http_status == 500
    assert calls(emu, CREDIT) == fast_retry.max_attempts


def test_a_malformed_answer_to_a_read_is_retried_then_a_response_error(
    kie: Kie, emu: RunningEmulator
) -> None:
    emu.set_faults(FaultRule("malformed_json", endpoint=CREDIT))
    with pytest.raises(KieResponseError, match="a body that is not JSON") as raised:
        kie("get_credits")
    assert raised.value.http_status == 200
    assert calls(emu, CREDIT) > 1  # a body that is not JSON may be transient: reads try again


def test_a_read_recovers_from_one_malformed_answer(kie: Kie, emu: RunningEmulator) -> None:
    emu.set_faults(FaultRule("malformed_json", endpoint=CREDIT, end_call=1))
    assert isinstance(kie("get_credits"), int)
    assert calls(emu, CREDIT) == 2


@pytest.mark.parametrize(
    ("code", "error"),
    [(401, KieAuthError), (422, KieUnprocessableError), (402, KieInsufficientCreditsError)],
)
def test_body_codes_under_http_200_are_errors_and_not_resent(
    kie: Kie, emu: RunningEmulator, code: int, error: type[Exception]
) -> None:
    emu.set_faults(FaultRule("body_error", endpoint=GENERATE, code=code, msg=f"refused with {code}"))
    with pytest.raises(error, match=f"refused with {code}"):
        kie.generate()
    assert calls(emu, GENERATE) == 1


def test_a_refused_connection_is_resent_even_for_submits(
    make_kie: Callable[..., Kie], emu: RunningEmulator
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kie = make_kie(base_url=f"http://127.0.0.1:{port}")  # nothing listens there any more
    with pytest.raises(KieTransportError) as raised:
        kie.generate()
    assert raised.value.request_sent is False  # the client knows nothing reached KIE
    assert not isinstance(raised.value, KieSubmitOutcomeUnknownError)


# -- faults: account ---------------------------------------------------------------------------------------
def test_a_wrong_key_is_refused_everywhere(
    make_kie: Callable[..., Kie], emu: RunningEmulator, media: Any
) -> None:
    emu.reconfigure(api_keys={"the-right-key"})
    kie = make_kie(api_key="a-wrong-key")
    with pytest.raises(KieAuthError) as raised:
        kie("get_credits")
    assert raised.value.http_status == 200  # KIE's way: HTTP 200, code 401 in the body
    with pytest.raises(KieAuthError):
        kie.generate()
    with pytest.raises(KieAuthError):
        kie("upload_base64", media.cover, "kie-int/x")
    assert "a-wrong-key" not in str(raised.value)
    assert (calls(emu, CREDIT), calls(emu, GENERATE)) == (1, 1)
    assert make_kie(api_key="the-right-key")("get_credits") == 10_000


def test_running_out_of_credits_is_402_and_charges_nothing(kie: Kie, emu: RunningEmulator) -> None:
    emu.reconfigure(initial_credits=30)
    kie.generate()
    kie.generate()  # 12 + 12: 6 credits left, a 5 s clip costs 12
    with pytest.raises(KieInsufficientCreditsError) as raised:
        kie.generate()
    assert raised.value.http_status == 200  # refused in the body, as KIE does
    assert calls(emu, GENERATE) == 3  # not resent: more credits will not appear by retrying
    assert kie("get_credits") == 6
    stats = emu.stats()
    assert (stats.paid_submissions, stats.rejections_by_code) == (2, {402: 1})


def test_the_server_validates_what_the_client_let_through(kie: Kie, emu: RunningEmulator) -> None:
    # model_construct skips local validation: this is what a client without it would send.
    bad = RunwayGenerateRequest.model_construct(
        prompt="x",
        duration=7,
        quality="720p",
        aspect_ratio="16:9",
        image_url=None,
        watermark="",
        callback_url=None,
    )
    with pytest.raises(KieUnprocessableError, match="duration"):
        kie("runway_generate", bad)
    with pytest.raises(KieTaskNotFoundError):
        kie("get_task", "no-such-task")
    assert (calls(emu, GENERATE), calls(emu, RECORD)) == (1, 1)
    assert emu.stats().rejections_by_code == {422: 1}


def test_moderation_and_the_concurrency_cap_fail_tasks_not_submits(kie: Kie, emu: RunningEmulator) -> None:
    emu.reconfigure(
        EmulatorConfig(
            time_scale=0.005, concurrency_cap=1, faults=(FaultRule("moderation", words=("forbidden",)),)
        )
    )
    moderated = kie.wait(kie.generate(prompt="a forbidden scene"), raise_on_failure=False)
    assert moderated.state is TaskState.FAILED
    assert moderated.fail_code == "400"
    assert "moderator" in (moderated.fail_msg or "")
    emu.reconfigure(time_scale=1.0, concurrency_cap=1)
    kie.generate()  # runs for 75 s, holding the only slot
    capped = kie("get_task", kie.generate())
    assert capped.state is TaskState.FAILED
    assert capped.hit_concurrency_limit
    stats = emu.stats()
    assert (stats.paid_submissions, stats.refunded_submissions) == (1, 1)
