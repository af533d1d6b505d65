"""The unified Market API (``/api/v1/jobs``) that KIE uses for its other model families."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.envelopes import add_record_route, handle_submission
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

    add_record_route(
        router,
        state,
        "/recordInfo",
        family="jobs",
        render=jobs_record,
        name="record_info",
        description="A jobs task (states ``waiting|queuing|generating|success|fail``); unknown ids answer "
        "422.",
    )
    return router
