"""Decoding KIE's ``{"code", "msg", "data"}`` envelope.

KIE's body ``code`` is the real status and often arrives under HTTP 200, while some errors (429 above all)
also set the HTTP status. A response is an error when either says so; the body code wins when both exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from airflow_provider_kie.client.errors import KieResponseError, KieServerError, api_error_for_code
from airflow_provider_kie.client.retry import parse_retry_after

__all__ = ["EXCERPT_LENGTH", "body_excerpt", "decode_envelope", "json_body"]

#: How much of an unreadable body goes into an error message.
EXCERPT_LENGTH = 200


def body_excerpt(text: str, redact: Callable[[str], str]) -> str:
    """The start of a body, redacted and flattened onto one line, for an error message."""
    excerpt = " ".join(text[: EXCERPT_LENGTH * 2].split())
    return redact(excerpt)[:EXCERPT_LENGTH]


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def json_body(response: httpx.Response) -> tuple[Any, bool]:
    """The decoded JSON of a response's body (``None`` for an empty one), and whether it could be decoded
    (``(None, False)`` when not): shared by KIE's envelope and Runway's plain answers."""
    try:
        return (json.loads(response.content) if response.content else None), True
    except (ValueError, UnicodeDecodeError):
        return None, False


def decode_envelope(response: httpx.Response, endpoint: str, redact: Callable[[str], str]) -> Any:
    """Return the envelope's ``data``, or raise the error that the response stands for.

    :param response: a fully read response.
    :param endpoint: the path called, for messages.
    :param redact: removes secrets (the API key) from any body text quoted in an error.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    body, readable = json_body(response)

    code = _code(body.get("code")) if isinstance(body, dict) else None
    if code is None:
        if status != 200:
            # A proxy's HTML error page, or an envelope without a code: the HTTP status is all we have, and
            # it speaks HTTP. A 5xx is a server error whatever its number: KIE's own 501 ("generation
            # failed") and 505 ("feature disabled") come in its body, and a proxy's "501 Not Implemented"
            # before a submit must read as an unknown outcome, not as a failed generation.
            msg = body_excerpt(response.text, redact) if response.content else response.reason_phrase
            if status >= 500:
                raise KieServerError(
                    msg, code=status, http_status=status, endpoint=endpoint, retry_after=retry_after
                )
            raise api_error_for_code(
                status, msg, http_status=status, endpoint=endpoint, retry_after=retry_after
            )
        problem = "a body that is not JSON" if not readable else "JSON without the code/msg/data envelope"
        raise KieResponseError(
            problem,
            http_status=status,
            endpoint=endpoint,
            body_excerpt=body_excerpt(response.text, redact),
            not_json=not readable,
        )

    assert isinstance(body, dict)
    msg = redact(str(body.get("msg") or ""))
    data = body.get("data")
    if code != 200:
        raise api_error_for_code(
            code, msg, http_status=status, endpoint=endpoint, retry_after=retry_after, data=data
        )
    if not 200 <= status < 300:
        raise api_error_for_code(
            status, msg, http_status=status, endpoint=endpoint, retry_after=retry_after, data=data
        )
    # The upload host adds ``success``; false there is a refusal even under code 200. Treated as a bad
    # request (not retried): the known causes (file type, size, path) do not go away by resending.
    if body.get("success") is False:
        raise api_error_for_code(
            400, msg or "upload reported success=false", http_status=status, endpoint=endpoint
        )
    return data
