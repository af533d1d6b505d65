"""Checking KIE's signed callbacks.

With a webhook HMAC key set on the KIE account, each callback carries ``X-Webhook-Timestamp`` (unix seconds)
and ``X-Webhook-Signature`` = base64(HMAC-SHA256(key, "<task id>.<timestamp>")). KIE documents no replay
window; we refuse timestamps more than 5 minutes from now by default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from airflow_provider_kie.client.errors import KieSignatureError

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "callback_task_id",
    "compute_signature",
    "verify_callback",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
#: Seconds a callback's timestamp may differ from now (either way, to allow for clock skew).
DEFAULT_TOLERANCE = 300.0


def compute_signature(key: str | bytes, task_id: str, timestamp: str | int) -> str:
    """KIE's signature: base64 of HMAC-SHA256(key, ``"<task id>.<timestamp>"``)."""
    secret = key.encode() if isinstance(key, str) else key
    digest = hmac.new(secret, f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    key: str | bytes,
    task_id: str,
    timestamp: str | int | None,
    signature: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise :class:`KieSignatureError` unless ``signature`` is KIE's for ``task_id`` at a fresh time.

    The comparison runs in constant time, so response timing reveals nothing about the expected value.
    """
    if not signature or timestamp is None or timestamp == "":
        raise KieSignatureError("callback is not signed (missing signature or timestamp header)")
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        raise KieSignatureError(f"callback timestamp is not unix seconds: {str(timestamp)[:32]!r}") from None
    age = (time.time() if now is None else now) - sent_at
    if abs(age) > tolerance:
        raise KieSignatureError(
            f"callback timestamp is {age:.0f} s from now, outside the {tolerance:.0f} s window"
        )
    expected = compute_signature(key, task_id, str(timestamp).strip())
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise KieSignatureError(f"callback signature does not match for task {task_id}")


def callback_task_id(payload: Mapping[str, Any]) -> str | None:
    """The task id in a callback body.

    It sits in ``data.task_id`` (Runway), top-level ``taskId`` (Aleph) or ``data.taskId`` (jobs).
    """
    data = payload.get("data")
    if isinstance(data, Mapping):
        for key in ("task_id", "taskId"):
            if data.get(key):
                return str(data[key])
    if payload.get("taskId"):
        return str(payload["taskId"])
    return None


def verify_callback(
    key: str | bytes,
    headers: Mapping[str, str],
    payload: Mapping[str, Any],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Check a whole callback (headers and parsed JSON body); return its task id when it is genuine."""
    lowered = {k.lower(): v for k, v in headers.items()}
    task_id = callback_task_id(payload)
    if not task_id:
        raise KieSignatureError("callback body has no task id to check the signature against")
    verify_signature(
        key,
        task_id,
        lowered.get(TIMESTAMP_HEADER.lower()),
        lowered.get(SIGNATURE_HEADER.lower()),
        tolerance=tolerance,
        now=now,
    )
    return task_id
