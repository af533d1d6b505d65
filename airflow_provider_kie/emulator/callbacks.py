"""Delivery of task callbacks, signed like KIE's when a webhook HMAC key is configured.

A dispatcher coroutine runs inside the server's event loop (started by the app's lifespan). It sleeps until
the next task turns terminal or the next retry is due, then POSTs each due callback from its own asyncio task
with a short timeout. Nothing a receiver does (refuse, hang, answer 500, not exist) can reach the request
handlers: every outcome is logged, counted in the stats and, for failures, retried on KIE's schedule (1, 5, 15
min, scaled).

Callback faults (:data:`~airflow_provider_kie.emulator.faults.CALLBACK_FAULT_KINDS`) are decided by the state
when a callback first falls due (drop, delay, duplicate); this module spoils signatures and labels each
attempt with the faults that shaped it, so a test can count exactly what a receiver was sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from airflow_provider_kie.emulator.faults import SKEWED_TIMESTAMP_S, FaultKind, SignatureFault

if TYPE_CHECKING:
    from airflow_provider_kie.emulator.models import CallbackJob
    from airflow_provider_kie.emulator.state import EmulatorState

log = logging.getLogger(__name__)

USER_AGENT = "kie-emulator (airflow-provider-kie; stands in for kie.ai callbacks)"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
# Longest sleep of the dispatcher when nothing is due, and the shortest, so that thousands of tasks finishing
# at nearly the same instant do not turn it into a busy loop.
_MAX_TICK_S = 0.05
_MIN_TICK_S = 0.005
#: Key of ``wrong_key`` signatures, and of every spoiled signature when the account has no key (the emulator
#: then has no right key to misuse). Never a configured key: see :func:`_wrong_key`.
FORGER_KEY = "kie-emulator-forger-key"


def webhook_signature(key: str, task_id: str, timestamp: int) -> str:
    """KIE's callback signature: ``base64(HMAC-SHA256(key, f"{task_id}.{timestamp}"))``."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def callback_headers(key: str | None, task_id: str, *, now: float | None = None) -> dict[str, str]:
    """Headers of one callback POST; the signature pair only when ``key`` is set. The timestamp is real wall
    time (never the emulator's shifted clock) because receivers compare it with their own clock."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if key:
        timestamp = int(time.time() if now is None else now)
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = webhook_signature(key, task_id, timestamp)
    return headers


def _wrong_key(key: str | None) -> str:
    return FORGER_KEY if key != FORGER_KEY else FORGER_KEY + "-2"


def signature_fault_of(job: CallbackJob) -> SignatureFault | None:
    """The signature fault spoiling ``job``, if any."""
    for rule in job.faults or ():
        if rule.kind is FaultKind.CALLBACK_SIGNATURE:
            return rule.signature
    return None


def fault_labels(job: CallbackJob) -> tuple[str, ...]:
    """The callback faults that shape this POST of ``job``, as logged and counted: the delay on a callback's
    first POST (and its copies), ``callback_duplicate`` on the extra copies, ``callback_replay`` on replays,
    ``callback_forged`` on :meth:`EmulatorState.forge_callback` POSTs, and ``callback_signature:<mode>``."""
    kinds = {rule.kind for rule in job.faults or ()}
    labels: list[str] = []
    if job.role == "forged":
        labels.append("callback_forged")
    if job.role == "replay":
        labels.append(FaultKind.CALLBACK_REPLAY.value)
    elif FaultKind.CALLBACK_DELAY in kinds and job.attempt == 1 and job.role != "forged":
        labels.append(FaultKind.CALLBACK_DELAY.value)
    if job.role == "duplicate":
        labels.append(FaultKind.CALLBACK_DUPLICATE.value)
    mode = signature_fault_of(job)
    if mode is not None:
        labels.append(f"{FaultKind.CALLBACK_SIGNATURE.value}:{mode.value}")
    return tuple(labels)


def spoiled_headers(state: EmulatorState, job: CallbackJob, mode: SignatureFault) -> dict[str, str]:
    """Headers of ``job`` spoiled as ``mode`` says (see :class:`SignatureFault`)."""
    key = state.config.webhook_hmac_key
    now = time.time()
    if mode is SignatureFault.UNSIGNED:
        return callback_headers(None, job.task_id)
    if mode is SignatureFault.WRONG_KEY:
        return callback_headers(_wrong_key(key), job.task_id, now=now)
    signing_key = key or FORGER_KEY
    if mode is SignatureFault.STALE:
        return callback_headers(signing_key, job.task_id, now=now - SKEWED_TIMESTAMP_S)
    if mode is SignatureFault.FUTURE:
        return callback_headers(signing_key, job.task_id, now=now + SKEWED_TIMESTAMP_S)
    # OTHER_TASK: a genuine pair copied from another task's callback, else one made for an invented task.
    headers = callback_headers(None, job.task_id)
    borrowed = state.borrowed_signature(job.task_id)
    if borrowed is not None:
        headers[TIMESTAMP_HEADER] = borrowed[TIMESTAMP_HEADER]
        headers[SIGNATURE_HEADER] = borrowed[SIGNATURE_HEADER]
        return headers
    signed = callback_headers(signing_key, f"{job.task_id}-other-task", now=now)
    return {**headers, TIMESTAMP_HEADER: signed[TIMESTAMP_HEADER], SIGNATURE_HEADER: signed[SIGNATURE_HEADER]}


def headers_for(state: EmulatorState, job: CallbackJob) -> dict[str, str]:
    """The headers of this POST: a replay's recorded ones, spoiled ones, or KIE's own (signed when the
    account has a key)."""
    if job.headers is not None:
        return dict(job.headers)
    mode = signature_fault_of(job)
    if mode is not None:
        return spoiled_headers(state, job, mode)
    return callback_headers(state.config.webhook_hmac_key, job.task_id)


async def deliver(client: httpx.AsyncClient, state: EmulatorState, job: CallbackJob) -> None:
    """POST one callback and record the outcome; never raises."""
    config = state.config
    headers = headers_for(state, job)
    faults = fault_labels(job)
    host = urlsplit(job.url).hostname or ""
    allowed = config.callback_allowed_hosts
    if allowed is not None and "*" not in allowed and host not in allowed:
        # Refused without touching the network: the emulator stays offline even for URLs copied from KIE's
        # docs.
        error = f"callback host {host!r} not in callback_allowed_hosts {list(allowed)}; not sent"
        log.info("KIE emulator: %s (task %s)", error, job.task_id)
        state.record_callback_attempt(
            job,
            ok=False,
            status_code=None,
            error=error,
            headers=headers,
            retry=False,
            faults=faults,
            sent=False,
        )
        return
    try:
        response = await client.post(
            job.url, json=job.payload, headers=headers, timeout=config.callback_timeout_s
        )
    except Exception as exc:  # any failure of the receiver must stay the receiver's problem
        log.info("KIE emulator: callback for task %s to %s failed: %r", job.task_id, job.url, exc)
        state.record_callback_attempt(
            job, ok=False, status_code=None, error=repr(exc), headers=headers, retry=True, faults=faults
        )
        return
    ok = 200 <= response.status_code < 300
    if not ok:
        log.info("KIE emulator: callback for task %s answered HTTP %s", job.task_id, response.status_code)
    state.record_callback_attempt(
        job,
        ok=ok,
        status_code=response.status_code,
        error=None if ok else f"HTTP {response.status_code}",
        headers=headers,
        retry=True,
        faults=faults,
    )


async def run_callback_dispatcher(state: EmulatorState) -> None:
    """Deliver callbacks as they fall due, until cancelled (at server shutdown)."""
    in_flight: set[asyncio.Task[None]] = set()
    # trust_env=False: no proxy from the environment may turn a loopback callback into outside traffic.
    client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
    try:
        while True:
            try:
                for job in state.take_due_callbacks():
                    delivery = asyncio.create_task(deliver(client, state, job))
                    in_flight.add(delivery)
                    delivery.add_done_callback(in_flight.discard)
                wait = state.seconds_until_next_callback()
            except Exception:  # a bug here must not stop later callbacks
                log.exception("KIE emulator: callback dispatcher error")
                wait = None
            await asyncio.sleep(_MAX_TICK_S if wait is None else min(max(wait, _MIN_TICK_S), _MAX_TICK_S))
    finally:
        for delivery in in_flight:
            delivery.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        await client.aclose()
