"""The Market (jobs) API: the catalogue's input schemas, the typed families, nested uploads and records."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kie.client import (
    CATALOGUE,
    GrokImagineJobRequest,
    HailuoJobRequest,
    JobsCreateTaskRequest,
    KieValidationError,
    KlingJobRequest,
    LocalFile,
    MarketJobRequest,
    RunwayGenerateRequest,
    SeedanceJobRequest,
    Sora2JobRequest,
    TaskKind,
    TaskState,
    TopazJobRequest,
    WanJobRequest,
    family_models,
)
from airflow_provider_kie.client import families as fam
from airflow_provider_kie.client.models import FILE_RULE, URL_RULE
from airflow_provider_kie.client.records import parse_record

IMG = "https://cdn.example.com/fox.png"
VID = "https://cdn.example.com/in.mp4"

#: One valid input per catalogue model: the required fields only.
MINIMAL: dict[str, dict[str, Any]] = {
    "kling-2.6/text-to-video": {"prompt": "a fox", "sound": False, "aspect_ratio": "16:9", "duration": "5"},
    "kling-2.6/image-to-video": {"prompt": "a fox", "image_urls": [IMG], "sound": True, "duration": "10"},
    "kling/v2-1-standard": {"prompt": "a fox", "image_url": IMG},
    "kling/v2-1-pro": {"prompt": "a fox", "image_url": IMG},
    "kling/v2-5-turbo-text-to-video-pro": {"prompt": "a fox"},
    "kling/v2-5-turbo-image-to-video-pro": {"prompt": "a fox", "image_url": IMG},
    "sora-2-text-to-video": {"prompt": "a fox"},
    "sora-2-image-to-video": {"image_urls": [IMG]},
    "sora-2-pro-text-to-video": {"prompt": "a fox"},
    "sora-2-pro-image-to-video": {"image_urls": [IMG]},
    "wan/2-6-text-to-video": {"prompt": "a fox"},
    "wan/2-6-image-to-video": {"prompt": "a fox", "image_urls": [IMG]},
    "wan/2-6-video-to-video": {"prompt": "a fox", "video_urls": [VID, VID, VID]},
    "wan/2-5-text-to-video": {"prompt": "a fox", "duration": "5"},
    "wan/2-5-image-to-video": {"prompt": "a fox", "image_url": IMG, "duration": "10"},
    "hailuo/2-3-image-to-video-pro": {"prompt": "a fox", "image_url": IMG},
    "hailuo/2-3-image-to-video-standard": {"prompt": "a fox", "image_url": IMG},
    "hailuo/02-text-to-video-pro": {"prompt": "a fox"},
    "hailuo/02-text-to-video-standard": {"prompt": "a fox"},
    "hailuo/02-image-to-video-pro": {"prompt": "a fox", "image_url": IMG},
    "hailuo/02-image-to-video-standard": {"prompt": "a fox", "image_url": IMG},
    "bytedance/seedance-1.5-pro": {"prompt": "a fox", "aspect_ratio": "16:9", "duration": 8},
    "bytedance/v1-pro-text-to-video": {"prompt": "a fox"},
    "bytedance/v1-pro-image-to-video": {"prompt": "a fox", "image_url": IMG},
    "bytedance/v1-pro-fast-image-to-video": {"prompt": "a fox", "image_url": IMG},
    "grok-imagine/text-to-video": {"prompt": "a fox"},
    "grok-imagine/image-to-video": {"image_urls": [IMG]},
    "topaz/video-upscale": {"video_url": VID},
}

FAMILY_CLASSES: dict[str, type[MarketJobRequest]] = {
    "kling": KlingJobRequest,
    "sora2": Sora2JobRequest,
    "wan": WanJobRequest,
    "hailuo": HailuoJobRequest,
    "seedance": SeedanceJobRequest,
    "grok-imagine": GrokImagineJobRequest,
    "topaz": TopazJobRequest,
}


def job(
    model: str, cls: type[MarketJobRequest] = MarketJobRequest, **input_overrides: Any
) -> MarketJobRequest:
    return cls(model=model, input={**MINIMAL[model], **input_overrides})


def invalid(model: str, cls: type[MarketJobRequest] = MarketJobRequest, **fields: Any) -> KieValidationError:
    with pytest.raises(KieValidationError) as info:
        cls(model=model, **fields)
    return info.value


def invalid_input(model: str, **input_overrides: Any) -> KieValidationError:
    with pytest.raises(KieValidationError) as info:
        job(model, **input_overrides)
    return info.value


# -- the catalogue ---------------------------------------------------------------------------------------


def test_every_catalogue_model_has_a_minimal_example_and_a_family_class() -> None:
    assert set(MINIMAL) == set(CATALOGUE)
    assert {schema.family for schema in CATALOGUE.values()} == set(FAMILY_CLASSES)
    for family, cls in FAMILY_CLASSES.items():
        assert cls.allowed_models() == family_models(family)
        assert cls.allowed_models(), family


@pytest.mark.parametrize("model", sorted(CATALOGUE))
def test_minimal_input_of_every_model_is_accepted_and_sent_as_given(model: str) -> None:
    family_cls = FAMILY_CLASSES[CATALOGUE[model].family]
    for cls in (MarketJobRequest, family_cls):
        request = job(model, cls)
        assert request.to_payload() == {"model": model, "input": MINIMAL[model]}
        assert request.input_schema is CATALOGUE[model]


@pytest.mark.parametrize("model", sorted(CATALOGUE))
def test_an_unknown_field_is_refused_for_every_typed_model(model: str) -> None:
    error = invalid_input(model, camera_angle="low")
    assert error.fields == ("input.camera_angle",)
    assert error.errors[0].rule == "is not a known parameter"


def test_full_kling_payload_keeps_kie_names_and_order() -> None:
    request = KlingJobRequest(
        model="kling/v2-1-pro",
        input={
            "prompt": "a fox",
            "image_url": IMG,
            "duration": 10,
            "negative_prompt": "blur",
            "cfg_scale": "0.3",
            "tail_image_url": "https://cdn.example.com/end.png",
        },
        callback_url="https://hooks.example.com/kie",
    )
    assert request.to_payload() == {
        "model": "kling/v2-1-pro",
        "input": {
            "prompt": "a fox",
            "image_url": IMG,
            "duration": "10",
            "negative_prompt": "blur",
            "cfg_scale": 0.3,
            "tail_image_url": "https://cdn.example.com/end.png",
        },
        "callBackUrl": "https://hooks.example.com/kie",
    }


def test_left_out_optional_fields_are_not_sent_so_kie_applies_its_defaults() -> None:
    request = job("wan/2-5-text-to-video", negative_prompt=None, seed=None)
    assert request.input == {"prompt": "a fox", "duration": "5"}


# -- typed families ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("family", "cls"), sorted(FAMILY_CLASSES.items()))
def test_a_typed_family_refuses_a_model_of_another_family_and_lists_its_own(
    family: str, cls: type[MarketJobRequest]
) -> None:
    other = "topaz/video-upscale" if family != "topaz" else "wan/2-6-text-to-video"
    error = invalid(other, cls, input=MINIMAL[other])
    assert error.fields == ("model",)
    rule = error.errors[0].rule
    assert f"must be one of the {family} models" in rule
    for name in family_models(family):
        assert name in rule
    assert repr(other) in rule


def test_a_typed_family_refuses_a_model_outside_the_catalogue() -> None:
    error = invalid("kling/v9-imaginary", KlingJobRequest, input={"prompt": "x"})
    assert error.fields == ("model",)
    assert "kling-2.6/text-to-video" in str(error)


def test_the_base_request_validates_catalogue_models_too() -> None:
    error = invalid("kling-2.6/text-to-video", input={"prompt": "a fox"})
    assert set(error.fields) == {"input.sound", "input.aspect_ratio", "input.duration"}


def test_old_name_is_the_market_request_and_still_importable_from_models() -> None:
    from airflow_provider_kie.client import models

    assert JobsCreateTaskRequest is MarketJobRequest
    assert models.JobsCreateTaskRequest is MarketJobRequest
    with pytest.raises(AttributeError):
        _ = models.NoSuchThing


# -- bad input, one rule at a time ---------------------------------------------------------------------


def test_missing_required_field() -> None:
    error = invalid("kling-2.6/image-to-video", input={"prompt": "a fox", "sound": True, "duration": "5"})
    assert error.fields == ("input.image_urls",)
    assert error.errors[0].rule == "Field required"


def test_missing_required_prompt() -> None:
    error = invalid("wan/2-6-text-to-video", input={"duration": "5"})
    assert error.fields == ("input.prompt",)


@pytest.mark.parametrize("prompt", ["", "   "])
def test_blank_prompt(prompt: str) -> None:
    error = invalid_input("kling/v2-5-turbo-text-to-video-pro", prompt=prompt)
    assert error.fields == ("input.prompt",)


def test_prompt_over_the_model_limit() -> None:
    assert job("wan/2-5-text-to-video", prompt="p" * 800).input["prompt"] == "p" * 800
    error = invalid_input("wan/2-5-text-to-video", prompt="p" * 801)
    assert error.fields == ("input.prompt",)
    assert "at most 800 characters" in str(error)


@pytest.mark.parametrize(
    ("model", "field", "value", "listed"),
    [
        ("kling-2.6/text-to-video", "aspect_ratio", "4:3", "'1:1', '16:9' or '9:16'"),
        ("kling-2.6/text-to-video", "duration", "7", "'5' or '10'"),
        ("sora-2-text-to-video", "aspect_ratio", "16:9", "'portrait' or 'landscape'"),
        ("wan/2-6-text-to-video", "resolution", "4k", "'720p' or '1080p'"),
        ("hailuo/02-image-to-video-standard", "resolution", "1080P", "'512P' or '768P'"),
        ("grok-imagine/text-to-video", "mode", "wild", "'fun', 'normal' or 'spicy'"),
        ("topaz/video-upscale", "upscale_factor", "3", "'1', '2' or '4'"),
        ("bytedance/seedance-1.5-pro", "aspect_ratio", "2:1", "'21:9'"),
    ],
)
def test_enum_value_off_the_list(model: str, field: str, value: str, listed: str) -> None:
    error = invalid_input(model, **{field: value})
    assert error.fields == (f"input.{field}",)
    assert listed in error.errors[0].rule


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("kling-2.6/text-to-video", "duration"),  # a string enum
        ("bytedance/seedance-1.5-pro", "duration"),  # an integer
        ("grok-imagine/text-to-video", "duration"),  # whole seconds in a range
        ("sora-2-text-to-video", "n_frames"),
    ],
)
def test_ten_in_words_is_not_a_duration(model: str, field: str) -> None:
    error = invalid_input(model, **{field: "ten"})
    assert error.fields == (f"input.{field}",)


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("kling/v2-1-standard", "cfg_scale"),
        ("wan/2-5-text-to-video", "seed"),
        ("bytedance/v1-pro-text-to-video", "seed"),
        ("bytedance/seedance-1.5-pro", "duration"),
        ("grok-imagine/image-to-video", "index"),
        ("kling-2.6/text-to-video", "duration"),
        ("grok-imagine/text-to-video", "duration"),
    ],
)
@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_a_number(model: str, field: str, flag: bool) -> None:
    overrides: dict[str, Any] = {field: flag}
    if field == "index":
        overrides.update(image_urls=None, task_id="task_grok_1")
    error = invalid_input(model, **overrides)
    assert error.fields == (f"input.{field}",)
    assert "boolean" in error.errors[0].rule


def test_templated_strings_read_as_their_values() -> None:
    kling = job("kling-2.6/text-to-video", sound="false", duration=10)
    assert (kling.input["sound"], kling.input["duration"]) == (False, "10")
    seedance = job("bytedance/seedance-1.5-pro", duration="8", generate_audio="True")
    assert (seedance.input["duration"], seedance.input["generate_audio"]) == (8, True)
    grok = job("grok-imagine/text-to-video", duration=12)
    assert grok.input["duration"] == "12"
    topaz = job("topaz/video-upscale", upscale_factor=4)
    assert topaz.input["upscale_factor"] == "4"


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("kling/v2-1-standard", "cfg_scale", 1.5),
        ("bytedance/seedance-1.5-pro", "duration", 13),
        ("bytedance/seedance-1.5-pro", "duration", 3),
        ("grok-imagine/text-to-video", "duration", 31),
        ("grok-imagine/text-to-video", "duration", "5"),
        ("bytedance/v1-pro-text-to-video", "seed", -2),
    ],
)
def test_numbers_out_of_range(model: str, field: str, value: Any) -> None:
    assert invalid_input(model, **{field: value}).fields == (f"input.{field}",)


@pytest.mark.parametrize(
    ("model", "field", "images", "rule"),
    [
        ("kling-2.6/image-to-video", "image_urls", [IMG, IMG], "at most 1 item"),
        ("kling-2.6/image-to-video", "image_urls", [], "at least 1 item"),
        ("wan/2-6-video-to-video", "video_urls", [VID] * 4, "at most 3 items"),
        ("bytedance/seedance-1.5-pro", "input_urls", [IMG] * 3, "at most 2 items"),
        ("grok-imagine/image-to-video", "image_urls", [IMG] * 8, "at most 7 items"),
    ],
)
def test_too_many_or_too_few_files(model: str, field: str, images: list[str], rule: str) -> None:
    error = invalid_input(model, **{field: images})
    assert error.fields == (f"input.{field}",)
    assert rule in error.errors[0].rule


@pytest.mark.parametrize("url", ["http://cdn.example.com/fox.png", "ftp://cdn.example.com/fox.png"])
def test_a_non_https_input_url(url: str) -> None:
    error = invalid_input("kling/v2-1-pro", image_url=url)
    assert error.fields == ("input.image_url",)
    assert error.errors[0].rule == URL_RULE
    error = invalid_input("kling-2.6/image-to-video", image_urls=[url])
    assert error.fields == ("input.image_urls.0",)


def test_loopback_http_is_accepted_for_the_emulator() -> None:
    assert job("topaz/video-upscale", video_url="http://127.0.0.1:8765/in.mp4").input["video_url"] == (
        "http://127.0.0.1:8765/in.mp4"
    )


def test_a_local_input_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.png")
    error = invalid_input("kling/v2-1-pro", tail_image_url=missing)
    assert error.fields == ("input.tail_image_url",)
    assert error.errors[0].rule == f"{FILE_RULE} (got {missing!r}, which does not exist)"


@pytest.mark.parametrize("raw", [["prompt", "x"], 42, None, "prompt=x", json.dumps([1, 2]), "3"])
def test_input_that_is_not_a_json_object(raw: Any) -> None:
    for model in ("acme/some-model", "kling-2.6/text-to-video"):
        error = invalid(model, input=raw)
        assert error.fields == ("input",)
        assert "must be a JSON object" in error.errors[0].rule


def test_input_as_a_json_string_of_an_object_is_accepted() -> None:
    raw = json.dumps(MINIMAL["kling-2.6/text-to-video"])
    assert (
        KlingJobRequest(model="kling-2.6/text-to-video", input=raw).input
        == MINIMAL["kling-2.6/text-to-video"]
    )
    assert MarketJobRequest(model="acme/x", input='{"prompt": "x", "n": [1]}').input == {
        "prompt": "x",
        "n": [1],
    }


@pytest.mark.parametrize(
    ("value", "field", "rule"),
    [
        ({1, 2}, "input.bad", "is not JSON-serialisable (got set)"),
        (b"raw", "input.bad", "is not JSON-serialisable (got bytes)"),
        ({"deep": [object()]}, "input.bad.deep.0", "is not JSON-serialisable (got object)"),
        (math.nan, "input.bad", "must be a finite number"),
        ({1: "x"}, "input.bad", "has a key that is not a string"),
    ],
)
def test_an_unknown_model_input_that_is_not_json_serialisable(value: Any, field: str, rule: str) -> None:
    error = invalid("acme/some-model", input={"prompt": "x", "bad": value})
    assert error.fields == (field,)
    assert rule in error.errors[0].rule


def test_an_unknown_model_is_accepted_with_any_json_object() -> None:
    request = MarketJobRequest(
        model="flux/kontext-pro", input={"prompt": "x", "nested": {"a": [1, None, 2.5]}}
    )
    assert request.input_schema is None
    assert request.to_payload()["input"] == {"prompt": "x", "nested": {"a": [1, None, 2.5]}}


@pytest.mark.parametrize(
    ("model", "overrides", "field", "words"),
    [
        ("hailuo/2-3-image-to-video-pro", {"duration": "10", "resolution": "1080P"}, "duration", "1080P"),
        ("grok-imagine/image-to-video", {"task_id": "task_grok_1"}, "task_id", "not both"),
        ("grok-imagine/image-to-video", {"image_urls": None}, "image_urls", "is required"),
        ("grok-imagine/image-to-video", {"mode": "spicy"}, "mode", "spicy"),
    ],
)
def test_cross_field_rules_name_the_input_field(
    model: str, overrides: dict[str, Any], field: str, words: str
) -> None:
    error = invalid_input(model, **overrides)
    assert error.fields == (f"input.{field}",)
    assert words in error.errors[0].rule


def test_grok_image_to_video_from_a_grok_image_task() -> None:
    request = job(
        "grok-imagine/image-to-video", image_urls=None, task_id="task_grok_1", index="5", mode="spicy"
    )
    assert request.input == {"task_id": "task_grok_1", "index": 5, "mode": "spicy"}


def test_errors_in_input_and_other_fields_are_reported_together() -> None:
    error = invalid(
        "kling-2.6/text-to-video",
        input={"prompt": "a fox", "sound": True, "aspect_ratio": "4:3", "duration": "5"},
        callback_url="http://hooks.example.com/cb",
    )
    assert set(error.fields) == {"callback_url", "input.aspect_ratio"}
    assert error.model == "MarketJobRequest"


def test_model_validate_gives_the_same_typed_error() -> None:
    with pytest.raises(KieValidationError) as info:
        KlingJobRequest.model_validate({"model": "kling/v2-1-standard", "input": {"prompt": "x"}})
    assert info.value.fields == ("input.image_url",)
    good = KlingJobRequest.model_validate(
        {"model": "kling/v2-1-standard", "input": {"prompt": "x", "image_url": IMG}}
    )
    assert good.input == {"prompt": "x", "image_url": IMG}


# -- nested files to upload ------------------------------------------------------------------------------


class FakeObjectStoragePath:
    """Enough of Airflow's ObjectStoragePath for LocalFile: a remote file read into memory."""

    protocol = "s3"

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self._data = data

    def exists(self) -> bool:
        return True

    def read_bytes(self) -> bytes:
        return self._data

    def __str__(self) -> str:
        return f"s3://bucket/{self.name}"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "first.png"
    path.write_bytes(b"\x89PNG first")
    return path


