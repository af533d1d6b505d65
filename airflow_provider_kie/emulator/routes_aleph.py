"""Aleph (video-to-video) endpoints: generate and record-info."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.envelopes import error_response, handle_submission, ok
from airflow_provider_kie.emulator.errors import KieError, validation_error
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

    @router.get("/record-info")
    async def record_info(request: Request) -> JSONResponse:
        """An Aleph task's record (``successFlag`` semantics); unknown ids answer 422 ``recordInfo is
        null``."""
        try:
            state.check_api_key(request.headers.get("authorization"))
            task_id = request.query_params.get("taskId", "").strip()
            if not task_id:
                raise validation_error("taskId is required")
            task, now = state.get_task(task_id, family="aleph")
        except KieError as error:
            return error_response(error)
        return ok(aleph_record(task, now))

    return router
