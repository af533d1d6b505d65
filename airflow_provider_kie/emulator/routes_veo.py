"""Veo 3.1 endpoints: generate, extend, record-info, get-1080p-video, get-4k-video.

Pages: https://docs.kie.ai/veo3-api/generate-veo-3-video, .../extend-video,
.../get-veo-3-video-details, .../get-veo-3-1080-p-video, .../get-veo-3-4k-video (rules in
:mod:`.validation_veo` and :mod:`.state_veo`, shapes in :mod:`.payloads_veo`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.envelopes import (
    add_record_route,
    envelope,
    error_response,
    ok,
)
from airflow_provider_kie.emulator.errors import KieRefusal, validation_error
from airflow_provider_kie.emulator.payloads_veo import veo_4k_urls, veo_record
from airflow_provider_kie.emulator.routes_common import add_submit_route
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.state_veo import MSG_4K_DONE, MSG_4K_PROCESSING, MSG_1080P_PROCESSING
from airflow_provider_kie.emulator.validation import parse_json_object
from airflow_provider_kie.emulator.validation_veo import (
    parse_veo_4k,
    parse_veo_extend,
    parse_veo_generate,
    parse_veo_index,
)

#: Body code of a 1080P request made before the file is ready (listed on the generate page: "1080P is
#: processing..."), under HTTP 200 like KIE's other refusals.
CODE_1080P_PROCESSING = 400


def build_veo_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/api/v1/veo``."""
    router = APIRouter(prefix="/api/v1/veo", tags=["veo"])

    add_submit_route(
        router,
        state,
        "/generate",
        parse_veo_generate,
        state.submit_veo,
        name="generate",
        description="Text, frames or reference images to video; answers ``data.taskId``.",
    )
    add_submit_route(
        router,
        state,
        "/extend",
        parse_veo_extend,
        state.submit_veo_extend,
        name="extend",
        description="Extend a succeeded Veo task; answers the extension's ``data.taskId``.",
    )

    add_record_route(
        router,
        state,
        "/record-info",
        family="veo",
        render=veo_record,
        name="record_info",
        description="A Veo task's record (``successFlag`` 0/1/2/3, ``response.resultUrls``); unknown ids "
        "answer 422 ``recordInfo is null``.",
    )

    @router.get("/get-1080p-video")
    async def get_1080p(request: Request) -> JSONResponse:
        """``data.resultUrl`` of the 1080P version once ready; before, body code 400 "1080P is processing"
        (the first call starts it and is charged)."""
        try:
            state.check_api_key(request.headers.get("authorization"))
            task_id = request.query_params.get("taskId", "").strip()
            if not task_id:
                raise validation_error("taskId is required")
            index = parse_veo_index(request.query_params.get("index"))
            url = state.veo_1080p(task_id, index)
        except KieRefusal as error:
            return error_response(error)
        if url is None:
            return envelope(CODE_1080P_PROCESSING, MSG_1080P_PROCESSING, None)
        return ok({"resultUrl": url})

    @router.post("/get-4k-video")
    async def get_4k(request: Request) -> JSONResponse:
        """Start the 4K version (``{taskId, resultUrls: null, imageUrls: null}``); a repeat answers 422
        "4k is processing" while it runs and 422 "generated successfully" with the URLs once done."""
        try:
            state.check_api_key(request.headers.get("authorization"))
            state.admit_submission()  # a paid generation request: it counts against the rate limit
            parsed = parse_veo_4k(parse_json_object(await request.body()))
            status, task, upgrade = state.veo_4k(
                parsed.task_id, parsed.index, callback_url=parsed.callback_url, endpoint=request.url.path
            )
        except KieRefusal as error:
            return error_response(error)
        empty = {"taskId": task.task_id, "resultUrls": None, "imageUrls": None}
        if status == "started":
            return ok(empty)
        if status == "processing":
            return envelope(422, MSG_4K_PROCESSING, empty)
        if status == "failed":
            return envelope(500, upgrade.fail_msg, {"taskId": task.task_id})
        return envelope(422, MSG_4K_DONE, {"taskId": task.task_id, **veo_4k_urls(task, upgrade)})

    return router
