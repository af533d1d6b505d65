"""KIE's answer envelopes and the request plumbing shared by the route modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.errors import KieError
from airflow_provider_kie.emulator.models import Task
from airflow_provider_kie.emulator.state import EmulatorState
from airflow_provider_kie.emulator.validation import parse_json_object

ParsedT = TypeVar("ParsedT")


def ok(data: Any, msg: str = "success") -> JSONResponse:
    """``{"code": 200, "msg": msg, "data": data}`` with HTTP 200."""
    return JSONResponse({"code": 200, "msg": msg, "data": data})


def error_response(error: KieError) -> JSONResponse:
    """A refusal as KIE sends it: the real status in the body code, usually under HTTP 200."""
    return JSONResponse(
        {"code": error.code, "msg": error.msg, "data": None},
        status_code=error.http_status,
        headers=error.headers,
    )


def upload_ok(data: dict[str, Any], msg: str = "File uploaded successfully") -> JSONResponse:
    """The upload host's success envelope, which adds ``success`` to KIE's."""
    return JSONResponse({"success": True, "code": 200, "msg": msg, "data": data})


def upload_error(error: KieError) -> JSONResponse:
    """The upload host's refusal envelope."""
    return JSONResponse(
        {"success": False, "code": error.code, "msg": error.msg, "data": None},
        status_code=error.http_status,
        headers=error.headers,
    )


def base_url_of(request: Request) -> str:
    """The base URL the client used to reach the emulator (media links are built on it)."""
    return str(request.base_url).rstrip("/")


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
    except KieError as error:
        state.record_rejection(error.code)
        return error_response(error)
    return ok({"taskId": task.task_id})
