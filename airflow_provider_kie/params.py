"""Checks of rendered operator parameters that are not part of a KIE request."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from airflow.sdk import Param

from airflow_provider_kie._compat import AirflowFailException

__all__ = ["optional_positive_seconds", "poll_interval_param", "positive_seconds", "task_id_from"]

#: What an unset optional number renders to through a template such as ``"{{ params.poll_interval }}"``.
_UNSET_RENDERINGS = ("", "none", "null")


def positive_seconds(name: str, value: Any) -> float:
    """``value`` (possibly a rendered template string) as positive seconds; a clear failure otherwise."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds <= 0:
        raise AirflowFailException(f"{name}: must be a positive number of seconds (got {value!r})")
    return seconds


def optional_positive_seconds(name: str, value: Any) -> float | None:
    """Like :func:`positive_seconds`, but ``None`` - or a template's rendering of it - means unset."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _UNSET_RENDERINGS):
        return None
    return positive_seconds(name, value)


def poll_interval_param() -> Param:
    """A DAG Param for the operators' ``poll_interval``: empty (the default) or a positive number of seconds.

    Pass it on as ``poll_interval="{{ params.poll_interval }}"``: an empty Param renders as ``"None"``, which
    the operators read as unset (the phase-following schedule).
    """
    return Param(
        None,
        type=["null", "number"],
        exclusiveMinimum=0,
        description=(
            "Seconds between KIE status polls; empty (the default) follows the clip's phase at KIE: "
            "every 15 s while it queues, every 9 s once it may finish"
        ),
    )


def task_id_from(source: Any) -> str:
    """The KIE task id in ``source``: an id, an upstream result dict, or that dict rendered to a string.

    A template such as ``"{{ ti.xcom_pull('generate') }}"`` renders the upstream result as a Python or
    JSON literal unless the DAG renders native objects; both forms are accepted.
    """
    if isinstance(source, str) and source.strip().startswith("{"):
        text = source.strip()
        for parse in (json.loads, ast.literal_eval):
            try:
                source = parse(text)
                break
            except (ValueError, SyntaxError):
                continue
    if isinstance(source, Mapping):
        return str(source.get("kie_task_id") or "")
    return str(source or "").strip()
