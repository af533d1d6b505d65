"""The life of one clip, shared by every KIE video operator.

1. Validate the parameters: a clear error naming the parameter, before any request.
2. Durable resume (Airflow >= 3.3, ``task_state_store``): a KIE task id saved by an earlier try means
   reconnect (still running), finish (succeeded) or resubmit (failed) - never a second paid submission for
   a clip that is alive or done.
3. Submit once. A 429 or a concurrency-cap rejection is not a failure: wait with jittered backoff (deferred,
   holding no worker slot) and submit again, within ``rate_limit_timeout``.
4. Save the KIE task id (task_state_store and XCom) before waiting.
5. Wait: defer to :class:`RunwayTaskTrigger`, or poll in the worker when not deferrable.
6. Complete on a worker: re-read the record, store video and cover under ``output_dir``, return a result.

Subclasses only say how to build their request and which endpoint submits it.
"""

from __future__ import annotations

import os
import random
import time
from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_kie._compat import AirflowException, AirflowFailException, conf
from airflow_provider_kie.client import (
    KieClient,
    KieError,
    KieMaintenanceError,
    KieRateLimitError,
    KieSubmitOutcomeUnknownError,
    KieTaskNotFoundError,
    KieValidationError,
    PollPolicy,
    RetryPolicy,
    TaskKind,
    TaskRecord,
    TaskState,
)
from airflow_provider_kie.client.models import KieRequest
from airflow_provider_kie.completion import (
    TASK_ID_XCOM_KEY,
    KieWaitFailed,
    finish_clip,
    record_from_event,
)
from airflow_provider_kie.hooks.kie import KieHook
from airflow_provider_kie.links import KieVideoLink
from airflow_provider_kie.params import optional_positive_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

__all__ = ["STATE_STORE_KEY", "KieVideoBaseOperator"]

#: task_state_store key holding the KIE task id across tries. Renaming it breaks in-flight retries.
STATE_STORE_KEY = "kie_task_id"
#: The first wait after KIE says "too busy"; doubles per refusal up to ``MAX_BACKOFF``.
FIRST_BACKOFF = 15.0
MAX_BACKOFF = 300.0
#: How the operators' client resends a submit KIE refused for load (429, 455) or never received. It only
#: sleeps in the worker when KIE asks for a short wait: a longer ``Retry-After``, or a refusal that outlasts
#: these attempts, goes to the backoff above, which a deferrable operator spends in the triggerer rather
#: than holding a worker slot (the client's default would sleep up to 30 s per attempt).
SUBMIT_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=4.0, max_retry_after=5.0)
#: Seconds between a submit and the first status check (at most the fixed ``poll_interval``, when one is
#: set). No clip succeeds that fast; the one thing an immediate check sees is a concurrency-cap refusal, and
#: a trigger event that arrives within a second or two of the deferral can race Airflow's own bookkeeping
#: of that deferral (benchmarks/README.md, worker slots: a 1 s deferral failed that way once).
FIRST_POLL_AFTER_SUBMIT = 5.0
#: A placeholder that passes URL validation while a local input file still awaits upload.
_PENDING_UPLOAD_URL = "https://upload.pending.invalid/input"


