"""The callback receiver: a FastAPI app the provider's plugin serves inside the Airflow api-server.

``POST /kie/callbacks/<conn_id>?dag_id=..&run_id=..&task_id=..&map_index=..`` (the URL
:func:`~airflow_provider_kie.callbacks.urls.callback_url` builds). Airflow does not authenticate plugin
routes, so this route trusts nothing it is sent:

* It never passes a callback's body on. It records only "task X called back" in the journal
  (:mod:`.journal`); the waiting trigger then reads KIE's record, the truth, once. An unsigned or forged
  callback that gets through can at most cause one free status read, never a wrong completion.
* It refuses, in this order, each with its own status code, a WARNING log line naming only the reason and
  the KIE task id, and a counter (``GET /kie/callbacks/_stats``):

  ====  =================  ================================================================================
  404   ``not_enabled``    the connection does not exist, is not of type ``kie``, or has no
                           ``callback_base_url`` (callbacks are off for it)
  413   ``too_large``      the body is over 64 KiB (KIE's callbacks are about 1 KiB)
  400   ``bad_json``       the body is not a JSON object
  400   ``no_task_id``     the body has no task id where KIE puts it, or one that is not an id
  401   ``unsigned``       the connection has a ``webhook_secret`` and a signature header is missing
  401   ``bad_signature``  the signature is not KIE's for the body's task id (a forgery, another task's
                           signature, a timestamp that is not unix seconds)
  401   ``stale``          the signature is right but its timestamp is more than 5 min from now (a replay)
  404   ``unknown_wait``   the task instance the query names does not exist, or the KIE task id it pushed to
                           XCom (``kie_task_id``) is not the callback's
  503   ``store_error``    the metadata database failed; KIE retries later
  ====  =================  ================================================================================

  Every signature failure is 401 (not 403): the request failed to prove it comes from KIE, which is
  authentication; nothing here is "authenticated but not allowed". A refused callback is retried by KIE
  (1, 5 and 15 min later), which is harmless.
* An accepted callback, and a duplicate (KIE's retry, a replay of a genuine one), answer 200
  ``{"ok": true}`` so that KIE stops retrying; a duplicate does not change the journal.

Nothing of the body, and no header value, is ever logged or echoed; the webhook secret is only handed to
the HMAC and never appears in a log record, an exception text or a response.

The journal is written with one row-locked read-modify-write of the ``kie_callbacks`` Variable
(``SELECT ... FOR UPDATE`` through Airflow's ORM, in the api-server, which has database access); the first
insert of the row races with other api-server workers and is retried when it loses. The signature check is
:mod:`airflow_provider_kie.client.webhooks`, shared with everything else that checks KIE's callbacks.

The counters are per api-server process (one per worker).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_kie.callbacks import journal
from airflow_provider_kie.callbacks.urls import (
    CALLBACK_ROUTE,
    CallbackTarget,
    callback_base_url,
    target_from_query,
    webhook_secret,
)
from airflow_provider_kie.client.errors import KieSignatureError
from airflow_provider_kie.client.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    callback_task_id,
    verify_callback,
)

__all__ = [
    "MAX_BODY_BYTES",
    "REASONS",
    "STATS",
    "app",
    "record_callback",
]

log = logging.getLogger(__name__)

#: Largest body accepted. KIE's callbacks are about 1 KiB; anything near this is not KIE.
MAX_BODY_BYTES = 64 * 1024
#: XCom key the operators push the KIE task id under (lifecycle.durable.TASK_ID_XCOM_KEY; not imported,
#: to keep the operators' import chain out of the api-server).
TASK_ID_XCOM_KEY = "kie_task_id"

#: Refusal reasons and their status codes (module docstring).
REASONS: dict[str, int] = {
    "not_enabled": 404,
    "too_large": 413,
    "bad_json": 400,
    "no_task_id": 400,
    "unsigned": 401,
    "bad_signature": 401,
    "stale": 401,
    "unknown_wait": 404,
    "store_error": 503,
}
_MESSAGES = {
    "not_enabled": "callbacks not enabled for this connection",
    "too_large": f"callback body over {MAX_BODY_BYTES} bytes",
    "bad_json": "callback body is not a JSON object",
    "no_task_id": "callback body has no valid task id",
    "unsigned": "callback is not signed (missing signature or timestamp header)",
    "bad_signature": "callback signature does not match",
    "stale": "callback timestamp is outside the accepted window",
    "unknown_wait": "no wait knows this task",
    "store_error": "callback could not be recorded; retry later",
}

_JOURNAL_DESCRIPTION = (
    "KIE callbacks received in the last 30 min (airflow-provider-kie). Written by the callback receiver, "
    "read by waiting triggers; deleting it only delays waits to their safety-net poll."
)

#: What this process has received: ``accepted``, ``duplicate`` and ``refused.<reason>`` counts.
STATS: Counter[str] = Counter()

# KIE task ids are hex or UUIDs. Anything else is refused before it reaches a log line or the journal, so
# an attacker cannot write arbitrary text into either.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")

app = FastAPI(
    title="KIE callbacks",
    description="Receives KIE's task callbacks and wakes the Airflow waits they concern.",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


@dataclass(frozen=True)
class _Settings:
    """What a connection says about callbacks. ``repr`` hides the secret."""

    base_url: str
    secret: str | None

    def __repr__(self) -> str:
        return f"_Settings(base_url={self.base_url!r}, secret={'***' if self.secret else None})"


def _safe(value: str | None) -> str:
    """``value`` for a log line when it looks like an id, else a placeholder (no attacker text in logs)."""
    return value if value and _ID.fullmatch(value) else "-"


def _callback_settings(conn_id: str) -> _Settings | None:
    """The connection's callback settings; ``None`` when callbacks are off for it (or it does not exist)."""
    # Re-exported there from the Task SDK on 3.2+, defined there on 3.1: the class get_connection_from_secrets
    # raises on every version.
    from airflow.exceptions import AirflowNotFoundException  # type: ignore[attr-defined]
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None
    if conn.conn_type != "kie":
        return None
    extra = conn.extra_dejson or {}
    base_url = callback_base_url(extra)
    if base_url is None:
        return None
    return _Settings(base_url=base_url, secret=webhook_secret(extra))