def test_local_files_in_input_are_pending_under_dotted_keys(image: Path) -> None:
    remote = FakeObjectStoragePath("last.png", b"\x89PNG last")
    request = KlingJobRequest(
        model="kling/v2-1-pro",
        input={"prompt": "a fox", "image_url": str(image), "tail_image_url": remote},
    )
    assert request.pending_uploads() == {
        "input.image_url": LocalFile(str(image)),
        "input.tail_image_url": LocalFile(remote),
    }
    with pytest.raises(KieValidationError) as info:
        request.to_payload()
    assert info.value.fields == ("input.image_url", "input.tail_image_url")
    sent = request.with_uploads(
        {
            "input.image_url": "https://up.example/first.png",
            "input.tail_image_url": "https://up.example/last.png",
        }
    )
    assert sent.pending_uploads() == {}
    assert sent.to_payload()["input"] == {
        "prompt": "a fox",
        "image_url": "https://up.example/first.png",
        "tail_image_url": "https://up.example/last.png",
    }
    # The original request is unchanged (requests are frozen).
    assert request.pending_uploads()
    with pytest.raises(ValueError, match="no pending upload"):
        sent.with_uploads({"input.image_url": "https://x/y.png"})


def test_local_files_in_an_input_list(image: Path) -> None:
    request = job("wan/2-6-video-to-video", video_urls=[VID, f"file://{image}"])
    assert request.pending_uploads() == {"input.video_urls.1": LocalFile(str(image))}
    sent = request.with_uploads({"input.video_urls.1": "https://up.example/v.mp4"})
    assert sent.input["video_urls"] == [VID, "https://up.example/v.mp4"]