def _backoff(attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Jittered exponential backoff for "KIE is too busy" refusals (attempt is 1-based).

    KIE's ``Retry-After``, when it sent one, is a floor: coming back sooner would only be refused again.
    """
    ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt - 1))
    return max(rng.uniform(ceiling / 2, ceiling), retry_after or 0.0)


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


class KieVideoBaseOperator(BaseOperator):
    """Base of the KIE video operators: submit one clip, wait for it, store it.

    :param prompt: what the clip shows (templated).
    :param kie_conn_id: the ``kie`` connection.
    :param output_dir: where to store the MP4 and its cover: a directory as a path string or
        ObjectStoragePath (``s3://bucket/videos/{{ ds }}``), templated. ``None`` stores nothing. (Not named
        ``output``: that is ``BaseOperator.output``, the XComArg downstream tasks use.)
    :param output_name: file name stem for the stored files (templated); the KIE task id by default.
    :param wait_for_completion: wait until the clip is done; ``False`` returns right after the submit.
    :param deferrable: wait in the triggerer, holding no worker slot. Defaults to
        ``[operators] default_deferrable``.
    :param poll_interval: mean seconds between status checks, jittered (templated, so a DAG Param can set
        it). ``None`` (the default) follows the task's phase at KIE: every 15 s while it waits or queues,
        every 9 s once it may finish (:class:`~airflow_provider_kie.client.PollPolicy`).
    :param timeout: seconds to wait for KIE to finish the clip before failing (KIE keeps working).
    :param callback_url: KIE POSTs the result to this URL when the task ends.
    :param watermark: watermark text; empty for none.
    :param rate_limit_timeout: seconds to keep retrying a submit that KIE refuses for load (429, 455,
        concurrency cap) before failing.
    :param resubmit_on_unknown_outcome: after an ambiguous submit failure (5xx, timeout), let Airflow's
        retries submit again. Off by default, because KIE may have created (and charged for) the first task.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "output_dir",
        "output_name",
        "callback_url",
        "watermark",
        "kie_conn_id",
        "poll_interval",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "txt"}
    operator_extra_links = (KieVideoLink(),)
    ui_color = "#f3e8ff"

    #: Which status endpoint the submitted tasks are read from.
    kind: ClassVar[TaskKind] = TaskKind.RUNWAY
    #: The operator parameter holding an input file or URL to upload first, if any.
    input_param: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        prompt: str,
        kie_conn_id: str = KieHook.default_conn_name,
        output_dir: str | ObjectStoragePath | None = None,
        output_name: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | str | None = None,
        timeout: float = 3600.0,
        callback_url: str | None = None,
        watermark: str = "",
        rate_limit_timeout: float = 3600.0,
        resubmit_on_unknown_outcome: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(poll_interval, (int, float)) and poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive (got {poll_interval})")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive (got {timeout})")
        self.prompt = prompt
        self.kie_conn_id = kie_conn_id
        self.output_dir = output_dir
        self.output_name = output_name
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.callback_url = callback_url
        self.watermark = watermark
        self.rate_limit_timeout = rate_limit_timeout
        self.resubmit_on_unknown_outcome = resubmit_on_unknown_outcome

    # -- what subclasses provide ------------------------------------------------------------------------
    @abstractmethod
    def build_request(self, input_url: str | None) -> KieRequest:
        """The validated request; ``input_url`` is the (uploaded) input's URL when the operator has one."""

    @abstractmethod
    def submit_request(self, client: KieClient, request: KieRequest) -> str:
        """Send ``request`` to its endpoint; return the KIE task id."""

    # -- plumbing ---------------------------------------------------------------------------------------
    @cached_property
    def hook(self) -> KieHook:
        return KieHook(self.kie_conn_id, submit_retry=SUBMIT_RETRY)

    def _input_value(self) -> Any:
        return getattr(self, self.input_param) if self.input_param else None

    def _validated_request(self) -> KieRequest:
        """Build the request from rendered parameters, standing in a placeholder for a pending upload."""
        value = self._input_value()
        input_url: str | None = None
        if value is not None and str(value).strip():
            text = str(value).strip()
            if _is_url(text):
                input_url = text
            else:
                if not _input_exists(value):
                    raise AirflowFailException(
                        f"{self.input_param}: must be an https URL or an existing file (got {text!r})"
                    )
                input_url = _PENDING_UPLOAD_URL
        try:
            return self.build_request(input_url)
        except KieValidationError as exc:
            raise AirflowFailException(f"{self.task_id}: {exc}") from None

    def _upload_input(self, client: KieClient) -> str | None:
        value = self._input_value()
        if value is None or not str(value).strip() or _is_url(str(value).strip()):
            return None
        upload_path = f"airflow/{self.dag_id}/{self.task_id}"
        if hasattr(value, "protocol") and value.protocol not in ("file", "local", ""):
            uploaded = client.upload_base64(value.read_bytes(), upload_path, file_name=value.name)
        else:
            uploaded = client.upload_file(str(getattr(value, "path", value)), upload_path)
        self.log.info("Uploaded %s to KIE's upload host: %s", self.input_param, uploaded.download_url)
        return uploaded.download_url

    # -- 1/2: execute, resuming when an earlier try left a task behind ------------------------------------
    @property
    def poll_seconds(self) -> float | None:
        """``poll_interval`` as rendered, checked (a clear error instead of a trigger that never polls);
        ``None`` for the phase-following default."""
        return optional_positive_seconds("poll_interval", self.poll_interval)

    def execute(self, context: Context) -> Any:
        _ = self.poll_seconds
        self._validated_request()
        resumed = self._resume(context)
        if resumed is not None:
            context["ti"].xcom_push(key=TASK_ID_XCOM_KEY, value=resumed.task_id)  # a new try has no XComs
            if not self.wait_for_completion:
                # The earlier try's submit is this task's whole job: hand its id on, as that try would have.
                self.log.info("KIE task %s was submitted by an earlier try; not waiting", resumed.task_id)
                return {"kie_task_id": resumed.task_id, "kind": self.kind.value, "state": "submitted"}
            if resumed.state is TaskState.SUCCEEDED:
                self.log.info("KIE task %s already succeeded in an earlier try; storing it", resumed.task_id)
                return self._complete(context, resumed, attempt=1, first_try_at=time.time())
            self.log.info(
                "Reconnecting to KIE task %s from an earlier try (%s)", resumed.task_id, resumed.raw_state
            )
            return self._wait(context, resumed.task_id, attempt=1, first_try_at=time.time())
        return self._submit_and_wait(context, attempt=1, first_try_at=time.time())

    def _resume(self, context: Context) -> TaskRecord | None:
        store = context.get("task_state_store")
        if store is None:
            return None
        saved = store.get(STATE_STORE_KEY)
        if not saved:
            return None
        try:
            record = self.hook.get_conn().get_task(str(saved), self.kind)
        except KieTaskNotFoundError:
            self.log.warning("KIE does not know task %s saved by an earlier try; submitting afresh", saved)
            return None
        except KieError as exc:
            # Not knowing whether the earlier clip lives is no reason to pay for another: fail, retry later.
            raise AirflowException(f"Could not check KIE task {saved} from an earlier try: {exc}") from exc
        if record.state is TaskState.FAILED:
            self.log.warning(
                "KIE task %s from an earlier try failed (%s); submitting afresh", saved, record.fail_msg
            )
            return None
        return record

    # -- 3/4: submit once, remember the id ------------------------------------------------------------------
    def _submit_and_wait(self, context: Context, attempt: int, first_try_at: float) -> Any:
        client = self.hook.get_conn()
        try:
            input_url = self._upload_input(client)
            request = self.build_request(input_url) if input_url else self._validated_request()
            task_id = self.submit_request(client, request)
        except (KieRateLimitError, KieMaintenanceError) as exc:
            return self._back_off(context, attempt, first_try_at, str(exc), exc.retry_after)
        except KieSubmitOutcomeUnknownError as exc:
            if self.resubmit_on_unknown_outcome:
                raise AirflowException(str(exc)) from exc
            raise AirflowFailException(
                f"{exc}. Not retrying automatically; set resubmit_on_unknown_outcome=True to accept the risk "
                "of paying twice."
            ) from exc
        except KieValidationError as exc:
            raise AirflowFailException(f"{self.task_id}: {exc}") from None
        except KieError as exc:
            raise AirflowException(f"KIE refused the submit: {exc}") from exc
        self.log.info("Submitted KIE %s task %s", self.kind.value, task_id)
        self._remember(context, task_id)
        if not self.wait_for_completion:
            return {"kie_task_id": task_id, "kind": self.kind.value, "state": "submitted"}
        return self._wait(context, task_id, attempt, first_try_at, just_submitted=True)

    def _remember(self, context: Context, task_id: str) -> None:
        store = context.get("task_state_store")
        if store is not None:
            store.set(STATE_STORE_KEY, task_id)
        context["ti"].xcom_push(key=TASK_ID_XCOM_KEY, value=task_id)

    def _back_off(
        self,
        context: Context,
        attempt: int,
        first_try_at: float,
        reason: str,
        retry_after: float | None = None,
    ) -> Any:
        delay = _backoff(attempt, random.Random(), retry_after)  # noqa: S311 - jitter, not cryptography
        elapsed = time.time() - first_try_at
        if elapsed + delay > self.rate_limit_timeout:
            raise AirflowException(
                f"KIE kept refusing new clips for {elapsed:.0f} s ({reason}); gave up after "
                f"rate_limit_timeout={self.rate_limit_timeout:.0f} s"
            )
        self.log.warning(
            "KIE is at capacity (%s); submitting again in %.0f s (attempt %d)", reason, delay, attempt + 1
        )
        if self.deferrable:
            from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds=delay)),
                method_name="resume_submit",
                kwargs={"attempt": attempt + 1, "first_try_at": first_try_at},
            )
        time.sleep(delay)
        return self._submit_and_wait(context, attempt + 1, first_try_at)

    def resume_submit(
        self, context: Context, event: Any = None, *, attempt: int = 2, first_try_at: float | None = None
    ) -> Any:
        """Deferral callback after a backoff: submit again."""
        return self._submit_and_wait(context, attempt, first_try_at or time.time())

    # -- 5: wait ---------------------------------------------------------------------------------------
    def _first_poll_after(self, just_submitted: bool) -> float:
        """A reconnect checks at once; a fresh submit waits a little (see ``FIRST_POLL_AFTER_SUBMIT``)."""
        if not just_submitted:
            return 0.0
        interval = self.poll_seconds
        return FIRST_POLL_AFTER_SUBMIT if interval is None else min(FIRST_POLL_AFTER_SUBMIT, interval)

    def _wait(
        self, context: Context, task_id: str, attempt: int, first_try_at: float, just_submitted: bool = False
    ) -> Any:
        first_poll_after = self._first_poll_after(just_submitted)
        if self.deferrable:
            # Imported here: the trigger module (and airflow.triggers) is only needed once a task defers,
            # not each time a DAG file that uses these operators is parsed.
            from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

            self.defer(
                trigger=RunwayTaskTrigger(
                    kie_task_id=task_id,
                    kind=self.kind.value,
                    kie_conn_id=self.kie_conn_id,
                    poll_interval=self.poll_seconds,
                    deadline=time.time() + self.timeout,
                    first_poll_after=first_poll_after,
                ),
                method_name="execute_complete",
                kwargs={"attempt": attempt, "first_try_at": first_try_at},
                # A backstop only: the trigger sends its own timeout event at the deadline.
                timeout=timedelta(seconds=self.timeout + 300),
            )
        try:
            record = self.hook.get_conn().wait_for_task(
                task_id,
                self.kind,
                poll=PollPolicy(interval=self.poll_seconds, first_poll_after=first_poll_after),
                timeout=self.timeout,
                raise_on_failure=False,
            )
        except KieError as exc:
            raise KieWaitFailed(f"Waiting for KIE task {task_id} failed: {exc}") from exc
        return self._complete(context, record, attempt, first_try_at)

    # -- 6: complete -----------------------------------------------------------------------------------
    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        *,
        attempt: int = 1,
        first_try_at: float | None = None,
    ) -> Any:
        """Deferral callback: the trigger's event decides success, failure or a resubmit."""
        record = record_from_event(event)
        return self._complete(context, record, attempt, first_try_at or time.time())

    def _complete(self, context: Context, record: TaskRecord, attempt: int, first_try_at: float) -> Any:
        if record.hit_concurrency_limit:
            # KIE refused the task for the account's concurrency cap: it cost nothing, so submit again.
            return self._back_off(context, attempt, first_try_at, f"task {record.task_id}: {record.fail_msg}")
        return finish_clip(context, self, self.hook, record)

    def on_kill(self) -> None:
        """KIE has no cancel endpoint: a killed task leaves its clip generating (and paid for) at KIE.

        The next try of this Airflow task reconnects to that clip through ``task_state_store``.
        """
        self.log.warning(
            "KIE cannot cancel a submitted task; it keeps running at KIE and a retry reconnects to it"
        )


def _input_exists(value: Any) -> bool:
    if hasattr(value, "exists") and hasattr(value, "protocol"):
        return bool(value.exists())
    return os.path.isfile(str(value))