def _pushed_task_id(target: CallbackTarget) -> str | None:
    """The KIE task id the named task instance pushed to XCom; ``None`` if it or the XCom does not exist."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    where = (
        ("dag_id", target.dag_id),
        ("run_id", target.run_id),
        ("task_id", target.task_id),
        ("map_index", target.map_index),
    )
    with create_session(scoped=False) as session:
        ti = session.scalar(
            select(TaskInstance.task_id).where(*(getattr(TaskInstance, c) == v for c, v in where)).limit(1)
        )
        if ti is None:
            return None
        row = session.scalars(
            select(XComModel)
            .where(*(getattr(XComModel, c) == v for c, v in where))
            .where(XComModel.key == TASK_ID_XCOM_KEY)
            .limit(1)
        ).first()
        if row is None:
            return None
        value = XComModel.deserialize_value(row)
    return value if isinstance(value, str) else None


def record_callback(kie_task_id: str, now: float | None = None, *, attempts: int = 3) -> bool:
    """Add ``kie_task_id`` to the journal under a row lock; returns whether it was new.

    Runs in the api-server (it needs the metadata database). The Variable row is read ``FOR UPDATE``, so
    concurrent callbacks (other api-server workers) queue on it instead of losing each other's lines. When
    the row does not exist yet, two first callbacks may both insert; the loser's unique-key error is
    retried, and then finds the row to lock.
    """
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    at = time.time() if now is None else now
    for attempt in range(1, attempts + 1):
        try:
            with create_session(scoped=False) as session:
                row = session.scalars(
                    select(Variable).where(Variable.key == journal.JOURNAL_VARIABLE).with_for_update()
                ).one_or_none()
                entries = journal.parse(row.val if row is not None else None)
                updated, is_new = journal.add(entries, kie_task_id, at)
                if row is None:
                    session.add(
                        Variable(  # type: ignore[no-untyped-call]
                            key=journal.JOURNAL_VARIABLE,
                            val=journal.dump(updated),
                            description=_JOURNAL_DESCRIPTION,
                        )
                    )
                elif is_new:
                    row.val = journal.dump(updated)
            return is_new
        except IntegrityError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _refuse(reason: str, conn_id: str, kie_task_id: str | None = None) -> JSONResponse:
    STATS[f"refused.{reason}"] += 1
    log.warning(
        "KIE callback refused (%s, HTTP %d): kie_task_id=%s conn_id=%s",
        reason,
        REASONS[reason],
        _safe(kie_task_id),
        _safe(conn_id),
    )
    return JSONResponse(
        {"ok": False, "reason": reason, "detail": _MESSAGES[reason]}, status_code=REASONS[reason]
    )


async def _read_body(request: Request) -> bytes | None:
    """The body, or ``None`` when it is over :data:`MAX_BODY_BYTES` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _signature_problem(secret: str, headers: dict[str, str], payload: dict[str, Any]) -> str | None:
    if not headers.get(SIGNATURE_HEADER.lower()) or not headers.get(TIMESTAMP_HEADER.lower()):
        return "unsigned"
    # Checked twice so the counters can tell a forgery from a replay: first the HMAC alone (any time),
    # then the time window. Both are client/webhooks.py's checks; two HMACs cost microseconds.
    try:
        verify_callback(secret, headers, payload, tolerance=math.inf)
    except KieSignatureError:
        return "bad_signature"
    try:
        verify_callback(secret, headers, payload)
    except KieSignatureError:
        return "stale"
    return None


