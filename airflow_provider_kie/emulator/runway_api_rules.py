"""The emulated Runway API's request rules and prices, implemented on their own (no client import).

Rules follow the runwayml SDK's request types (https://github.com/runwayml/sdk-python, api.md and
``types/*_create_params.py``) and Runway's inputs page (https://docs.dev.runwayml.com/assets/inputs). Every
refusal is HTTP 400 ``{"error": "<field>: <reason>"}``: Runway's 400 body is "a JSON response with an error
member with a human-readable explanation" naming the field (https://docs.dev.runwayml.com/api-details/errors,
.../errors/troubleshooting).

Prices are credits per output second from Runway's own reference
(https://github.com/runwayml/skills/blob/main/skills/rw-api-reference/SKILL.md): gen4.5 12, gen4_turbo 5, veo3
40, veo3.1 20/40 and veo3.1_fast 10/15 (without/with audio, which those models generate unless ``audio`` is
false), act_two 5; Aleph's 15 (gen4_aleph's) is assumed for aleph2, upscale_v1's 2 for the Magnific upscaler.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_kie.emulator.dimensions import ClipShape, clip_shape

__all__ = ["MODELS", "EmuModel", "ParsedCreate", "RunwayApiRefusal", "parse_create"]

#: Encoded length a data URI must stay under (1024 x 1024 x 5).
MAX_DATA_URI = 5 * 1024 * 1024
MAX_URL = 2048
MAX_PROMPT = 1000
IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/webm", "video/quicktime", "video/mov", "video/ogg", "video/h264")
GEN4 = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
VEO = ("1280:720", "720:1280", "1080:1920", "1920:1080")
#: Output sizes of the Magnific upscaler's ``resolution`` (16:9; Runway does not state pixels: assumed).
UPSCALE_SIZES = {"720p": (1280, 720), "1k": (1920, 1080), "2k": (2560, 1440), "4k": (3840, 2160)}
_DATA_URI = re.compile(r"^data:([A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+)((?:;[^;,]*)*),")


class RunwayApiRefusal(Exception):
    """An answer Runway gives instead of doing the work: ``{"error": message}`` under HTTP ``status``."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})


def bad_request(message: str) -> RunwayApiRefusal:
    """A 400 whose message names the field first."""
    return RunwayApiRefusal(400, message)


@dataclass(frozen=True)
class EmuModel:
    """What one model takes, per the sources above.

    Attributes:
        ratios: Allowed ``ratio`` per endpoint served; ``()`` = no ``ratio`` taken there.
        ratio_required: ``ratio`` must be sent (where taken).
        durations: Allowed ``duration``; ``()`` = not taken (the output lasts ``default_duration``).
        default_duration: Seconds produced when ``duration`` is absent.
        duration_required: ``duration`` must be sent.
        prompt_required: Endpoints where ``promptText`` must be sent.
        credits_per_second: Price; ``audio_credits_per_second`` when the model makes sound.
    """

    name: str
    ratios: Mapping[str, tuple[str, ...]]
    ratio_required: bool = True
    durations: tuple[int, ...] = ()
    default_duration: int = 5
    duration_required: bool = False
    prompt_required: frozenset[str] = field(default_factory=frozenset)
    credits_per_second: int = 5
    audio_credits_per_second: int | None = None


MODELS: Mapping[str, EmuModel] = {
    model.name: model
    for model in (
        EmuModel(
            "gen4.5",
            {"image_to_video": GEN4, "text_to_video": ("1280:720", "720:1280")},
            durations=tuple(range(2, 11)),
            duration_required=True,
            prompt_required=frozenset({"image_to_video", "text_to_video"}),
            credits_per_second=12,
        ),
        # Runway's guide of 2024 gave gen4_turbo 5 or 10 s (10 by default); its reference now 2-10.
        EmuModel("gen4_turbo", {"image_to_video": GEN4}, durations=tuple(range(2, 11)), default_duration=10),
        EmuModel(
            "veo3.1",
            {"image_to_video": VEO, "text_to_video": VEO},
            durations=(4, 6, 8),
            default_duration=8,
            prompt_required=frozenset({"text_to_video"}),
            credits_per_second=20,
            audio_credits_per_second=40,
        ),
        EmuModel(
            "veo3.1_fast",
            {"image_to_video": VEO, "text_to_video": VEO},
            durations=(4, 6, 8),
            default_duration=8,
            prompt_required=frozenset({"text_to_video"}),
            credits_per_second=10,
            audio_credits_per_second=15,
        ),
        EmuModel(
            "veo3",
            {"image_to_video": VEO, "text_to_video": VEO},
            durations=(8,),
            default_duration=8,
            duration_required=True,
            prompt_required=frozenset({"text_to_video"}),
            credits_per_second=40,
        ),
        EmuModel("aleph2", {"video_to_video": ()}, ratio_required=False, credits_per_second=15),
        EmuModel(
            "magnific_video_upscaler_creative",
            {"video_upscale": ()},
            ratio_required=False,
            credits_per_second=2,
        ),
        EmuModel("act_two", {"character_performance": GEN4}, ratio_required=False, credits_per_second=5),
    )
}


