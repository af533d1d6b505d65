"""Steps 2 to 4: remember the KIE task id across tries, find it again, and never pay blindly twice.

The id goes to ``task_state_store`` (Airflow >= 3.3: kept across the tries of one task instance) and to XCom
(for the UI and downstream tasks) before any wait, so a try that dies mid-wait leaves its paid clip behind
for the next try to reconnect to, never to pay for again.

**The submit marker** closes the window that remains: between KIE accepting a paid submit and the id being
saved. :func:`submit_marker` writes ``kie_submit_started`` (the try, the time, the host) to the store just
before the paid request; :func:`remember_task` deletes it once the id is saved, and a submit KIE surely did
not act on (it answered with a refusal, or the request never left) deletes it too. A try that finds a
marker nobody resolved (:func:`check_unfinished_submit`) knows an earlier submit may have been paid and
fails clearly instead of paying again, unless ``resubmit_on_unknown_outcome=True`` accepts that risk. KIE
has no idempotency key and no endpoint that lists tasks, so there is nothing to look the clip up by.

How one task instance comes to pay twice, and what the marker does about it (Airflow 3.3, read in its
source: ``execution_api/routes/task_state_store.py``, ``TaskInstance.prepare_db_for_next_try``, the task
supervisor's heartbeat):

* **A try dies between the paid request and saving the id** (killed worker, OOM, an ``execution_timeout``
  or SIGTERM during the request, the API server unreachable when the id is written). Without the marker,
  the next try finds no id and pays again. With it, the next try finds the marker and stops.
* **Two tries run at once.** Airflow starts try N+1 when it decides try N is gone (no heartbeat within
  ``task_instance_heartbeat_timeout``, the executor reporting it failed) while try N's process may still
  run: its supervisor kills it once a heartbeat is refused or keeps failing. Both tries reach the store
  through their task instance id, which Airflow replaces when it prepares try N+1; the store resolves that
  id to the task instance's rows. So the older try's reads find nothing and its writes fail (404), and
  without the marker it would pay and then fail to save the id, leaving try N+1 to pay again. With the
  marker the older try either wrote it before try N+1 existed (try N+1 finds it and stops: one payment)
  or fails to write it (it stops before paying: one payment).
* **What stays open.** The marker cannot tell whether the earlier submit was actually paid: a try that
  stops on it leaves that to the DAG's author (KIE's task history, or ``resubmit_on_unknown_outcome``), and
  the clip the earlier try paid for is not stored. Two processes of the *same* try should never both run
  (the API server's ``run`` call locks the task instance row and refuses a second start); if they did, they
  would share one store, and the later one stops only if the earlier has written its marker by then: the
  store has no compare-and-set, so two that check at the same moment both pay. On Airflow < 3.3 there is
  no store: none of this applies, and a retry after a submit submits again, with a warning (the documented
  fallback).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_kie._compat import AirflowException, AirflowFailException
from airflow_provider_kie.client import (
    KieClient,
    KieError,
    KieSubmitOutcomeUnknownError,
    KieTaskNotFoundError,
    TaskKind,
    TaskRecord,
    TaskState,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kie.hooks.runway import RunwayBackendClient

__all__ = [
    "STATE_STORE_KEY",
    "SUBMIT_MARKER_KEY",
    "TASK_ID_XCOM_KEY",
    "check_unfinished_submit",
    "earlier_task",
    "remember_task",
    "submit_marker",
]

#: task_state_store key holding the KIE task id across tries. Renaming it breaks in-flight retries.
STATE_STORE_KEY = "kie_task_id"
#: task_state_store key written just before a paid submit and deleted once its outcome is known. Renaming it
#: lets a retry of an in-flight task pay without the check.
SUBMIT_MARKER_KEY = "kie_submit_started"
#: XCom key under which the KIE task id is pushed as soon as it is known (before any wait).
TASK_ID_XCOM_KEY = "kie_task_id"


def remember_task(context: Context, task_id: str) -> None:
    """Save ``task_id`` for later tries and push it to XCom (a new try starts with no XComs).

    The id is written before the submit marker is deleted: a try that dies between the two leaves a marker
    that :func:`check_unfinished_submit` recognises as resolved (the saved id is not the one it followed).
    """
    store = context.get("task_state_store")
    if store is not None:
        store.set(STATE_STORE_KEY, task_id)
        store.delete(SUBMIT_MARKER_KEY)
    context["ti"].xcom_push(key=TASK_ID_XCOM_KEY, value=task_id)


def check_unfinished_submit(
    context: Context, task: str, accept_risk: bool, log: logging.Logger | Any
) -> None:
    """Stop before paying when an earlier submit of this task instance may have been paid but saved no id.

    :param task: the Airflow task id, for the message.
    :param accept_risk: ``resubmit_on_unknown_outcome``: warn and let this try submit again.
    :raises AirflowFailException: otherwise (no retry: a later try would find the same marker).
    """
    store = context.get("task_state_store")
    if store is None:
        return
    marker = store.get(SUBMIT_MARKER_KEY)
    if not isinstance(marker, dict):
        return
    if store.get(STATE_STORE_KEY) != marker.get("after_task_id"):
        return  # the id of that submit was saved; only deleting the marker was lost
    family = f"{marker['family']} " if marker.get("family") else ""
    earlier = (
        f"try {marker.get('try_number') or '?'} of this task started a paid KIE {family}submit at "
        f"{marker.get('started_at') or '?'} on {marker.get('host') or '?'} and saved no KIE task id"
    )
    if accept_risk:
        log.warning("%s; resubmit_on_unknown_outcome=True: submitting again (it may pay twice)", earlier)
        return
    raise AirflowFailException(
        f"{task}: {earlier}. KIE may have created, and charged for, that clip: the try ended or lost "
        "Airflow between the paid request and saving the id. Not submitting again, so it is not paid twice. "
        "Look for the clip in your KIE account's task history; to submit anyway, accepting a possible second "
        "payment, set resubmit_on_unknown_outcome=True on the operator or delete this task instance's "
        f"task_state_store key {SUBMIT_MARKER_KEY!r}, then clear the task"
    )


@contextmanager
def submit_marker(context: Context, family: str) -> Iterator[None]:
    """Mark the paid request made inside the ``with`` block as started, for the tries that come after.

    The marker stays when the block may have paid: it raised
    :class:`~airflow_provider_kie.client.KieSubmitOutcomeUnknownError`, or anything but a
    :class:`~airflow_provider_kie.client.KieError` (a timeout or kill mid-request). It is deleted when KIE
    surely created nothing (any other ``KieError``: it answered with a refusal, or the request never left),
    and by :func:`remember_task` once the block returned a task id. The write goes through Airflow before
    the request: a try Airflow has already replaced fails here, before paying.
    """
    store = context.get("task_state_store")
    if store is None:
        yield
        return
    try_number = getattr(context["ti"], "try_number", None)
    store.set(
        SUBMIT_MARKER_KEY,
        {
            "try_number": try_number if isinstance(try_number, int) else None,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "family": family,
            # The id saved when this submit started: a different one later means this submit was remembered.
            "after_task_id": store.get(STATE_STORE_KEY),
        },
    )
    try:
        yield
    except KieSubmitOutcomeUnknownError:
        raise
    except KieError:
        store.delete(SUBMIT_MARKER_KEY)
        raise


def earlier_task(
    context: Context, client: KieClient | RunwayBackendClient, kind: TaskKind, log: logging.Logger | Any
) -> TaskRecord | None:
    """The live or finished task an earlier try of this task instance submitted, if any.

    ``None`` means "submit": no earlier task, KIE does not know it, or it failed (a failed clip cost
    nothing to replace). A task whose fate cannot be read fails this try instead: not knowing whether the
    earlier clip lives is no reason to pay for another.
    """
    store = context.get("task_state_store")
    if store is None:
        try_number = getattr(context["ti"], "try_number", 1)
        if isinstance(try_number, int) and try_number > 1:
            # Airflow < 3.3: a new try starts with no XComs and no store, so nothing says what try 1 did.
            log.warning(
                "This Airflow has no task_state_store (Airflow 3.3 added it): try %d cannot know whether an "
                "earlier try already paid for a clip, so it submits a new one",
                try_number,
            )
        return None
    saved = store.get(STATE_STORE_KEY)
    if not saved:
        return None
    try:
        record = client.get_task(str(saved), kind)
    except KieTaskNotFoundError:
        log.warning("KIE does not know task %s saved by an earlier try; submitting afresh", saved)
        return None
    except KieError as exc:
        raise AirflowException(f"Could not check KIE task {saved} from an earlier try: {exc}") from exc
    if record.state is TaskState.FAILED:
        log.warning("KIE task %s from an earlier try failed (%s); submitting afresh", saved, record.fail_msg)
        return None
    return record