def upload_answer(url: str) -> dict[str, Any]:
    return {"success": True, "code": 200, "msg": "ok", "data": {"downloadUrl": url}}


def test_client_upload_files_handles_nested_and_flat_requests(make_client: Any, image: Path) -> None:
    client, transport = make_client(
        upload_answer("https://up.example/1.png"),
        upload_answer("https://up.example/2.png"),
        upload_answer("https://up.example/3.png"),
    )
    remote = FakeObjectStoragePath("ref.png", b"\x89PNG ref")
    market = job("bytedance/seedance-1.5-pro", input_urls=[str(image), remote])
    uploaded = client.upload_files(market, "airflow/dag/task")
    assert uploaded.input["input_urls"] == ["https://up.example/1.png", "https://up.example/2.png"]
    assert transport.paths() == ["/api/file-stream-upload", "/api/file-base64-upload"]
    assert json.loads(transport.requests[1].content)["fileName"] == "ref.png"
    # The flat requests keep working the same way.
    runway = RunwayGenerateRequest(prompt="fox", duration=5, quality="720p", image_url=str(image))
    assert client.upload_files(runway, "airflow/dag/task").image_url == "https://up.example/3.png"
    # A request without files is returned as it is, with nothing sent.
    plain = job("kling/v2-1-standard")
    assert client.upload_files(plain, "x") is plain
    assert transport.count == 3


