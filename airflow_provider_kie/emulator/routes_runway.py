"""Runway endpoints: generate, record-detail, extend."""

from __future__ import annotations

from fastapi import APIRouter

from airflow_provider_kie.emulator.envelopes import add_record_route
from airflow_provider_kie.emulator.payloads import runway_record
from airflow_provider_kie.emulator.routes_common import add_submit_route
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.validation import parse_runway_extend, parse_runway_generate


def build_runway_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/api/v1/runway``."""
    router = APIRouter(prefix="/api/v1/runway", tags=["runway"])

    add_submit_route(
        router,
        state,
        "/generate",
        parse_runway_generate,
        state.submit_generate,
        name="generate",
        description="Text- or image-to-video; answers ``data.taskId``.",
    )
    add_submit_route(
        router,
        state,
        "/extend",
        parse_runway_extend,
        state.submit_extend,
        name="extend",
        description="Extend a succeeded generate/extend task; the new task keeps ``parentTaskId``.",
    )

    add_record_route(
        router,
        state,
        "/record-detail",
        family="runway",
        render=runway_record,
        name="record_detail",
        description="A Runway task's record; unknown ids answer 422 ``recordInfo is null`` like KIE.",
    )
    return router
