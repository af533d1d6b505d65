"""Local validation of the request models: every rule, the field it names, and the camelCase payload."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_kie.client import (
    AlephGenerateRequest,
    JobsCreateTaskRequest,
    KieValidationError,
    RunwayExtendRequest,
    RunwayGenerateRequest,
)
from airflow_provider_kie.client.models import FILE_RULE, URL_RULE, LocalFile, check_url

URL_RULE_START = "must be an https:// URL"


def runway(**overrides: Any) -> RunwayGenerateRequest:
    fields: dict[str, Any] = {"prompt": "a red fox at dawn", "duration": 5, "quality": "720p"}
    fields["aspect_ratio"] = "16:9"
    fields.update(overrides)
    return RunwayGenerateRequest(**fields)


def aleph(**overrides: Any) -> AlephGenerateRequest:
    fields: dict[str, Any] = {"prompt": "make it snow", "video_url": "https://cdn.example.com/in.mp4"}
    fields.update(overrides)
    return AlephGenerateRequest(**fields)


def extend(**overrides: Any) -> RunwayExtendRequest:
    fields: dict[str, Any] = {"task_id": "task-1", "prompt": "the fox runs on", "quality": "720p"}
    fields.update(overrides)
    return RunwayExtendRequest(**fields)


def invalid(build: Any, **overrides: Any) -> KieValidationError:
    with pytest.raises(KieValidationError) as info:
        build(**overrides)
    return info.value


# -- Runway generate -------------------------------------------------------------------------------------


def test_runway_minimal_text_to_video_payload_is_camel_case() -> None:
    assert runway().to_payload() == {
        "prompt": "a red fox at dawn",
        "duration": 5,
        "quality": "720p",
        "aspectRatio": "16:9",
        "waterMark": "",
    }


def test_runway_full_payload_uses_kie_names() -> None:
    request = runway(
        duration=10,
        image_url="https://img.example.com/fox.png",
        watermark="acme",
        callback_url="https://hooks.example.com/kie",
    )
    assert request.to_payload() == {
        "prompt": "a red fox at dawn",
        "duration": 10,
        "quality": "720p",
        "aspectRatio": "16:9",
        "imageUrl": "https://img.example.com/fox.png",
        "waterMark": "acme",
        "callBackUrl": "https://hooks.example.com/kie",
    }
    assert request.is_image_to_video


@pytest.mark.parametrize("length", [1, 1800])
def test_runway_prompt_length_bounds_accepted(length: int) -> None:
    assert len(runway(prompt="p" * length).prompt) == length


def test_runway_prompt_over_1800_chars_rejected() -> None:
    error = invalid(runway, prompt="p" * 1801)
    assert error.fields == ("prompt",)
    assert "at most 1800 characters (got 1801)" in str(error)


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_runway_blank_prompt_rejected(prompt: str) -> None:
    error = invalid(runway, prompt=prompt)
    assert error.fields == ("prompt",)
    assert "must not be blank" in str(error)
    assert error.errors[0].rule == "must not be blank"


@pytest.mark.parametrize(("given", "expected"), [(5, 5), (10, 10), ("5", 5), ("10", 10), (5.0, 5)])
def test_runway_duration_accepts_5_and_10_including_templated_strings(given: Any, expected: int) -> None:
    request = runway(duration=given, quality="720p")
    assert request.duration == expected
    assert request.to_payload()["duration"] == expected
    assert isinstance(request.to_payload()["duration"], int)


@pytest.mark.parametrize(("given", "shown"), [(7, "7"), ("7", "7"), (0, "0"), (15, "15")])
def test_runway_other_durations_rejected(given: Any, shown: str) -> None:
    error = invalid(runway, duration=given)
    assert error.fields == ("duration",)
    assert f"must be 5 or 10 seconds (got {shown})" in str(error)


def test_runway_fractional_duration_rejected() -> None:
    error = invalid(runway, duration=5.5)
    assert error.fields == ("duration",)
    assert "integer" in str(error)


@pytest.mark.parametrize("quality", ["720p", "1080p"])
def test_runway_qualities_accepted_with_5_seconds(quality: str) -> None:
    assert runway(quality=quality, duration=5).to_payload()["quality"] == quality


@pytest.mark.parametrize("quality", ["4k", "720", "1080P", ""])
def test_runway_unknown_quality_rejected(quality: str) -> None:
    error = invalid(runway, quality=quality)
    assert error.fields == ("quality",)
    assert "'720p' or '1080p'" in str(error)


def test_runway_1080p_only_with_5_seconds() -> None:
    error = invalid(runway, quality="1080p", duration=10)
    assert error.fields == ("quality",)
    assert "1080p is only available with duration 5" in str(error)
    # The same combination with "10" from templating fails the same way.
    assert invalid(runway, quality="1080p", duration="10").fields == ("quality",)
    assert runway(quality="720p", duration=10).duration == 10


@pytest.mark.parametrize("ratio", ["16:9", "4:3", "1:1", "3:4", "9:16"])
def test_runway_aspect_ratios_accepted(ratio: str) -> None:
    assert runway(aspect_ratio=ratio).to_payload()["aspectRatio"] == ratio


@pytest.mark.parametrize("ratio", ["21:9", "16:10", "16x9", "landscape"])
def test_runway_aspect_ratio_outside_enum_rejected(ratio: str) -> None:
    error = invalid(runway, aspect_ratio=ratio)
    assert error.fields == ("aspect_ratio",)
    assert "'16:9', '4:3', '1:1', '3:4' or '9:16'" in str(error)


@pytest.mark.parametrize("ratio", [None, ""])
def test_runway_aspect_ratio_required_for_text_to_video(ratio: Any) -> None:
    error = invalid(runway, aspect_ratio=ratio)
    assert error.fields == ("aspect_ratio",)
    assert "required for text-to-video" in str(error)


@pytest.mark.parametrize("ratio", [None, ""])
def test_runway_aspect_ratio_optional_with_image(ratio: Any) -> None:
    request = runway(aspect_ratio=ratio, image_url="https://img.example.com/fox.png")
    payload = request.to_payload()
    assert "aspectRatio" not in payload
    assert payload["imageUrl"] == "https://img.example.com/fox.png"


@pytest.mark.parametrize("field", ["image_url", "callback_url"])
@pytest.mark.parametrize(
    "url",
    ["http://img.example.com/a.png", "ftp://img.example.com/a.png", "img.example.com/a.png", "https://", "x"],
)
def test_runway_urls_must_be_https(field: str, url: str) -> None:
    error = invalid(runway, **{field: url})
    assert error.fields == (field,)
    if field == "image_url" and "://" not in url:
        # An input field reads a value without a scheme as a local file to upload first.
        assert error.errors[0].rule == f"{FILE_RULE} (got {url!r}, which does not exist)"
    else:
        assert error.errors[0].rule == URL_RULE


def test_input_fields_take_a_local_file_that_must_be_uploaded_before_sending(tmp_path: Any) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    request = runway(image_url=str(image))
    assert request.pending_uploads() == {"image_url": LocalFile(str(image))}
    with pytest.raises(KieValidationError, match="image_url: holds a local file: upload it first"):
        request.to_payload()
    sent = request.with_uploads({"image_url": "https://uploads.example/a.png"})
    assert sent.to_payload()["imageUrl"] == "https://uploads.example/a.png"
    assert sent.pending_uploads() == {}
    with pytest.raises(ValueError, match="no pending upload"):
        sent.with_uploads({"image_url": "https://x/y.png"})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765/a.png", "http://localhost/a.png", "http://[::1]:9000/a.png"]
)
def test_runway_plain_http_allowed_for_loopback_hosts(url: str) -> None:
    assert runway(image_url=url).image_url == url


def test_loopback_exception_is_not_fooled_by_lookalike_hosts() -> None:
    for url in ("http://localhost.evil.example/a.png", "http://127.0.0.1.nip.io/a.png", "http://10.0.0.1/a"):
        with pytest.raises(ValueError, match="https://"):
            check_url(url)


def test_url_is_stripped() -> None:
    assert runway(image_url="  https://img.example.com/a.png ").image_url == "https://img.example.com/a.png"


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_runway_empty_optional_urls_mean_not_given(empty: Any) -> None:
    payload = runway(image_url=empty, callback_url=empty).to_payload()
    assert "imageUrl" not in payload
    assert "callBackUrl" not in payload


def test_runway_callback_url_sent_as_callBackUrl() -> None:
    assert runway(callback_url="https://h.example.com/cb").to_payload()["callBackUrl"] == (
        "https://h.example.com/cb"
    )


@pytest.mark.parametrize("name", ["seed", "aspectRatio", "callBackUrl", "model"])
def test_runway_unknown_parameter_rejected(name: str) -> None:
    error = invalid(runway, **{name: "x"})
    assert error.fields == (name,)
    assert f"{name}: is not a known parameter" in str(error)


def test_runway_every_broken_field_is_named_at_once() -> None:
    with pytest.raises(KieValidationError) as info:
        RunwayGenerateRequest(prompt="", duration=7, quality="4k", aspect_ratio="2:1")
    error = info.value
    assert error.fields == ("prompt", "duration", "quality", "aspect_ratio")
    assert error.model == "RunwayGenerateRequest"
    assert str(error).startswith("Invalid RunwayGenerateRequest: prompt: must not be blank; duration:")


def test_runway_missing_required_fields_named() -> None:
    with pytest.raises(KieValidationError) as info:
        RunwayGenerateRequest()
    assert info.value.fields == ("prompt", "duration", "quality")
    assert "prompt: Field required" in str(info.value)


def test_validation_error_does_not_chain_pydantic_error() -> None:
    with pytest.raises(KieValidationError) as info:
        runway(prompt="secret prompt text", duration=7)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert isinstance(info.value, ValueError)
    assert "secret prompt text" not in str(info.value)


def test_requests_are_frozen() -> None:
    request = runway()
    with pytest.raises(Exception, match="frozen"):
        request.prompt = "other"  # type: ignore[misc]


# -- Runway extend ---------------------------------------------------------------------------------------


def test_extend_payload() -> None:
    request = extend(task_id="  task-1 ", quality="1080p", callback_url="https://h.example.com/cb")
    assert request.to_payload() == {
        "taskId": "task-1",
        "prompt": "the fox runs on",
        "quality": "1080p",
        "waterMark": "",
        "callBackUrl": "https://h.example.com/cb",
    }


@pytest.mark.parametrize("task_id", ["", "   "])
def test_extend_task_id_required(task_id: str) -> None:
    error = invalid(extend, task_id=task_id)
    assert error.fields == ("task_id",)
    assert "must be the id of a succeeded KIE task" in str(error)


def test_extend_prompt_rules() -> None:
    assert invalid(extend, prompt=" ").fields == ("prompt",)
    error = invalid(extend, prompt="p" * 1801)
    assert error.fields == ("prompt",)
    assert "at most 1800 characters" in str(error)


def test_extend_quality_rule() -> None:
    error = invalid(extend, quality="480p")
    assert error.fields == ("quality",)
    assert "'720p' or '1080p'" in str(error)


def test_extend_callback_url_rule_and_unknown_parameter() -> None:
    assert invalid(extend, callback_url="http://h.example.com/cb").fields == ("callback_url",)
    assert invalid(extend, duration=5).fields == ("duration",)
    assert "callBackUrl" not in extend(callback_url="").to_payload()


# -- Aleph -----------------------------------------------------------------------------------------------


def test_aleph_full_payload() -> None:
    request = aleph(
        aspect_ratio="21:9",
        seed=42,
        reference_image="https://img.example.com/style.png",
        watermark="acme",
        upload_cn=True,
        callback_url="https://h.example.com/cb",
    )
    assert request.to_payload() == {
        "prompt": "make it snow",
        "videoUrl": "https://cdn.example.com/in.mp4",
        "aspectRatio": "21:9",
        "seed": 42,
        "referenceImage": "https://img.example.com/style.png",
        "waterMark": "acme",
        "uploadCn": True,
        "callBackUrl": "https://h.example.com/cb",
    }


def test_aleph_minimal_payload_leaves_out_unset_options() -> None:
    assert aleph().to_payload() == {
        "prompt": "make it snow",
        "videoUrl": "https://cdn.example.com/in.mp4",
        "waterMark": "",
    }


def test_aleph_video_url_required() -> None:
    with pytest.raises(KieValidationError) as info:
        AlephGenerateRequest(prompt="make it snow")
    assert info.value.fields == ("video_url",)
    assert "Field required" in str(info.value)
    error = invalid(aleph, video_url="  ")
    assert error.fields == ("video_url",)
    assert "is required" in str(error)


@pytest.mark.parametrize("url", ["http://cdn.example.com/in.mp4", "cdn.example.com/in.mp4", "s3://b/k"])
def test_aleph_video_url_must_be_https(url: str) -> None:
    error = invalid(aleph, video_url=url)
    assert error.fields == ("video_url",)
    assert URL_RULE_START in str(error)


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "4:3", "3:4", "1:1", "21:9"])
def test_aleph_aspect_ratios_include_21_9(ratio: str) -> None:
    assert aleph(aspect_ratio=ratio).to_payload()["aspectRatio"] == ratio


def test_aleph_aspect_ratio_outside_enum_rejected() -> None:
    error = invalid(aleph, aspect_ratio="2:1")
    assert error.fields == ("aspect_ratio",)
    assert "'21:9'" in str(error)


@pytest.mark.parametrize(("seed", "expected"), [(0, 0), (123456, 123456), ("42", 42)])
def test_aleph_seed_integer(seed: Any, expected: int) -> None:
    assert aleph(seed=seed).to_payload()["seed"] == expected


def test_aleph_empty_seed_and_ratio_mean_not_given() -> None:
    payload = aleph(seed="", aspect_ratio="").to_payload()
    assert "seed" not in payload
    assert "aspectRatio" not in payload


@pytest.mark.parametrize("seed", [1.5, "abc", "4.2"])
def test_aleph_non_integer_seed_rejected(seed: Any) -> None:
    error = invalid(aleph, seed=seed)
    assert error.fields == ("seed",)
    assert "valid integer" in str(error)


def test_aleph_reference_image_url_rules() -> None:
    error = invalid(aleph, reference_image="http://img.example.com/style.png")
    assert error.fields == ("reference_image",)
    assert URL_RULE_START in str(error)
    assert "referenceImage" not in aleph(reference_image="").to_payload()


@pytest.mark.parametrize(
    ("given", "expected"), [(True, True), (False, False), ("true", True), ("False", False)]
)
def test_aleph_upload_cn_bool(given: Any, expected: bool) -> None:
    assert aleph(upload_cn=given).to_payload()["uploadCn"] is expected


def test_aleph_upload_cn_non_bool_rejected() -> None:
    error = invalid(aleph, upload_cn="maybe")
    assert error.fields == ("upload_cn",)
    assert "valid boolean" in str(error)


def test_aleph_watermark_and_prompt_rules() -> None:
    assert aleph(watermark="wm").to_payload()["waterMark"] == "wm"
    assert invalid(aleph, watermark=5).fields == ("watermark",)
    assert invalid(aleph, prompt="").fields == ("prompt",)
    assert "at most 1800" in str(invalid(aleph, prompt="p" * 1801))
    assert invalid(aleph, duration=5).fields == ("duration",)


# -- jobs ------------------------------------------------------------------------------------------------


def test_jobs_payload() -> None:
    # A model outside the catalogue: its input is passed through as given (KIE's long tail).
    request = JobsCreateTaskRequest(
        model=" acme/some-video-model ", input={"prompt": "x", "duration": "5"}, callback_url=""
    )
    assert request.to_payload() == {
        "model": "acme/some-video-model",
        "input": {"prompt": "x", "duration": "5"},
    }
    with_callback = JobsCreateTaskRequest(model="m", input={}, callback_url="https://h.example.com/cb")
    assert with_callback.to_payload()["callBackUrl"] == "https://h.example.com/cb"


def test_jobs_rules() -> None:
    with pytest.raises(KieValidationError) as info:
        JobsCreateTaskRequest(model="  ", input={})
    assert info.value.fields == ("model",)
    assert "must name a KIE model" in str(info.value)
    with pytest.raises(KieValidationError) as info:
        JobsCreateTaskRequest(model="m", input="prompt=x")
    assert info.value.fields == ("input",)
    assert "must be a JSON object" in str(info.value)
    with pytest.raises(KieValidationError) as info:
        JobsCreateTaskRequest(model="m", input={}, callback_url="http://h.example.com/cb")
    assert info.value.fields == ("callback_url",)
    with pytest.raises(KieValidationError) as info:
        JobsCreateTaskRequest(model="m", input={}, callBackUrl="https://h.example.com/cb")
    assert info.value.fields == ("callBackUrl",)
    assert "is not a known parameter" in str(info.value)


# -- coercion and entry points ----------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "field"), [(runway, "duration"), (aleph, "seed")])
@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_a_number(build: Any, field: str, flag: bool) -> None:
    # pydantic's lax mode would read True as 1: a DAG passing a flag where a number belongs is a mistake.
    error = invalid(build, **{field: flag})
    assert error.fields == (field,)
    assert f"must be a number, not a boolean (got {flag})" in str(error)


def test_model_validate_raises_the_same_typed_error_without_repeating_inputs() -> None:
    secret_prompt = "launch plan for project nightjar " * 3
    data = {"prompt": secret_prompt, "duration": 7, "quality": "720p", "aspect_ratio": "16:9"}
    with pytest.raises(KieValidationError) as info:
        RunwayGenerateRequest.model_validate(data)
    assert info.value.fields == ("duration",)
    assert "must be 5 or 10 seconds (got 7)" in str(info.value)
    assert "nightjar" not in str(info.value)
    assert info.value.__cause__ is None
    good = RunwayGenerateRequest.model_validate({**data, "duration": "5"})
    assert good == RunwayGenerateRequest(**{**data, "duration": 5})
