"""Operators for Runway video: generate (text/image-to-video), extend, and Aleph video-to-video.

They submit to KIE's Runway API on a ``kie`` connection, and to Runway's own API on a ``runway`` one
(:mod:`airflow_provider_kie.operators.base` explains the choice): ``RunwayGenerateOperator(
kie_conn_id="runway_default", model="gen4.5", ...)`` moves a clip there. On Runway's API, ``aspect_ratio`` and
``quality`` become Runway's pixel ``ratio`` (``16:9`` at ``720p`` is ``1280:720``; a ``W:H`` pixel size is
passed as it is), and the model's table says which ratios and durations it takes. KIE's extend has no
counterpart there and fails before any request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_kie._compat import AirflowFailException
from airflow_provider_kie.client.families import (
    ALEPH_GENERATE,
    RUNWAY_API_IMAGE_TO_VIDEO,
    RUNWAY_API_TEXT_TO_VIDEO,
    RUNWAY_API_VIDEO_TO_VIDEO,
    RUNWAY_EXTEND,
    RUNWAY_GENERATE,
    Family,
)
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.params import task_id_from

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = [
    "RUNWAY_API_DEFAULT_MODEL",
    "RunwayAlephOperator",
    "RunwayExtendOperator",
    "RunwayGenerateOperator",
]

#: The Runway API model a generate uses when ``model`` is not given: the one that does both text- and
#: image-to-video.
RUNWAY_API_DEFAULT_MODEL = "gen4.5"

#: KIE's aspect ratio and quality as Runway API pixel ratios (Runway's Gen-4 and Veo output sizes). A value
#: missing here goes to Runway's API as given, where the model table refuses it, listing what it takes.
PIXEL_RATIOS: dict[tuple[str, str], str] = {
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("4:3", "720p"): "1104:832",
    ("3:4", "720p"): "832:1104",
    ("1:1", "720p"): "960:960",
    ("21:9", "720p"): "1584:672",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
}


def pixel_ratio(aspect_ratio: str | None, quality: str | None) -> str | None:
    """Runway's ``ratio`` for a KIE-style ``aspect_ratio`` at ``quality``; a pixel ``W:H`` passes as is."""
    if aspect_ratio is None or not str(aspect_ratio).strip():
        return None
    aspect = str(aspect_ratio).strip()
    return PIXEL_RATIOS.get((aspect, str(quality or "720p").strip()), aspect)


class RunwayGenerateOperator(KieGenerationOperator):
    """Generate a Runway clip on KIE: text-to-video, or image-to-video when ``image`` is given.

    :param prompt: what the clip shows, 1-1800 characters (templated).
    :param duration: 5 or 10 seconds (templated).
    :param quality: ``720p`` or ``1080p``; 1080p only with 5 s (templated).
    :param aspect_ratio: 16:9, 4:3, 1:1, 3:4 or 9:16; required without ``image`` (templated).
    :param image: the image to animate: an https URL, or a local file / ObjectStoragePath that is uploaded
        through KIE's File Upload API first (templated). On Runway's API a local file is sent as a data URI.
    :param model: Runway's own API only (a ``runway`` connection): the model, ``gen4.5`` by default; also
        ``gen4_turbo`` (image only), ``veo3.1``, ``veo3.1_fast``, ``veo3`` (templated). On a ``kie``
        connection it must stay unset (KIE picks the Runway model).
    :param seed: Runway's own API only: an integer from 0 to 4294967295 for repeatable results (every model
        but ``veo3`` takes one; templated). KIE's Runway generate takes no seed: refused on a ``kie``
        connection. Without it Runway picks a random seed per task.

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
        "model",
        "seed",
    )
    family: ClassVar[Family[Any]] = RUNWAY_GENERATE
    parameter_names: ClassVar[dict[str, str]] = {
        "image_url": "image",
        # Runway's own API's field names, for errors on a runway connection.
        "prompt_text": "prompt",
        "prompt_image": "image",
        "ratio": "aspect_ratio",
    }

    def __init__(
        self,
        *,
        prompt: str,
        duration: int | str = 5,
        quality: str = "720p",
        aspect_ratio: str | None = "16:9",
        image: str | ObjectStoragePath | None = None,
        model: str | None = None,
        seed: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self.duration = duration
        self.quality = quality
        self.aspect_ratio = aspect_ratio
        self.image = image
        self.model = model
        self.seed = seed

    def runway_api_request(self) -> tuple[Family[Any], dict[str, Any]]:
        family = RUNWAY_API_IMAGE_TO_VIDEO if self.image else RUNWAY_API_TEXT_TO_VIDEO
        fields: dict[str, Any] = {
            "model": self.model or RUNWAY_API_DEFAULT_MODEL,
            "prompt_text": self.prompt,
            "ratio": pixel_ratio(self.aspect_ratio, self.quality),
            "duration": self.duration,
            # Checked by the request model (0..4294967295, and whether the model takes one); a templated
            # "" is "not given".
            "seed": self.seed,
        }
        if self.image:
            fields["prompt_image"] = self.image
        return family, fields

    def request_fields(self) -> dict[str, Any]:
        refused = []
        if self.model:
            refused.append(
                "model: not offered by the KIE backend (KIE picks the Runway model); it is for Runway's own "
                f"API (a runway connection, models such as {RUNWAY_API_DEFAULT_MODEL})"
            )
        if self.seed not in (None, ""):
            refused.append(
                "seed: not offered by the KIE backend (KIE's Runway generate takes no seed); it is for "
                "Runway's own API (a runway connection)"
            )
        if refused:
            raise AirflowFailException(f"{self.task_id}: " + "; ".join(refused))
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

    On a ``runway`` connection the edit goes to Runway's ``aleph2`` (video-to-video): ``video`` is sent as a
    URL or data URI, the output keeps the input's shape, and ``aspect_ratio``, ``reference_image`` and
    ``upload_cn`` are refused (Runway's ``targetAspectRatio`` outpaints, which is another operation).
    """

    template_fields: Sequence[str] = (
        *KieGenerationOperator.template_fields,
        "video",
        "aspect_ratio",
        "seed",
        "reference_image",
    )
    family: ClassVar[Family[Any]] = ALEPH_GENERATE
    parameter_names: ClassVar[dict[str, str]] = {
        "video_url": "video",
        "video_uri": "video",
        "prompt_text": "prompt",
    }

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

    def runway_api_request(self) -> tuple[Family[Any], dict[str, Any]]:
        refused = [
            f"{name}: not offered by the Runway API backend ({why})"
            for name, value, why in (
                ("aspect_ratio", self.aspect_ratio, "aleph2 keeps the input video's shape"),
                ("reference_image", self.reference_image, "aleph2 takes no reference image here"),
                ("upload_cn", self.upload_cn, "inputs go to Runway as URLs or data URIs, not uploads"),
            )
            if value not in (None, "")
        ]
        if refused:
            raise AirflowFailException(f"{self.task_id}: " + "; ".join(refused))
        fields = {"video_uri": self.video, "prompt_text": self.prompt, "seed": self.seed}
        return RUNWAY_API_VIDEO_TO_VIDEO, fields

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
