"""Runway's own API: the request models, the per-model table and the input rules, one test per bad input."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kie.client import KieValidationError, LocalFile
from airflow_provider_kie.client.runway_api import (
    ENDPOINTS,
    MAX_DATA_URI_LENGTH,
    RUNWAY_API_MODELS,
    RunwayCharacterPerformanceRequest,
    RunwayImageToVideoRequest,
    RunwayTextToVideoRequest,
    RunwayVideoToVideoRequest,
    RunwayVideoUpscaleRequest,
    models_for,
)
from airflow_provider_kie.client.runway_api.inputs import data_uri_length

IMG = "https://cdn.example.com/frame.png"
VIDEO = "https://cdn.example.com/clip.mp4"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def t2v(**overrides: Any) -> RunwayTextToVideoRequest:
    fields: dict[str, Any] = {"model": "gen4.5", "prompt_text": "a red fox at dawn", "ratio": "1280:720"}
    fields["duration"] = 5
    fields.update(overrides)
    return RunwayTextToVideoRequest(**{k: v for k, v in fields.items() if v is not None})


def i2v(**overrides: Any) -> RunwayImageToVideoRequest:
    fields: dict[str, Any] = {"model": "gen4_turbo", "prompt_image": IMG, "ratio": "1280:720"}
    fields.update(overrides)
    return RunwayImageToVideoRequest(**{k: v for k, v in fields.items() if v is not None})


def invalid(build: Any, **overrides: Any) -> KieValidationError:
    with pytest.raises(KieValidationError) as info:
        build(**overrides)
    return info.value


def rule_of(error: KieValidationError, field: str) -> str:
    rules = [e.rule for e in error.errors if e.field == field]
    assert rules, f"no error for {field}: {error}"
    return rules[0]


# -- the rules the issue names, one test each ---------------------------------------------------------------


def test_ratio_not_allowed_for_the_model_names_parameter_backend_and_allowed_values() -> None:
    error = invalid(t2v, ratio="1584:672")  # a Gen-4.5 size, but image-to-video only
    assert error.fields == ("ratio",)
    assert error.model == "Runway API text_to_video request"
    assert "Runway API" in str(error)
    rule = rule_of(error, "ratio")
    assert "'1584:672' is not allowed for gen4.5 on text_to_video" in rule
    assert rule.endswith("allowed: 1280:720, 720:1280")


def test_duration_not_allowed_for_the_model() -> None:
    error = invalid(t2v, model="veo3.1", ratio="1920:1080", duration=5)
    assert error.fields == ("duration",)
    rule = rule_of(error, "duration")
    assert "5 is not allowed for veo3.1" in rule and "(Runway API)" in rule
    assert "allowed: 4, 6, 8 seconds" in rule


def test_text_to_video_on_an_image_only_model() -> None:
    error = invalid(t2v, model="gen4_turbo", duration=None)
    assert error.fields == ("model",)
    rule = rule_of(error, "model")
    assert "gen4_turbo does not do text_to_video on the Runway API" in rule
    assert "use image_to_video" in rule
    assert rule.endswith("allowed for text_to_video: " + ", ".join(models_for("text_to_video")))


def test_unknown_model() -> None:
    error = invalid(t2v, model="gen5")
    assert error.fields == ("model",)
    rule = rule_of(error, "model")
    assert "'gen5' is not a Runway API model this provider knows" in rule
    assert "gen4.5, veo3.1, veo3.1_fast, veo3" in rule


def test_data_uri_over_five_megabytes_says_to_pass_an_https_url() -> None:
    body = "A" * MAX_DATA_URI_LENGTH
    error = invalid(i2v, prompt_image=f"data:image/png;base64,{body}")
    rule = rule_of(error, "prompt_image")
    assert "over the Runway API's limit of 5,242,880" in rule
    assert "https:// URL" in rule


def test_data_uri_just_under_the_limit_is_accepted() -> None:
    prefix = "data:image/png;base64,"
    uri = prefix + "A" * (MAX_DATA_URI_LENGTH - len(prefix) - 1)
    assert i2v(prompt_image=uri).to_payload()["promptImage"] == uri


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://cdn.example.com/frame.png", "must be an https:// URL"),
        ("ftp://cdn.example.com/frame.png", "must be an https:// URL"),
        ("https://203.0.113.7/frame.png", "not an IP address"),
        ("https://cdn.example.com/" + "a" * 2100, "at most 2048 characters"),
    ],
)
def test_non_https_or_unfetchable_url(url: str, words: str) -> None:
    assert words in rule_of(invalid(i2v, prompt_image=url), "prompt_image")


def test_missing_required_ratio_and_duration_name_the_allowed_values() -> None:
    error = invalid(t2v, ratio=None, duration=None)
    assert error.fields == ("ratio", "duration")
    assert "is required for gen4.5 on text_to_video (Runway API); allowed: 1280:720, 720:1280" in str(error)
    assert "allowed: 2, 3, 4, 5, 6, 7, 8, 9, 10 seconds" in str(error)


def test_every_broken_rule_is_reported_at_once() -> None:
    error = invalid(t2v, ratio="999:1", duration=11, prompt_text="x" * 1001, seed=-1)
    assert set(error.fields) == {"seed"}  # field types first: the table is checked on a well-formed request
    error = invalid(t2v, ratio="999:1", duration=11, prompt_text="x" * 1001)
    assert error.fields == ("ratio", "duration", "prompt_text")


# -- other rules ---------------------------------------------------------------------------------------------


def test_prompt_length_counts_utf16_units() -> None:
    t2v(prompt_text="a" * 1000)
    error = invalid(t2v, prompt_text="\U0001f98a" * 501)  # 1002 UTF-16 code units
    assert "got 1002" in rule_of(error, "prompt_text")


def test_gen45_needs_a_prompt_even_from_an_image() -> None:
    error = invalid(i2v, model="gen4.5", duration=5)
    assert "prompt_text" in error.fields


def test_options_a_model_does_not_take_are_refused_with_the_models_that_do() -> None:
    error = invalid(i2v, audio=True, last_frame=IMG)
    assert (
        "audio: is not taken for gen4_turbo on image_to_video (Runway API); taken by veo3.1, veo3.1_fast"
        in str(error)
    )
    assert "last_frame" in error.fields


def test_veo3_is_flagged_as_possibly_retired(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_provider_kie.client.runway_api.requests"):
        t2v(model="veo3", ratio="1280:720", duration=8)
    assert "veo3 may no longer be served" in caplog.text


def test_strings_from_templates_are_accepted() -> None:
    request = t2v(duration="5", seed="42", negative_prompt="")
    assert (request.duration, request.seed) == (5, 42)


def test_booleans_are_no_durations() -> None:
    assert "duration" in invalid(t2v, duration=True).fields


def test_unknown_parameters_are_refused() -> None:
    error = invalid(t2v, aspect_ratio="16:9")
    assert error.fields == ("aspect_ratio",)


def test_model_validate_checks_the_table_too() -> None:
    with pytest.raises(KieValidationError) as info:
        RunwayTextToVideoRequest.model_validate({"model": "gen4_turbo", "prompt_text": "x"})
    assert info.value.model == "Runway API text_to_video request" and info.value.fields == ("model",)


def test_the_table_covers_every_endpoint_and_each_model_serves_one() -> None:
    for endpoint in ENDPOINTS:
        assert models_for(endpoint), endpoint
    assert RUNWAY_API_MODELS["gen4_turbo"].endpoints == ("image_to_video",)
    assert RUNWAY_API_MODELS["veo3.1"].durations == (4, 6, 8)
    for model in RUNWAY_API_MODELS.values():
        assert model.endpoints and model.sources


# -- payloads -----------------------------------------------------------------------------------------------


def test_text_to_video_payload_is_runways_camel_case() -> None:
    payload = t2v(seed=7, public_figure_threshold="low").to_payload()
    assert payload == {
        "model": "gen4.5",
        "promptText": "a red fox at dawn",
        "ratio": "1280:720",
        "duration": 5,
        "seed": 7,
        "contentModeration": {"publicFigureThreshold": "low"},
    }


def test_veo_first_and_last_frame_become_positioned_images() -> None:
    payload = i2v(
        model="veo3.1", last_frame="https://cdn.example.com/last.png", audio=False, duration=4
    ).to_payload()
    assert payload["promptImage"] == [
        {"uri": IMG, "position": "first"},
        {"uri": "https://cdn.example.com/last.png", "position": "last"},
    ]
    assert payload["audio"] is False and payload["duration"] == 4


def test_other_endpoints_payloads() -> None:
    assert RunwayVideoToVideoRequest(
        video_uri=VIDEO, prompt_text="watercolor", target_aspect_ratio="9:16"
    ).to_payload() == {
        "model": "aleph2",
        "videoUri": VIDEO,
        "promptText": "watercolor",
        "targetAspectRatio": "9:16",
    }
    assert RunwayVideoUpscaleRequest(video_uri=VIDEO, resolution="4k", smart_grain=10).to_payload() == {
        "model": "magnific_video_upscaler_creative",
        "videoUri": VIDEO,
        "resolution": "4k",
        "smartGrain": 10,
    }
    assert RunwayCharacterPerformanceRequest(
        character_image=IMG, reference_video=VIDEO, expression_intensity=3
    ).to_payload() == {
        "model": "act_two",
        "character": {"type": "image", "uri": IMG},
        "reference": {"type": "video", "uri": VIDEO},
        "expressionIntensity": 3,
    }


def test_character_performance_needs_exactly_one_character() -> None:
    assert "character_image" in invalid(RunwayCharacterPerformanceRequest, reference_video=VIDEO).fields
    error = invalid(
        RunwayCharacterPerformanceRequest, reference_video=VIDEO, character_image=IMG, character_video=VIDEO
    )
    assert "exactly one" in str(error)


def test_upscale_ranges() -> None:
    assert "creativity" in invalid(RunwayVideoUpscaleRequest, video_uri=VIDEO, creativity=101).fields


def test_runway_upload_uris_pass_through() -> None:
    assert i2v(prompt_image="runway://upload/abc").to_payload()["promptImage"] == "runway://upload/abc"


def test_loopback_http_is_accepted_for_the_emulator() -> None:
    assert (
        i2v(prompt_image="http://127.0.0.1:8089/media/x.png").prompt_image
        == "http://127.0.0.1:8089/media/x.png"
    )


# -- data URIs and local files ------------------------------------------------------------------------------


def test_data_uri_of_the_wrong_type_or_not_base64() -> None:
    assert "takes image data URIs of" in rule_of(
        invalid(i2v, prompt_image="data:video/mp4;base64,AAAA"), "prompt_image"
    )
    assert "base64" in rule_of(invalid(i2v, prompt_image="data:image/png,rawdata"), "prompt_image")


def test_a_local_file_is_sent_as_a_data_uri(tmp_path: Path) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(PNG)
    request = i2v(prompt_image=str(image))
    assert isinstance(request.prompt_image, LocalFile)
    payload = request.to_payload()
    assert payload["promptImage"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert i2v(prompt_image=f"file://{image}").to_payload() == payload
    assert i2v(prompt_image=image).to_payload() == payload


def test_an_object_storage_path_is_read_when_the_payload_is_built() -> None:
    class FakeObjectStoragePath:
        name = "frame.webp"
        protocol = "s3"

        def exists(self) -> bool:
            return True

        def read_bytes(self) -> bytes:
            return b"RIFF-webp"

        def __str__(self) -> str:
            return "s3://bucket/frame.webp"

    payload = i2v(prompt_image=LocalFile(FakeObjectStoragePath())).to_payload()
    assert payload["promptImage"] == "data:image/webp;base64," + base64.b64encode(b"RIFF-webp").decode()


def test_a_local_file_too_big_for_a_data_uri_fails_at_once(tmp_path: Path) -> None:
    video = tmp_path / "footage.mp4"
    size = MAX_DATA_URI_LENGTH // 4 * 3  # encodes to exactly the limit (plus the prefix): one byte too many
    with video.open("wb") as out:
        out.truncate(size)
    assert data_uri_length(size, "video/mp4") >= MAX_DATA_URI_LENGTH
    rule = rule_of(invalid(RunwayVideoToVideoRequest, video_uri=str(video)), "video_uri")
    assert "footage.mp4" in rule and "over the Runway API's limit" in rule and "https:// URL" in rule


def test_a_remote_file_too_big_fails_when_read_before_any_request() -> None:
    class BigRemote:
        name = "big.mp4"
        protocol = "s3"

        def exists(self) -> bool:
            return True

        def read_bytes(self) -> bytes:
            return b"\0" * (MAX_DATA_URI_LENGTH // 4 * 3)

    request = RunwayVideoToVideoRequest(video_uri=LocalFile(BigRemote()))
    with pytest.raises(KieValidationError) as info:
        request.to_payload()
    assert info.value.fields == ("video_uri",) and info.value.model == "Runway API video_to_video request"


def test_local_files_need_a_telling_name_and_must_exist(tmp_path: Path) -> None:
    odd = tmp_path / "frame.gif"
    odd.write_bytes(b"GIF89a")
    assert "use a file ending in .jpeg, .jpg, .png, .webp" in rule_of(
        invalid(i2v, prompt_image=str(odd)), "prompt_image"
    )
    assert "does not exist" in rule_of(
        invalid(i2v, prompt_image=str(tmp_path / "missing.png")), "prompt_image"
    )
    assert "is required" in rule_of(invalid(i2v, prompt_image=""), "prompt_image")
