"""Veo 3.1: request rules, payloads, the calls (generate, extend, record-info, 1080P, 4K) and its records."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kie.client import (
    AsyncKieClient,
    KieSubmitOutcomeUnknownError,
    KieUnprocessableError,
    KieValidationError,
    LocalFile,
    PollPolicy,
    TaskKind,
    TaskRecord,
    TaskState,
    Veo4kResult,
    VeoExtendRequest,
    VeoGenerateRequest,
)
from airflow_provider_kie.client import families as fam
from airflow_provider_kie.client.models import FILE_RULE, URL_RULE
from airflow_provider_kie.client.records import parse_record

IMG = "https://cdn.example.com/frame.png"
RECORDS_LOGGER = "airflow_provider_kie.client.records"


def env(data: Any, code: int = 200, msg: str = "success") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def generate(**overrides: Any) -> VeoGenerateRequest:
    fields: dict[str, Any] = {"prompt": "a red fox at dawn"}
    fields.update(overrides)
    return VeoGenerateRequest(**fields)


def invalid(build: Any, **overrides: Any) -> KieValidationError:
    with pytest.raises(KieValidationError) as info:
        build(**overrides)
    return info.value


def extend(**overrides: Any) -> VeoExtendRequest:
    fields: dict[str, Any] = {"task_id": "veo_task_1", "prompt": "the fox runs on"}
    fields.update(overrides)
    return VeoExtendRequest(**fields)


# -- generate: payload ---------------------------------------------------------------------------------


def test_minimal_generate_payload_leaves_kie_defaults_to_kie() -> None:
    assert generate().to_payload() == {"prompt": "a red fox at dawn", "imageUrls": []}


def test_full_generate_payload_uses_kie_names() -> None:
    request = generate(
        model="veo3",
        generation_type="FIRST_AND_LAST_FRAMES_2_VIDEO",
        image_urls=[IMG, "https://cdn.example.com/last.png"],
        aspect_ratio="9:16",
        resolution="1080p",
        seeds="12345",
        watermark="acme",
        enable_translation="false",
        callback_url="https://hooks.example.com/veo",
    )
    assert request.to_payload() == {
        "prompt": "a red fox at dawn",
        "model": "veo3",
        "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO",
        "imageUrls": [IMG, "https://cdn.example.com/last.png"],
        "aspect_ratio": "9:16",  # the generate page's name, and no other spelling
        "resolution": "1080p",
        "seeds": 12345,
        "watermark": "acme",
        "enableTranslation": False,
        "callBackUrl": "https://hooks.example.com/veo",
    }


def test_empty_strings_from_templating_mean_not_given() -> None:
    request = generate(
        model="", generation_type="", aspect_ratio="", resolution="", seeds="", image_urls=None
    )
    assert request.to_payload() == {"prompt": "a red fox at dawn", "imageUrls": []}


# -- generate: image count per generation type -----------------------------------------------------------


@pytest.mark.parametrize(
    ("generation_type", "count"),
    [
        ("TEXT_2_VIDEO", 0),
        ("FIRST_AND_LAST_FRAMES_2_VIDEO", 1),
        ("FIRST_AND_LAST_FRAMES_2_VIDEO", 2),
        ("REFERENCE_2_VIDEO", 1),
        ("REFERENCE_2_VIDEO", 3),
        (None, 0),
        (None, 2),
    ],
)
def test_image_counts_kie_accepts(generation_type: str | None, count: int) -> None:
    request = generate(generation_type=generation_type, image_urls=[IMG] * count)
    assert len(request.to_payload()["imageUrls"]) == count


@pytest.mark.parametrize(
    ("generation_type", "count", "wanted"),
    [
        ("TEXT_2_VIDEO", 1, "TEXT_2_VIDEO takes 0 images (got 1)"),
        ("FIRST_AND_LAST_FRAMES_2_VIDEO", 0, "takes 1 to 2 images (got 0)"),
        ("FIRST_AND_LAST_FRAMES_2_VIDEO", 3, "takes 1 to 2 images (got 3)"),
        ("REFERENCE_2_VIDEO", 0, "takes 1 to 3 images (got 0)"),
        ("REFERENCE_2_VIDEO", 4, "takes 1 to 3 images (got 4)"),
        (None, 3, "a request without generation_type takes 0 to 2 images (got 3)"),
    ],
)
def test_too_many_or_too_few_images_for_the_generation_type(
    generation_type: str | None, count: int, wanted: str
) -> None:
    error = invalid(generate, generation_type=generation_type, image_urls=[IMG] * count)
    assert error.fields == ("image_urls",)
    assert wanted in error.errors[0].rule


def test_reference_images_are_not_available_with_the_quality_model() -> None:
    error = invalid(generate, model="veo3", generation_type="REFERENCE_2_VIDEO", image_urls=[IMG])
    assert error.fields == ("model",)
    assert "not available with veo3" in str(error)
    for model in ("veo3_fast", None):
        assert generate(model=model, generation_type="REFERENCE_2_VIDEO", image_urls=[IMG])


# -- generate: other rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "veo2"),
        ("generation_type", "IMAGE_2_VIDEO"),
        ("aspect_ratio", "1:1"),
        ("aspect_ratio", "auto"),
        ("resolution", "2k"),
    ],
)
def test_values_off_kie_lists(field: str, value: str) -> None:
    assert invalid(generate, **{field: value}).fields == (field,)


@pytest.mark.parametrize("seeds", [9999, 100000, "ten", 12345.5])
def test_seeds_outside_kie_range_or_not_an_integer(seeds: Any) -> None:
    assert invalid(generate, seeds=seeds).fields == ("seeds",)


@pytest.mark.parametrize("build", [generate, extend])
@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_a_seed(build: Any, flag: bool) -> None:
    error = invalid(build, seeds=flag)
    assert error.fields == ("seeds",)
    assert "not a boolean" in str(error)


@pytest.mark.parametrize("prompt", ["", "  "])
def test_blank_prompt(prompt: str) -> None:
    assert invalid(generate, prompt=prompt).fields == ("prompt",)


def test_missing_prompt() -> None:
    with pytest.raises(KieValidationError) as info:
        VeoGenerateRequest(image_urls=[IMG])  # type: ignore[call-arg]
    assert info.value.fields == ("prompt",)


def test_unknown_and_deprecated_fields_are_refused() -> None:
    # enableFallback is deprecated by KIE ("please remove this parameter"); camelCase names are not fields.
    for field in ("enable_fallback", "aspectRatio", "duration"):
        error = invalid(generate, **{field: True})
        assert error.fields == (field,)
        assert "is not a known parameter" in str(error)


def test_a_non_https_image_url() -> None:
    error = invalid(
        generate, generation_type="REFERENCE_2_VIDEO", image_urls=["http://cdn.example.com/a.png"]
    )
    assert error.fields == ("image_urls",)
    assert URL_RULE in str(error)


def test_a_local_image_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.png")
    error = invalid(generate, image_urls=[missing])
    assert error.fields == ("image_urls",)
    assert f"{FILE_RULE} (got {missing!r}, which does not exist)" in str(error)


@pytest.mark.parametrize("value", [IMG, "", [""], [None], 7])
def test_image_urls_must_be_a_list_of_urls(value: Any) -> None:
    assert invalid(generate, image_urls=value).fields == ("image_urls",)


def test_local_images_are_uploaded_first(make_client: Any, tmp_path: Path) -> None:
    first = tmp_path / "first.png"
    first.write_bytes(b"\x89PNG 1")
    request = generate(generation_type="FIRST_AND_LAST_FRAMES_2_VIDEO", image_urls=[IMG, str(first)])
    assert request.pending_uploads() == {"image_urls.1": LocalFile(str(first))}
    with pytest.raises(KieValidationError, match=r"image_urls\.1: holds a local file"):
        request.to_payload()
    client, transport = make_client(
        {"success": True, "code": 200, "msg": "ok", "data": {"downloadUrl": "https://up.example/1.png"}}
    )
    sent = client.upload_files(request, "airflow/veo")
    assert sent.to_payload()["imageUrls"] == [IMG, "https://up.example/1.png"]
    assert transport.paths() == ["/api/file-stream-upload"]


# -- extend ----------------------------------------------------------------------------------------------


def test_extend_payload() -> None:
    assert extend().to_payload() == {"taskId": "veo_task_1", "prompt": "the fox runs on"}
    full = extend(model="quality", seeds=54321, watermark="acme", callback_url="https://h.example.com/cb")
    assert full.to_payload() == {
        "taskId": "veo_task_1",
        "prompt": "the fox runs on",
        "model": "quality",
        "seeds": 54321,
        "watermark": "acme",
        "callBackUrl": "https://h.example.com/cb",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("task_id", "  "),
        ("prompt", ""),
        ("model", "veo3_fast"),
        ("seeds", 123),
        ("callback_url", "ftp://h/cb"),
    ],
)
def test_extend_rules(field: str, value: Any) -> None:
    assert invalid(extend, **{field: value}).fields == (field,)


# -- calls ------------------------------------------------------------------------------------------------


def test_generate_and_extend_post_to_their_endpoints(make_client: Any) -> None:
    client, transport = make_client(env({"taskId": "veo_task_1"}), env({"taskId": "veo_extend_1"}))
    assert client.veo_generate(generate(model="veo3_fast")) == "veo_task_1"
    assert client.veo_extend(extend()) == "veo_extend_1"
    assert transport.paths() == ["/api/v1/veo/generate", "/api/v1/veo/extend"]
    assert [r.method for r in transport.requests] == ["POST", "POST"]
    assert transport.json_bodies()[0]["model"] == "veo3_fast"


def test_a_failed_generate_submit_is_never_resent(make_client: Any, fast_retry: Any) -> None:
    client, transport = make_client((500, {"code": 500, "msg": "boom", "data": None}), retry=fast_retry)
    with pytest.raises(KieSubmitOutcomeUnknownError):
        client.veo_generate(generate())
    assert transport.count == 1


def test_1080p_link_when_ready(make_client: Any) -> None:
    client, transport = make_client(env({"resultUrl": "https://f.example/1080.mp4"}))
    assert client.veo_get_1080p(" veo_task_1 ", index=1) == "https://f.example/1080.mp4"
    request = transport.requests[0]
    assert (request.method, request.url.path) == ("GET", "/api/v1/veo/get-1080p-video")
    assert dict(request.url.params) == {"taskId": "veo_task_1", "index": "1"}


@pytest.mark.parametrize(
    "answer",
    [
        env(
            None,
            code=400,
            msg="1080P is processing. It should be ready in 1-2 minutes. Please check back shortly.",
        ),
        (200, env(None, code=422, msg="1080p is Processing")),
        env(None),
        env({"resultUrl": ""}),
    ],
)
def test_1080p_still_processing_is_none_not_an_error(make_client: Any, answer: Any) -> None:
    client, transport = make_client(answer)
    assert client.veo_get_1080p("veo_task_1") is None
    assert transport.count == 1


def test_1080p_of_a_task_that_did_not_succeed_is_an_error(make_client: Any) -> None:
    client, _ = make_client(env(None, code=422, msg="record status is not success"))
    with pytest.raises(KieUnprocessableError, match="record status is not success"):
        client.veo_get_1080p("veo_task_1")


@pytest.mark.parametrize("index", [-1, True, "0", 1.0])
def test_1080p_and_4k_index_must_be_an_integer(make_client: Any, index: Any) -> None:
    client, transport = make_client(env(None))
    with pytest.raises(KieValidationError) as info:
        client.veo_get_1080p("veo_task_1", index)
    assert info.value.fields == ("index",)
    with pytest.raises(KieValidationError):
        client.veo_request_4k("veo_task_1", index)
    with pytest.raises(KieValidationError) as info:
        client.veo_request_4k("  ")
    assert info.value.fields == ("task_id",)
    assert transport.count == 0


def test_4k_first_request_starts_the_paid_upgrade(make_client: Any) -> None:
    client, transport = make_client(env({"taskId": "veo_task_1", "resultUrls": None, "imageUrls": None}))
    result = client.veo_request_4k("veo_task_1", callback_url="https://hooks.example.com/4k")
    assert result == Veo4kResult(task_id="veo_task_1")
    assert (result.processing, result.ready, result.repeated) == (True, False, False)
    request = transport.requests[0]
    assert (request.method, request.url.path) == ("POST", "/api/v1/veo/get-4k-video")
    assert json.loads(request.content) == {
        "taskId": "veo_task_1",
        "index": 0,
        "callBackUrl": "https://hooks.example.com/4k",
    }


def test_4k_repeat_while_processing_is_an_answer_not_an_error(make_client: Any) -> None:
    msg = "4k is processing. It should be ready in 5-10 minutes. Please check back shortly."
    client, transport = make_client(
        env({"taskId": "veo_task_1", "resultUrls": None, "imageUrls": None}, 422, msg)
    )
    result = client.veo_request_4k("veo_task_1")
    assert result == Veo4kResult(task_id="veo_task_1", repeated=True, message=msg)
    assert result.processing
    assert transport.count == 1


def test_4k_repeat_once_generated_gives_the_links(make_client: Any) -> None:
    data = {
        "taskId": "veo_task_1",
        "resultUrls": ["https://f.example/4k.mp4"],
        "imageUrls": ["https://f.example/4k.jpg"],
    }
    client, _ = make_client(env(data, 422, "The video has been generated successfully"))
    result = client.veo_request_4k("veo_task_1")
    assert result.ready
    assert result.repeated
    assert (result.result_urls, result.image_urls) == (
        ("https://f.example/4k.mp4",),
        ("https://f.example/4k.jpg",),
    )


def test_4k_other_refusals_are_errors_and_a_5xx_is_never_resent(make_client: Any, fast_retry: Any) -> None:
    client, transport = make_client(env(None, 422, "record is null"))
    with pytest.raises(KieUnprocessableError):
        client.veo_request_4k("veo_task_1")
    client, transport = make_client((502, "bad gateway"), retry=fast_retry)
    with pytest.raises(KieSubmitOutcomeUnknownError):
        client.veo_request_4k("veo_task_1")
    assert transport.count == 1


def test_4k_bad_callback_url_is_refused_before_sending(make_client: Any) -> None:
    client, transport = make_client(env(None))
    with pytest.raises(KieValidationError) as info:
        client.veo_request_4k("veo_task_1", callback_url="http://hooks.example.com/4k")
    assert info.value.fields == ("callback_url",)
    assert transport.count == 0


def test_async_client_has_the_same_veo_calls(make_async_client: Any) -> None:
    client, transport = make_async_client(
        env({"taskId": "veo_task_1"}),
        env({"taskId": "veo_extend_1"}),
        env(None, 400, "1080P is processing."),
        env({"resultUrl": "https://f.example/1080.mp4"}),
        env({"taskId": "veo_task_1", "resultUrls": None}, 422, "4k is processing."),
        env(
            {
                "taskId": "veo_task_1",
                "successFlag": 1,
                "response": {"resultUrls": ["https://f.example/v.mp4"]},
            }
        ),
    )

    async def use(kie: AsyncKieClient) -> list[Any]:
        async with kie:
            return [
                await kie.veo_generate(generate()),
                await kie.veo_extend(extend()),
                await kie.veo_get_1080p("veo_task_1"),
                await kie.veo_get_1080p("veo_task_1"),
                await kie.veo_request_4k("veo_task_1"),
                (await kie.get_task("veo_task_1", TaskKind.VEO)).video_url,
            ]

    results = asyncio.run(use(client))
    assert results[:4] == ["veo_task_1", "veo_extend_1", None, "https://f.example/1080.mp4"]
    assert results[4].repeated and results[4].processing
    assert results[5] == "https://f.example/v.mp4"
    assert transport.paths()[-1] == "/api/v1/veo/record-info"


def test_veo_families() -> None:
    assert (fam.VEO_GENERATE.request, fam.VEO_GENERATE.kind) == (VeoGenerateRequest, TaskKind.VEO)
    assert (fam.VEO_EXTEND.request, fam.VEO_EXTEND.kind) == (VeoExtendRequest, TaskKind.VEO)
    assert fam.VEO_GENERATE.build({"prompt": "x", "model": "veo3_fast"}).model == "veo3_fast"


def test_families_submit_veo_through_the_client(make_client: Any) -> None:
    client, transport = make_client(env({"taskId": "veo_task_1"}))
    assert fam.VEO_GENERATE.submit(client, generate()) == "veo_task_1"
    assert fam.VEO_EXTEND.submit(client, extend()) == "veo_task_1"
    assert transport.paths() == ["/api/v1/veo/generate", "/api/v1/veo/extend"]


# -- records ----------------------------------------------------------------------------------------------


def veo_record(**data: Any) -> TaskRecord:
    return parse_record(TaskKind.VEO, {"taskId": "veo_task_1", **data}, endpoint="/api/v1/veo/record-info")


@pytest.mark.parametrize(
    ("flag", "state"),
    [
        (0, TaskState.RUNNING),
        (1, TaskState.SUCCEEDED),
        (2, TaskState.FAILED),
        (3, TaskState.FAILED),
        ("1", TaskState.SUCCEEDED),
    ],
)
def test_veo_success_flags(flag: Any, state: TaskState) -> None:
    record = veo_record(successFlag=flag)
    assert record.state is state
    assert record.kind is TaskKind.VEO
    assert record.raw_state == f"successFlag={flag}"


def test_veo_unknown_flag_is_running_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=RECORDS_LOGGER):
        record = veo_record(successFlag=7)
    assert record.state is TaskState.RUNNING
    assert "unknown state '7'" in caplog.text


def test_veo_success_record_fields() -> None:
    record = veo_record(
        successFlag=1,
        paramJson=json.dumps({"prompt": "a fox", "model": "veo3_fast", "aspect_ratio": "9:16"}),
        response={
            "taskId": "veo_task_1",
            "resultUrls": ["https://f.example/a.mp4", "https://f.example/b.mp4"],
            "originUrls": ["https://f.example/orig.mp4"],
            "fullResultUrls": ["https://f.example/b.mp4", "https://f.example/full.mp4"],
            "resolution": "1080p",
        },
        createTime="2025-06-06 10:25:00",
        completeTime=1750000090000,
        errorCode=None,
        errorMessage="",
        fallbackFlag=False,
    )
    assert record.video_url == "https://f.example/a.mp4"
    assert record.result_urls == (
        "https://f.example/a.mp4",
        "https://f.example/b.mp4",
        "https://f.example/full.mp4",
    )
    assert (record.prompt, record.model, record.resolution) == ("a fox", "veo3_fast", "1080p")
    assert (record.created_at, record.completed_at) == ("2025-06-06 10:25:00", "1750000090000")
    assert (record.fail_code, record.fail_msg) == (None, None)
    data = record.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert TaskRecord.from_dict(json.loads(json.dumps(data))) == record


def test_veo_running_and_failed_records() -> None:
    running = veo_record(successFlag=0, response={"resultUrls": None})
    assert (running.video_url, running.result_urls) == (None, ())
    failed = veo_record(successFlag=2, errorCode=400, errorMessage="Only English prompts are supported")
    assert (failed.fail_code, failed.fail_msg) == ("400", "Only English prompts are supported")
    assert veo_record(successFlag=1, response="junk", paramJson="{").result_urls == ()


def test_old_record_dicts_without_the_new_fields_still_load() -> None:
    old = {
        "task_id": "t",
        "kind": "runway",
        "state": "succeeded",
        "raw_state": "success",
        "video_url": "https://f.example/v.mp4",
    }
    record = TaskRecord.from_dict(old)
    assert (record.result_urls, record.model, record.credits) == ((), None, None)


def test_wait_for_a_veo_task(make_client: Any, mocker: Any) -> None:
    mocker.patch("airflow_provider_kie.client.sending.time.monotonic", return_value=0.0)
    client, transport = make_client(
        env({"taskId": "veo_task_1", "successFlag": 0}),
        env(
            {
                "taskId": "veo_task_1",
                "successFlag": 1,
                "response": {"resultUrls": ["https://f.example/v.mp4"]},
            }
        ),
    )
    record = client.wait_for_task("veo_task_1", TaskKind.VEO, poll=PollPolicy(interval=10.0, jitter=0.0))
    assert record.state is TaskState.SUCCEEDED
    assert record.result_urls == ("https://f.example/v.mp4",)
    assert transport.paths() == ["/api/v1/veo/record-info"] * 2


def test_api_errors_keep_the_envelope_data(make_client: Any) -> None:
    client, _ = make_client(env({"taskId": "x", "resultUrls": ["https://f.example/4k.mp4"]}, 422, "nope"))
    with pytest.raises(KieUnprocessableError) as info:
        client.get_credits()
    assert info.value.data == {"taskId": "x", "resultUrls": ["https://f.example/4k.mp4"]}
    assert "4k.mp4" not in str(info.value)
