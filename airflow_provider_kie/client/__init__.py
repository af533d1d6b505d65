"""The KIE API client. Never imports Airflow: usable from any Python code, and testable without it.

Typical use::

    from airflow_provider_kie.client import KieClient, RunwayGenerateRequest

    with KieClient(api_key) as kie:
        task_id = kie.runway_generate(
            RunwayGenerateRequest(prompt="a red fox at dawn", duration=5, quality="720p", aspect_ratio="16:9")
        )
        record = kie.wait_for_task(task_id)
        print(record.video_url)

Runway's own developer API, the second backend, has its own clients in :mod:`.runway_api` (``RunwayClient``,
``AsyncRunwayClient`` and one request model per endpoint), re-exported here; they share this package's
calls, retry rules, error tree and ``TaskRecord`` (``TaskKind.RUNWAY_API``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_kie.client._lazy import lazy_attributes
from airflow_provider_kie.client.errors import *  # noqa: F403 - the error tree is public API
from airflow_provider_kie.client.errors import __all__ as _errors_all

if TYPE_CHECKING:
    from airflow_provider_kie.client._base import (
        DEFAULT_BASE_URL,
        DEFAULT_TIMEOUT,
        DEFAULT_UPLOAD_BASE_URL,
        USER_AGENT,
        shared_ssl_context,
    )
    from airflow_provider_kie.client.async_client import AsyncKieClient
    from airflow_provider_kie.client.backoff import Backoff
    from airflow_provider_kie.client.calls import UploadedFile
    from airflow_provider_kie.client.market import (
        CATALOGUE,
        GrokImagineJobRequest,
        HailuoJobRequest,
        JobsCreateTaskRequest,
        KlingJobRequest,
        MarketInput,
        MarketJobRequest,
        SeedanceJobRequest,
        Sora2JobRequest,
        TopazJobRequest,
        WanJobRequest,
        family_models,
    )
    from airflow_provider_kie.client.models import (
        AlephGenerateRequest,
        KieRequest,
        LocalFile,
        RunwayExtendRequest,
        RunwayGenerateRequest,
    )
    from airflow_provider_kie.client.polling import PollPolicy, PollTracker
    from airflow_provider_kie.client.records import TaskKind, TaskRecord, TaskState
    from airflow_provider_kie.client.retry import (
        DEFAULT_READ_RETRY,
        DEFAULT_SUBMIT_RETRY,
        CallKind,
        RetryPolicy,
    )
    from airflow_provider_kie.client.runway_api import (
        AsyncRunwayClient,
        RunwayCharacterPerformanceRequest,
        RunwayClient,
        RunwayImageToVideoRequest,
        RunwayOrganization,
        RunwayTextToVideoRequest,
        RunwayVideoToVideoRequest,
        RunwayVideoUpscaleRequest,
    )
    from airflow_provider_kie.client.sync_client import KieClient
    from airflow_provider_kie.client.veo import Veo4kResult, VeoExtendRequest, VeoGenerateRequest
    from airflow_provider_kie.client.webhooks import compute_signature, verify_callback, verify_signature

# Where each public name lives: its submodule, then the names. They are imported on first use (module
# ``__getattr__``, PEP 562): a DAG file that needs the KIE client does not pay for the Market catalogue, the
# Veo models or the Runway API package.
_LAZY = {
    "_base": "DEFAULT_BASE_URL DEFAULT_TIMEOUT DEFAULT_UPLOAD_BASE_URL USER_AGENT shared_ssl_context",
    "async_client": "AsyncKieClient",
    "backoff": "Backoff",
    "calls": "UploadedFile",
    "market": "CATALOGUE GrokImagineJobRequest HailuoJobRequest JobsCreateTaskRequest KlingJobRequest"
    " MarketInput MarketJobRequest SeedanceJobRequest Sora2JobRequest TopazJobRequest WanJobRequest"
    " family_models",
    "models": "AlephGenerateRequest KieRequest LocalFile RunwayExtendRequest RunwayGenerateRequest",
    "polling": "PollPolicy PollTracker",
    "records": "TaskKind TaskRecord TaskState",
    "retry": "DEFAULT_READ_RETRY DEFAULT_SUBMIT_RETRY CallKind RetryPolicy",
    "runway_api": "AsyncRunwayClient RunwayCharacterPerformanceRequest RunwayClient RunwayImageToVideoRequest"
    " RunwayOrganization RunwayTextToVideoRequest RunwayVideoToVideoRequest RunwayVideoUpscaleRequest",
    "sync_client": "KieClient",
    "veo": "Veo4kResult VeoExtendRequest VeoGenerateRequest",
    "webhooks": "compute_signature verify_callback verify_signature",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "CATALOGUE",
    "DEFAULT_BASE_URL",
    "DEFAULT_READ_RETRY",
    "DEFAULT_SUBMIT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "USER_AGENT",
    "AlephGenerateRequest",
    "AsyncKieClient",
    "AsyncRunwayClient",
    "Backoff",
    "CallKind",
    "GrokImagineJobRequest",
    "HailuoJobRequest",
    "JobsCreateTaskRequest",
    "KieClient",
    "KieRequest",
    "KlingJobRequest",
    "LocalFile",
    "MarketInput",
    "MarketJobRequest",
    "PollPolicy",
    "PollTracker",
    "RetryPolicy",
    "RunwayCharacterPerformanceRequest",
    "RunwayClient",
    "RunwayExtendRequest",
    "RunwayGenerateRequest",
    "RunwayImageToVideoRequest",
    "RunwayOrganization",
    "RunwayTextToVideoRequest",
    "RunwayVideoToVideoRequest",
    "RunwayVideoUpscaleRequest",
    "SeedanceJobRequest",
    "Sora2JobRequest",
    "TaskKind",
    "TaskRecord",
    "TaskState",
    "TopazJobRequest",
    "UploadedFile",
    "Veo4kResult",
    "VeoExtendRequest",
    "VeoGenerateRequest",
    "WanJobRequest",
    "compute_signature",
    "family_models",
    "shared_ssl_context",
    "verify_callback",
    "verify_signature",
    *_errors_all,
]
