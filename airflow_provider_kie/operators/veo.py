"""Operators for Google's Veo 3.1 on KIE: generate (text, first and last frames, reference images), extend,
and an optional upgrade of the result to 1080p or 4K within the same durable task.

KIE serves Veo on its own API (``/api/v1/veo/...``, https://docs.kie.ai/veo3-api/generate-veo-3-video),
read through ``record-info`` (``successFlag``); the lifecycle is the one every family shares
(:class:`~airflow_provider_kie.operators.base.KieGenerationOperator`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow_provider_kie._compat import AirflowFailException
from airflow_provider_kie.client import KieClient, KieRequest, TaskRecord
from airflow_provider_kie.client.families import VEO_EXTEND, VEO_GENERATE, Family
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.params import task_id_from

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = ["UPGRADE_POLL_SECONDS", "VeoExtendOperator", "VeoGenerateOperator"]

#: Seconds between asks for upgraded media. KIE: 1080p takes 1-3 minutes, "retry every 20-30 s"
#: (https://docs.kie.ai/veo3-api/get-veo-3-1080-p-video); 4K takes 5-10 minutes.
UPGRADE_POLL_SECONDS: dict[str, float] = {"1080p": 25.0, "4k": 30.0}
Upgrade = Literal["1080p", "4k"]


class VeoGenerateOperator(KieGenerationOperator):
    """Generate a Veo 3.1 clip on KIE, optionally upgraded to 1080p or 4K before it is stored.

    :param prompt: what the clip shows (templated).
    :param model: ``veo3_fast`` (default), ``veo3`` (Quality) or ``veo3_lite`` (templated).
    :param generation_type: ``TEXT_2_VIDEO``, ``FIRST_AND_LAST_FRAMES_2_VIDEO`` (1 or 2 images: first and
        last frame) or ``REFERENCE_2_VIDEO`` (1-3 reference images, not with ``veo3``); ``None`` lets KIE
        decide from the images (templated).
    :param images: the images: https URLs, or local files / ObjectStoragePaths uploaded first (templated).
    :param aspect_ratio: ``16:9``, ``9:16`` or ``Auto`` (templated).
    :param resolution: the resolution KIE generates at: ``720p``, ``1080p`` or ``4k`` (templated).
    :param seeds: 10000-99999 for a reproducible clip (templated).
    :param enable_translation: let KIE translate the prompt to English first.
    :param upgrade: after the clip succeeds, store its ``1080p`` version (1-3 min; KIE's price list shows a
        small charge, its API page none) or its ``4k`` version (extra credits, 5-10 min) instead
        (templated). The upgrade is part of this task: a retry
        after a crash reconnects to the same clip and asks again; KIE answers a repeated 4K request without
        charging, so no retry pays for a second clip or a second 4K upgrade.
    :param upgrade_index: which of the task's videos to upgrade (KIE's ``index``; 0 for the only one).
    """

    template_fields: Sequence[str] = (
        *KieGenerationOperator.template_fields,
        "model",
        "generation_type",
        "images",
        "aspect_ratio",
        "resolution",
        "seeds",
        "upgrade",
    )
    family: ClassVar[Family[Any]] = VEO_GENERATE
    parameter_names: ClassVar[dict[str, str]] = {"image_urls": "images"}

    def __init__(
        self,
        *,
        prompt: str,
        model: str = "veo3_fast",
        generation_type: str | None = None,
        images: Sequence[str | ObjectStoragePath] | str | None = None,
        aspect_ratio: str | None = "16:9",
        resolution: str | None = None,
        seeds: int | str | None = None,
        enable_translation: bool | None = None,
        upgrade: Upgrade | str | None = None,
        upgrade_index: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self.model = model
        self.generation_type = generation_type
        self.images = images
        self.aspect_ratio = aspect_ratio
        self.resolution = resolution
        self.seeds = seeds
        self.enable_translation = enable_translation
        self.upgrade = upgrade
        self.upgrade_index = upgrade_index

    def request_fields(self) -> dict[str, Any]:
        images = self.images
        if isinstance(images, str):
            images = [images] if images.strip() else []
        return {
            "prompt": self.prompt,
            "model": self.model,
            "generation_type": self.generation_type,
            "image_urls": list(images or []),
            "aspect_ratio": self.aspect_ratio,
            "resolution": self.resolution,
            "seeds": self.seeds,
            "watermark": self.watermark or None,
            "enable_translation": self.enable_translation,
            "callback_url": self.callback_url,
        }

    @property
    def upgrade_to(self) -> Upgrade | None:
        """``upgrade`` as rendered: ``None``, ``"1080p"`` or ``"4k"``."""
        value = (self.upgrade or "").strip().lower() if isinstance(self.upgrade, str) else self.upgrade
        if not value:
            return None
        if value not in UPGRADE_POLL_SECONDS:
            raise AirflowFailException(
                f"{self.task_id}: upgrade must be one of None, '1080p', '4k' (got {self.upgrade!r})"
            )
        return value  # type: ignore[return-value]

    def validate(self) -> KieRequest:
        """The request, and ``upgrade``/``upgrade_index`` checked with it, before any request is sent."""
        upgrade = self.upgrade_to
        if upgrade and (isinstance(self.upgrade_index, bool) or not isinstance(self.upgrade_index, int)):
            raise AirflowFailException(f"{self.task_id}: upgrade_index must be an integer >= 0")
        if upgrade and self.upgrade_index < 0:
            raise AirflowFailException(
                f"{self.task_id}: upgrade_index must be >= 0 (got {self.upgrade_index})"
            )
        return super().validate()

    @property
    def upgrades_media(self) -> bool:
        return self.upgrade_to is not None

    def upgraded_media(self, client: KieClient, record: TaskRecord) -> TaskRecord | float:
        """The 1080p link (one GET, asked again until KIE has made it: a repeat starts nothing new) or the 4K
        links (the first request is paid; KIE refuses a repeat with "processing", free, and answers it with
        the links once done)."""
        upgrade = self.upgrade_to
        if upgrade == "1080p":
            url = client.veo_get_1080p(record.task_id, self.upgrade_index)
            if not url:
                return UPGRADE_POLL_SECONDS["1080p"]
            urls: tuple[str, ...] = (url,)
        else:
            self.log.info("Asking KIE for the 4K version of Veo task %s", record.task_id)
            answer = client.veo_request_4k(record.task_id, self.upgrade_index, self.callback_url)
            if not answer.ready:
                return UPGRADE_POLL_SECONDS["4k"]
            urls = answer.result_urls
        self.log.info("KIE delivered the %s version of Veo task %s", upgrade, record.task_id)
        return replace(record, video_url=urls[0], result_urls=urls, resolution=upgrade)


class VeoExtendOperator(KieGenerationOperator):
    """Continue a succeeded Veo 3.1 clip on KIE (https://docs.kie.ai/veo3-api/extend-video).

    :param source: the clip to continue: its KIE task id or an upstream Veo operator's result (templated).
    :param prompt: how the clip continues (templated).
    :param model: ``fast`` (default), ``quality`` or ``lite`` (templated).
    :param seeds: 10000-99999 (templated).
    """

    template_fields: Sequence[str] = (*KieGenerationOperator.template_fields, "source", "model", "seeds")
    family: ClassVar[Family[Any]] = VEO_EXTEND
    parameter_names: ClassVar[dict[str, str]] = {"task_id": "source"}

    def __init__(
        self,
        *,
        source: str | Mapping[str, Any],
        prompt: str,
        model: str | None = None,
        seeds: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self.source = source
        self.model = model
        self.seeds = seeds

    def request_fields(self) -> dict[str, Any]:
        return {
            "task_id": task_id_from(self.source),
            "prompt": self.prompt,
            "model": self.model,
            "seeds": self.seeds,
            "watermark": self.watermark or None,
            "callback_url": self.callback_url,
        }
