"""Routes of the emulated Runway developer API (``/runway-api``) and of its output CDN (``/runway-cdn``).

* ``POST /runway-api/v1/{image_to_video,text_to_video,video_to_video,video_upscale,character_performance}``:
  ``{"id"}``; 400 ``{"error"}`` naming the field, 429 over the daily limit, 400 without enough credits.
* ``GET /runway-api/v1/tasks/{id}``: the task (``status``, ``progress``, ``output``, ``failure`` and
  ``failureCode``); 404 for an unknown or deleted task.
* ``DELETE /runway-api/v1/tasks/{id}``: 204, having cancelled an active task or deleted a finished one; 404.
* ``GET /runway-api/v1/organization``: ``creditBalance``, ``tier``, ``usage``.
* ``GET|HEAD /runway-cdn/{id}/0.mp4?exp=&sig=``: the rendered clip (Range supported); 403 once expired.
* ``GET /_emulator/runway-api/stats``, ``.../tasks`` and ``POST .../credits`` (``{"balance": n}``): the
  control plane, never faulted or counted.

Every ``/runway-api`` call needs ``Authorization: Bearer <key>`` (401 first) and ``X-Runway-Version`` (then a
400 naming the header). Refusals are ``{"error": "..."}`` under their HTTP status, as Runway's
(https://docs.dev.runwayml.com/api-details/errors).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.responses import PlainTextResponse

from airflow_provider_kie.emulator.envelopes import base_url_of
from airflow_provider_kie.emulator.media import VIDEO_TYPE, bytes_response
from airflow_provider_kie.emulator.runway_api_config import RUNWAY_API_PREFIX, RUNWAY_CDN_PREFIX
from airflow_provider_kie.emulator.runway_api_rules import RunwayApiRefusal, bad_request, parse_create
from airflow_provider_kie.emulator.state import EmulatorState

__all__ = ["ENDPOINTS", "build_runway_api_router", "runway_error"]

ENDPOINTS = ("image_to_video", "text_to_video", "video_to_video", "video_upscale", "character_performance")


def runway_error(error: RunwayApiRefusal) -> JSONResponse:
    """A refusal as Runway sends it: ``{"error": message}`` under its HTTP status."""
    return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Invalid JSON in request body") from None
    if not isinstance(body, dict):
        raise bad_request("Expected a JSON object as the request body")
    return body


def build_runway_api_router(state: EmulatorState) -> APIRouter:
    """The Runway API, CDN and admin routes of ``state``'s emulated Runway organisation."""
    api = state.runway_api
    router = APIRouter(tags=["runway-api"])

    def gate(request: Request) -> None:
        api.check_key(request.headers.get("authorization"))
        api.check_version(request.headers.get("x-runway-version"))

    def create_route(endpoint: str) -> None:
        async def create(request: Request) -> JSONResponse:
            try:
                gate(request)
                parsed = parse_create(endpoint, _json_object(await request.body()))
            except RunwayApiRefusal as error:
                api.record_rejection(error.status)
                return runway_error(error)
            try:
                task = api.create(parsed, base_url=base_url_of(request), path=request.url.path)
            except RunwayApiRefusal as error:  # counted by the state
                return runway_error(error)
            return JSONResponse({"id": task.task_id})

        router.add_api_route(
            f"{RUNWAY_API_PREFIX}/v1/{endpoint}",
            create,
            methods=["POST"],
            name=f"runway_api_{endpoint}",
            description=f'Runway API ``POST /v1/{endpoint}``: answers ``{{"id"}}``.',
        )

    for endpoint in ENDPOINTS:
        create_route(endpoint)

    @router.get(f"{RUNWAY_API_PREFIX}/v1/tasks/{{task_id}}")
    async def get_task(task_id: str, request: Request) -> JSONResponse:
        """A task as Runway shows it; output URLs are signed afresh on every read."""
        try:
            gate(request)
            return JSONResponse(api.task_body(task_id))
        except RunwayApiRefusal as error:
            return runway_error(error)

    @router.delete(f"{RUNWAY_API_PREFIX}/v1/tasks/{{task_id}}")
    async def delete_task(task_id: str, request: Request) -> Response:
        """Cancel an active task (``CANCELLED``) or delete a finished one (404 afterwards); 204."""
        try:
            gate(request)
            api.cancel(task_id)
        except RunwayApiRefusal as error:
            return runway_error(error)
        return Response(status_code=204)

    @router.get(f"{RUNWAY_API_PREFIX}/v1/organization")
    async def organization(request: Request) -> JSONResponse:
        """Credit balance, tier limits per model and the past 24 h's creates."""
        try:
            gate(request)
        except RunwayApiRefusal as error:
            return runway_error(error)
        return JSONResponse(api.organization())

    @router.api_route(f"{RUNWAY_CDN_PREFIX}/{{task_id}}/{{name}}", methods=["GET", "HEAD"])
    async def output(task_id: str, name: str, request: Request) -> Response:
        """An output file: no key (a signed CDN URL), 403 once its signature expired, 404 otherwise."""
        index_text, _, ext = name.partition(".")
        try:
            index = int(index_text)
            expires_ms = int(request.query_params.get("exp", ""))
        except ValueError:
            return PlainTextResponse("Not Found", status_code=404)
        job = api.resolve_output(task_id, index, expires_ms, request.query_params.get("sig", ""))
        if ext != "mp4" or job == "gone":
            return PlainTextResponse("Not Found", status_code=404)
        if isinstance(job, str):  # "expired": CloudFront refuses a signed URL past its expiry
            return PlainTextResponse("Request has expired", status_code=403)
        data = await state.render_media_async(job)
        range_header = request.headers.get("range")
        return bytes_response(data, VIDEO_TYPE, method=request.method, range_header=range_header)

    @router.get("/_emulator/runway-api/stats")
    async def stats() -> dict[str, Any]:
        """The Runway API counters (``RunningEmulator.runway_api_stats()``)."""
        return api.stats().to_dict()

    @router.get("/_emulator/runway-api/tasks")
    async def tasks() -> list[dict[str, Any]]:
        """Every Runway API task with status, cost, refund and throttling flags."""
        return [task.to_dict() for task in api.tasks()]

    @router.post("/_emulator/runway-api/credits")
    async def credits(request: Request) -> JSONResponse:
        """``{"balance": n}``: set the organisation's credit balance."""
        try:
            balance = _json_object(await request.body()).get("balance")
            if isinstance(balance, bool) or not isinstance(balance, int) or balance < 0:
                raise bad_request("balance: must be an integer >= 0")
        except RunwayApiRefusal as error:
            return runway_error(error)
        api.set_credits(balance)
        return JSONResponse({"balance": balance})

    return router