@dataclass(frozen=True)
class ParsedCreate:
    """An accepted create's essentials: what to charge and what to render."""

    endpoint: str
    model: str
    prompt: str
    shape: ClipShape
    audio: bool

    def credits(self, overrides: Mapping[str, int]) -> int:
        """Credits of this create: the model's per-second price (``overrides`` first) times its seconds."""
        spec = MODELS[self.model]
        rate = overrides.get(self.model)
        if rate is None:
            rate = spec.audio_credits_per_second if self.audio and spec.audio_credits_per_second else None
            rate = rate or spec.credits_per_second
        return math.ceil(rate * self.shape.duration_s)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_uri(field_name: str, value: Any, types: tuple[str, ...]) -> str:
    """An input URI as Runway checks it: https on a domain, a base64 data URI under 5 MB of an accepted type,
    or a ``runway://`` upload. http:// is accepted for loopback hosts only, an emulator convenience so its own
    media can be fed back in."""
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{field_name}: Required")
    if value.startswith("data:"):
        match = _DATA_URI.match(value)
        if match is None or ";base64" not in match.group(2).lower():
            raise bad_request(f"{field_name}: Invalid data URI.")
        if match.group(1).lower() not in types:
            raise bad_request(f"{field_name}: Unsupported asset type {match.group(1)}.")
        if len(value) >= MAX_DATA_URI:
            raise bad_request(
                f"{field_name}: Data URI too large ({len(value)} characters; limit {MAX_DATA_URI})."
            )
        return value
    if value.startswith("runway://"):
        return value
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise bad_request(f"{field_name}: Invalid URL")
    if parts.scheme == "http" and not _is_loopback(host):
        raise bad_request(f"{field_name}: Only HTTPS URLs are allowed.")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if not _is_loopback(host):
            raise bad_request(f"{field_name}: URLs must be hosted on a domain.")
    if len(value) > MAX_URL:
        raise bad_request(f"{field_name}: URL longer than {MAX_URL} characters")
    return value


def _prompt(body: Mapping[str, Any], required: bool) -> str:
    prompt = body.get("promptText")
    if prompt is None:
        if required:
            raise bad_request("promptText: Required")
        return ""
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("promptText: must be a non-empty string")
    if len(prompt.encode("utf-16-le")) // 2 > MAX_PROMPT:
        raise bad_request(f"promptText: must be at most {MAX_PROMPT} characters")
    return prompt


def _duration(body: Mapping[str, Any], spec: EmuModel) -> int:
    duration = body.get("duration")
    if duration is None:
        if spec.duration_required:
            raise bad_request(f"duration: Required for {spec.name}")
        return spec.default_duration
    if isinstance(duration, bool) or not isinstance(duration, int) or not spec.durations:
        raise bad_request(f"duration: Invalid for {spec.name}")
    if duration not in spec.durations:
        allowed = ", ".join(str(d) for d in spec.durations)
        raise bad_request(f"duration: must be one of {allowed} for {spec.name}")
    return duration


def _ratio(body: Mapping[str, Any], spec: EmuModel, endpoint: str) -> str | None:
    ratio = body.get("ratio")
    allowed = spec.ratios[endpoint]
    if ratio is None:
        if allowed and spec.ratio_required:
            raise bad_request(f"ratio: Required; must be one of {', '.join(allowed)}")
        return None
    if not allowed or ratio not in allowed:
        choices = ", ".join(allowed) if allowed else "none (not taken)"
        raise bad_request(
            f"ratio: Invalid enum value for {spec.name}. Expected {choices}, received {ratio!r}"
        )
    return str(ratio)


