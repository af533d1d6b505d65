"""KIE's Market (unified jobs) API: ``POST /api/v1/jobs/createTask`` with ``{model, input, callBackUrl}``.

Every Market model takes its own ``input`` object. The video models this provider knows are described
below, one pydantic schema per model with KIE's own snake_case field names, and listed in
:data:`CATALOGUE`. A request for a catalogue model has its ``input`` checked against that schema before
anything is sent (unknown fields, missing required fields, values off KIE's lists, wrong types); a model
outside the catalogue is passed through as long as its ``input`` is a JSON object, so a new KIE model can
be used the day it ships.

Adding a model is a schema (subclass the family's base, cite KIE's page) and one line in
:data:`CATALOGUE`. Only what KIE's pages state is encoded; a value the caller leaves out is left out of the
payload, so KIE applies its own default.

Conventions shared with :mod:`airflow_provider_kie.client.models`: values Airflow templating renders as
strings are accepted where unambiguous (``"10"`` for an integer, ``5`` for the string enum ``"5"``), a
boolean is never a number, and URL fields also take a local path or an ``ObjectStoragePath``
(:class:`~airflow_provider_kie.client.models.LocalFile`) that ``KieClient.upload_files`` uploads first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from airflow_provider_kie.client.errors import FieldError, KieValidationError
from airflow_provider_kie.client.models import (
    KieRequest,
    LocalFile,
    _not_boolean,
    _optional_url,
    _to_field_errors,
    _url_or_file,
)

__all__ = [
    "CATALOGUE",
    "GrokImagineJobRequest",
    "HailuoJobRequest",
    "JobsCreateTaskRequest",
    "KlingJobRequest",
    "MarketInput",
    "MarketJobRequest",
    "SeedanceJobRequest",
    "Sora2JobRequest",
    "TopazJobRequest",
    "WanJobRequest",
    "family_models",
]


# -- field types ---------------------------------------------------------------------------------------
def _choice(value: Any) -> Any:
    """KIE's string enums of numbers ("5", "10"): take 5 or 5.0 for "5", refuse a boolean."""
    if isinstance(value, bool):
        raise ValueError(f"must be one of the listed values, not a boolean (got {value})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.strip() if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _required_file(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("is required: an https:// URL or a file to upload")
    return _url_or_file(value)


def _seconds(low: int, high: int) -> Any:
    """Whole seconds in ``[low, high]`` that KIE takes as a string ("6"): 6, "6" and 6.0 are accepted."""

    def check(value: Any) -> str:
        value = _choice(value)
        if not isinstance(value, str) or not value.isdigit():
            raise ValueError(f"must be a whole number of seconds from {low} to {high} (got {value!r})")
        if not low <= int(value) <= high:
            raise ValueError(f"must be from {low} to {high} seconds (got {value})")
        return str(int(value))

    return BeforeValidator(check)


#: A string enum that also takes the number it spells.
_CHOICE = BeforeValidator(_choice)
#: A number that must not be a boolean (pydantic's lax mode would read True as 1).
_NUMBER = BeforeValidator(_not_boolean)

#: An input file: an https URL, or a local path / ObjectStoragePath uploaded before the submit.
FileInput = Annotated[str | LocalFile, BeforeValidator(_required_file)]
#: The same, optional: ``None`` or ``""`` mean "not given".
OptionalFileInput = Annotated[str | LocalFile | None, BeforeValidator(_url_or_file)]


def _length(max_length: int, min_length: int = 1) -> Any:
    """A text's length rule, worded like the other request models' ("at most 1000 characters")."""

    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters (got {len(value)})")
        if len(value.strip()) < min_length:
            raise ValueError(f"must be at least {min_length} characters (got {len(value.strip())})")
        return value

    return AfterValidator(check)


Prompt = Annotated[str, AfterValidator(_not_blank)]
CfgScale = Annotated[float, _NUMBER, Field(ge=0, le=1)]


# -- schema bases ----------------------------------------------------------------------------------------
class MarketInput(BaseModel):
    """Base of every catalogue model's ``input`` schema: KIE's field names, nothing else accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The typed family the model belongs to (``KlingJobRequest`` accepts the "kling" ones).
    family: ClassVar[str]

    def to_input(self) -> dict[str, Any]:
        """The ``input`` object to send: the fields the caller gave, in the schema's order.

        Built by hand rather than ``model_dump``, which would turn a pending :class:`LocalFile` into a dict.
        """
        given = self.model_fields_set
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in given and value is not None:
                out[name] = list(value) if isinstance(value, (list, tuple)) else value
        return out


class _Kling(MarketInput):
    family: ClassVar[str] = "kling"


class _Sora2(MarketInput):
    family: ClassVar[str] = "sora2"


class _Wan(MarketInput):
    family: ClassVar[str] = "wan"


class _Hailuo(MarketInput):
    family: ClassVar[str] = "hailuo"


class _Seedance(MarketInput):
    family: ClassVar[str] = "seedance"


class _GrokImagine(MarketInput):
    family: ClassVar[str] = "grok-imagine"


class _Topaz(MarketInput):
    family: ClassVar[str] = "topaz"


# -- Kling ---------------------------------------------------------------------------------------------
# https://docs.kie.ai/market/kling/text-to-video (KIE marks all four fields required)
class Kling26TextToVideo(_Kling):
    prompt: Annotated[Prompt, _length(1000)]
    sound: bool
    aspect_ratio: Literal["1:1", "16:9", "9:16"]
    duration: Annotated[Literal["5", "10"], _CHOICE]


# https://docs.kie.ai/market/kling/image-to-video (image_urls: maxItems 1, required)
class Kling26ImageToVideo(_Kling):
    prompt: Annotated[Prompt, _length(1000)]
    image_urls: Annotated[list[FileInput], Field(min_length=1, max_length=1)]
    sound: bool
    duration: Annotated[Literal["5", "10"], _CHOICE]


# https://docs.kie.ai/market/kling/v2-1-standard
class KlingV21Standard(_Kling):
    prompt: Annotated[Prompt, _length(5000)]
    image_url: FileInput
    duration: Annotated[Literal["5", "10"], _CHOICE] | None = None
    negative_prompt: Annotated[str, _length(500, min_length=0)] | None = None
    cfg_scale: CfgScale | None = None


# https://docs.kie.ai/market/kling/v2-1-pro (as standard, plus an optional last frame)
class KlingV21Pro(KlingV21Standard):
    tail_image_url: OptionalFileInput = None


# https://docs.kie.ai/market/kling/v25-turbo-text-to-video-pro
class KlingV25TurboTextToVideoPro(_Kling):
    prompt: Annotated[Prompt, _length(2500)]
    duration: Annotated[Literal["5", "10"], _CHOICE] | None = None
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    negative_prompt: Annotated[str, _length(2500, min_length=0)] | None = None
    cfg_scale: CfgScale | None = None


# https://docs.kie.ai/market/kling/v25-turbo-image-to-video-pro (negative_prompt max 2496 on KIE's page)
class KlingV25TurboImageToVideoPro(_Kling):
    prompt: Annotated[Prompt, _length(2500)]
    image_url: FileInput
    tail_image_url: OptionalFileInput = None
    duration: Annotated[Literal["5", "10"], _CHOICE] | None = None
    negative_prompt: Annotated[str, _length(2496, min_length=0)] | None = None
    cfg_scale: CfgScale | None = None


# -- Sora 2 --------------------------------------------------------------------------------------------
# https://docs.kie.ai/market/sora2/sora-2-text-to-video (n_frames is the clip length: "10" or "15")
class Sora2TextToVideo(_Sora2):
    prompt: Annotated[Prompt, _length(10000)]
    aspect_ratio: Literal["portrait", "landscape"] | None = None
    n_frames: Annotated[Literal["10", "15"], _CHOICE] | None = None
    remove_watermark: bool | None = None
    upload_method: Literal["s3", "oss"] | None = None


# https://docs.kie.ai/market/sora2/sora-2-image-to-video (image_urls required, at most 1)
class Sora2ImageToVideo(_Sora2):
    prompt: Annotated[str, _length(10000, min_length=0)] | None = None
    image_urls: Annotated[list[FileInput], Field(min_length=1, max_length=1)]
    aspect_ratio: Literal["portrait", "landscape"] | None = None
    n_frames: Annotated[Literal["10", "15"], _CHOICE] | None = None
    remove_watermark: bool | None = None
    upload_method: Literal["s3", "oss"] | None = None


# https://docs.kie.ai/market/sora2/sora-2-pro-text-to-video
class Sora2ProTextToVideo(Sora2TextToVideo):
    size: Literal["standard", "high"] | None = None


# https://docs.kie.ai/market/sora2/sora-2-pro-image-to-video
class Sora2ProImageToVideo(Sora2ImageToVideo):
    size: Literal["standard", "high"] | None = None


# -- Wan -----------------------------------------------------------------------------------------------
# https://docs.kie.ai/market/wan/2-6-text-to-video
class Wan26TextToVideo(_Wan):
    prompt: Annotated[Prompt, _length(5000)]
    duration: Annotated[Literal["5", "10", "15"], _CHOICE] | None = None
    resolution: Literal["720p", "1080p"] | None = None


# https://docs.kie.ai/market/wan/2-6-image-to-video (prompt 2-5000 characters, one image)
class Wan26ImageToVideo(_Wan):
    prompt: Annotated[Prompt, _length(5000, min_length=2)]
    image_urls: Annotated[list[FileInput], Field(min_length=1, max_length=1)]
    duration: Annotated[Literal["5", "10", "15"], _CHOICE] | None = None
    resolution: Literal["720p", "1080p"] | None = None
    nsfw_checker: bool | None = None


# https://docs.kie.ai/market/wan/2-6-video-to-video (up to 3 videos; 5 or 10 s)
class Wan26VideoToVideo(_Wan):
    prompt: Annotated[Prompt, _length(5000, min_length=2)]
    video_urls: Annotated[list[FileInput], Field(min_length=1, max_length=3)]
    duration: Annotated[Literal["5", "10"], _CHOICE] | None = None
    resolution: Literal["720p", "1080p"] | None = None


# https://docs.kie.ai/market/wan/2-5-text-to-video (duration required)
class Wan25TextToVideo(_Wan):
    prompt: Annotated[Prompt, _length(800)]
    duration: Annotated[Literal["5", "10"], _CHOICE]
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    resolution: Literal["720p", "1080p"] | None = None
    negative_prompt: Annotated[str, _length(500, min_length=0)] | None = None
    enable_prompt_expansion: bool | None = None
    seed: Annotated[int, _NUMBER] | None = None
    nsfw_checker: bool | None = None


# https://docs.kie.ai/market/wan/2-5-image-to-video (duration required)
class Wan25ImageToVideo(_Wan):
    prompt: Annotated[Prompt, _length(800)]
    image_url: FileInput
    duration: Annotated[Literal["5", "10"], _CHOICE]
    resolution: Literal["720p", "1080p"] | None = None
    negative_prompt: Annotated[str, _length(500, min_length=0)] | None = None
    enable_prompt_expansion: bool | None = None
    seed: Annotated[int, _NUMBER] | None = None
    nsfw_checker: bool | None = None


# -- Hailuo --------------------------------------------------------------------------------------------
# https://docs.kie.ai/market/hailuo/2-3-image-to-video-pro and .../2-3-image-to-video-standard:
# "10 second videos are not supported for 1080P".
class Hailuo23ImageToVideo(_Hailuo):
    prompt: Annotated[Prompt, _length(5000)]
    image_url: FileInput
    duration: Annotated[Literal["6", "10"], _CHOICE] | None = None
    resolution: Literal["768P", "1080P"] | None = None

    @model_validator(mode="after")
    def _ten_seconds_not_in_1080p(self) -> Hailuo23ImageToVideo:
        if self.duration == "10" and self.resolution == "1080P":
            raise ValueError("duration: 10 seconds is not available at 1080P (use 6, or 768P)")
        return self


# https://docs.kie.ai/market/hailuo/02-text-to-video-standard
class Hailuo02TextToVideoStandard(_Hailuo):
    prompt: Annotated[Prompt, _length(1500)]
    duration: Annotated[Literal["6", "10"], _CHOICE] | None = None
    prompt_optimizer: bool | None = None


# https://docs.kie.ai/market/hailuo/02-text-to-video-pro (no duration: Pro clips are 6 s at 1080P)
class Hailuo02TextToVideoPro(_Hailuo):
    prompt: Annotated[Prompt, _length(1500)]
    prompt_optimizer: bool | None = None


# https://docs.kie.ai/market/hailuo/02-image-to-video-standard
class Hailuo02ImageToVideoStandard(_Hailuo):
    prompt: Annotated[Prompt, _length(1500)]
    image_url: FileInput
    end_image_url: OptionalFileInput = None
    duration: Annotated[Literal["6", "10"], _CHOICE] | None = None
    resolution: Literal["512P", "768P"] | None = None
    prompt_optimizer: bool | None = None


# https://docs.kie.ai/market/hailuo/02-image-to-video-pro
class Hailuo02ImageToVideoPro(_Hailuo):
    prompt: Annotated[Prompt, _length(1500)]
    image_url: FileInput
    end_image_url: OptionalFileInput = None
    prompt_optimizer: bool | None = None


# -- Seedance (ByteDance) ------------------------------------------------------------------------------
# https://docs.kie.ai/market/bytedance/seedance-1-5-pro: text-to-video without input_urls, image-to-video
# with 1-2 (first and last frame). KIE's page has shown duration as an optional enum 4/8/12 and, later, as
# a required number of 4-12 s; the later, wider rule is checked here and KIE has the last word.
class Seedance15Pro(_Seedance):
    prompt: Annotated[Prompt, _length(2500, min_length=3)]
    input_urls: Annotated[list[FileInput], Field(max_length=2)] | None = None
    aspect_ratio: Literal["1:1", "4:3", "3:4", "16:9", "9:16", "21:9"]
    resolution: Literal["480p", "720p", "1080p"] | None = None
    duration: Annotated[int, _NUMBER, Field(ge=4, le=12)]
    fixed_lens: bool | None = None
    generate_audio: bool | None = None
    nsfw_checker: bool | None = None


_SEED = Annotated[int, _NUMBER, Field(ge=-1, le=2147483647)]


# https://docs.kie.ai/market/bytedance/v1-pro-text-to-video
class SeedanceV1ProTextToVideo(_Seedance):
    prompt: Annotated[Prompt, _length(10000)]
    aspect_ratio: Literal["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"] | None = None
    resolution: Literal["480p", "720p", "1080p"] | None = None
    duration: Annotated[Literal["5", "10"], _CHOICE] | None = None
    camera_fixed: bool | None = None
    seed: _SEED | None = None
    enable_safety_checker: bool | None = None


# https://docs.kie.ai/market/bytedance/v1-pro-image-to-video
class SeedanceV1ProImageToVideo(_Seedance):
    prompt: Annotated[Prompt, _length(10000)]
    image_url: FileInput
    resolution: Literal["480p", "720p", "1080p"] | None = None
    duration: Annotated[Literal["5", "10"], _CHOICE] | None = None
    camera_fixed: bool | None = None
    seed: _SEED | None = None
    enable_safety_checker: bool | None = None


# https://docs.kie.ai/market/bytedance/v1-pro-fast-image-to-video
class SeedanceV1ProFastImageToVideo(_Seedance):
    prompt: Annotated[Prompt, _length(10000)]
    image_url: FileInput
    resolution: Literal["720p", "1080p"] | None = None
    duration: Annotated[Literal["5", "10"], _CHOICE] | None = None


# -- Grok Imagine --------------------------------------------------------------------------------------
_GROK_RATIOS = Literal["2:3", "3:2", "1:1", "16:9", "9:16"]
_GROK_MODES = Literal["fun", "normal", "spicy"]
#: 6-30 s; KIE's examples send it as a string ("6").
_GROK_SECONDS = Annotated[str, _seconds(6, 30)]


# https://docs.kie.ai/market/grok-imagine/text-to-video
class GrokImagineTextToVideo(_GrokImagine):
    prompt: Annotated[Prompt, _length(5000)]
    aspect_ratio: _GROK_RATIOS | None = None
    mode: _GROK_MODES | None = None
    duration: _GROK_SECONDS | None = None
    resolution: Literal["480p", "720p"] | None = None
    nsfw_checker: bool | None = None


# https://docs.kie.ai/market/grok-imagine/image-to-video: either up to 7 external images, or a Grok image
# task (task_id + index 0-5), never both; spicy mode is not available with external images.
class GrokImagineImageToVideo(_GrokImagine):
    image_urls: Annotated[list[FileInput], Field(max_length=7)] | None = None
    task_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    index: Annotated[int, _NUMBER, Field(ge=0, le=5)] | None = None
    prompt: Annotated[str, _length(5000, min_length=0)] | None = None
    mode: _GROK_MODES | None = None
    duration: _GROK_SECONDS | None = None
    resolution: Literal["480p", "720p"] | None = None
    aspect_ratio: _GROK_RATIOS | None = None
    nsfw_checker: bool | None = None

    @model_validator(mode="after")
    def _one_source(self) -> GrokImagineImageToVideo:
        if self.image_urls and self.task_id:
            raise ValueError("task_id: give image_urls or task_id, not both")
        if not self.image_urls and not self.task_id:
            raise ValueError("image_urls: is required (or task_id of a Grok image task)")
        if self.image_urls and self.mode == "spicy":
            raise ValueError("mode: spicy is not available with external images (image_urls)")
        return self


# -- Topaz ---------------------------------------------------------------------------------------------
# https://docs.kie.ai/market/topaz/video-upscale
class TopazVideoUpscale(_Topaz):
    video_url: FileInput
    upscale_factor: Annotated[Literal["1", "2", "4"], _CHOICE] | None = None


#: Every Market video model the provider validates, by KIE model name. One line per model.
CATALOGUE: dict[str, type[MarketInput]] = {
    "kling-2.6/text-to-video": Kling26TextToVideo,
    "kling-2.6/image-to-video": Kling26ImageToVideo,
    "kling/v2-1-standard": KlingV21Standard,
    "kling/v2-1-pro": KlingV21Pro,
    "kling/v2-5-turbo-text-to-video-pro": KlingV25TurboTextToVideoPro,
    "kling/v2-5-turbo-image-to-video-pro": KlingV25TurboImageToVideoPro,
    "sora-2-text-to-video": Sora2TextToVideo,
    "sora-2-image-to-video": Sora2ImageToVideo,
    "sora-2-pro-text-to-video": Sora2ProTextToVideo,
    "sora-2-pro-image-to-video": Sora2ProImageToVideo,
    "wan/2-6-text-to-video": Wan26TextToVideo,
    "wan/2-6-image-to-video": Wan26ImageToVideo,
    "wan/2-6-video-to-video": Wan26VideoToVideo,
    "wan/2-5-text-to-video": Wan25TextToVideo,
    "wan/2-5-image-to-video": Wan25ImageToVideo,
    "hailuo/2-3-image-to-video-pro": Hailuo23ImageToVideo,
    "hailuo/2-3-image-to-video-standard": Hailuo23ImageToVideo,
    "hailuo/02-text-to-video-pro": Hailuo02TextToVideoPro,
    "hailuo/02-text-to-video-standard": Hailuo02TextToVideoStandard,
    "hailuo/02-image-to-video-pro": Hailuo02ImageToVideoPro,
    "hailuo/02-image-to-video-standard": Hailuo02ImageToVideoStandard,
    "bytedance/seedance-1.5-pro": Seedance15Pro,
    "bytedance/v1-pro-text-to-video": SeedanceV1ProTextToVideo,
    "bytedance/v1-pro-image-to-video": SeedanceV1ProImageToVideo,
    "bytedance/v1-pro-fast-image-to-video": SeedanceV1ProFastImageToVideo,
    "grok-imagine/text-to-video": GrokImagineTextToVideo,
    "grok-imagine/image-to-video": GrokImagineImageToVideo,
    "topaz/video-upscale": TopazVideoUpscale,
}


def family_models(family: str) -> tuple[str, ...]:
    """The catalogue's model names of one family ("kling", "sora2", ...), in catalogue order."""
    return tuple(name for name, schema in CATALOGUE.items() if schema.family == family)


# -- the request ---------------------------------------------------------------------------------------
_JSON_LEAVES = (str, int, float, bool, type(None))


def _json_problems(value: Any, key: str) -> list[FieldError]:
    """Where ``value`` is not JSON (a set, bytes, NaN, a non-string key...); a pending file is allowed."""
    if isinstance(value, LocalFile):
        return []
    if isinstance(value, float) and not math.isfinite(value):
        return [FieldError(key, f"must be a finite number, not {value} (JSON has no such value)")]
    if isinstance(value, _JSON_LEAVES):
        return []
    if isinstance(value, Mapping):
        problems: list[FieldError] = []
        for name, item in value.items():
            if not isinstance(name, str):
                problems.append(FieldError(key, f"has a key that is not a string ({name!r})"))
            else:
                problems.extend(_json_problems(item, f"{key}.{name}"))
        return problems
    if isinstance(value, (list, tuple)):
        return [p for i, item in enumerate(value) for p in _json_problems(item, f"{key}.{i}")]
    return [FieldError(key, f"is not JSON-serialisable (got {type(value).__name__})")]


def _as_object(raw: Any) -> dict[str, Any]:
    """``input`` as a dict: a mapping, or a JSON string of an object (what templating renders)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise KieValidationError(
                "input", [FieldError("input", "must be a JSON object (got a string that is not JSON)")]
            ) from None
    if not isinstance(raw, Mapping):
        raise KieValidationError(
            "input", [FieldError("input", f"must be a JSON object (got {type(raw).__name__})")]
        )
    return dict(raw)


class MarketJobRequest(KieRequest):
    """``POST /api/v1/jobs/createTask`` (https://docs.kie.ai/market/quickstart): one task on a Market model.

    :param model: KIE's model name, e.g. ``kling-2.6/text-to-video``.
    :param input: the model's parameters under KIE's names: a dict, or a JSON string of an object. For a
        :data:`CATALOGUE` model it is checked against the model's schema; otherwise it is sent as given.
        URL fields of catalogue models also take a local path or ``ObjectStoragePath`` to upload first.
    :param callback_url: KIE POSTs the result there when the task ends.
    """

    _aliases: ClassVar[dict[str, str]] = {"callback_url": "callBackUrl"}
    file_fields: ClassVar[tuple[str, ...]] = ("input",)
    #: The catalogue family this request class accepts; ``None`` accepts any model.
    family: ClassVar[str | None] = None

    model: str
    input: dict[str, Any]
    callback_url: str | None = None

    _check_urls = field_validator("callback_url", mode="before")(_optional_url)

    def __init__(self, **data: Any) -> None:
        # ``input`` is checked first, against the model's schema when there is one, so that its errors
        # are named ``input.<field>`` and reported together with those of the other fields.
        errors: list[FieldError] = []
        if "input" in data:
            try:
                data = {**data, "input": self._checked_input(data.get("model"), data["input"])}
            except KieValidationError as exc:
                errors.extend(exc.errors)
                data = {**data, "input": {}}
        try:
            super().__init__(**data)
        except KieValidationError as exc:
            errors = [*exc.errors, *errors]
        if errors:
            raise KieValidationError(type(self).__name__, errors)

    @classmethod
    def allowed_models(cls) -> tuple[str, ...]:
        """The model names this class accepts; empty when it accepts any."""
        return family_models(cls.family) if cls.family else ()

    @classmethod
    def schema_for(cls, model: Any) -> type[MarketInput] | None:
        """The input schema that checks ``model``'s input here, if the catalogue has one."""
        name = model.strip() if isinstance(model, str) else None
        schema = CATALOGUE.get(name) if name else None
        if schema is None or (cls.family is not None and schema.family != cls.family):
            return None
        return schema

    @classmethod
    def _checked_input(cls, model: Any, raw: Any) -> dict[str, Any]:
        value = _as_object(raw)
        schema = cls.schema_for(model)
        if schema is None:
            problems = _json_problems(value, "input")
            if problems:
                raise KieValidationError("input", problems)
            return value
        try:
            checked = schema.model_validate(value)
        except ValidationError as exc:
            raise KieValidationError(
                "input", [FieldError(f"input.{e.field}", e.rule) for e in _to_field_errors(exc)]
            ) from None
        return checked.to_input()

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must name a KIE model")
        allowed = cls.allowed_models()
        if allowed and value not in allowed:
            raise ValueError(f"must be one of the {cls.family} models: {', '.join(allowed)} (got {value!r})")
        return value

    @property
    def input_schema(self) -> type[MarketInput] | None:
        """The catalogue schema this request's ``input`` was checked against, if any."""
        return self.schema_for(self.model)


#: The name this request had before the Market catalogue; still exported.
JobsCreateTaskRequest = MarketJobRequest


class KlingJobRequest(MarketJobRequest):
    """A Market task on a Kling model of :data:`CATALOGUE` (``kling-2.6/...``, ``kling/v2-1-...``)."""

    family: ClassVar[str | None] = "kling"


class Sora2JobRequest(MarketJobRequest):
    """A Market task on a Sora 2 model of :data:`CATALOGUE` (``sora-2-...``, ``sora-2-pro-...``)."""

    family: ClassVar[str | None] = "sora2"


class WanJobRequest(MarketJobRequest):
    """A Market task on a Wan model of :data:`CATALOGUE` (``wan/2-6-...``, ``wan/2-5-...``)."""

    family: ClassVar[str | None] = "wan"


class HailuoJobRequest(MarketJobRequest):
    """A Market task on a Hailuo model of :data:`CATALOGUE` (``hailuo/2-3-...``, ``hailuo/02-...``)."""

    family: ClassVar[str | None] = "hailuo"


class SeedanceJobRequest(MarketJobRequest):
    """A Market task on a Seedance model of :data:`CATALOGUE` (``bytedance/...``)."""

    family: ClassVar[str | None] = "seedance"


class GrokImagineJobRequest(MarketJobRequest):
    """A Market task on a Grok Imagine video model of :data:`CATALOGUE`."""

    family: ClassVar[str | None] = "grok-imagine"


class TopazJobRequest(MarketJobRequest):
    """A Market task on Topaz's video upscaler (``topaz/video-upscale``)."""

    family: ClassVar[str | None] = "topaz"
