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

from airflow_provider_kie.client.models import (
    AlephGenerateRequest,
    KieRequest,
    RunwayExtendRequest,
    RunwayGenerateRequest,
)
from airflow_provider_kie.client.records import TaskKind
from airflow_provider_kie.client.sync_client import KieClient

__all__ = ["ALEPH_GENERATE", "RUNWAY_EXTEND", "RUNWAY_GENERATE", "Family"]

R = TypeVar("R", bound=KieRequest)


@dataclass(frozen=True)
class Family(Generic[R]):
    """One kind of paid KIE generation.

    :param name: how logs and errors name it ("Runway generate").
    :param request: the request model; building it is the validation step.
    :param submit: sends a validated request; returns KIE's task id (a paid call: never retried blindly).
    :param kind: the status endpoint that reads its tasks.
    """

    name: str
    request: type[R]
    submit: Callable[[KieClient, R], str]
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
