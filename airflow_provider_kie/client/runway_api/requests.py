"""Request models of Runway's own API, one per generation endpoint, checked before anything is sent.

Each model validates its fields (types, ranges, inputs: :mod:`.inputs`), then the combination of model and
parameters against the per-model table (:mod:`.catalogue`): an unknown model, a model that does not serve the
endpoint (text-to-video on an image-only model), a ratio or duration the model does not take. Every broken
rule is reported at once, as a :class:`~airflow_provider_kie.client.errors.KieValidationError` whose label
names the backend and endpoint ("Runway API text_to_video request") and whose rules name the parameter and
the values allowed.

Fields use Python names (``prompt_text``); :meth:`RunwayApiRequest.to_payload` gives Runway's camelCase JSON
(https://github.com/runwayml/sdk-python/blob/main/api.md; the field-by-field schema is in the SDK's
``types/*_create_params.py``). Local files are read into data URIs there, not before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import field_validator

from airflow_provider_kie.client.errors import FieldError, KieValidationError
from airflow_provider_kie.client.models import KieRequest, LocalFile, _not_boolean
from airflow_provider_kie.client.runway_api.catalogue import (
    RUNWAY_API_MODELS,
    Endpoint,
    RunwayApiModel,
    models_for,
)
from airflow_provider_kie.client.runway_api.inputs import MediaKind, check_input, to_data_uri

__all__ = [
    "RunwayApiRequest",
    "RunwayCharacterPerformanceRequest",
    "RunwayImageToVideoRequest",
    "RunwayTextToVideoRequest",
    "RunwayVideoToVideoRequest",
    "RunwayVideoUpscaleRequest",
]

log = logging.getLogger(__name__)

#: ``seed`` range (an unsigned 32-bit integer).
SEED_MAX = 4_294_967_295
BACKEND = "Runway API"

PublicFigureThreshold = Literal["auto", "low"]


def _utf16_length(text: str) -> int:
    # Runway measures promptText "in UTF-16 code units": an emoji counts twice.
    return len(text.encode("utf-16-le")) // 2


def _empty_to_none(value: Any) -> Any:
    """Airflow templating renders unset optional values as ""; treat that as "not given"."""
    return None if value == "" else value


def _listing(values: tuple[Any, ...]) -> str:
    return ", ".join(str(value) for value in values)


class RunwayApiRequest(KieRequest):
    """Base of the Runway API request models: validation against the model table and the JSON payload."""

    #: The endpoint (``POST /v1/<endpoint>``) this request is for.
    endpoint: ClassVar[Endpoint]
    #: Input fields and the kind of media each takes (checked by :func:`.inputs.check_input`).
    media_fields: ClassVar[Mapping[str, MediaKind]] = {}
    #: Fields nested under ``contentModeration`` in the payload.
    _moderation_fields: ClassVar[dict[str, str]] = {"public_figure_threshold": "publicFigureThreshold"}

    model: str

    @classmethod
    def label(cls) -> str:
        """What errors call a request of this kind, naming the backend: "Runway API image_to_video
        request"."""
        return f"{BACKEND} {cls.endpoint} request"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except KieValidationError as exc:
            raise KieValidationError(self.label(), exc.errors) from None
        self._check_table()

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """pydantic's entry point for a dict, with the same typed errors and table checks as the
        constructor."""
        # pydantic runs our __init__ (a custom one) for a dict, table checks included.
        try:
            return super().model_validate(obj, *args, **kwargs)
        except KieValidationError as exc:
            raise KieValidationError(cls.label(), exc.errors) from None

    # -- the table ----------------------------------------------------------------------------------------
    @property
    def spec(self) -> RunwayApiModel:
        """The table entry of :attr:`model` (the request exists only if there is one)."""
        return RUNWAY_API_MODELS[self.model]

    def _check_table(self) -> None:
        errors = self._table_errors()
        if errors:
            raise KieValidationError(self.label(), errors)
        if self.spec.retired:
            log.warning("Runway API model %s may no longer be served: %s", self.model, self.spec.retired)

    def _table_errors(self) -> list[FieldError]:
        """Every rule of the model table this request breaks; empty when it breaks none."""
        endpoint = self.endpoint
        spec = RUNWAY_API_MODELS.get(self.model)
        serving = models_for(endpoint)
        if spec is None:
            return [
                FieldError(
                    "model",
                    f"{self.model!r} is not a {BACKEND} model this provider knows; allowed for {endpoint}: "
                    + _listing(serving),
                )
            ]
        if not spec.serves(endpoint):
            hint = ""
            if endpoint == "text_to_video" and spec.serves("image_to_video"):
                hint = " (it needs an input image: use image_to_video, RunwayImageToVideoRequest)"
            return [
                FieldError(
                    "model",
                    f"{self.model} does not do {endpoint} on the {BACKEND}{hint}; it serves "
                    f"{_listing(spec.endpoints)}; allowed for {endpoint}: {_listing(serving)}",
                )
            ]
        errors: list[FieldError] = []
        ratio: str | None = getattr(self, "ratio", None)
        ratios = spec.ratios[endpoint]
        where = f"for {self.model} on {endpoint} ({BACKEND})"
        if ratios:
            if ratio is None and spec.ratio_required:
                errors.append(FieldError("ratio", f"is required {where}; allowed: {_listing(ratios)}"))
            elif ratio is not None and ratio not in ratios:
                errors.append(
                    FieldError("ratio", f"{ratio!r} is not allowed {where}; allowed: {_listing(ratios)}")
                )
        elif ratio is not None:
            errors.append(FieldError("ratio", f"is not taken {where}"))
        if "duration" in type(self).model_fields:
            duration: int | None = getattr(self, "duration", None)
            if not spec.durations and duration is not None:
                errors.append(FieldError("duration", f"is not taken {where}"))
            elif duration is None and spec.duration_required:
                allowed = _listing(spec.durations)
                errors.append(FieldError("duration", f"is required {where}; allowed: {allowed} seconds"))
            elif duration is not None and duration not in spec.durations:
                allowed = _listing(spec.durations)
                errors.append(
                    FieldError("duration", f"{duration} is not allowed {where}; allowed: {allowed} seconds")
                )
        prompt: str | None = getattr(self, "prompt_text", None)
        if prompt is None and endpoint in spec.prompt_required:
            errors.append(FieldError("prompt_text", f"is required {where}"))
        elif prompt is not None and _utf16_length(prompt) > spec.max_prompt:
            errors.append(
                FieldError(
                    "prompt_text",
                    f"must be at most {spec.max_prompt} characters (UTF-16 code units) {where}; "
                    f"got {_utf16_length(prompt)}",
                )
            )
        for name, supported in (
            ("audio", spec.audio),
            ("last_frame", spec.last_frame),
            ("negative_prompt", spec.negative_prompt),
            ("seed", spec.seed),
            ("public_figure_threshold", spec.moderation),
        ):
            if getattr(self, name, None) is not None and not supported:
                takers = [
                    m.name for m in RUNWAY_API_MODELS.values() if m.serves(endpoint) and _takes(m, name)
                ]
                allowed = f"; taken by {_listing(tuple(takers))}" if takers else ""
                errors.append(FieldError(name, f"is not taken {where}{allowed}"))
        return errors

    # -- payload ----------------------------------------------------------------------------------------
    def local_inputs(self) -> dict[str, LocalFile]:
        """The input fields holding a local file (sent as a data URI), by field name."""
        return {
            name: value for name in self.media_fields if isinstance(value := getattr(self, name), LocalFile)
        }

    def with_data_uris(self) -> Self:
        """This request with every local file read into a data URI; the request itself when it holds none.

        :raises KieValidationError: a file is too big for a data URI (the message says to pass an https URL).
        """
        update: dict[str, str] = {}
        errors: list[FieldError] = []
        for name, local in self.local_inputs().items():
            try:
                update[name] = to_data_uri(local, self.media_fields[name])
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
        if errors:
            raise KieValidationError(self.label(), errors)
        return self.model_copy(update=update) if update else self

    def to_payload(self) -> dict[str, Any]:
        """Runway's JSON body: camelCase keys, unset fields left out, local files as data URIs."""
        request = self.with_data_uris()
        payload: dict[str, Any] = {}
        moderation: dict[str, Any] = {}
        for name, value in request.model_dump(exclude_none=True).items():
            if name in self._moderation_fields:
                moderation[self._moderation_fields[name]] = value
            else:
                payload[self._aliases.get(name, name)] = value
        if moderation:
            payload["contentModeration"] = moderation
        return request._shape(payload)

    def _shape(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Endpoint-specific reshaping of the flat payload (nested inputs); the base keeps it flat."""
        return payload


def _takes(model: RunwayApiModel, name: str) -> bool:
    return bool(getattr(model, "moderation" if name == "public_figure_threshold" else name))


def _input_validator(media: MediaKind, *, required: bool) -> Any:
    """A ``mode="before"`` validator of one media input field (see :func:`.inputs.check_input`)."""

    def check(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise ValueError(f"is required: the input {media} (https URL, data URI or local file)")
            return None
        return check_input(value, media)

    return check


def _prompt(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be blank when given")
    return value


def _seed(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= SEED_MAX:
        raise ValueError(f"must be from 0 to {SEED_MAX} (got {value})")
    return value


def _percent(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 100:
        raise ValueError(f"must be from 0 to 100 (got {value})")
    return value


class _Generation(RunwayApiRequest):
    """Fields shared by image- and text-to-video."""

    _aliases: ClassVar[dict[str, str]] = {
        "prompt_text": "promptText",
        "prompt_image": "promptImage",
        "negative_prompt": "negativePrompt",
    }

    prompt_text: str | None = None
    ratio: str | None = None
    duration: int | None = None
    seed: int | None = None
    audio: bool | None = None
    negative_prompt: str | None = None
    public_figure_threshold: PublicFigureThreshold | None = None

    _empty = field_validator(
        "prompt_text",
        "ratio",
        "duration",
        "seed",
        "negative_prompt",
        "public_figure_threshold",
        mode="before",
    )(_empty_to_none)
    _check_numbers = field_validator("duration", "seed", mode="before")(_not_boolean)
    _check_prompt = field_validator("prompt_text", "negative_prompt")(_prompt)
    _check_seed = field_validator("seed")(_seed)

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None


class RunwayImageToVideoRequest(_Generation):
    """``POST /v1/image_to_video``: a clip that starts from an image (and, on Veo 3.1, ends on another).

    :param model: ``gen4.5``, ``gen4_turbo``, ``veo3.1``, ``veo3.1_fast`` or ``veo3`` (see
        :data:`~.catalogue.RUNWAY_API_MODELS`).
    :param prompt_image: the first frame: an https URL, a data URI, a ``runway://`` upload URI, or a local
        file / ``ObjectStoragePath`` / :class:`LocalFile` (sent as a data URI; at most 5 MB encoded).
    :param last_frame: the last frame (``veo3.1``, ``veo3.1_fast``), same forms.
    :param prompt_text: what happens in the clip (required by ``gen4.5``; at most 1000 UTF-16 units).
    :param ratio: output size as ``W:H`` pixels, e.g. ``1280:720``; allowed values per model.
    :param duration: seconds; allowed values per model (2-10, or 4/6/8 on Veo 3.1, 8 on Veo 3).
    :param seed: 0-4294967295 for repeatable results.
    :param audio: generate sound (Veo 3.1; priced higher).
    :param negative_prompt: what must not appear (Veo).
    :param public_figure_threshold: ``auto`` or ``low`` content moderation of public figures (Gen-4).
    """

    endpoint: ClassVar[Endpoint] = "image_to_video"
    media_fields: ClassVar[Mapping[str, MediaKind]] = {"prompt_image": "image", "last_frame": "image"}

    prompt_image: str | LocalFile
    last_frame: str | LocalFile | None = None

    _check_image = field_validator("prompt_image", mode="before")(_input_validator("image", required=True))
    _check_last = field_validator("last_frame", mode="before")(_input_validator("image", required=False))

    def _shape(self, payload: dict[str, Any]) -> dict[str, Any]:
        last = payload.pop("last_frame", None)
        if last is not None:
            # Runway's array form: positioned frames (SDK: Veo3_1PromptImagePromptImage).
            payload["promptImage"] = [
                {"uri": payload["promptImage"], "position": "first"},
                {"uri": last, "position": "last"},
            ]
        return payload


class RunwayTextToVideoRequest(_Generation):
    """``POST /v1/text_to_video``: a clip from text alone.

    :param model: ``gen4.5``, ``veo3.1``, ``veo3.1_fast`` or ``veo3``; image-only models (``gen4_turbo``)
        are refused with a pointer to image-to-video.
    :param prompt_text: what the clip shows (required; at most 1000 UTF-16 units).
    :param ratio: ``W:H`` pixels; ``gen4.5`` takes only ``1280:720`` and ``720:1280`` here.
    :param duration: seconds, per model. Other parameters as :class:`RunwayImageToVideoRequest`.
    """

    endpoint: ClassVar[Endpoint] = "text_to_video"


class RunwayVideoToVideoRequest(RunwayApiRequest):
    """``POST /v1/video_to_video``: edit or restyle a video with Aleph 2 (``aleph2``).

    :param video_uri: the video to edit: https URL, data URI (at most 5 MB encoded), ``runway://`` URI or
        local file.
    :param prompt_text: the edit to make (optional).
    :param target_aspect_ratio: expand (outpaint) to ``16:9``, ``4:3``, ``3:2``, ``1:1``, ``2:3``, ``3:4``,
        ``9:16`` or ``21:9``; the output otherwise keeps the input's shape.
    :param seed: 0-4294967295.
    :param public_figure_threshold: ``auto`` or ``low``.
    """

    endpoint: ClassVar[Endpoint] = "video_to_video"
    media_fields: ClassVar[Mapping[str, MediaKind]] = {"video_uri": "video"}
    _aliases: ClassVar[dict[str, str]] = {
        "video_uri": "videoUri",
        "prompt_text": "promptText",
        "target_aspect_ratio": "targetAspectRatio",
    }

    model: str = "aleph2"
    video_uri: str | LocalFile
    prompt_text: str | None = None
    target_aspect_ratio: Literal["16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "21:9"] | None = None
    seed: int | None = None
    public_figure_threshold: PublicFigureThreshold | None = None

    _check_video = field_validator("video_uri", mode="before")(_input_validator("video", required=True))
    _empty = field_validator(
        "prompt_text", "target_aspect_ratio", "seed", "public_figure_threshold", mode="before"
    )(_empty_to_none)
    _check_numbers = field_validator("seed", mode="before")(_not_boolean)
    _check_prompt = field_validator("prompt_text")(_prompt)
    _check_seed = field_validator("seed")(_seed)


class RunwayVideoUpscaleRequest(RunwayApiRequest):
    """``POST /v1/video_upscale``: upscale a video (``magnific_video_upscaler_creative``).

    :param video_uri: the video: https URL, data URI (at most 5 MB encoded), ``runway://`` URI or local file.
    :param resolution: ``720p``, ``1k``, ``2k`` (Runway's default) or ``4k``.
    :param creativity: 0 (faithful) to 100, AI detail added.
    :param sharpen: 0-100. :param smart_grain: 0-100, grain and texture.
    :param flavor: ``vivid`` or ``natural``. :param fps_boost: raise the frame rate.
    """

    endpoint: ClassVar[Endpoint] = "video_upscale"
    media_fields: ClassVar[Mapping[str, MediaKind]] = {"video_uri": "video"}
    _aliases: ClassVar[dict[str, str]] = {
        "video_uri": "videoUri",
        "smart_grain": "smartGrain",
        "fps_boost": "fpsBoost",
    }

    model: str = "magnific_video_upscaler_creative"
    video_uri: str | LocalFile
    resolution: Literal["720p", "1k", "2k", "4k"] | None = None
    creativity: int | None = None
    sharpen: int | None = None
    smart_grain: int | None = None
    flavor: Literal["vivid", "natural"] | None = None
    fps_boost: bool | None = None

    _check_video = field_validator("video_uri", mode="before")(_input_validator("video", required=True))
    _empty = field_validator("resolution", "creativity", "sharpen", "smart_grain", "flavor", mode="before")(
        _empty_to_none
    )
    _check_numbers = field_validator("creativity", "sharpen", "smart_grain", mode="before")(_not_boolean)
    _check_percent = field_validator("creativity", "sharpen", "smart_grain")(_percent)


class RunwayCharacterPerformanceRequest(RunwayApiRequest):
    """``POST /v1/character_performance``: make a character act out a reference performance (``act_two``).

    Give the character as exactly one of ``character_image`` or ``character_video``.

    :param reference_video: a person performing, 3-30 s: https URL, data URI, ``runway://`` URI or file.
    :param body_control: carry over body movement, not only the face.
    :param expression_intensity: 1-5. :param ratio: ``W:H`` pixels (Gen-4 sizes). :param seed: 0-4294967295.
    :param public_figure_threshold: ``auto`` or ``low``.
    """

    endpoint: ClassVar[Endpoint] = "character_performance"
    media_fields: ClassVar[Mapping[str, MediaKind]] = {
        "character_image": "image",
        "character_video": "video",
        "reference_video": "video",
    }
    _aliases: ClassVar[dict[str, str]] = {
        "body_control": "bodyControl",
        "expression_intensity": "expressionIntensity",
    }

    model: str = "act_two"
    character_image: str | LocalFile | None = None
    character_video: str | LocalFile | None = None
    reference_video: str | LocalFile
    body_control: bool | None = None
    expression_intensity: int | None = None
    ratio: str | None = None
    seed: int | None = None
    public_figure_threshold: PublicFigureThreshold | None = None

    _check_image = field_validator("character_image", mode="before")(
        _input_validator("image", required=False)
    )
    _check_video = field_validator("character_video", mode="before")(
        _input_validator("video", required=False)
    )
    _check_reference = field_validator("reference_video", mode="before")(
        _input_validator("video", required=True)
    )
    _empty = field_validator(
        "expression_intensity", "ratio", "seed", "public_figure_threshold", mode="before"
    )(_empty_to_none)
    _check_numbers = field_validator("expression_intensity", "seed", mode="before")(_not_boolean)
    _check_seed = field_validator("seed")(_seed)

    @field_validator("expression_intensity")
    @classmethod
    def _intensity(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 5:
            raise ValueError(f"must be from 1 to 5 (got {value})")
        return value

    def _table_errors(self) -> list[FieldError]:
        errors = super()._table_errors()
        if (self.character_image is None) == (self.character_video is None):
            errors.append(
                FieldError("character_image", "give exactly one of character_image or character_video")
            )
        return errors

    def _shape(self, payload: dict[str, Any]) -> dict[str, Any]:
        image = payload.pop("character_image", None)
        video = payload.pop("character_video", None)
        payload["character"] = (
            {"type": "image", "uri": image} if image is not None else {"type": "video", "uri": video}
        )
        payload["reference"] = {"type": "video", "uri": payload.pop("reference_video")}
        return payload
