"""Reading Runway's answers: plain JSON and HTTP statuses, mapped onto the provider's error tree.

Runway has no envelope: a success is a 2xx with the object itself (``{"id"}`` for a create, the task, the
organisation; ``DELETE`` answers 204 with no body), a refusal a non-2xx with ``{"error": "<explanation>"}``
(https://docs.dev.runwayml.com/api-details/errors). The statuses, by meaning:

=========  ==========================================================  ===============================
status     Runway says                                                 raised as
=========  ==========================================================  ===============================
400        a problem with an input; never retry                        KieBadRequestError, or
                                                                       KieInsufficientCreditsError for
                                                                       "not enough credits" (sdk-node
                                                                       issue 28)
401        the key is not valid                                        KieAuthError
404        no such resource (an unknown, deleted or aborted task)      KieTaskNotFoundError on
                                                                       /v1/tasks, else KieNotFoundError
429        too many requests; the daily generation limit reached       KieRateLimitError (busy: nothing
                                                                       was created, safe to resend)
502-504    shedding load / overloaded                                  KieServerError
=========  ==========================================================  ===============================

Runway marks 502-504 "may retry", and they are, for reads. A create is different: a 5xx (or a timeout, or a
2xx whose body cannot be read) does not prove that no task was created, so the shared retry rules
(:mod:`airflow_provider_kie.client.retry`) raise :class:`KieSubmitOutcomeUnknownError` instead of paying
twice. Runway documents no idempotency key to make a resend safe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from airflow_provider_kie.client.envelope import body_excerpt, json_body
from airflow_provider_kie.client.errors import (
    KieAPIError,
    KieInsufficientCreditsError,
    KieResponseError,
    KieServerError,
    KieTaskNotFoundError,
    api_error_for_code,
)
from airflow_provider_kie.client.retry import parse_retry_after

__all__ = [
    "DEFAULT_RUNWAY_API_VERSION",
    "DEFAULT_RUNWAY_BASE_URL",
    "SERVICE",
    "decode_response",
]

SERVICE = "Runway API"
DEFAULT_RUNWAY_BASE_URL = "https://api.dev.runwayml.com"
#: The API version every request names in ``X-Runway-Version`` (the runwayml SDK's default); Runway keeps
#: an old version for four months after a new one (https://docs.dev.runwayml.com/api-details/versioning/).
DEFAULT_RUNWAY_API_VERSION = "2024-11-06"
#: Runway's refusal of a create the organisation cannot pay for, as its API words it
#: (https://github.com/runwayml/sdk-node/issues/28: "You do not have enough credits to run this task.").
_CREDITS_MARKER = "enough credits"
TASKS_PREFIX = "/v1/tasks/"


def _message(body: Any) -> str | None:
    """The human-readable reason of a refusal: ``error`` (a string, or an object with ``message``), then
    any ``issues`` (field, message) Runway lists with it."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    parts = [str(error)] if isinstance(error, str) and error.strip() else []
    issues = body.get("issues")
    if isinstance(issues, list):
        for issue in issues[:5]:
            if isinstance(issue, dict) and issue.get("message"):
                path = issue.get("path")
                where = ".".join(str(p) for p in path) if isinstance(path, list) else ""
                parts.append(f"{where}: {issue['message']}" if where else str(issue["message"]))
    return "; ".join(parts) or None


def api_error(response: httpx.Response, endpoint: str, redact: Callable[[str], str]) -> KieAPIError:
    """The error that a non-2xx Runway answer stands for."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    body, _ = json_body(response)
    message = _message(body)
    if message is None:
        message = body_excerpt(response.text, redact) if response.content else response.reason_phrase
    message = redact(message)
    common: dict[str, Any] = {
        "code": status,
        "http_status": status,
        "endpoint": endpoint,
        "retry_after": retry_after,
        "data": body,
        "service": SERVICE,
    }
    if status == 400 and _CREDITS_MARKER in message.lower():
        return KieInsufficientCreditsError(message, **common)
    if status == 404 and endpoint.startswith(TASKS_PREFIX):
        # Runway: an aborted or deleted task "will not be able to be fetched again" (SDK tasks.delete).
        return KieTaskNotFoundError(message, **common)
    if status >= 500:
        # Whatever the number: a proxy's 501 before a create must read as an unknown outcome, not a refusal.
        return KieServerError(message, **common)
    return api_error_for_code(
        status,
        message,
        http_status=status,
        endpoint=endpoint,
        retry_after=retry_after,
        data=body,
        service=SERVICE,
    )


def decode_response(response: httpx.Response, endpoint: str, redact: Callable[[str], str]) -> Any:
    """The decoded JSON of a 2xx answer (``None`` for an empty one, like ``DELETE``'s 204), or raise.

    :raises KieAPIError: a non-2xx answer (see the module docstring).
    :raises KieResponseError: a 2xx answer that is not JSON.
    """
    if not 200 <= response.status_code < 300:
        raise api_error(response, endpoint, redact)
    body, readable = json_body(response)
    if not readable:
        raise KieResponseError(
            "a body that is not JSON",
            http_status=response.status_code,
            endpoint=endpoint,
            body_excerpt=body_excerpt(response.text, redact),
            not_json=True,
            service=SERVICE,
        )
    return body
