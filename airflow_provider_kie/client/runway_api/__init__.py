"""Runway's own developer API (https://api.dev.runwayml.com): the provider's second backend. Never imports
Airflow.

Typical use::

    from airflow_provider_kie.client.runway_api import RunwayClient, RunwayTextToVideoRequest

    with RunwayClient(api_key) as runway:  # X-Runway-Version 2024-11-06 unless api_version= says otherwise
        request = RunwayTextToVideoRequest(
            model="gen4.5", prompt_text="a red fox at dawn", ratio="1280:720", duration=5
        )
        task_id = runway.text_to_video(request)
        record = runway.wait_for_task(task_id)  # a TaskRecord of kind "runway_api"
        print(record.result_urls)  # expire in 24-48 h: store them (client.storage.store_url)

Why the provider's own httpx client and not the official ``runwayml`` SDK
-------------------------------------------------------------------------

Measured offline in a scratch venv (``runwayml`` 5.24.0 from PyPI, Python 3.11, a 2-core machine shared with a
CI run, so times are noisy; the scripts used ``httpx.MockTransport``, no network):

* **Cost.** ``import runwayml`` plus a client with its ``image_to_video``, ``tasks`` and ``organization``
  resources: 350-460 ms wall (5 runs) and +18.7 MiB RSS *on top of* httpx and pydantic already imported,
  337 new modules (180 ``runwayml.*``; anyio, distro, sniffio...); the package is 4.0 MB, 179 files, ~49,000
  lines. Every worker and the triggerer would pay that next to the KIE client they load anyway (this whole
  package adds a few hundred lines to it).
* **Paying twice.** One ``image_to_video.create`` answered HTTP 500 was sent **3 times** (``max_retries=2``
  retries 408/409/429/5xx and timeouts for every method, POST included), with no idempotency key (only
  ``x-stainless-retry-count``): a create whose answer was lost can start and charge a second task. Turning
  that off (``max_retries=0``) leaves the provider writing its own per-call retry rules anyway.
* **No checks.** Its parameters are ``TypedDict``\\s: a ``ratio`` of ``"999:1"`` went out unchecked. The
  model table and input rules below are needed either way.
* **Waiting.** Its sync ``wait_for_task_output()`` never stops on ``CANCELLED`` (only the async one does): on
  a cancelled task it polled 100 times and raised ``TaskTimeoutError`` after its fixed 10 minutes (fake
  clock); it polls every 6 +- 1.5 s whatever the task does. The provider's ``PollTracker`` already follows the
  task's phase and backs off on errors.
* **Churn.** 5.13.0 (2026-07-27) to 5.24.0 within months; ``veo3`` left the request types on the way.
  Pinning it would tie provider releases to the SDK's; the eight endpoints here are plain JSON.

So this package reuses the provider's own machinery: the :class:`~airflow_provider_kie.client.calls.Call`
definitions shared by a sync and an async client, the retry rules (a create is resent only after a 429 or a
connection that never opened; after a 5xx, a timeout or an unreadable 2xx it raises
:class:`~airflow_provider_kie.client.errors.KieSubmitOutcomeUnknownError`), the error tree, ``TaskRecord``
(``TaskKind.RUNWAY_API``) and the poll schedule. A triggerer shares one ``httpx.AsyncClient`` between all its
triggers (``AsyncRunwayClient(key, http=shared)``): credentials go with each request, not on the client.

What is checked before a request (each a
:class:`~airflow_provider_kie.client.errors.KieValidationError` naming the parameter, "Runway API" and the
values allowed): an unknown model; a model that does not serve the endpoint (text-to-video on an image-only
model); a ratio or duration the model does not take (:mod:`.catalogue`); inputs that are not https (http only
for loopback, the emulator), IP-address URLs, data URIs of other types or over 5 MB encoded, local files too
big to send as data URIs (:mod:`.inputs`). A missing ``X-Runway-Version`` (``api_version=""``) is a
:class:`~airflow_provider_kie.client.errors.KieConfigurationError` when the client is built.
"""

from __future__ import annotations

from airflow_provider_kie.client.runway_api._base import (
    DEFAULT_RUNWAY_API_VERSION,
    DEFAULT_RUNWAY_BASE_URL,
    RUNWAY_USER_AGENT,
    BaseRunwayClient,
)
from airflow_provider_kie.client.runway_api.async_client import AsyncRunwayClient
from airflow_provider_kie.client.runway_api.catalogue import (
    ENDPOINTS,
    RUNWAY_API_MODELS,
    Endpoint,
    RunwayApiModel,
    models_for,
)
from airflow_provider_kie.client.runway_api.inputs import MAX_DATA_URI_LENGTH, MAX_URL_LENGTH
from airflow_provider_kie.client.runway_api.organization import RunwayModelLimits, RunwayOrganization
from airflow_provider_kie.client.runway_api.requests import (
    RunwayApiRequest,
    RunwayCharacterPerformanceRequest,
    RunwayImageToVideoRequest,
    RunwayTextToVideoRequest,
    RunwayVideoToVideoRequest,
    RunwayVideoUpscaleRequest,
)
from airflow_provider_kie.client.runway_api.sync_client import RunwayClient

__all__ = [
    "DEFAULT_RUNWAY_API_VERSION",
    "DEFAULT_RUNWAY_BASE_URL",
    "ENDPOINTS",
    "MAX_DATA_URI_LENGTH",
    "MAX_URL_LENGTH",
    "RUNWAY_API_MODELS",
    "RUNWAY_USER_AGENT",
    "AsyncRunwayClient",
    "BaseRunwayClient",
    "Endpoint",
    "RunwayApiModel",
    "RunwayApiRequest",
    "RunwayCharacterPerformanceRequest",
    "RunwayClient",
    "RunwayImageToVideoRequest",
    "RunwayModelLimits",
    "RunwayOrganization",
    "RunwayTextToVideoRequest",
    "RunwayVideoToVideoRequest",
    "RunwayVideoUpscaleRequest",
    "models_for",
]
