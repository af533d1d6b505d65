"""Steps 2 and 4: remember the KIE task id across tries, and find it again.

The id goes to ``task_state_store`` (Airflow >= 3.3: kept across the tries of one task instance) and to XCom
(for the UI and downstream tasks) before any wait, so a try that dies mid-wait leaves its paid clip behind
for the next try to reconnect to, never to pay for again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_kie._compat import AirflowException
from airflow_provider_kie.client import (
    KieClient,
    KieError,
    KieTaskNotFoundError,
    TaskKind,
    TaskRecord,
    TaskState,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["STATE_STORE_KEY", "TASK_ID_XCOM_KEY", "earlier_task", "remember_task"]

#: task_state_store key holding the KIE task id across tries. Renaming it breaks in-flight retries.
STATE_STORE_KEY = "kie_task_id"
#: XCom key under which the KIE task id is pushed as soon as it is known (before any wait).
TASK_ID_XCOM_KEY = "kie_task_id"


def remember_task(context: Context, task_id: str) -> None:
    """Save ``task_id`` for later tries and push it to XCom (a new try starts with no XComs)."""
    store = context.get("task_state_store")
    if store is not None:
        store.set(STATE_STORE_KEY, task_id)
    context["ti"].xcom_push(key=TASK_ID_XCOM_KEY, value=task_id)


def earlier_task(
    context: Context, client: KieClient, kind: TaskKind, log: logging.Logger | Any
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
