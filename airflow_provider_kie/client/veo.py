"""KIE's Veo 3.1 API: its own endpoints under ``/api/v1/veo``, not the Market.

Pages (KIE's API reference, read for every field below):

* generate: https://docs.kie.ai/veo3-api/generate-veo-3-video
* extend: https://docs.kie.ai/veo3-api/extend-video
* status: https://docs.kie.ai/veo3-api/get-veo-3-video-details (``successFlag``, ``response.resultUrls``)
* 1080P: https://docs.kie.ai/veo3-api/get-veo-3-1080-p-video
* 4K: https://docs.kie.ai/veo3-api/get-veo-3-4k-video and .../get-veo-3-4k-video-callbacks

Field names follow the generate page's schema. The ratio goes as ``aspect_ratio`` only: that is the name
the Veo 3.1 generate page documents, in its request example and in its advice "for production control, we
recommend explicitly setting aspect_ratio" (https://docs.kie.ai/veo3-api/generate-veo-3-video). The
camelCase ``aspectRatio`` appears only in the older Veo 3 edition of that page; KIE ignores fields it does
not document, so sending both would leave the one that counts to chance. ``enableFallback`` is left out on
purpose: KIE marks it deprecated and asks callers to remove it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import field_validator, model_validator

from airflow_provider_kie.client.models import (
    KieRequest,
    LocalFile,
    _not_boolean,
    _optional_url,
    _url_or_file,
)

__all__ = [
    "VEO_ASPECT_RATIOS",
    "VEO_GENERATION_TYPES",
    "VEO_IMAGE_LIMITS",
    "VEO_MODELS",
    "Veo4kResult",
    "VeoExtendRequest",
    "VeoGenerateRequest",
]

VeoModel = Literal["veo3", "veo3_fast", "veo3_lite"]
VeoGenerationType = Literal["TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO"]
VeoAspectRatio = Literal["16:9", "9:16", "Auto"]
VeoResolution = Literal["720p", "1080p", "4k"]
VeoExtendModel = Literal["fast", "quality", "lite"]

#: veo3 is Veo 3.1 Quality, veo3_fast Fast (KIE's default), veo3_lite Lite.
VEO_MODELS: tuple[str, ...] = ("veo3", "veo3_fast", "veo3_lite")
VEO_GENERATION_TYPES: tuple[str, ...] = ("TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO")
VEO_ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "Auto")

#: How many ``imageUrls`` each generation type takes (min, max), from the generate page: none for text,
#: 1 (the video unfolds around it) or 2 (first and last frame) for frames, 1-3 for reference images.
#: Without a generation type KIE picks the mode from the images, so 0-2 are accepted.
VEO_IMAGE_LIMITS: dict[str | None, tuple[int, int]] = {
    "TEXT_2_VIDEO": (0, 0),
    "FIRST_AND_LAST_FRAMES_2_VIDEO": (1, 2),
    "REFERENCE_2_VIDEO": (1, 3),
    None: (0, 2),
}

#: ``seeds`` range on the extend page and the earlier generate page.
SEEDS_MIN, SEEDS_MAX = 10000, 99999


def _check_seeds(value: int | None) -> int | None:
    if value is not None and not SEEDS_MIN <= value <= SEEDS_MAX:
        raise ValueError(f"must be from {SEEDS_MIN} to {SEEDS_MAX} (got {value})")
    return value


def _non_blank_prompt(value: str) -> str:
    # KIE documents no maximum length for Veo prompts, only that one is required.
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


class VeoGenerateRequest(KieRequest):
    """``POST /api/v1/veo/generate``: a Veo 3.1 clip from text, frames or reference images.

    :param prompt: what the clip shows; required for every generation type.
    :param model: ``veo3`` (Quality), ``veo3_fast`` (Fast, KIE's default) or ``veo3_lite`` (Lite).
    :param generation_type: ``TEXT_2_VIDEO`` (no images), ``FIRST_AND_LAST_FRAMES_2_VIDEO`` (1 image to
        animate, or 2: first and last frame) or ``REFERENCE_2_VIDEO`` (1-3 reference images; not with
        ``veo3``). Left out, KIE decides from the images (0-2).
    :param image_urls: public https images, or :class:`LocalFile` paths uploaded first.
    :param aspect_ratio: ``16:9`` (KIE's default), ``9:16`` or ``Auto``.
    :param resolution: ``720p`` (KIE's default), ``1080p`` or ``4k``.
    :param seeds: 10000-99999 for a reproducible result.
    :param watermark: watermark text.
    :param enable_translation: let KIE translate the prompt to English first (KIE's default: true).
    :param callback_url: KIE POSTs the result there when the task ends.
    """

    _aliases: ClassVar[dict[str, str]] = {
        "image_urls": "imageUrls",
        "generation_type": "generationType",
        "enable_translation": "enableTranslation",
        "callback_url": "callBackUrl",
    }
    file_fields: ClassVar[tuple[str, ...]] = ("image_urls",)

    prompt: str
    model: VeoModel | None = None
    generation_type: VeoGenerationType | None = None
    image_urls: list[str | LocalFile] = []
    aspect_ratio: VeoAspectRatio | None = None
    resolution: VeoResolution | None = None
    seeds: int | None = None
    watermark: str | None = None
    enable_translation: bool | None = None
    callback_url: str | None = None

    _check_prompt = field_validator("prompt")(_non_blank_prompt)
    _check_urls = field_validator("callback_url", mode="before")(_optional_url)
    _check_numbers = field_validator("seeds", mode="before")(_not_boolean)
    _check_seeds = field_validator("seeds")(_check_seeds)
    _empty_optional = field_validator(
        "model", "generation_type", "aspect_ratio", "resolution", "seeds", mode="before"
    )(_empty_to_none)

    @field_validator("image_urls", mode="before")
    @classmethod
    def _images(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, (str, LocalFile)) or not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of image URLs or files")
        checked = []
        for item in value:
            if item is None or (isinstance(item, str) and not item.strip()):
                raise ValueError("must not hold an empty entry")
            checked.append(_url_or_file(item))
        return checked

    @model_validator(mode="after")
    def _combinations(self) -> VeoGenerateRequest:
        low, high = VEO_IMAGE_LIMITS[self.generation_type]
        count = len(self.image_urls)
        if not low <= count <= high:
            mode = self.generation_type or "a request without generation_type"
            wanted = f"{low}" if low == high else f"{low} to {high}"
            raise ValueError(f"image_urls: {mode} takes {wanted} images (got {count})")
        if self.generation_type == "REFERENCE_2_VIDEO" and self.model == "veo3":
            raise ValueError("model: REFERENCE_2_VIDEO is not available with veo3 (Quality); use veo3_fast")
        return self


class VeoExtendRequest(KieRequest):
    """``POST /api/v1/veo/extend``: continue a Veo 3.1 clip (https://docs.kie.ai/veo3-api/extend-video).

    KIE extends only videos made through its Veo 3.1 API, and not those that were upgraded to 1080P. The
    new task is read with ``record-info`` like a generation.

    :param task_id: the generation task to continue.
    :param prompt: how the clip continues.
    :param model: ``fast`` (KIE's default), ``quality`` or ``lite``.
    :param seeds: 10000-99999.
    :param watermark: watermark text.
    :param callback_url: KIE POSTs the result there when the task ends.
    """

    _aliases: ClassVar[dict[str, str]] = {"task_id": "taskId", "callback_url": "callBackUrl"}

    task_id: str
    prompt: str
    model: VeoExtendModel | None = None
    seeds: int | None = None
    watermark: str | None = None
    callback_url: str | None = None

    _check_prompt = field_validator("prompt")(_non_blank_prompt)
    _check_urls = field_validator("callback_url", mode="before")(_optional_url)
    _check_numbers = field_validator("seeds", mode="before")(_not_boolean)
    _check_seeds = field_validator("seeds")(_check_seeds)
    _empty_optional = field_validator("model", "seeds", mode="before")(_empty_to_none)

    @field_validator("task_id")
    @classmethod
    def _task_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be the id of a Veo 3.1 task (got an empty string)")
        return value.strip()


@dataclass(frozen=True)
class Veo4kResult:
    """What ``POST /api/v1/veo/get-4k-video`` said about one clip's 4K version.

    How KIE runs the 4K upgrade (https://docs.kie.ai/veo3-api/get-veo-3-4k-video): the first request
    starts it and costs extra credits (about two Fast generations); it takes ~5-10 minutes. Asking
    again for the same task is refused with code 422 rather than run again: "4k is processing..."
    while it runs, "The video has been generated successfully" with ``resultUrls`` once done. KIE also
    POSTs the result to the request's ``callBackUrl``, and ``record-info`` is the authority on every Veo
    task, 4K upgrades included.

    :param task_id: the task id KIE answered with (KIE's examples show the original task's id).
    :param result_urls: the 4K video links; empty until KIE has made them.
    :param image_urls: preview images KIE sends with them.
    :param repeated: KIE answered a repeated request (code 422): nothing new was started.
    :param message: KIE's ``msg``.
    """

    task_id: str
    result_urls: tuple[str, ...] = ()
    image_urls: tuple[str, ...] = ()
    repeated: bool = False
    message: str | None = None

    @property
    def ready(self) -> bool:
        """True once KIE has given the 4K links."""
        return bool(self.result_urls)

    @property
    def processing(self) -> bool:
        """True while KIE is still making the 4K version."""
        return not self.result_urls
