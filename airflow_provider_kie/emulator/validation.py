"""KIE's request rules, re-implemented independently of the provider's client.

The emulator must refuse what KIE refuses, or a client that forgets a rule would pass its tests here and fail
in production. Each refusal is a :class:`KieRefusal` with body code 422 and a message that starts with the
field name. Unknown fields are ignored, as KIE ignores them (seed documents show extra ``model``/``seed``
fields). The Market catalogue's per-model rules live in :mod:`.market_catalogue`, Veo's in
:mod:`.validation_veo`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_kie.emulator.dimensions import ClipShape, clip_shape
from airflow_provider_kie.emulator.errors import KieRefusal, validation_error
from airflow_provider_kie.emulator.market_catalogue import catalogue_model
from airflow_provider_kie.emulator.market_rules import as_number
from airflow_provider_kie.emulator.urlcheck import is_http_url

MAX_PROMPT_CHARS = 1800
RUNWAY_DURATIONS = (5, 10)
RUNWAY_QUALITIES = ("720p", "1080p")
RUNWAY_ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16")
ALEPH_ASPECT_RATIOS = ("16:9", "9:16", "4:3", "3:4", "1:1", "21:9")


@dataclass(frozen=True)
class RunwayGenerateRequest:
    """A valid ``POST /api/v1/runway/generate`` body."""

    prompt: str
    duration: int
    quality: str
    #: ``None`` for image-to-video: the output keeps the image's ratio and KIE ignores ``aspectRatio``.
    aspect_ratio: str | None
    image_url: str
    water_mark: str
    callback_url: str | None


@dataclass(frozen=True)
class RunwayExtendRequest:
    """A well-formed ``POST /api/v1/runway/extend`` body (the parent's state is checked by the state)."""

    task_id: str
    prompt: str
    quality: str
    water_mark: str
    callback_url: str | None


@dataclass(frozen=True)
class AlephGenerateRequest:
    """A valid ``POST /api/v1/aleph/generate`` body."""

    prompt: str
    video_url: str
    aspect_ratio: str | None
    seed: int | None
    reference_image: str | None
    water_mark: str
    upload_cn: bool
    callback_url: str | None
    #: The accepted fields as sent, echoed back (as a JSON string) in ``paramJson``.
    params: dict[str, Any]


@dataclass(frozen=True)
class JobsCreateTaskRequest:
    """A valid ``POST /api/v1/jobs/createTask`` body.

    A catalogue model's ``input`` was checked against its KIE page (:mod:`.market_catalogue`); any other
    model's ``input`` is passed through, as KIE's long tail of models would take it.
    """

    model: str
    input: dict[str, Any]
    callback_url: str | None
    #: ``input.prompt`` when it is a string (what moderation looks at), else "".
    prompt: str
    #: The request as sent, echoed back (as a JSON string) in ``param``.
    params: dict[str, Any]
    #: The produced clip (size from the requested ratio and resolution, length from the duration).
    shape: ClipShape = field(default_factory=lambda: clip_shape(None, None, 5))
    #: Credits from the model's price (catalogue models); ``None`` = the configured default.
    credits: int | None = None
    #: Results one task yields (``resultUrls`` length) before any configured override.
    outputs: int = 1
    #: Whether the results are videos (MP4) or images (PNG).
    media: Literal["video", "image"] = "video"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object; KIE answers 400 to malformed JSON."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise KieRefusal(400, f"Malformed JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise KieRefusal(400, "Request body must be a JSON object")
    return body


# The field readers below are shared with the other families' rules (:mod:`.validation_veo`): each raises
# the 422 KIE answers, naming the field.
def present(body: dict[str, Any], name: str) -> bool:
    """Whether ``body`` has ``name``; KIE treats null like a missing field."""
    return body.get(name) is not None


def text_field(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    """A string field (a required one must not be blank); ``None`` when missing."""
    if not present(body, name):
        if required:
            raise validation_error(f"{name} is required")
        return None
    value = body[name]
    if not isinstance(value, str):
        raise validation_error(f"{name} must be a string")
    if required and not value.strip():
        raise validation_error(f"{name} is required")
    return value


def _prompt(body: dict[str, Any], *, max_chars: int | None) -> str:
    prompt = text_field(body, "prompt", required=True)
    assert prompt is not None
    if max_chars is not None and len(prompt) > max_chars:
        raise validation_error(f"prompt must be at most {max_chars} characters (got {len(prompt)})")
    return prompt


def url_field(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    """An http(s) URL field; ``None`` when missing, or empty and optional."""
    value = text_field(body, name, required=required)
    # An empty optional URL means "none" (KIE's own examples send "imageUrl": "").
    if value is None or (not required and value == ""):
        return None
    if not is_http_url(value):
        raise validation_error(f"{name} must be an http(s) URL")
    return value


def choice_field(body: dict[str, Any], name: str, allowed: tuple[str, ...], *, required: bool) -> str | None:
    """A string field that must be one of ``allowed``; ``None`` when missing."""
    value = text_field(body, name, required=required)
    if value is None:
        return None
    if value not in allowed:
        raise validation_error(f"{name} must be one of {', '.join(allowed)}")
    return value


def integer_field(body: dict[str, Any], name: str) -> int | None:
    """``body[name]`` when it is a JSON integer, ``None`` when missing; else a 422."""
    if not present(body, name):
        return None
    value = body[name]
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error(f"{name} must be an integer")
    return value


def _duration(body: dict[str, Any]) -> int:
    if not present(body, "duration"):
        raise validation_error("duration is required")
    value = body["duration"]
    # bool is an int in Python but not a number in JSON; strings are refused rather than guessed at.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in RUNWAY_DURATIONS:
        raise validation_error("duration must be 5 or 10")
    return int(value)


def parse_runway_generate(body: dict[str, Any]) -> RunwayGenerateRequest:
    """Apply KIE's rules for ``runway/generate``; raise a 422 :class:`KieRefusal` naming the first bad
    field."""
    prompt = _prompt(body, max_chars=MAX_PROMPT_CHARS)
    duration = _duration(body)
    quality = choice_field(body, "quality", RUNWAY_QUALITIES, required=True)
    assert quality is not None
    if quality == "1080p" and duration != 5:
        raise validation_error("quality 1080p is only available with duration 5")
    image_url = url_field(body, "imageUrl", required=False)
    aspect_ratio: str | None = None
    if image_url is None:
        aspect_ratio = choice_field(body, "aspectRatio", RUNWAY_ASPECT_RATIOS, required=False)
        if aspect_ratio is None:
            raise validation_error("aspectRatio is required for text-to-video (no imageUrl)")
    return RunwayGenerateRequest(
        prompt=prompt,
        duration=duration,
        quality=quality,
        aspect_ratio=aspect_ratio,
        image_url=image_url or "",
        water_mark=text_field(body, "waterMark", required=False) or "",
        callback_url=url_field(body, "callBackUrl", required=False),
    )


def parse_runway_extend(body: dict[str, Any]) -> RunwayExtendRequest:
    """Apply KIE's field rules for ``runway/extend``."""
    task_id = text_field(body, "taskId", required=True)
    assert task_id is not None
    prompt = _prompt(body, max_chars=MAX_PROMPT_CHARS)
    quality = choice_field(body, "quality", RUNWAY_QUALITIES, required=True)
    assert quality is not None
    return RunwayExtendRequest(
        task_id=task_id,
        prompt=prompt,
        quality=quality,
        water_mark=text_field(body, "waterMark", required=False) or "",
        callback_url=url_field(body, "callBackUrl", required=False),
    )


def parse_aleph_generate(body: dict[str, Any]) -> AlephGenerateRequest:
    """Apply KIE's rules for ``aleph/generate`` (no prompt length limit is documented for Aleph)."""
    prompt = _prompt(body, max_chars=None)
    video_url = url_field(body, "videoUrl", required=True)
    assert video_url is not None
    aspect_ratio = choice_field(body, "aspectRatio", ALEPH_ASPECT_RATIOS, required=False)
    seed = integer_field(body, "seed")
    upload_cn = False
    if present(body, "uploadCn"):
        if not isinstance(body["uploadCn"], bool):
            raise validation_error("uploadCn must be a boolean")
        upload_cn = body["uploadCn"]
    reference_image = url_field(body, "referenceImage", required=False)
    water_mark = text_field(body, "waterMark", required=False) or ""
    callback_url = url_field(body, "callBackUrl", required=False)
    known = (
        "prompt",
        "videoUrl",
        "callBackUrl",
        "waterMark",
        "uploadCn",
        "aspectRatio",
        "seed",
        "referenceImage",
    )
    params = {name: body[name] for name in known if present(body, name)}
    return AlephGenerateRequest(
        prompt=prompt,
        video_url=video_url,
        aspect_ratio=aspect_ratio,
        seed=seed,
        reference_image=reference_image,
        water_mark=water_mark,
        upload_cn=upload_cn,
        callback_url=callback_url,
        params=params,
    )


def parse_jobs_create_task(body: dict[str, Any]) -> JobsCreateTaskRequest:
    """Apply KIE's rules for ``jobs/createTask``: a model name, an ``input`` object, an optional callback;
    for a catalogue model, its page's ``input`` rules too (required fields, enums, ranges)."""
    model = text_field(body, "model", required=True)
    assert model is not None
    model = model.strip()
    if not present(body, "input"):
        raise validation_error("input is required")
    if not isinstance(body["input"], dict):
        raise validation_error("input must be an object")
    model_input: dict[str, Any] = body["input"]
    callback_url = url_field(body, "callBackUrl", required=False)
    prompt = model_input.get("prompt")
    params = {name: body[name] for name in ("model", "callBackUrl", "input") if present(body, name)}
    common: dict[str, Any] = {
        "model": model,
        "input": model_input,
        "callback_url": callback_url,
        "prompt": prompt if isinstance(prompt, str) else "",
        "params": params,
    }
    documented = catalogue_model(model)
    if documented is None:
        # The long tail: no rules to apply, but the clip still follows the usual field names when present.
        return JobsCreateTaskRequest(
            **common,
            shape=long_tail_shape(model_input),
            media="video" if "video" in model.lower() else "image",
        )
    resolved = documented.validate(model_input)
    return JobsCreateTaskRequest(
        **common,
        shape=documented.shape(resolved),
        credits=documented.credits(resolved),
        outputs=documented.outputs,
        media=documented.media,
    )


def long_tail_shape(model_input: dict[str, Any]) -> ClipShape:
    """The clip of a model the emulator does not know, from the field names most Market pages use."""

    def first(*names: str) -> Any:
        for name in names:
            value = model_input.get(name)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return value
        return None

    ratio = first("aspect_ratio", "aspectRatio", "ratio")
    resolution = first("resolution", "quality")
    duration = as_number(first("duration", "n_frames"))
    seconds = float(duration) if isinstance(duration, (int, float)) and 0 < duration <= 60 else 5.0
    return clip_shape(
        None if ratio is None else str(ratio), None if resolution is None else str(resolution), seconds
    )
