"""``KieTaskSensor``: wait for a KIE task (or a Runway API task) submitted elsewhere, then store its media."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_kie._compat import AirflowFailException, conf
from airflow_provider_kie.client import KieError, KieTaskNotFoundError, TaskKind, TaskRecord
from airflow_provider_kie.exceptions import KieWaitException
from airflow_provider_kie.hooks.kie import KieHook
from airflow_provider_kie.hooks.runway import GenerationHook, RunwayHook, generation_hook
from airflow_provider_kie.lifecycle.completion import finish_clip, is_partial_event, record_from_event
from airflow_provider_kie.lifecycle.results import ClipResult
from airflow_provider_kie.lineage import KieLineageMixin
from airflow_provider_kie.links import KieVideoLink
from airflow_provider_kie.params import optional_positive_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

__all__ = ["KieTaskSensor"]


class KieTaskSensor(KieLineageMixin, BaseSensorOperator):
    """Wait for a KIE task of any family, or a task of Runway's own API, to finish; store its media (every
    result file) and cover.

    :param kie_task_id: the task to wait for, e.g. from an upstream XCom (templated).
    :param kind: the API family that reads it: ``runway`` (Runway generate and extend), ``aleph``,
        ``jobs`` (any Market model: Kling, Sora 2, Wan...) or ``veo`` (Veo 3.1 generate and extend) on a
        ``kie`` connection; ``runway_api`` (Runway's own API) on a ``runway`` connection. ``None`` (the
        default) is ``runway`` on a ``kie`` connection and ``runway_api`` on a ``runway`` one.
    :param kie_conn_id: the ``kie`` connection, or a ``runway`` one for Runway API tasks.
    :param output_dir: where to store the MP4 and cover (path string or ObjectStoragePath, templated);
        ``None`` stores nothing.
    :param output_name: file name stem; the KIE task id by default (templated).
    :param deferrable: wait in the triggerer. Defaults to ``[operators] default_deferrable``.
    :param poll_interval: mean seconds between polls when deferred (``poke_interval`` applies in poke mode);
        templated. ``None`` (the default) follows the task's phase at KIE, as the operators do.
    :param callbacks: the task was submitted with the provider's callback URL, so its callback wakes the
        deferred wait (then only a slow safety-net poll runs). ``None`` (the default): when the ``kie``
        connection sets ``callback_base_url``, as the provider's operators then submit with it. Set ``False``
        for a task submitted elsewhere without that URL (its wait then polls as usual).

    ``timeout`` (seconds, from ``BaseSensorOperator``) bounds the wait in both modes. A task that fails at
    KIE fails the sensor with KIE's reason, whatever ``soft_fail`` says about timeouts. The sensor never
    cancels the task it watches, on either backend: someone else submitted it (``THROTTLED`` on Runway's
    API is a wait, like KIE's queue).
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
        kind: str | None = None,
        kie_conn_id: str = KieHook.default_conn_name,
        output_dir: str | ObjectStoragePath | None = None,
        output_name: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | str | None = None,
        callbacks: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.callbacks = callbacks
        self.kie_task_id = kie_task_id
        # Checked here, so a misspelt kind fails when the DAG is parsed; the default is resolved against
        # the connection's type when the task runs (a connection lookup does not belong in parsing).
        self._kind = TaskKind(kind) if kind is not None else None
        self.kie_conn_id = kie_conn_id
        self.output_dir = output_dir
        self.output_name = output_name
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    @cached_property
    def hook(self) -> GenerationHook:
        """KIE's hook, or Runway's API's on a ``runway`` connection (a blocking lookup: worker only)."""
        return generation_hook(self.kie_conn_id)

    @cached_property
    def kind(self) -> TaskKind:
        """The API family the task is read from; checked against the connection's backend."""
        on_runway_api = isinstance(self.hook, RunwayHook)
        kind = self._kind or (TaskKind.RUNWAY_API if on_runway_api else TaskKind.RUNWAY)
        if on_runway_api and kind is not TaskKind.RUNWAY_API:
            raise AirflowFailException(
                f"kind: {kind.value!r} is a KIE task family, but connection {self.kie_conn_id!r} is of type "
                "runway (Runway's own API), which reads runway_api tasks only: use kind='runway_api', or a "
                "kie connection"
            )
        if not on_runway_api and kind is TaskKind.RUNWAY_API:
            raise AirflowFailException(
                f"kind: 'runway_api' tasks are read from Runway's own API: connection {self.kie_conn_id!r} "
                "must be of type runway"
            )
        return kind

    def _callbacks_wake_wait(self, kind: TaskKind) -> bool:
        if kind is TaskKind.RUNWAY_API:  # Runway's own API sends no callbacks
            return False
        if self.callbacks is not None:
            return bool(self.callbacks)
        base_url = getattr(self.hook.settings, "callback_base_url", None)
        return isinstance(base_url, str) and bool(base_url)

    def _check_task_id(self) -> str:
        task_id = str(self.kie_task_id or "").strip()
        if not task_id:
            raise AirflowFailException("kie_task_id: must be a task id (got an empty value)")
        return task_id

    def execute(self, context: Context) -> Any:
        task_id = self._check_task_id()
        poll_seconds = optional_positive_seconds("poll_interval", self.poll_interval)
        kind = self.kind  # before any request: a kind the connection cannot read fails here
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
                kind=kind.value,
                kie_conn_id=self.kie_conn_id,
                poll_interval=poll_seconds,
                deadline=time.time() + float(self.timeout),
                # The sensor watches a task someone else submitted: never cancel it (the trigger's default).
                cancel_on_kill=False,
                callbacks=self._callbacks_wake_wait(kind),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 300),
        )

    def _poll(self, task_id: str) -> TaskRecord | None:
        try:
            record = self.hook.get_conn().get_task(task_id, self.kind)
        except KieTaskNotFoundError:
            self.log.info("%s does not know task %s yet", self._backend, task_id)
            return None
        except KieError as exc:
            if not exc.retryable:
                raise KieWaitException(f"Checking {self._backend} task {task_id} failed: {exc}") from exc
            self.log.warning("Checking %s task %s failed (%s); will try again", self._backend, task_id, exc)
            return None
        self.log.info("%s task %s is %s (%s)", self._backend, task_id, record.state.value, record.raw_state)
        return record

    @property
    def _backend(self) -> str:
        return "Runway's API" if self.kind is TaskKind.RUNWAY_API else "KIE"

    def poke(self, context: Context) -> PokeReturnValue | bool:
        record = self._poll(self._check_task_id())
        if record is None or not record.is_terminal:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._complete(context, record))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> ClipResult:
        """Deferral callback: store the clip, or fail with KIE's reason."""
        return self._complete(context, record_from_event(event), refresh=is_partial_event(event))

    def _complete(self, context: Context, record: TaskRecord, refresh: bool = False) -> ClipResult:
        # The record was just read (by the poke, or by the trigger for its event): stored as it is.
        return finish_clip(context, self, self.hook, record, refresh=refresh)