def test_jobs_create_task_sends_the_validated_payload(make_client: Any) -> None:
    client, transport = make_client({"code": 200, "msg": "success", "data": {"taskId": "task_kling_1"}})
    request = job("kling-2.6/text-to-video", duration=10, sound="true")
    assert client.jobs_create_task(request) == "task_kling_1"
    assert transport.paths() == ["/api/v1/jobs/createTask"]
    assert transport.json_bodies() == [
        {
            "model": "kling-2.6/text-to-video",
            "input": {"prompt": "a fox", "sound": True, "aspect_ratio": "16:9", "duration": "10"},
        }
    ]


# -- families ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "cls", "model"),
    [
        (fam.MARKET_JOB, MarketJobRequest, "acme/x"),
        (fam.KLING, KlingJobRequest, "kling/v2-1-standard"),
        (fam.SORA2, Sora2JobRequest, "sora-2-text-to-video"),
        (fam.WAN, WanJobRequest, "wan/2-6-text-to-video"),
        (fam.HAILUO, HailuoJobRequest, "hailuo/02-text-to-video-pro"),
        (fam.SEEDANCE, SeedanceJobRequest, "bytedance/v1-pro-text-to-video"),
        (fam.GROK_IMAGINE, GrokImagineJobRequest, "grok-imagine/text-to-video"),
        (fam.TOPAZ, TopazJobRequest, "topaz/video-upscale"),
    ],
)
def test_market_families_build_their_request_and_submit_through_create_task(
    family: Any, cls: type[MarketJobRequest], model: str, make_client: Any
) -> None:
    assert family.request is cls
    assert family.kind is TaskKind.JOBS
    request = family.build({"model": model, "input": MINIMAL.get(model, {"prompt": "x"})})
    assert isinstance(request, cls)
    client, transport = make_client({"code": 200, "msg": "success", "data": {"taskId": "t-1"}})
    assert family.submit(client, request) == "t-1"
    assert transport.paths() == ["/api/v1/jobs/createTask"]
    if cls is not MarketJobRequest:
        with pytest.raises(KieValidationError):
            family.build({"model": "acme/x", "input": {}})


