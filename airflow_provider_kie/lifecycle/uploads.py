"""Where a task's input files go on KIE's upload host: a folder of their own per run, map index and try.

KIE serves an upload at ``<folder>/<file name>``. Two runs of one task (a backfill beside the scheduled run,
or two mapped instances) that uploaded into a shared folder could overwrite each other's file before KIE
fetched it, and one run would animate the other's image.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["upload_folder"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: object, limit: int = 64) -> str:
    return _UNSAFE.sub("_", str(text)).strip("_")[:limit] or "_"


def upload_folder(context: Context, dag_id: str, task_id: str) -> str:
    """``airflow/<dag>/<task>/<run>/<map index>-<try>``; the run id slugged, with a hash against clashes."""
    ti = context["ti"]
    run_id = str(getattr(ti, "run_id", None) or context.get("run_id") or "")
    run = f"{_slug(run_id, 48)}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"
    map_index = getattr(ti, "map_index", -1)
    try_number = getattr(ti, "try_number", 1)
    return f"airflow/{_slug(dag_id)}/{_slug(task_id)}/{run}/{_slug(map_index)}-{_slug(try_number)}"
