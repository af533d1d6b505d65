"""KIE's paid generation families, each described by data: what differs between them and nothing else.

A family is its request model (which validates every field before anything is sent), the client call that
submits it, and the status endpoint its tasks are read from. The generation lifecycle
(:mod:`airflow_provider_kie.operators.base`) takes one of these and runs the same steps for all: adding a
family is a request model, its endpoints, a record parser, emulator routes, an entry here and a thin
operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from airflow_provider_kie.client.market import (
    GrokImagineJobRequest,
    HailuoJobRequest,
    KlingJobRequest,
    MarketJobRequest,
    SeedanceJobRequest,
    Sora2JobRequest,
    TopazJobRequest,
    WanJobRequest,
)
from airflow_provider_kie.client.models import (
    AlephGenerateRequest,
    KieRequest,
    RunwayExtendRequest,
    RunwayGenerateRequest,
)
from airflow_provider_kie.client.records import TaskKind
from airflow_provider_kie.client.runway_api.requests import (
    RunwayImageToVideoRequest,
    RunwayTextToVideoRequest,
    RunwayVideoToVideoRequest,
)
from airflow_provider_kie.client.veo import VeoExtendRequest, VeoGenerateRequest

__all__ = [
    "ALEPH_GENERATE",
    "GROK_IMAGINE",
    "HAILUO",
    "KLING",
    "MARKET_JOB",
    "RUNWAY_API_IMAGE_TO_VIDEO",
    "RUNWAY_API_TEXT_TO_VIDEO",
    "RUNWAY_API_VIDEO_TO_VIDEO",
    "RUNWAY_EXTEND",
    "RUNWAY_GENERATE",
    "SEEDANCE",
    "SORA2",
    "TOPAZ",
    "VEO_EXTEND",
    "VEO_GENERATE",
    "WAN",
    "Family",
]

R = TypeVar("R", bound=KieRequest)


@dataclass(frozen=True)
class Family(Generic[R]):
    """One kind of paid KIE generation.

    :param name: how logs and errors name it ("Runway generate").
    :param request: the request model; building it is the validation step.
    :param submit: sends a validated request through the backend's client (a ``KieClient``, or a
        ``RunwayClient`` for the Runway API families); returns the task id (a paid call: never retried
        blindly). The client is typed ``Any`` because the two backends' clients share no base class.
    :param kind: the status endpoint that reads its tasks.
    """

    name: str
    request: type[R]
    submit: Callable[[Any, R], str]
    kind: TaskKind

    def build(self, fields: dict[str, Any]) -> R:
        """The validated request; :class:`~airflow_provider_kie.client.errors.KieValidationError` names
        every broken rule."""
        return self.request(**fields)


# The submit calls go through the client instance (not ``KieClient.runway_generate`` unbound), so a client
# of another class with the same methods, or a test double, is called as itself.
RUNWAY_GENERATE = Family(
    "Runway generate",
    RunwayGenerateRequest,
    lambda kie, request: kie.runway_generate(request),
    TaskKind.RUNWAY,
)
RUNWAY_EXTEND = Family(
    "Runway extend", RunwayExtendRequest, lambda kie, request: kie.runway_extend(request), TaskKind.RUNWAY
)
ALEPH_GENERATE = Family(
    "Aleph video-to-video",
    AlephGenerateRequest,
    lambda kie, request: kie.aleph_generate(request),
    TaskKind.ALEPH,
)


# Runway's own API (a ``runway`` connection): every endpoint is one ``create`` of the request, and every task
# is read from ``/v1/tasks/{id}``. The request models name the backend and the allowed values in errors.
RUNWAY_API_TEXT_TO_VIDEO = Family(
    "Runway API text-to-video",
    RunwayTextToVideoRequest,
    lambda runway, request: runway.create(request),
    TaskKind.RUNWAY_API,
)
RUNWAY_API_IMAGE_TO_VIDEO = Family(
    "Runway API image-to-video",
    RunwayImageToVideoRequest,
    lambda runway, request: runway.create(request),
    TaskKind.RUNWAY_API,
)
RUNWAY_API_VIDEO_TO_VIDEO = Family(
    "Runway API video-to-video",
    RunwayVideoToVideoRequest,
    lambda runway, request: runway.create(request),
    TaskKind.RUNWAY_API,
)


def _market(name: str, request: type[MarketJobRequest]) -> Family[MarketJobRequest]:
    # Every Market family submits through createTask and is read from recordInfo; only the request class
    # (which models it accepts, how their input is checked) differs.
    return Family(name, request, lambda kie, job: kie.jobs_create_task(job), TaskKind.JOBS)


MARKET_JOB = _market("Market job", MarketJobRequest)
KLING = _market("Kling", KlingJobRequest)
SORA2 = _market("Sora 2", Sora2JobRequest)
WAN = _market("Wan", WanJobRequest)
HAILUO = _market("Hailuo", HailuoJobRequest)
SEEDANCE = _market("Seedance", SeedanceJobRequest)
GROK_IMAGINE = _market("Grok Imagine", GrokImagineJobRequest)
TOPAZ = _market("Topaz video upscale", TopazJobRequest)
VEO_GENERATE = Family(
    "Veo 3.1 generate", VeoGenerateRequest, lambda kie, request: kie.veo_generate(request), TaskKind.VEO
)
VEO_EXTEND = Family(
    "Veo 3.1 extend", VeoExtendRequest, lambda kie, request: kie.veo_extend(request), TaskKind.VEO
)
