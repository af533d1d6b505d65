"""Runway endpoints: generate, record-detail, extend."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.envelopes import error_response, handle_submission, ok
from airflow_provider_kie.emulator.errors import KieError, validation_error
from airflow_provider_kie.emulator.payloads import runway_record
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.validation import parse_runway_extend, parse_runway_generate


def build_runway_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/api/v1/runway``."""
    router = APIRouter(prefix="/api/v1/runway", tags=["runway"])

    @router.post("/generate")
    async def generate(request: Request) -> JSONResponse:
        """Text- or image-to-video; answers ``data.taskId``."""
        return await handle_submission(request, state, parse_runway_generate, state.submit_generate)

    @router.post("/extend")
    async def extend(request: Request) -> JSONResponse:
        """Extend a succeeded generate/extend task; the new task keeps ``parentTaskId``."""
        return await handle_submission(request, state, parse_runway_extend, state.submit_extend)

    @router.get("/record-detail")
    async def record_detail(request: Request) -> JSONResponse:
        """A Runway task's record; unknown ids answer 422 ``recordInfo is null`` like KIE."""
        try:
            state.check_api_key(request.headers.get("authorization"))
            task_id = request.query_params.get("taskId", "").strip()
            if not task_id:
                raise validation_error("taskId is required")
            task, now = state.get_task(task_id, family="runway")
        except KieError as error:
            return error_response(error)
        return ok(runway_record(task, now))

    return router
