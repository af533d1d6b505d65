"""The emulated Runway developer API (``/runway-api``), spoken with raw httpx, never the provider's client."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import FaultRule, RunningEmulator, RunwayApiConfig
from airflow_provider_kie.emulator.runway_api_config import DEFAULT_RUNWAY_API_KEY

IMG = "https://cdn.example.com/frame.png"
VIDEO = "https://cdn.example.com/clip.mp4"
T2V = "/v1/text_to_video"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
#: Long enough that a test sees a task PENDING, RUNNING or THROTTLED without racing the clock (fast config:
#: 10 000 emulated seconds are 20 real seconds); tests move from phase to phase with ``advance_time``.
SLOW = 10_000.0


@dataclasses.dataclass
class Runway:
    """Raw calls to the emulated Runway API."""

    http: httpx.Client
    emu: RunningEmulator

    def create(self, path: str = T2V, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "model": "gen4.5",
            "promptText": "a red fox",
            "ratio": "1280:720",
            "duration": 5,
        }
        if path == "/v1/image_to_video":
            body = {"model": "gen4_turbo", "promptImage": IMG, "ratio": "1280:720", "duration": 5}
        body.update(overrides)
        return self.http.post(path, json={k: v for k, v in body.items() if v is not None})

    def create_id(self, path: str = T2V, **overrides: Any) -> str:
        answer = self.create(path, **overrides)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

    def task(self, task_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/v1/tasks/{task_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait(self, task_id: str, wait: Callable[..., Any]) -> dict[str, Any]:
        return dict(wait(lambda: (t := self.task(task_id))["status"] in TERMINAL and t))

    def slow(self, **changes: Any) -> None:
        """Tasks that stay PENDING for ``SLOW`` emulated seconds, then RUNNING for as long."""
        config = dataclasses.replace(self.emu.config.runway_api, pending_s=SLOW, running_s=SLOW, **changes)
        self.emu.reconfigure(runway_api=config)


@pytest.fixture
def runway(emu: RunningEmulator) -> Iterator[Runway]:
    with httpx.Client(base_url=emu.runway_base_url, headers=emu.runway_api_headers, trust_env=False) as http:
        yield Runway(http, emu)


# -- gatekeeping ---------------------------------------------------------------------------------------------


def test_the_runway_api_lives_under_its_own_prefix_with_its_own_key(emu: RunningEmulator) -> None:
    assert emu.runway_base_url == emu.base_url + "/runway-api"
    assert emu.runway_api_key == DEFAULT_RUNWAY_API_KEY
    assert emu.runway_api_headers["X-Runway-Version"] == "2024-11-06"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer emulator-test-key", f"Basic {DEFAULT_RUNWAY_API_KEY}"]
)
def test_a_missing_or_foreign_key_is_401(emu: RunningEmulator, authorization: str | None) -> None:
    headers = {"X-Runway-Version": "2024-11-06"}
    if authorization:
        headers["Authorization"] = authorization
    answer = httpx.get(emu.runway_base_url + "/v1/organization", headers=headers, trust_env=False)
    assert answer.status_code == 401 and "API key" in answer.json()["error"]


def test_configured_keys_replace_the_shape_check(emu: RunningEmulator) -> None:
    emu.reconfigure(runway_api=RunwayApiConfig(api_keys=frozenset({"my-key"})))
    assert emu.runway_api_key == "my-key"
    ok = httpx.get(emu.runway_base_url + "/v1/organization", headers=emu.runway_api_headers, trust_env=False)
    assert ok.status_code == 200
    headers = {**emu.runway_api_headers, "Authorization": f"Bearer {DEFAULT_RUNWAY_API_KEY}"}
    assert (
        httpx.get(emu.runway_base_url + "/v1/organization", headers=headers, trust_env=False).status_code
        == 401
    )


def test_the_version_header_is_required_and_named(emu: RunningEmulator) -> None:
    auth = {"Authorization": f"Bearer {emu.runway_api_key}"}
    missing = httpx.post(emu.runway_base_url + T2V, headers=auth, json={}, trust_env=False)
    assert missing.status_code == 400
    assert missing.json()["error"].startswith("X-Runway-Version: header is required")
    wrong = httpx.get(
        emu.runway_base_url + "/v1/organization",
        headers={**auth, "X-Runway-Version": "2023-01-01"},
        trust_env=False,
    )
    assert (
        wrong.status_code == 400 and "'2023-01-01' is not supported; use 2024-11-06" in wrong.json()["error"]
    )
    # The key comes first.
    assert httpx.get(emu.runway_base_url + "/v1/organization", trust_env=False).status_code == 401
    stats = emu.runway_api_stats()
    assert (
        stats.creates_received == 1 and stats.rejections_by_status == {400: 1} and stats.creates_accepted == 0
    )


def test_unknown_paths_and_methods_answer_in_runways_shape(runway: Runway) -> None:
    missing = runway.http.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    wrong = runway.http.get(T2V)
    assert wrong.status_code == 405 and "error" in wrong.json()


# -- creates and validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "overrides", "words"),
    [
        (T2V, {"model": "gen5"}, "model: Invalid enum value"),
        (
            T2V,
            {"model": "gen4_turbo"},
            "model: Invalid enum value. Expected gen4.5 | veo3.1 | veo3.1_fast | veo3",
        ),
        (T2V, {"ratio": "1584:672"}, "ratio: Invalid enum value for gen4.5. Expected 1280:720, 720:1280"),
        (T2V, {"ratio": None}, "ratio: Required"),
        (T2V, {"model": "veo3.1", "duration": 5}, "duration: must be one of 4, 6, 8 for veo3.1"),
        (T2V, {"duration": True}, "duration: Invalid"),
        (T2V, {"promptText": None}, "promptText: Required"),
        (T2V, {"promptText": "x" * 1001}, "promptText: must be at most 1000"),
        ("/v1/image_to_video", {"promptImage": "http://cdn.example.com/a.png"}, "promptImage: Only HTTPS"),
        ("/v1/image_to_video", {"promptImage": "https://203.0.113.9/a.png"}, "hosted on a domain"),
        (
            "/v1/image_to_video",
            {"promptImage": "data:image/png," + "A" * 10},
            "promptImage: Invalid data URI.",
        ),
        ("/v1/image_to_video", {"promptImage": "data:video/mp4;base64,AAAA"}, "Unsupported asset type"),
        ("/v1/image_to_video", {"promptImage": None}, "promptImage: Required"),
        ("/v1/video_to_video", {"model": "aleph2"}, "videoUri: Required"),
        (
            "/v1/video_upscale",
            {"model": "magnific_video_upscaler_creative", "videoUri": VIDEO, "resolution": "8k"},
            "resolution",
        ),
    ],
)
def test_refusals_name_the_field(runway: Runway, path: str, overrides: dict[str, Any], words: str) -> None:
    answer = runway.create(path, **overrides)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]


def test_a_data_uri_over_five_megabytes_is_refused(runway: Runway) -> None:
    too_big = "data:image/png;base64," + "A" * (5 * 1024 * 1024)
    answer = runway.create("/v1/image_to_video", promptImage=too_big)
    assert answer.status_code == 400 and "Data URI too large" in answer.json()["error"]
    small = "data:image/png;base64," + base64.b64encode(b"\x89PNG....").decode()
    assert runway.create("/v1/image_to_video", promptImage=small).status_code == 200


def test_a_body_that_is_no_json_object_is_refused(runway: Runway) -> None:
    assert runway.http.post(T2V, content=b"{nope").json() == {"error": "Invalid JSON in request body"}
    assert runway.http.post(T2V, json=[1]).status_code == 400


def test_every_endpoint_creates_a_task(runway: Runway) -> None:
    bodies = {
        "/v1/image_to_video": {
            "model": "veo3.1",
            "promptImage": [{"uri": IMG, "position": "first"}],
            "ratio": "720:1280",
        },
        T2V: {
            "model": "veo3.1_fast",
            "promptText": "a fox",
            "ratio": "1920:1080",
            "duration": 4,
            "audio": False,
        },
        "/v1/video_to_video": {"model": "aleph2", "videoUri": VIDEO, "targetAspectRatio": "9:16"},
        "/v1/video_upscale": {"model": "magnific_video_upscaler_creative", "videoUri": VIDEO},
        "/v1/character_performance": {
            "model": "act_two",
            "character": {"type": "image", "uri": IMG},
            "reference": {"type": "video", "uri": VIDEO},
        },
    }
    for path, body in bodies.items():
        answer = runway.http.post(path, json=body)
        assert answer.status_code == 200, (path, answer.text)
    shapes = {t.endpoint: (t.width, t.height, t.clip_seconds) for t in runway.emu.runway_api_tasks()}
    assert shapes == {
        "image_to_video": (720, 1280, 8.0),
        "text_to_video": (1920, 1080, 4.0),
        "video_to_video": (720, 1280, 5.0),
        "video_upscale": (2560, 1440, 5.0),
        "character_performance": (1280, 720, 5.0),
    }


# -- lifecycle --------------------------------------------------------------------------------------------


def test_a_task_goes_pending_running_succeeded(runway: Runway) -> None:
    runway.slow()
    task_id = runway.create_id()
    first = runway.task(task_id)
    assert first["status"] == "PENDING" and first["id"] == task_id and first["createdAt"].endswith("Z")
    assert set(first) == {"id", "status", "createdAt"}
    runway.emu.advance_time(SLOW)
    running = runway.task(task_id)
    assert running["status"] == "RUNNING" and 0.0 <= running["progress"] < 0.5
    runway.emu.advance_time(SLOW)
    done = runway.task(task_id)
    assert done["status"] == "SUCCEEDED" and len(done["output"]) == 1
    assert done["output"][0].startswith(runway.emu.base_url + "/runway-cdn/")


def test_over_the_concurrency_limit_tasks_are_throttled_then_run(runway: Runway) -> None:
    runway.slow(max_concurrent_generations=1)
    first, second = runway.create_id(), runway.create_id()
    other_model = runway.create_id(
        model="veo3.1_fast", ratio="720:1280", duration=4
    )  # a slot of its own model
    throttled = runway.task(second)
    assert throttled["status"] == "THROTTLED" and set(throttled) == {"id", "status", "createdAt"}
    assert runway.task(other_model)["status"] in ("PENDING", "RUNNING")
    runway.emu.advance_time(2 * SLOW)  # the first ends; the second starts then
    assert runway.task(first)["status"] == "SUCCEEDED"
    assert runway.task(second)["status"] == "PENDING"
    runway.emu.advance_time(2 * SLOW)
    assert runway.task(second)["status"] == "SUCCEEDED"
    stats = runway.emu.runway_api_stats()
    assert stats.throttled_creates == 1 and stats.paid_creates == 3
    organization = runway.http.get("/v1/organization").json()
    assert organization["tier"]["models"]["gen4.5"] == {
        "maxConcurrentGenerations": 1,
        "maxDailyGenerations": 200,
    }


def test_cancelling_a_throttled_task_means_it_never_starts(runway: Runway) -> None:
    runway.slow(max_concurrent_generations=1)
    first, second, third = runway.create_id(), runway.create_id(), runway.create_id()
    assert runway.http.delete(f"/v1/tasks/{second}").status_code == 204
    assert runway.task(second)["status"] == "CANCELLED"
    assert runway.http.delete(f"/v1/tasks/{first}").status_code == 204  # frees the slot: the third starts
    assert runway.task(third)["status"] == "PENDING"
    runway.emu.advance_time(2 * SLOW + 10)
    assert [runway.task(t)["status"] for t in (first, second, third)] == [
        "CANCELLED",
        "CANCELLED",
        "SUCCEEDED",
    ]


def test_delete_cancels_and_refunds_what_had_not_started_running(runway: Runway) -> None:
    runway.slow()
    balance = runway.http.get("/v1/organization").json()["creditBalance"]
    pending = runway.create_id()
    answer = runway.http.delete(f"/v1/tasks/{pending}")
    assert answer.status_code == 204 and answer.content == b""
    assert runway.task(pending) == {
        "id": pending,
        "status": "CANCELLED",
        "createdAt": runway.task(pending)["createdAt"],
    }
    assert runway.http.get("/v1/organization").json()["creditBalance"] == balance
    running = runway.create_id()
    runway.emu.advance_time(SLOW + 1)
    assert runway.task(running)["status"] == "RUNNING"
    assert runway.http.delete(f"/v1/tasks/{running}").status_code == 204
    assert runway.task(running)["status"] == "CANCELLED"
    assert (
        runway.http.get("/v1/organization").json()["creditBalance"] == balance - 60
    )  # gen4.5 5 s = 60 credits
    stats = runway.emu.runway_api_stats()
    assert (stats.cancels, stats.refunded_creates, stats.paid_creates) == (2, 1, 1)


def test_delete_of_a_finished_task_deletes_it(runway: Runway, wait: Callable[..., Any]) -> None:
    task_id = runway.create_id()
    done = runway.wait(task_id, wait)
    assert runway.http.delete(f"/v1/tasks/{task_id}").status_code == 204
    assert runway.http.get(f"/v1/tasks/{task_id}").status_code == 404
    assert runway.http.get(done["output"][0]).status_code == 404  # the output goes with it
    again = runway.http.delete(f"/v1/tasks/{task_id}")
    assert again.status_code == 404 and again.json() == {"error": "Task not found."}
    stats = runway.emu.runway_api_stats()
    assert (stats.deletes, stats.deletions, stats.deletes_not_found, stats.paid_creates) == (2, 1, 1, 1)
    assert stats.tasks_by_status == {"DELETED": 1}


def test_unknown_task_is_404(runway: Runway) -> None:
    answer = runway.http.get("/v1/tasks/00000000-0000-0000-0000-000000000000")
    assert answer.status_code == 404 and answer.json() == {"error": "Task not found."}


# -- outputs ------------------------------------------------------------------------------------------------


def test_outputs_expire_and_a_fresh_read_signs_fresh_urls(runway: Runway, wait: Callable[..., Any]) -> None:
    task_id = runway.create_id()
    url = runway.wait(task_id, wait)["output"][0]
    cdn = httpx.Client(trust_env=False)  # no key: a signed CDN URL
    assert cdn.get(url).status_code == 200
    assert cdn.head(url).headers["content-type"] == "video/mp4"
    runway.emu.advance_time(25 * 3600)  # past the 24 h output TTL
    expired = cdn.get(url)
    assert expired.status_code == 403
    fresh = runway.task(task_id)["output"][0]
    assert fresh != url and cdn.get(fresh).status_code == 200
    forged = fresh.replace("sig=", "sig=0")
    assert cdn.get(forged).status_code == 404
    cdn.close()


@pytest.mark.parametrize(
    ("path", "body", "size", "seconds"),
    [
        (T2V, {"ratio": "1280:720", "duration": 5}, (1280, 720), 5),
        (T2V, {"model": "veo3.1_fast", "ratio": "720:1280", "duration": 4}, (720, 1280), 4),
        ("/v1/image_to_video", {"ratio": "1104:832", "duration": 3}, (1104, 832), 3),
    ],
)
def test_media_is_rendered_at_the_ratios_size_and_duration(
    runway: Runway,
    wait: Callable[..., Any],
    probe: Callable[[bytes], Any],
    path: str,
    body: dict[str, Any],
    size: tuple[int, int],
    seconds: int,
) -> None:
    task_id = runway.create_id(path, **body)
    url = runway.wait(task_id, wait)["output"][0]
    clip = probe(httpx.get(url, trust_env=False).content)
    assert (clip.codec, clip.width, clip.height) == ("h264", *size)
    assert abs(clip.duration - seconds) < 0.6
    assert clip.tags.get("comment", "").endswith(f"task_id={task_id} variant=main")


# -- limits, credits, faults -------------------------------------------------------------------------------


def test_the_daily_generation_limit_is_429_until_the_window_moves(runway: Runway) -> None:
    runway.emu.reconfigure(runway_api=RunwayApiConfig(max_daily_generations=2))
    runway.create_id()
    runway.create_id()
    refused = runway.create()
    assert refused.status_code == 429 and "daily generation limit of 2 for gen4.5" in refused.json()["error"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert runway.create(model="veo3.1", ratio="1280:720", duration=4).status_code == 200  # per model
    usage = runway.http.get("/v1/organization").json()["usage"]["models"]
    assert usage == {"gen4.5": {"dailyGenerations": 2}, "veo3.1": {"dailyGenerations": 1}}
    runway.emu.advance_time(24 * 3600)
    assert runway.create().status_code == 200
    assert runway.emu.runway_api_stats().daily_limited == 1


def test_credits_are_charged_per_model_second_and_checked(runway: Runway) -> None:
    runway.emu.reconfigure(runway_api=RunwayApiConfig(initial_credits=1000))
    runway.create_id()  # gen4.5 5 s x 12
    runway.create_id(model="veo3.1", ratio="1280:720", duration=8)  # audio by default: 8 x 40
    runway.create_id(model="veo3.1", ratio="1280:720", duration=8, audio=False)  # 8 x 20
    assert runway.http.get("/v1/organization").json()["creditBalance"] == 1000 - 60 - 320 - 160
    runway.emu.set_runway_api_credits(10)
    refused = runway.create()
    assert refused.status_code == 400 and refused.json() == {
        "error": "You do not have enough credits to run this task."
    }
    assert runway.emu.runway_api_stats().creates_accepted == 3
    # KIE's own balance is another account's.
    assert runway.emu.stats().credits_balance == runway.emu.config.initial_credits


def test_task_faults_fail_tasks_with_runways_codes(runway: Runway, wait: Callable[..., Any]) -> None:
    runway.emu.set_faults(
        FaultRule("task_fail", endpoint="/runway-api/v1/text_to_video", end_call=1, fail_msg="bad frames"),
        FaultRule("moderation", endpoint="/runway-api/v1/image_to_video", words=["forbidden"]),
    )
    failed = runway.wait(runway.create_id(), wait)
    assert (failed["status"], failed["failureCode"], failed["failure"]) == (
        "FAILED",
        "INTERNAL.BAD_OUTPUT.CODE01",
        "bad frames",
    )
    flagged_id = runway.create_id("/v1/image_to_video", promptText="a forbidden thing")
    flagged = runway.wait(flagged_id, wait)
    assert flagged["failureCode"] == "SAFETY.INPUT.TEXT"
    assert runway.wait(runway.create_id(), wait)["status"] == "SUCCEEDED"
    stats = runway.emu.runway_api_stats()
    # Runway refunds a failed generation, not an input its moderation refused.
    assert (stats.refunded_creates, stats.paid_creates) == (1, 2)
    assert runway.emu.stats().faults_injected == {"task_fail": 1, "moderation": 1}


def test_a_lost_answer_after_the_create_still_charged_it(runway: Runway) -> None:
    runway.emu.set_faults(
        FaultRule("server_error", endpoint="/runway-api/v1/*", method="POST", when="after", status=502)
    )
    answer = runway.create()
    assert answer.status_code == 502 and answer.json() == {"error": "Internal server error"}
    stats = runway.emu.runway_api_stats()
    assert stats.creates_accepted == 1 and stats.paid_creates == 1


def test_response_faults_answer_in_runways_shape(runway: Runway) -> None:
    runway.emu.set_faults(
        FaultRule("rate_limited", endpoint="/runway-api/v1/text_to_video", end_call=1, retry_after_s=2),
        FaultRule("maintenance", endpoint="/runway-api/v1/organization", end_call=1),
    )
    limited = runway.create()
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2" and "error" in limited.json()
    assert runway.http.get("/v1/organization").status_code == 503
    assert runway.emu.runway_api_stats().creates_received == 0  # refused before the handler: nothing created
    counted = runway.emu.stats().calls_by_endpoint
    assert counted["/runway-api/v1/text_to_video"] == 1 and counted["/runway-api/v1/organization"] == 1


def test_task_reads_are_counted_under_one_endpoint(runway: Runway) -> None:
    task_id = runway.create_id()
    runway.task(task_id)
    runway.task(task_id)
    assert runway.emu.stats().calls_by_endpoint["/runway-api/v1/tasks/*"] == 2


# -- control plane -------------------------------------------------------------------------------------------


def test_admin_views_and_redacted_config(emu: RunningEmulator, runway: Runway) -> None:
    emu.reconfigure(runway_api=RunwayApiConfig(api_keys=frozenset({"secret-runway-key"})))
    with httpx.Client(base_url=emu.base_url, trust_env=False) as admin:
        config = admin.get("/_emulator/config").json()["runway_api"]
        assert config["api_keys"] == "<1 key(s)>" and "secret-runway-key" not in str(config)
        assert config["api_versions"] == ["2024-11-06"]
        assert admin.post("/_emulator/runway-api/credits", json={"balance": 42}).json() == {"balance": 42}
        assert admin.get("/_emulator/runway-api/stats").json()["credits_balance"] == 42
        assert admin.post("/_emulator/runway-api/credits", json={"balance": -1}).status_code == 400
        assert admin.get("/_emulator/runway-api/tasks").json() == []


def test_reset_forgets_runway_tasks_too(runway: Runway) -> None:
    runway.create_id()
    runway.emu.reset()
    assert runway.emu.runway_api_tasks() == [] and runway.emu.runway_api_stats().creates_received == 0
