"""Imports that moved between Airflow 3.1 and 3.3, resolved once.

``make test`` runs the suite on Airflow 3.1, 3.2 and 3.3; these fallbacks keep the provider working on
3.1/3.2, where some names lived elsewhere.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

try:  # Airflow >= 3.2: the Task SDK owns the exceptions tasks raise.
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
except ImportError:  # pragma: no cover - Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowFailException,
        TaskDeferred,
    )

try:
    from airflow.sdk import conf
except ImportError:  # pragma: no cover - Airflow 3.1
    from airflow.configuration import conf  # type: ignore[assignment]


def _find_mask_secret() -> Callable[..., Any]:
    try:
        from airflow.sdk.log import mask_secret

        return mask_secret
    except ImportError:  # pragma: no cover - Airflow 3.1
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]

        return mask_secret


def mask_secret(secret: str) -> None:
    """Register ``secret`` with Airflow's secret masker (task logs, rendered fields, the supervisor)."""
    _find_mask_secret()(secret)


async def amask_secret(secret: str) -> None:
    """:func:`mask_secret` for the event loop: Airflow >= 3.2 has an async variant that does not block."""
    try:
        from airflow.sdk.log import amask_secret as masker
    except ImportError:  # pragma: no cover - Airflow < 3.2
        mask_secret(secret)
    else:
        await masker(secret)


#: Airflow 3.3 keeps a ``task_state_store`` across a task's tries (durable resume); 3.1 and 3.2 have none,
#: and a retry after a submit submits afresh (README, "What happens in one task").
HAS_TASK_STATE_STORE = importlib.util.find_spec("airflow.models.task_state_store") is not None

__all__ = [
    "HAS_TASK_STATE_STORE",
    "AirflowException",
    "AirflowFailException",
    "TaskDeferred",
    "amask_secret",
    "conf",
    "mask_secret",
]
