"""Delivery of task callbacks, signed like KIE's when a webhook HMAC key is configured.

A dispatcher coroutine runs inside the server's event loop (started by the app's lifespan). It sleeps until
the next task turns terminal or the next retry is due, then POSTs each due callback from its own asyncio task
with a short timeout. Nothing a receiver does (refuse, hang, answer 500, not exist) can reach the request
handlers: every outcome is logged, counted in the stats and, for failures, retried on KIE's schedule (1, 5, 15
min, scaled).
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


async def deliver(client: httpx.AsyncClient, state: EmulatorState, job: CallbackJob) -> None:
    """POST one callback and record the outcome; never raises."""
    config = state.config
    headers = callback_headers(config.webhook_hmac_key, job.task_id)
    host = urlsplit(job.url).hostname or ""
    allowed = config.callback_allowed_hosts
    if allowed is not None and "*" not in allowed and host not in allowed:
        # Refused without touching the network: the emulator stays offline even for URLs copied from KIE's
        # docs.
        error = f"callback host {host!r} not in callback_allowed_hosts {list(allowed)}; not sent"
        log.info("KIE emulator: %s (task %s)", error, job.task_id)
        state.record_callback_attempt(
            job, ok=False, status_code=None, error=error, headers=headers, retry=False
        )
        return
    try:
        response = await client.post(
            job.url, json=job.payload, headers=headers, timeout=config.callback_timeout_s
        )
    except Exception as exc:  # any failure of the receiver must stay the receiver's problem
        log.info("KIE emulator: callback for task %s to %s failed: %r", job.task_id, job.url, exc)
        state.record_callback_attempt(
            job, ok=False, status_code=None, error=repr(exc), headers=headers, retry=True
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