@app.get("/callbacks/_stats")
async def callback_stats() -> dict[str, Any]:
    """This process's counts of accepted, duplicate and refused callbacks (refusals by reason)."""
    refused = {
        key.removeprefix("refused."): n for key, n in sorted(STATS.items()) if key.startswith("refused.")
    }
    return {"accepted": STATS["accepted"], "duplicate": STATS["duplicate"], "refused": refused}


@app.post(CALLBACK_ROUTE)
async def receive_callback(conn_id: str, request: Request) -> JSONResponse:
    """Check one KIE callback and, when it is genuine and a wait knows its task, record it."""
    import json

    try:
        settings = await run_in_threadpool(_callback_settings, conn_id)
    except Exception as exc:  # a secrets backend or the database failing: KIE may retry
        log.error("KIE callback: looking up connection %s failed (%s)", _safe(conn_id), type(exc).__name__)
        return _refuse("store_error", conn_id)
    if settings is None:
        return _refuse("not_enabled", conn_id)

    body = await _read_body(request)
    if body is None:
        return _refuse("too_large", conn_id)
    try:
        payload = json.loads(body)
    except ValueError:
        return _refuse("bad_json", conn_id)
    if not isinstance(payload, dict):
        return _refuse("bad_json", conn_id)
    kie_task_id = callback_task_id(payload)
    if not kie_task_id or not _ID.fullmatch(kie_task_id):
        return _refuse("no_task_id", conn_id)

    if settings.secret:
        headers = {key.lower(): value for key, value in request.headers.items()}
        problem = _signature_problem(settings.secret, headers, payload)
        if problem:
            return _refuse(problem, conn_id, kie_task_id)

    target = target_from_query(conn_id, dict(request.query_params))
    if target is None:
        return _refuse("unknown_wait", conn_id, kie_task_id)
    return await _accept(target, kie_task_id)


async def _accept(target: CallbackTarget, kie_task_id: str) -> JSONResponse:
    outcome: Literal["unknown", "new", "duplicate"]
    try:
        pushed = await run_in_threadpool(_pushed_task_id, target)
        if pushed != kie_task_id:
            outcome = "unknown"
        else:
            outcome = "new" if await run_in_threadpool(record_callback, kie_task_id) else "duplicate"
    except Exception as exc:
        log.error("KIE callback for task %s not recorded: %s", kie_task_id, type(exc).__name__)
        log.debug("KIE callback store failure", exc_info=True)
        return _refuse("store_error", target.conn_id, kie_task_id)
    if outcome == "unknown":
        return _refuse("unknown_wait", target.conn_id, kie_task_id)
    STATS["accepted" if outcome == "new" else "duplicate"] += 1
    log.info(
        "KIE callback %s for task %s (dag_id=%s run_id=%s task_id=%s map_index=%d)",
        "recorded" if outcome == "new" else "already recorded",
        kie_task_id,
        target.dag_id,
        target.run_id,
        target.task_id,
        target.map_index,
    )
    return JSONResponse({"ok": True})
