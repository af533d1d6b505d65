"""Operators for KIE's Market (unified jobs) API: any model by name, and the typed video families.

Every Market model is submitted the same way (``POST /api/v1/jobs/createTask {model, input}``) and read the
same way (``recordInfo``): a family differs only in which models it accepts and how their ``input`` is
checked (:mod:`airflow_provider_kie.client.market`). So each typed operator here is its family and nothing
else; the lifecycle (:class:`~airflow_provider_kie.operators.base.KieGenerationOperator`) does the rest.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_kie.client.families import (
    GROK_IMAGINE,
    HAILUO,
    KLING,
    MARKET_JOB,
    SEEDANCE,
    SORA2,
    TOPAZ,
    WAN,
    Family,
)
from airflow_provider_kie.operators.base import KieGenerationOperator

__all__ = [
    "GrokImagineOperator",
    "HailuoOperator",
    "KieJobOperator",
    "KlingOperator",
    "SeedanceOperator",
    "Sora2Operator",
    "TopazUpscaleOperator",
    "WanOperator",
]


class KieJobOperator(KieGenerationOperator):
    """Run any KIE Market model by name: the long tail KIE adds every month, and the catalogued ones.

    :param model: KIE's model name, e.g. ``kling-2.6/text-to-video`` (templated).
    :param input: the model's ``input`` object as KIE's page documents it (templated, recursively): a dict,
        or a JSON string of one. For a catalogued model every field is checked before any request (an
        unknown field is an error); for any other model it must be a JSON object. URL fields also take a
        local path or ObjectStoragePath, uploaded to KIE's upload host first.
    :param prompt: a convenience: put into ``input["prompt"]`` (templated). Leave ``None`` when ``input``
        holds the prompt, or for models without one (an upscale).

    Every parameter of :class:`~airflow_provider_kie.operators.base.KieGenerationOperator` applies
    (``output_dir``, ``deferrable``, ``timeout``...). Every result URL is stored (``<name>.mp4``,
    ``<name>-2.mp4``...); the result lists them in ``files``.
    """

    template_fields: Sequence[str] = (*KieGenerationOperator.template_fields, "model", "input")
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "txt", "input": "json"}
    family: ClassVar[Family[Any]] = MARKET_JOB

    def __init__(
        self,
        *,
        model: str,
        input: Mapping[str, Any] | str,  # KIE's own name, as DAG authors read it in KIE's docs
        prompt: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(prompt=prompt, **kwargs)
        self.model = model
        self.input = input

    def request_fields(self) -> dict[str, Any]:
        job_input: Any = self.input
        if self.prompt is not None:
            if isinstance(job_input, str) and job_input.strip():
                # Broken JSON stays as it is: the request model names it.
                with contextlib.suppress(ValueError):
                    job_input = json.loads(job_input)
            if isinstance(job_input, Mapping):
                job_input = {**job_input, "prompt": self.prompt}
        return {"model": self.model, "input": job_input, "callback_url": self.callback_url}


class KlingOperator(KieJobOperator):
    """A Kling video on KIE (``kling-2.6/text-to-video``, ``kling-2.6/image-to-video``, v2.1, v2.5 turbo...):
    :class:`KieJobOperator` restricted to the Kling models, every ``input`` field checked."""

    family: ClassVar[Family[Any]] = KLING


class Sora2Operator(KieJobOperator):
    """An OpenAI Sora 2 video on KIE (text or image to video, standard or pro): :class:`KieJobOperator`
    restricted to the Sora 2 models."""

    family: ClassVar[Family[Any]] = SORA2


class WanOperator(KieJobOperator):
    """A Wan video on KIE (2.5 and 2.6; text, image or video to video): :class:`KieJobOperator` restricted
    to the Wan models."""

    family: ClassVar[Family[Any]] = WAN


class HailuoOperator(KieJobOperator):
    """A MiniMax Hailuo video on KIE (02 and 2.3): :class:`KieJobOperator` restricted to the Hailuo models."""

    family: ClassVar[Family[Any]] = HAILUO


class SeedanceOperator(KieJobOperator):
    """A ByteDance Seedance video on KIE (1.5 pro, v1 pro): :class:`KieJobOperator` restricted to the
    Seedance models."""

    family: ClassVar[Family[Any]] = SEEDANCE


class GrokImagineOperator(KieJobOperator):
    """A Grok Imagine video on KIE (text or image to video): :class:`KieJobOperator` restricted to the Grok
    Imagine video models."""

    family: ClassVar[Family[Any]] = GROK_IMAGINE


class TopazUpscaleOperator(KieJobOperator):
    """Upscale a video with Topaz on KIE (``input={"video_url": ..., "upscale_factor": "2"}``; the video may
    be a local file or ObjectStoragePath, uploaded first)."""

    family: ClassVar[Family[Any]] = TOPAZ
