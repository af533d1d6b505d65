"""Imports that moved between Airflow 3.1 and 3.3, resolved once."""

from __future__ import annotations

try:  # Airflow >= 3.2: the Task SDK owns the exceptions tasks raise.
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
except ImportError:  # pragma: no cover - Airflow 3.1
    from airflow.exceptions import AirflowException, AirflowFailException, TaskDeferred  # type: ignore[no-redef,attr-defined]

__all__ = ["AirflowException", "AirflowFailException", "TaskDeferred"]
