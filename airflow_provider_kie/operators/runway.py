"""Operators for KIE's Runway video API: generate (text/image-to-video), extend, and Aleph video-to-video."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_kie.client.families import ALEPH_GENERATE, RUNWAY_EXTEND, RUNWAY_GENERATE, Family
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.params import task_id_from

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = ["RunwayAlephOperator", "RunwayExtendOperator", "RunwayGenerateOperator"]


class RunwayGenerateOperator(KieGenerationOperator):
    """Generate a Runway clip on KIE: text-to-video, or image-to-video when ``image`` is given.

    :param prompt: what the clip shows, 1-1800 characters (templated).
    :param duration: 5 or 10 seconds (templated).
    :param quality: ``720p`` or ``1080p``; 1080p only with 5 s (templated).
    :param aspect_ratio: 16:9, 4:3, 1:1, 3:4 or 9:16; required without ``image`` (templated).
    :param image: the image to animate: an https URL, or a local file / ObjectStoragePath that is uploaded
        through KIE's File Upload API first (templated).

    Every parameter of :class:`~airflow_provider_kie.operators.base.KieGenerationOperator` applies
    (``output_dir``, ``deferrable``, ``timeout``...). Returns a
    :class:`~airflow_provider_kie.lifecycle.results.ClipResult`.
    """

    template_fields: Sequence[str] = (
        *KieGenerationOperator.template_fields,
        "duration",
        "quality",
        "aspect_ratio",
        "image",
    )
    family: ClassVar[Family[Any]] = RUNWAY_GENERATE
    parameter_names: ClassVar[dict[str, str]] = {"image_url": "image"}

    def __init__(
        self,
        *,
        prompt: str,
        duration: int | str = 5,
        quality: str = "720p",
        aspect_ratio: str | None = "16:9",
        image: str | ObjectStoragePath | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self.duration = duration
        self.quality = quality
        self.aspect_ratio = aspect_ratio
        self.image = image

    def request_fields(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "duration": self.duration,
            "quality": self.quality,
            "aspect_ratio": self.aspect_ratio,
            "image_url": self.image,
            "watermark": self.watermark,
            "callback_url": self.callback_url,
        }


class RunwayExtendOperator(KieGenerationOperator):
    """Continue a succeeded Runway clip (a generate or an earlier extend) on KIE.

    :param source: the clip to continue: its KIE task id, or the result dict of an upstream KIE operator
        (``generate.output``, or a template rendering it), from which ``kie_task_id`` is taken (templated).
    :param prompt: how the clip continues, 1-1800 characters (templated).
    :param quality: ``720p`` or ``1080p`` (templated). The extension keeps the source's aspect ratio.
    """

    template_fields: Sequence[str] = (*KieGenerationOperator.template_fields, "source", "quality")
    family: ClassVar[Family[Any]] = RUNWAY_EXTEND
    parameter_names: ClassVar[dict[str, str]] = {"task_id": "source"}

    def __init__(
        self, *, source: str | Mapping[str, Any], prompt: str, quality: str = "720p", **kwargs: Any
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self.source = source
        self.quality = quality

    @property
    def source_task_id(self) -> str:
        """The KIE task id to extend, whether ``source`` is an id or an upstream result."""
        return task_id_from(self.source)

    def request_fields(self) -> dict[str, Any]:
        return {
            "task_id": self.source_task_id,
            "prompt": self.prompt,
            "quality": self.quality,
            "watermark": self.watermark,
            "callback_url": self.callback_url,
        }


class RunwayAlephOperator(KieGenerationOperator):
    """Restyle or edit a video with Runway Aleph on KIE (video-to-video; output up to 5 s).

    :param video: the source video: an https URL (at most 10 MB), or a local file / ObjectStoragePath that
        is uploaded through KIE's File Upload API first (templated).
    :param prompt: the edit to make (templated).
    :param aspect_ratio: 16:9, 9:16, 4:3, 3:4, 1:1 or 21:9 (templated).
    :param seed: an integer for reproducible results (templated).
    :param reference_image: an image guiding the style: an https URL, or a local file / ObjectStoragePath
        uploaded first (templated).
    :param upload_cn: route uploads through KIE's mainland-China servers.
    """

    template_fields: Sequence[str] = (
        *KieGenerationOperator.template_fields,
        "video",
        "aspect_ratio",
        "seed",
        "reference_image",
    )
    family: ClassVar[Family[Any]] = ALEPH_GENERATE
    parameter_names: ClassVar[dict[str, str]] = {"video_url": "video"}

    def __init__(
        self,
        *,
        video: str | ObjectStoragePath,
        prompt: str,
        aspect_ratio: str | None = None,
        seed: int | str | None = None,
        reference_image: str | None = None,
        upload_cn: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self.video = video
        self.aspect_ratio = aspect_ratio
        self.seed = seed
        self.reference_image = reference_image
        self.upload_cn = upload_cn

    def request_fields(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "video_url": self.video,
            "aspect_ratio": self.aspect_ratio,
            "seed": self.seed,
            "reference_image": self.reference_image,
            "watermark": self.watermark,
            "upload_cn": self.upload_cn,
            "callback_url": self.callback_url,
        }
