"""The emulator's ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from airflow_provider_kie.emulator.callbacks import run_callback_dispatcher
from airflow_provider_kie.emulator.config import UPLOAD_HOST_PREFIX, EmulatorConfig
from airflow_provider_kie.emulator.middleware import EmulatorMiddleware
from airflow_provider_kie.emulator.routes_admin import build_admin_router
from airflow_provider_kie.emulator.routes_aleph import build_aleph_router
from airflow_provider_kie.emulator.routes_common import build_common_router
from airflow_provider_kie.emulator.routes_jobs import build_jobs_router
from airflow_provider_kie.emulator.routes_media import build_media_router
from airflow_provider_kie.emulator.routes_runway import build_runway_router
from airflow_provider_kie.emulator.routes_upload import build_upload_router
from airflow_provider_kie.emulator.routes_veo import build_veo_router
from airflow_provider_kie.emulator.runway_api_config import RUNWAY_API_PREFIX
from airflow_provider_kie.emulator.runway_api_routes import build_runway_api_router
from airflow_provider_kie.emulator.state import EmulatorState


class EmulatorApp(FastAPI):
    """A FastAPI app with :class:`EmulatorMiddleware` *outside* Starlette's own middleware stack.

    Starlette's ``add_middleware`` would place it inside ``ServerErrorMiddleware``, which wraps ``send``; the
    fault layer needs the server's unwrapped ``send`` to drop connections.

    Attributes:
        emulator_state: The account this app serves.
    """

    def __init__(self, state: EmulatorState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.emulator_state = state
        self._outer = EmulatorMiddleware(self._inner, state)

    async def _inner(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outer(scope, receive, send)


def _envelope(request: Request, status: int, msg: str) -> JSONResponse:
    if request.url.path.startswith(RUNWAY_API_PREFIX):
        return JSONResponse({"error": msg}, status_code=status)  # Runway's own API has no envelope
    body: dict[str, object] = {"code": status, "msg": msg, "data": None}
    if request.url.path.startswith(UPLOAD_HOST_PREFIX):
        body = {"success": False, **body}
    return JSONResponse(body, status_code=status)


def create_app(config: EmulatorConfig | None = None, *, state: EmulatorState | None = None) -> EmulatorApp:
    """Build the emulator app for ``config`` (defaults: :class:`EmulatorConfig`), or around an existing
    ``state``.

    The app's lifespan runs the callback dispatcher, so serve it with lifespan enabled (uvicorn's default; or
    ``with TestClient(app)``).
    """
    if state is None:
        state = EmulatorState(config or EmulatorConfig())
    emulator_state = state

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatcher = asyncio.create_task(run_callback_dispatcher(emulator_state))
        try:
            yield
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
            emulator_state.media.close()  # the rendered clips live as long as the server

    app = EmulatorApp(
        state,
        title="KIE emulator",
        summary="Offline stand-in for KIE's Runway, Aleph, Market, Veo, common and file-upload APIs, and for "
        "Runway's own developer API (/runway-api)",
        lifespan=lifespan,
        docs_url="/_emulator/docs",
        openapi_url="/_emulator/openapi.json",
        redoc_url=None,
    )
    for router in (
        build_runway_router(state),
        build_aleph_router(state),
        build_jobs_router(state),
        build_veo_router(state),
        build_common_router(state),
        build_upload_router(state),
        build_media_router(state),
        build_admin_router(state),
        build_runway_api_router(state),
    ):
        app.include_router(router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown paths and wrong methods get KIE's envelope too (KIE answers 404 for unknown endpoints).
        return _envelope(request, exc.status_code, str(exc.detail))

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client left while its body was being read (e.g. it timed out during a "delay" fault): nobody is
        # listening, and this is no emulator error worth a traceback.
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return _envelope(request, 500, f"emulator error: {exc!r}")

    return app
