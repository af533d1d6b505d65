"""KIE's request rules for the Veo 3.1 API, re-implemented from its pages.

Pages (read 2026-07 from KIE's OpenAPI exports as mirrored in henjicc/Henji-AI ``docs/api/KIE/Veo3.1 API`` and
lantianlaoli/flowtra ``docs/kie``):

* generate: https://docs.kie.ai/veo3-api/generate-veo-3-video
* extend: https://docs.kie.ai/veo3-api/extend-video
* get 4K: https://docs.kie.ai/veo3-api/get-veo-3-4k-video

Every refusal is a 422 whose message starts with the field name; ``null`` counts as missing and undocumented
fields are ignored, as on the other KIE endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_kie.emulator.errors import validation_error
from airflow_provider_kie.emulator.urlcheck import is_http_url
from airflow_provider_kie.emulator.validation import (
    choice_field,
    integer_field,
    present,
    text_field,
    url_field,
)

VEO_MODELS = ("veo3", "veo3_fast", "veo3_lite")
#: ``model`` default of the generate page.
DEFAULT_VEO_MODEL = "veo3_fast"
TEXT_2_VIDEO = "TEXT_2_VIDEO"
FIRST_AND_LAST_FRAMES_2_VIDEO = "FIRST_AND_LAST_FRAMES_2_VIDEO"
REFERENCE_2_VIDEO = "REFERENCE_2_VIDEO"
GENERATION_TYPES = (TEXT_2_VIDEO, FIRST_AND_LAST_FRAMES_2_VIDEO, REFERENCE_2_VIDEO)
#: How many ``imageUrls`` each generation type takes: none for text, 1-2 (first frame, optional last frame)
#: for frames, 1-3 reference images for reference-to-video.
IMAGE_COUNTS = {TEXT_2_VIDEO: (0, 0), FIRST_AND_LAST_FRAMES_2_VIDEO: (1, 2), REFERENCE_2_VIDEO: (1, 3)}
#: REFERENCE_2_VIDEO runs on the Fast and Lite models only, in 16:9 or 9:16, for 8 s.
REFERENCE_MODELS = ("veo3_fast", "veo3_lite")
VEO_ASPECT_RATIOS = ("16:9", "9:16", "Auto")
VEO_RESOLUTIONS = ("720p", "1080p", "4k")
VEO_DURATIONS = (4, 6, 8)
#: Extend takes its own model names, mapped here to the generate models they price like.
EXTEND_MODELS = {"fast": "veo3_fast", "quality": "veo3", "lite": "veo3_lite"}
SEED_RANGE = (10000, 99999)


@dataclass(frozen=True)
class VeoGenerateRequest:
    """A valid ``POST /api/v1/veo/generate`` body, with the page's defaults applied."""

    prompt: str
    model: str
    generation_type: str
    image_urls: tuple[str, ...]
    aspect_ratio: str
    resolution: str
    duration: int
    callback_url: str | None
    #: The accepted fields as sent, echoed back (as a JSON string) in ``paramJson``.
    params: dict[str, Any]


@dataclass(frozen=True)
class VeoExtendRequest:
    """A well-formed ``POST /api/v1/veo/extend`` body (the parent is checked by the state)."""

    task_id: str
    prompt: str
    #: The generate model the extension is priced as (``fast`` -> ``veo3_fast``...).
    model: str
    callback_url: str | None
    params: dict[str, Any]


@dataclass(frozen=True)
class Veo4kRequest:
    """A well-formed ``POST /api/v1/veo/get-4k-video`` body."""

    task_id: str
    index: int
    callback_url: str | None


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    return choice_field(body, name, allowed, required=False) or default


def _callback(body: dict[str, Any]) -> str | None:
    return url_field(body, "callBackUrl", required=False)


def _boolean(body: dict[str, Any], name: str) -> None:
    if present(body, name) and not isinstance(body[name], bool):
        raise validation_error(f"{name} must be a boolean")


def _seeds(body: dict[str, Any]) -> None:
    seeds = integer_field(body, "seeds")
    if seeds is not None and not SEED_RANGE[0] <= seeds <= SEED_RANGE[1]:
        raise validation_error(f"seeds must be between {SEED_RANGE[0]} and {SEED_RANGE[1]}")


def _image_urls(body: dict[str, Any]) -> tuple[str, ...]:
    if not present(body, "imageUrls"):
        return ()
    value = body["imageUrls"]
    if not isinstance(value, list):
        raise validation_error("imageUrls must be a list of URLs")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not is_http_url(item):
            raise validation_error(f"imageUrls.{index} must be an http(s) URL")
    return tuple(value)


