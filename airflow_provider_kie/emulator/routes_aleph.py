"""Aleph (video-to-video) endpoints: generate and record-info."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.envelopes import add_record_route, handle_submission
from airflow_provider_kie.emulator.payloads import aleph_record
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.validation import parse_aleph_generate


def build_aleph_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/api/v1/aleph``."""
    router = APIRouter(prefix="/api/v1/aleph", tags=["aleph"])

    @router.post("/generate")
    async def generate(request: Request) -> JSONResponse:
        """Restyle a video; answers ``data.taskId``. The video URL is not fetched (the emulator is
        offline)."""
        return await handle_submission(request, state, parse_aleph_generate, state.submit_aleph)

    add_record_route(
        router,
        state,
        "/record-info",
        family="aleph",
        render=aleph_record,
        name="record_info",
        description="An Aleph task's record (``successFlag`` semantics); unknown ids answer 422 "
        "``recordInfo is null``.",
    )
    return router