# -- Market records ------------------------------------------------------------------------------------


def market_record(**data: Any) -> Any:
    return parse_record(TaskKind.JOBS, {"taskId": "jb-1", **data}, endpoint="/api/v1/jobs/recordInfo")


def test_market_record_with_several_urls_model_cost_time_and_prompt() -> None:
    record = market_record(
        model="sora-2-text-to-video",
        state="success",
        param=json.dumps({"model": "sora-2-text-to-video", "input": {"prompt": "a fox"}}),
        resultJson=json.dumps({"resultUrls": ["https://f.example/a.mp4", "https://f.example/b.mp4"]}),
        costTime=81234,
        completeTime=1750000090000,
        createTime=1750000000000,
    )
    assert record.state is TaskState.SUCCEEDED
    assert record.result_urls == ("https://f.example/a.mp4", "https://f.example/b.mp4")
    assert record.video_url == "https://f.example/a.mp4"
    assert (record.model, record.cost_time_ms, record.prompt, record.credits) == (
        "sora-2-text-to-video",
        81234,
        "a fox",
        None,
    )
    data = record.to_dict()
    assert data["result_urls"] == ["https://f.example/a.mp4", "https://f.example/b.mp4"]
    assert json.loads(json.dumps(data)) == data
    assert type(record).from_dict(json.loads(json.dumps(data))) == record


@pytest.mark.parametrize(
    ("cost_time", "expected"),
    [("81234", 81234), (81.9, 81), (None, None), ("", None), ("soon", None), (True, None)],
)
def test_market_record_cost_time_forms(cost_time: Any, expected: int | None) -> None:
    assert market_record(state="success", costTime=cost_time).cost_time_ms == expected


def test_market_record_skips_empty_and_non_string_urls_and_reads_model_from_param() -> None:
    record = market_record(
        state="success",
        param=json.dumps({"model": "kling/v2-1-pro", "input": "not an object"}),
        resultJson=json.dumps({"resultUrls": ["", None, 7, "https://f.example/a.mp4"]}),
    )
    assert record.result_urls == ("https://f.example/a.mp4",)
    assert (record.model, record.prompt) == ("kling/v2-1-pro", None)


def test_market_record_reports_credits_only_when_kie_sends_a_cost() -> None:
    assert market_record(state="success", creditsConsumed=120).credits == 120.0
    assert market_record(state="success", creditsConsumed="x").credits is None