def parse_veo_generate(body: dict[str, Any]) -> VeoGenerateRequest:
    """Apply the generate page's rules; raise a 422 naming the first bad field."""
    prompt = text_field(body, "prompt", required=True)
    assert prompt is not None
    images = _image_urls(body)
    model = _choice(body, "model", VEO_MODELS, DEFAULT_VEO_MODEL)
    # Without generationType, KIE decides from the images: frames when there are some, text otherwise.
    inferred = FIRST_AND_LAST_FRAMES_2_VIDEO if images else TEXT_2_VIDEO
    generation_type = _choice(body, "generationType", GENERATION_TYPES, inferred)
    low, high = IMAGE_COUNTS[generation_type]
    if not low <= len(images) <= high:
        wanted = "no images" if high == 0 else f"{low}-{high} image(s)"
        raise validation_error(f"imageUrls: {generation_type} takes {wanted} (got {len(images)})")
    # The generate page names the ratio ``aspect_ratio``; a camelCase ``aspectRatio`` is an undocumented
    # field, ignored like any other (the video gets the default 16:9).
    aspect_ratio = _choice(body, "aspect_ratio", VEO_ASPECT_RATIOS, "16:9")
    resolution = _choice(body, "resolution", VEO_RESOLUTIONS, "720p")
    duration = integer_field(body, "duration")
    if duration is None:
        duration = 8
    elif duration not in VEO_DURATIONS:
        raise validation_error("duration must be one of 4, 6, 8")
    if generation_type == REFERENCE_2_VIDEO:
        if model not in REFERENCE_MODELS:
            raise validation_error(
                f"model: REFERENCE_2_VIDEO is only available with {', '.join(REFERENCE_MODELS)}"
            )
        if aspect_ratio not in ("16:9", "9:16"):
            raise validation_error("aspect_ratio: REFERENCE_2_VIDEO supports 16:9 and 9:16 only")
        if duration != 8:
            raise validation_error("duration: REFERENCE_2_VIDEO supports 8 s only")
    _seeds(body)
    text_field(body, "watermark", required=False)
    for name in ("enableTranslation", "enableFallback"):
        _boolean(body, name)
    callback_url = _callback(body)
    known = (
        "prompt",
        "imageUrls",
        "model",
        "generationType",
        "aspect_ratio",
        "resolution",
        "duration",
        "seeds",
        "watermark",
        "enableTranslation",
        "enableFallback",
        "callBackUrl",
    )
    return VeoGenerateRequest(
        prompt=prompt,
        model=model,
        generation_type=generation_type,
        image_urls=images,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        duration=duration,
        callback_url=callback_url,
        params={name: body[name] for name in known if present(body, name)},
    )


def parse_veo_extend(body: dict[str, Any]) -> VeoExtendRequest:
    """Apply the extend page's field rules (``taskId``, ``prompt`` required; ``model`` fast|quality|lite)."""
    task_id = text_field(body, "taskId", required=True)
    prompt = text_field(body, "prompt", required=True)
    assert task_id is not None and prompt is not None
    model = _choice(body, "model", tuple(EXTEND_MODELS), "fast")
    _seeds(body)
    text_field(body, "watermark", required=False)
    callback_url = _callback(body)
    known = ("taskId", "prompt", "model", "seeds", "watermark", "callBackUrl")
    return VeoExtendRequest(
        task_id=task_id.strip(),
        prompt=prompt,
        model=EXTEND_MODELS[model],
        callback_url=callback_url,
        params={name: body[name] for name in known if present(body, name)},
    )


def parse_veo_index(raw: Any) -> int:
    """The optional ``index`` of the upgrade endpoints (default 0)."""
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool):
        raise validation_error("index must be an integer")
    if isinstance(raw, str):
        if not raw.strip().isdigit():
            raise validation_error("index must be an integer")
        return int(raw)
    if not isinstance(raw, int) or raw < 0:
        raise validation_error("index must be an integer")
    return raw


def parse_veo_4k(body: dict[str, Any]) -> Veo4kRequest:
    """Apply the 4K page's field rules (``taskId`` required; ``index`` an integer, default 0)."""
    task_id = text_field(body, "taskId", required=True)
    assert task_id is not None
    return Veo4kRequest(
        task_id=task_id.strip(), index=parse_veo_index(body.get("index")), callback_url=_callback(body)
    )
