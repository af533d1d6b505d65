"""The exceptions the provider's operators and sensor raise into Airflow.

Each one ends a task try and carries the client error that caused it as ``__cause__`` (the client's tree,
:mod:`airflow_provider_kie.client.errors`, says what failed: no answer, KIE refused, task failed, timed out,
could not store). Names end in ``Exception``, as Airflow's own do, so none shadows a client ``...Error``.

Airflow retries all of these per the task's ``retries``: a retry reconnects to the KIE task an earlier try
submitted (durable resume) rather than paying for a new one, except after :class:`KieClipFailedException`,
when the clip is gone and a new submit is the only way forward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kie._compat import AirflowException

__all__ = ["KieClipFailedException", "KieClipUnavailableException", "KieWaitException"]


class KieClipFailedException(AirflowException):
    """KIE reports the task as failed. Carries KIE's ``fail_code`` and ``fail_msg``."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.kie_task_id = str(record.get("task_id"))
        self.fail_code = record.get("fail_code")
        self.fail_msg = record.get("fail_msg")
        super().__init__(
            f"KIE task {self.kie_task_id} failed: {self.fail_msg or 'no reason given'} "
            f"(failCode={self.fail_code})"
        )


class KieWaitException(AirflowException):
    """Waiting for the task ended without an outcome: a timeout, or an error polling KIE."""


class KieClipUnavailableException(AirflowException):
    """The task succeeded but its media cannot be stored (expired, no URL, or the download failed)."""