def _pixels(ratio: str | None, duration: float) -> ClipShape:
    """A ``W:H`` pixel ratio as the frame size itself (Runway's ratios are output resolutions)."""
    if ratio is None:
        return clip_shape("16:9", "720p", duration)
    width, height = (int(side) for side in ratio.split(":"))
    return ClipShape(width, height, float(duration))


def _model(body: Mapping[str, Any], endpoint: str) -> EmuModel:
    name = body.get("model")
    serving = [model.name for model in MODELS.values() if endpoint in model.ratios]
    spec = MODELS.get(name) if isinstance(name, str) else None
    if spec is None or endpoint not in spec.ratios:
        raise bad_request(f"model: Invalid enum value. Expected {' | '.join(serving)}, received {name!r}")
    return spec


def _image_to_video(body: Mapping[str, Any], spec: EmuModel) -> tuple[str | None, int]:
    images = body.get("promptImage")
    if isinstance(images, list):
        if not 1 <= len(images) <= 2:
            raise bad_request("promptImage: give one or two positioned images")
        for index, item in enumerate(images):
            if not isinstance(item, Mapping) or item.get("position") not in ("first", "last"):
                raise bad_request(f"promptImage.{index}.position: Expected 'first' | 'last'")
            check_uri(f"promptImage.{index}.uri", item.get("uri"), IMAGE_TYPES)
    else:
        check_uri("promptImage", images, IMAGE_TYPES)
    return _ratio(body, spec, "image_to_video"), _duration(body, spec)


def parse_create(endpoint: str, body: Mapping[str, Any]) -> ParsedCreate:
    """Check a create body for ``endpoint`` (``image_to_video``...) as Runway would; raise a 400 otherwise."""
    spec = _model(body, endpoint)
    prompt = _prompt(body, endpoint in spec.prompt_required)
    audio = body.get("audio")
    if audio is not None and (not isinstance(audio, bool) or spec.audio_credits_per_second is None):
        raise bad_request(
            f"audio: not taken by {spec.name}" if isinstance(audio, bool) else "audio: Expected boolean"
        )
    makes_sound = spec.audio_credits_per_second is not None and audio is not False
    if endpoint == "image_to_video":
        ratio, duration = _image_to_video(body, spec)
        shape = _pixels(ratio, duration)
    elif endpoint == "text_to_video":
        shape = _pixels(_ratio(body, spec, endpoint), _duration(body, spec))
    elif endpoint == "video_to_video":
        check_uri("videoUri", body.get("videoUri"), VIDEO_TYPES)
        # The output follows the input video, which the emulator does not fetch: 5 s, in the target ratio.
        shape = clip_shape(body.get("targetAspectRatio") or "16:9", "720p", spec.default_duration)
    elif endpoint == "video_upscale":
        check_uri("videoUri", body.get("videoUri"), VIDEO_TYPES)
        resolution = body.get("resolution", "2k")
        if resolution not in UPSCALE_SIZES:
            raise bad_request(f"resolution: Expected {' | '.join(UPSCALE_SIZES)}, received {resolution!r}")
        width, height = UPSCALE_SIZES[resolution]
        shape = ClipShape(width, height, float(spec.default_duration))
    else:  # character_performance
        character = body.get("character")
        if not isinstance(character, Mapping) or character.get("type") not in ("image", "video"):
            raise bad_request("character: Expected {type: 'image' | 'video', uri}")
        types = IMAGE_TYPES if character["type"] == "image" else VIDEO_TYPES
        check_uri("character.uri", character.get("uri"), types)
        reference = body.get("reference")
        if not isinstance(reference, Mapping) or reference.get("type") != "video":
            raise bad_request("reference: Expected {type: 'video', uri}")
        check_uri("reference.uri", reference.get("uri"), VIDEO_TYPES)
        shape = _pixels(_ratio(body, spec, endpoint) or "1280:720", spec.default_duration)
    return ParsedCreate(endpoint, spec.name, prompt, shape, makes_sound)
