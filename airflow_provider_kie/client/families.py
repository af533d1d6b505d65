"""KIE's paid generation families, each described by data: what differs between them and nothing else.

A family is its request model (which validates every field before anything is sent), the client call that
submits it, and the status endpoint its tasks are read from. The generation lifecycle
(:mod:`airflow_provider_kie.operators.base`) takes one of these and runs the same steps for all: adding a
family is a request model, its endpoints, a record parser, emulator routes, an entry here and a thin
operator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_kie.client.records import TaskKind

if TYPE_CHECKING:
    from airflow_provider_kie.client.models import KieRequest

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

R = TypeVar("R", bound="KieRequest")


@dataclass(frozen=True)
class Family(Generic[R]):
    """One kind of paid KIE generation.

    :param name: how logs and errors name it ("Runway generate").
    :param request_model: the request model (building it is the validation step), or where to import it
        from on first use as ``"module:Name"``: a DAG file that imports the Runway operators does not load
        the Market catalogue, the Veo models or the Runway API request models.
    :param submit: sends a validated request through the backend's client (a ``KieClient``, or a
        ``RunwayClient`` for the Runway API families); returns the task id (a paid call: never retried
        blindly). The client is typed ``Any``: the two backends' clients share their sending and waiting, not
        their submit methods.
    :param kind: the status endpoint that reads its tasks.
    """

    name: str
    request_model: type[R] | str
    submit: Callable[[Any, R], str]
    kind: TaskKind

    @property
    def request(self) -> type[R]:
        """The request model class."""
        if not isinstance(self.request_model, str):
            return self.request_model
        module, _, name = self.request_model.partition(":")
        model: type[R] = getattr(importlib.import_module(module), name)
        return model

    def build(self, fields: dict[str, Any]) -> R:
        """The validated request; :class:`~airflow_provider_kie.client.errors.KieValidationError` names
        every broken rule."""
        return self.request(**fields)


def _family(name: str, model: str, submit: str, kind: TaskKind) -> Family[Any]:
    # The submit call goes through the client instance (not ``KieClient.runway_generate`` unbound), so a
    # client of another class with the same methods, or a test double, is called as itself.
    return Family(name, model, lambda client, request: getattr(client, submit)(request), kind)


_MODELS = "airflow_provider_kie.client.models:"
RUNWAY_GENERATE = _family(
    "Runway generate", _MODELS + "RunwayGenerateRequest", "runway_generate", TaskKind.RUNWAY
)
RUNWAY_EXTEND = _family("Runway extend", _MODELS + "RunwayExtendRequest", "runway_extend", TaskKind.RUNWAY)
ALEPH_GENERATE = _family(
    "Aleph video-to-video", _MODELS + "AlephGenerateRequest", "aleph_generate", TaskKind.ALEPH
)

# Runway's own API (a ``runway`` connection): every endpoint is one ``create`` of the request, and every task
# is read from ``/v1/tasks/{id}``. The request models name the backend and the allowed values in errors.
_RUNWAY_API = "airflow_provider_kie.client.runway_api.requests:"
RUNWAY_API_TEXT_TO_VIDEO = _family(
    "Runway API text-to-video", _RUNWAY_API + "RunwayTextToVideoRequest", "create", TaskKind.RUNWAY_API
)
RUNWAY_API_IMAGE_TO_VIDEO = _family(
    "Runway API image-to-video", _RUNWAY_API + "RunwayImageToVideoRequest", "create", TaskKind.RUNWAY_API
)
RUNWAY_API_VIDEO_TO_VIDEO = _family(
    "Runway API video-to-video", _RUNWAY_API + "RunwayVideoToVideoRequest", "create", TaskKind.RUNWAY_API
)


def _market(name: str, model: str) -> Family[Any]:
    # Every Market family submits through createTask and is read from recordInfo; only the request class
    # (which models it accepts, how their input is checked) differs.
    return _family(name, "airflow_provider_kie.client.market:" + model, "jobs_create_task", TaskKind.JOBS)


MARKET_JOB = _market("Market job", "MarketJobRequest")
KLING = _market("Kling", "KlingJobRequest")
SORA2 = _market("Sora 2", "Sora2JobRequest")
WAN = _market("Wan", "WanJobRequest")
HAILUO = _market("Hailuo", "HailuoJobRequest")
SEEDANCE = _market("Seedance", "SeedanceJobRequest")
GROK_IMAGINE = _market("Grok Imagine", "GrokImagineJobRequest")
TOPAZ = _market("Topaz video upscale", "TopazJobRequest")
_VEO = "airflow_provider_kie.client.veo:"
VEO_GENERATE = _family("Veo 3.1 generate", _VEO + "VeoGenerateRequest", "veo_generate", TaskKind.VEO)
VEO_EXTEND = _family("Veo 3.1 extend", _VEO + "VeoExtendRequest", "veo_extend", TaskKind.VEO)
