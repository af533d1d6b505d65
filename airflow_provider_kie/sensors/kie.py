"""``KieTaskSensor``: wait for a KIE task that was submitted elsewhere, then store its media."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_kie._compat import conf
from airflow_provider_kie.client import KieError, KieTaskNotFoundError, TaskKind, TaskRecord
from airflow_provider_kie.exceptions import KieWaitException
from airflow_provider_kie.hooks.kie import KieHook
from airflow_provider_kie.lifecycle.completion import finish_clip, record_from_event
from airflow_provider_kie.lifecycle.results import ClipResult
from airflow_provider_kie.links import KieVideoLink
from airflow_provider_kie.params import optional_positive_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

__all__ = ["KieTaskSensor"]


class KieTaskSensor(BaseSensorOperator):
    """Wait for a KIE task of any family to finish; store its media (every result file) and cover.

    :param kie_task_id: the KIE task to wait for, e.g. from an upstream XCom (templated).
    :param kind: the API family that reads it: ``runway`` (Runway generate and extend), ``aleph``,
        ``jobs`` (any Market model: Kling, Sora 2, Wan...) or ``veo`` (Veo 3.1 generate and extend).
    :param kie_conn_id: the ``kie`` connection.
    :param output_dir: where to store the MP4 and cover (path string or ObjectStoragePath, templated);
        ``None`` stores nothing.
    :param output_name: file name stem; the KIE task id by default (templated).
    :param deferrable: wait in the triggerer. Defaults to ``[operators] default_deferrable``.
    :param poll_interval: mean seconds between polls when deferred (``poke_interval`` applies in poke mode);
        templated. ``None`` (the default) follows the task's phase at KIE, as the operators do.

    ``timeout`` (seconds, from ``BaseSensorOperator``) bounds the wait in both modes. A task that fails at
    KIE fails the sensor with KIE's reason, whatever ``soft_fail`` says about timeouts.
    """

    template_fields: Sequence[str] = (
        "kie_task_id",
        "output_dir",
        "output_name",
        "kie_conn_id",
        "poll_interval",
    )
    operator_extra_links = (KieVideoLink(),)
    ui_color = "#f3e8ff"

    def __init__(
        self,
        *,
        kie_task_id: str,
        kind: str = TaskKind.RUNWAY.value,
        kie_conn_id: str = KieHook.default_conn_name,
        output_dir: str | ObjectStoragePath | None = None,
        output_name: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kie_task_id = kie_task_id
        self.kind = TaskKind(kind)
        self.kie_conn_id = kie_conn_id
        self.output_dir = output_dir
        self.output_name = output_name
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    @cached_property
    def hook(self) -> KieHook:
        return KieHook(self.kie_conn_id)

    def _check_task_id(self) -> str:
        task_id = str(self.kie_task_id or "").strip()
        if not task_id:
            from airflow_provider_kie._compat import AirflowFailException

            raise AirflowFailException("kie_task_id: must be a KIE task id (got an empty value)")
        return task_id

    def execute(self, context: Context) -> Any:
        task_id = self._check_task_id()
        poll_seconds = optional_positive_seconds("poll_interval", self.poll_interval)
        if not self.deferrable:
            return super().execute(context)
        # One look first: a task that already ended needs no trigger.
        record = self._poll(task_id)
        if record is not None and record.is_terminal:
            return self._complete(context, record)
        # Imported here: the trigger module (and airflow.triggers) is only needed once a task defers, not
        # each time a DAG file that uses this sensor is parsed.
        from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

        self.defer(
            trigger=RunwayTaskTrigger(
                kie_task_id=task_id,
                kind=self.kind.value,
                kie_conn_id=self.kie_conn_id,
                poll_interval=poll_seconds,
                deadline=time.time() + float(self.timeout),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 300),
        )

    def _poll(self, task_id: str) -> TaskRecord | None:
        try:
            record = self.hook.get_conn().get_task(task_id, self.kind)
        except KieTaskNotFoundError:
            self.log.info("KIE does not know task %s yet", task_id)
            return None
        except KieError as exc:
            if not exc.retryable:
                raise KieWaitException(f"Checking KIE task {task_id} failed: {exc}") from exc
            self.log.warning("Checking KIE task %s failed (%s); will try again", task_id, exc)
            return None
        self.log.info("KIE task %s is %s (%s)", task_id, record.state.value, record.raw_state)
        return record

    def poke(self, context: Context) -> PokeReturnValue | bool:
        record = self._poll(self._check_task_id())
        if record is None or not record.is_terminal:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._complete(context, record))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> ClipResult:
        """Deferral callback: store the clip, or fail with KIE's reason."""
        return self._complete(context, record_from_event(event))

    def _complete(self, context: Context, record: TaskRecord) -> ClipResult:
        return finish_clip(context, self, self.hook, record)
