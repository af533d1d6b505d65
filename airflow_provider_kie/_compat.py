"""Imports that moved between Airflow 3.1 and 3.3, resolved once.

The suite runs on the locked Airflow (3.3); these fallbacks keep the provider importable on 3.1/3.2, where
some names lived elsewhere.
"""

from __future__ import annotations

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


__all__ = ["AirflowException", "AirflowFailException", "TaskDeferred", "amask_secret", "conf", "mask_secret"]
