"""KIE's answer envelopes and the request plumbing shared by the route modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.config import Family
from airflow_provider_kie.emulator.errors import KieRefusal, validation_error
from airflow_provider_kie.emulator.models import Task
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.validation import parse_json_object

ParsedT = TypeVar("ParsedT")
#: Renders a task as its family's record ``data`` at an emulator time (see :mod:`.payloads`).
RecordRenderer = Callable[[Task, float], dict[str, Any]]


def ok(data: Any, msg: str = "success") -> JSONResponse:
    """``{"code": 200, "msg": msg, "data": data}`` with HTTP 200."""
    return JSONResponse({"code": 200, "msg": msg, "data": data})


def envelope(code: int, msg: str, data: Any) -> JSONResponse:
    """Any KIE answer under HTTP 200, for the endpoints whose refusals still carry ``data`` (Veo's 4K)."""
    return JSONResponse({"code": code, "msg": msg, "data": data})


def error_response(error: KieRefusal) -> JSONResponse:
    """A refusal as KIE sends it: the real status in the body code, usually under HTTP 200."""
    return JSONResponse(
        {"code": error.code, "msg": error.msg, "data": None},
        status_code=error.http_status,
        headers=error.headers,
    )


def upload_ok(data: dict[str, Any], msg: str = "File uploaded successfully") -> JSONResponse:
    """The upload host's success envelope, which adds ``success`` to KIE's."""
    return JSONResponse({"success": True, "code": 200, "msg": msg, "data": data})


def upload_error(error: KieRefusal) -> JSONResponse:
    """The upload host's refusal envelope."""
    return JSONResponse(
        {"success": False, "code": error.code, "msg": error.msg, "data": None},
        status_code=error.http_status,
        headers=error.headers,
    )


def base_url_of(request: Request) -> str:
    """The base URL the client used to reach the emulator (media links are built on it)."""
    return str(request.base_url).rstrip("/")


async def authorized_json(request: Request, state: EmulatorState) -> dict[str, Any]:
    """The JSON object a request carries, once its key is accepted: 401 first, then 400 for a body that is not
    a JSON object."""
    state.check_api_key(request.headers.get("authorization"))
    return parse_json_object(await request.body())


async def handle_submission(
    request: Request,
    state: EmulatorState,
    parse: Callable[[dict[str, Any]], ParsedT],
    accept: Callable[..., Task],
) -> JSONResponse:
    """The path every paid submission takes, in KIE's order: key, rate limit, body, field rules, then the
    account (parent task, credits, concurrency) in ``accept``. Every refusal is counted by body code."""
    try:
        state.check_api_key(request.headers.get("authorization"))
        state.admit_submission()
        parsed = parse(parse_json_object(await request.body()))
        task = accept(parsed, base_url=base_url_of(request), endpoint=request.url.path)
    except KieRefusal as error:
        state.record_rejection(error.code)
        return error_response(error)
    return ok({"taskId": task.task_id})


def add_record_route(
    router: APIRouter,
    state: EmulatorState,
    path: str,
    *,
    family: Family,
    render: RecordRenderer,
    name: str,
    description: str,
) -> None:
    """Add ``GET path?taskId=...`` answering ``family``'s task record as ``render`` shapes it.

    Every family's record endpoint takes the same path, in KIE's order: the key, a non-blank ``taskId`` (else
    422), then the task, where an id unknown to ``family`` answers KIE's quirky 422 ``recordInfo is null``.
    ``name`` keeps the route's OpenAPI operation id; ``description`` is its documentation.
    """

    async def record(request: Request) -> JSONResponse:
        try:
            state.check_api_key(request.headers.get("authorization"))
            task_id = request.query_params.get("taskId", "").strip()
            if not task_id:
                raise validation_error("taskId is required")
            task, now = state.get_task(task_id, family=family)
        except KieRefusal as error:
            return error_response(error)
        return ok(render(task, now))

    router.add_api_route(
        path, record, methods=["GET"], response_class=JSONResponse, name=name, description=description
    )
