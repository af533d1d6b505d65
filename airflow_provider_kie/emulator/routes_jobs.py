"""The unified Market API (``/api/v1/jobs``) that KIE uses for its other model families."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.envelopes import error_response, handle_submission, ok
from airflow_provider_kie.emulator.errors import KieError, validation_error
from airflow_provider_kie.emulator.payloads import jobs_record
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.validation import parse_jobs_create_task


def build_jobs_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/api/v1/jobs``."""
    router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

    @router.post("/createTask")
    async def create_task(request: Request) -> JSONResponse:
        """``{model, input, callBackUrl?}`` for any model name; answers ``data.taskId``."""
        return await handle_submission(request, state, parse_jobs_create_task, state.submit_jobs)

    @router.get("/recordInfo")
    async def record_info(request: Request) -> JSONResponse:
        """A jobs task (states ``waiting|queuing|generating|success|fail``); unknown ids answer 422."""
        try:
            state.check_api_key(request.headers.get("authorization"))
            task_id = request.query_params.get("taskId", "").strip()
            if not task_id:
                raise validation_error("taskId is required")
            task, now = state.get_task(task_id, family="jobs")
        except KieError as error:
            return error_response(error)
        return ok(jobs_record(task, now))

    return router
