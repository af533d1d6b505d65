"""The generation lifecycle: the life of one paid clip, the same for every KIE family and both waiting modes.

Read :meth:`KieGenerationOperator.execute` and :meth:`KieGenerationOperator._run` top to bottom:

1. validate  - build the family's request from the rendered parameters: a clear error naming the parameter
               and the rule, before any request (:mod:`airflow_provider_kie.client.families`);
2. resume    - a KIE task id an earlier try saved means reconnect (running), finish (succeeded) or
               resubmit (failed): never a second payment for a clip that is alive or done;
3. submit    - stop if an earlier try's submit may have been paid unrecorded, or the credit balance is
               below ``min_credits``; upload local inputs to a folder of this run and try, then the one
               paid call, marked in ``task_state_store`` while it is unresolved; "KIE is busy" (429, 455,
               its concurrency cap) waits out a backoff and submits again;
4. remember  - the task id goes to ``task_state_store`` and XCom before any wait;
5. wait      - in the triggerer (deferrable: no worker slot held) or by polling in the worker;
6. complete  - store every result file of the record the wait has just read (no second status call; a
               family may first upgrade its media: Veo's 1080p/4K), return a typed result.

A family is data: subclasses set ``family`` and say how their parameters map onto its request fields
(:meth:`~KieGenerationOperator.request_fields`); none overrides a step.

**Two backends, one lifecycle.** The hook is chosen by the type of the ``kie_conn_id`` connection: a
``kie`` connection submits to KIE, a ``runway`` connection to Runway's own API
(:mod:`airflow_provider_kie.hooks.runway`). An operator whose clip Runway's API can make says how
(:meth:`~KieGenerationOperator.runway_api_request`: the Runway API family and its fields); every other
operator fails on a ``runway`` connection before any request, naming the backend and what it offers. Why
not separate operators: moving a clip between backends is then one argument (the connection), the DAG keeps
its task ids, templates and downstream XCom shape, and the lifecycle (resume, submit marker, credit floor,
waiting, storing) is not duplicated. Runway's API can also cancel: :meth:`~KieGenerationOperator.on_kill`
does, there.

In blocking mode steps 3-6 are one loop that returns; in deferrable mode each wait leaves through
``self.defer(...)`` as the last statement of its branch, and the deferral callbacks re-enter the same loop.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseOperator

from airflow_provider_kie._compat import AirflowException, AirflowFailException, conf
from airflow_provider_kie.client import (
    KieBusyError,
    KieClient,
    KieError,
    KieRequest,
    KieSubmitOutcomeUnknownError,
    KieValidationError,
    KieWaitTimeoutError,
    PollPolicy,
    TaskRecord,
    TaskState,
)
from airflow_provider_kie.client.families import Family
from airflow_provider_kie.exceptions import KieWaitException
from airflow_provider_kie.hooks.kie import KieHook
from airflow_provider_kie.hooks.runway import GenerationHook, RunwayHook, generation_hook
from airflow_provider_kie.lifecycle.cancellation import Cancellation, cancel_active_task
from airflow_provider_kie.lifecycle.completion import finish_clip, is_partial_event, record_from_event
from airflow_provider_kie.lifecycle.credits import check_credit_floor
from airflow_provider_kie.lifecycle.durable import (
    check_unfinished_submit,
    earlier_task,
    remember_task,
    submit_marker,
)
from airflow_provider_kie.lifecycle.load import LoadBackoff, RateLimitTimeout
from airflow_provider_kie.lifecycle.results import ClipResult, SubmittedResult
from airflow_provider_kie.lifecycle.uploads import upload_folder
from airflow_provider_kie.lineage import KieLineageMixin
from airflow_provider_kie.links import KieVideoLink
from airflow_provider_kie.params import optional_positive_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_kie.client.runway_api import RunwayClient

__all__ = ["FIRST_POLL_AFTER_SUBMIT", "KieGenerationOperator"]

#: Seconds between a submit and the first status check (at most the fixed ``poll_interval``, when one is
#: set). No clip succeeds that fast; the one thing an immediate check sees is a concurrency-cap refusal, and
#: a trigger event that arrives within a second or two of the deferral can race Airflow's own bookkeeping
#: of that deferral (benchmarks/README.md, worker slots: a 1 s deferral failed that way once).
FIRST_POLL_AFTER_SUBMIT = 5.0

Result = ClipResult | SubmittedResult


class KieGenerationOperator(KieLineageMixin, BaseOperator):
    """Base of the KIE video operators: submit one clip, wait for it, store it.

    :param prompt: what the clip shows (templated); families whose prompt sits in another field (a market
        job's ``input``) or that take none (an upscale) leave it ``None``.
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
    :param callback_url: KIE POSTs the result to this URL when the task ends. When ``None`` and the ``kie``
        connection sets ``callback_base_url``, the provider's own receiver is used, and a deferred wait ends
        about a second after KIE's callback (:mod:`airflow_provider_kie.callbacks`); an explicit URL wins,
        and the wait then polls.
    :param watermark: watermark text; empty for none.
    :param rate_limit_timeout: seconds to keep retrying a submit that KIE refuses for load (429, 455,
        concurrency cap) before failing.
    :param resubmit_on_unknown_outcome: after an ambiguous submit failure (5xx, timeout), let Airflow's
        retries submit again; and submit even when an earlier try started a paid submit and saved no task id
        (it died or lost Airflow in between). Off by default, because KIE may have created (and charged for)
        the first task.
    :param min_credits: before each paid submit, fail (without retry) when KIE's credit balance is below
        this (templated). ``None`` uses the connection's ``min_credits`` extra; ``0`` checks nothing. The
        balance is read with KIE's free credit call, shared for 30 s by the tasks of a worker
        (:mod:`airflow_provider_kie.lifecycle.credits`).
    """

    template_fields: Sequence[str] = (
        "prompt",
        "output_dir",
        "output_name",
        "callback_url",
        "watermark",
        "kie_conn_id",
        "poll_interval",
        "min_credits",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "txt"}
    operator_extra_links = (KieVideoLink(),)
    ui_color = "#f3e8ff"

    #: The KIE family this operator submits: its request model, submit call and status endpoint.
    family: ClassVar[Family[Any]]
    #: Request fields whose operator parameter has another name, so errors name what the DAG author wrote.
    parameter_names: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        *,
        prompt: str | None = None,
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
        min_credits: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(poll_interval, (int, float)) and poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive (got {poll_interval})")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive (got {timeout})")
        if isinstance(min_credits, (int, float)) and not min_credits >= 0:
            raise ValueError(f"min_credits must be a non-negative number of credits (got {min_credits})")
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
        self.min_credits = min_credits

    @abstractmethod
    def request_fields(self) -> dict[str, Any]:
        """The rendered parameters as the family's request fields. An input field may hold a local path or
        ObjectStoragePath: the lifecycle uploads it before the submit."""

    @cached_property
    def hook(self) -> GenerationHook:
        """KIE's hook, or Runway's API's on a ``runway`` connection (a blocking lookup: worker only)."""
        return generation_hook(self.kie_conn_id)

    @property
    def on_runway_api(self) -> bool:
        """True when this task's connection is a ``runway`` one (Runway's own API is the backend)."""
        return isinstance(self.hook, RunwayHook)

    def runway_api_request(self) -> tuple[Family[Any], dict[str, Any]]:
        """On a ``runway`` connection: the Runway API family this operator submits, and its request fields.

        Operators whose clip Runway's API can make override this; the default refuses, before any request.
        """
        raise AirflowFailException(
            f"{self.task_id}: {type(self).__name__} ({self.family.name}) is not offered by the Runway API "
            f"backend (connection {self.kie_conn_id!r} is of type runway). On that backend use "
            "RunwayGenerateOperator (text/image-to-video) or RunwayAlephOperator (video-to-video); for "
            f"{self.family.name}, use a kie connection"
        )

    @cached_property
    def backend_family(self) -> Family[Any]:
        """The family this task submits: the operator's KIE ``family``, or its Runway API counterpart."""
        return self.runway_api_request()[0] if self.on_runway_api else self.family

    @property
    def _backend(self) -> str:
        return "Runway's API" if self.on_runway_api else "KIE"

    @property
    def _backend_prefix(self) -> str:
        return "" if self.on_runway_api else "KIE "

    def _runway_api_refusals(self) -> list[str]:
        # Parameters of the shared base that Runway's API has no counterpart for: refused, not dropped,
        # so a DAG author who relies on one learns it before paying.
        refused = []
        if self.callback_url:
            refused.append("callback_url: not offered by the Runway API backend (it has no callbacks)")
        if self.watermark:
            refused.append("watermark: not offered by the Runway API backend (it adds no watermark)")
        return refused

    # -- callbacks: KIE tells the provider's receiver when the task ends ------------------------------------
    _callbacks_wake_wait = False

    def _use_provider_callbacks(self, context: Context) -> None:
        """Point KIE's ``callBackUrl`` at the provider's receiver when the connection enables callbacks and
        the DAG gave no ``callback_url``; a deferred wait is then woken by the callback.

        Idempotent (every entry into the lifecycle calls it: a deferral callback runs in a fresh process).
        Runway's API has no callbacks, so a ``runway`` connection never gets one.
        """
        if self.on_runway_api:
            return
        provider_url = self._provider_callback_url(context)  # the hook reads the connection once
        if provider_url is None:
            return
        if self.callback_url in (None, ""):
            self.callback_url = provider_url
        self._callbacks_wake_wait = self.callback_url == provider_url

    def _provider_callback_url(self, context: Context) -> str | None:
        from airflow_provider_kie.callbacks.urls import callback_url

        base_url = getattr(self.hook.settings, "callback_base_url", None)
        if not isinstance(base_url, str) or not base_url:
            return None
        ti = context["ti"]
        map_index = getattr(ti, "map_index", None)
        try:
            return callback_url(
                base_url,
                self.kie_conn_id,
                ti.dag_id,
                ti.run_id,
                ti.task_id,
                -1 if map_index is None else int(map_index),
            )
        except ValueError as exc:
            raise AirflowFailException(
                f"{self.task_id}: connection {self.kie_conn_id!r} extra 'callback_base_url': {exc}"
            ) from None

    # -- 1. validate ---------------------------------------------------------------------------------------
    def validate(self) -> KieRequest:
        """Step 1: the family's request from the rendered parameters, every rule checked; a failure (no
        retry) naming the parameter and the rule, before any request is sent."""
        optional_positive_seconds("poll_interval", self.poll_interval)
        if self.on_runway_api:
            refused = self._runway_api_refusals()
            if refused:
                raise AirflowFailException(f"{self.task_id}: " + "; ".join(refused))
            family, fields = self.runway_api_request()
        else:
            family, fields = self.family, self.request_fields()
        try:
            request: KieRequest = family.build(fields)
        except KieValidationError as exc:
            raise AirflowFailException(f"{self.task_id}: {exc.renamed(self.parameter_names)}") from None
        return request

    @property
    def poll_seconds(self) -> float | None:
        """``poll_interval`` as rendered; ``None`` for the phase-following default."""
        return optional_positive_seconds("poll_interval", self.poll_interval)

    # -- the flow ------------------------------------------------------------------------------------------
    def execute(self, context: Context) -> Result:
        self._use_provider_callbacks(context)
        request = self.validate()
        earlier = earlier_task(context, self.hook.get_conn(), self.backend_family.kind, self.log)  # 2. resume
        if earlier is None:
            return self._run(context, LoadBackoff(), request)
        remember_task(context, earlier.task_id)
        if not self.wait_for_completion:
            # The earlier try's submit is this task's whole job: hand its id on, as that try would have.
            self.log.info("KIE task %s was submitted by an earlier try; not waiting", earlier.task_id)
            return self._submitted(earlier.task_id)
        if earlier.state is TaskState.SUCCEEDED:
            self.log.info("KIE task %s already succeeded in an earlier try; storing it", earlier.task_id)
            return self._run(context, LoadBackoff(), finished=earlier)
        self.log.info(
            "Reconnecting to KIE task %s from an earlier try (%s)", earlier.task_id, earlier.raw_state
        )
        return self._run(context, LoadBackoff(), request, task_id=earlier.task_id)

    def _run(
        self,
        context: Context,
        load: LoadBackoff,
        request: KieRequest | None = None,
        task_id: str | None = None,
        finished: TaskRecord | None = None,
        refresh: bool = False,
    ) -> Result:
        """Steps 3-6 from wherever this try stands: nothing submitted, ``task_id`` running, or ``finished``.

        A clip KIE refused for its concurrency cap cost nothing: back off, then round the loop to submit.
        ``request`` is built (validated) only when a submit needs it: a deferral callback that only stores a
        finished clip must not fail because a local input file is not on this worker.
        """
        self._use_provider_callbacks(context)
        while True:
            if finished is None:
                first_poll_after = 0.0
                if task_id is None:
                    request = request or self.validate()
                    try:
                        task_id = self._submit(context, request)  # 3. submit and 4. remember
                    except KieBusyError as exc:
                        load = self._wait_out_load(load, str(exc), exc.retry_after)
                        continue
                    if not self.wait_for_completion:
                        return self._submitted(task_id)
                    first_poll_after = self._first_poll_after_submit()
                finished = self._wait(task_id, first_poll_after, load)  # 5. wait
            if not finished.hit_concurrency_limit:
                if finished.state is TaskState.SUCCEEDED and self.upgrades_media:
                    upgraded = self._upgrade(finished, load)
                    return finish_clip(context, self, self.hook, upgraded, refresh=False)  # 6. complete
                return finish_clip(context, self, self.hook, finished, refresh=refresh)  # 6. complete
            reason = f"task {finished.task_id}: {finished.fail_msg}"
            load = self._wait_out_load(load, reason, None)
            task_id = finished = None

    # -- deferral callbacks: back into the loop --------------------------------------------------------------
    def resume_submit(self, context: Context, event: Any = None, **load: Any) -> Result:
        """After a deferred "KIE is busy" backoff: submit again."""
        return self._run(context, LoadBackoff.from_kwargs(**load))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, **load: Any) -> Result:
        """After the trigger's event: complete, fail with KIE's reason, or resubmit after a cap refusal.

        On Runway's API a ``timeout`` event first cancels the task (here, on the worker: the trigger only
        reports its deadline), so nothing keeps running for a task instance that is about to fail.
        """
        if self.on_runway_api and event and event.get("status") == "timeout":
            finished = self._cancel_after_timeout(
                str(event.get("kie_task_id")),
                f"after {event.get('waited')} s (last state: {event.get('last_state')})",
            )
            return self._run(context, LoadBackoff.from_kwargs(**load), finished=finished)
        finished = record_from_event(event)
        # The trigger's record was read moments ago: stored as it is, without a second status call.
        load_backoff = LoadBackoff.from_kwargs(**load)
        return self._run(context, load_backoff, finished=finished, refresh=is_partial_event(event))

    def resume_upgrade(
        self,
        context: Context,
        event: Any = None,
        *,
        kie_task_id: str,
        upgrade_started_at: float,
        **load: Any,
    ) -> Result:
        """After a deferred wait for upgraded media: ask KIE again (the task itself has succeeded)."""
        self._upgrade_started_at = upgrade_started_at
        record = self.hook.get_conn().get_task(kie_task_id, self.backend_family.kind)
        return self._run(context, LoadBackoff.from_kwargs(**load), finished=record)

    # -- 3/4. submit once, remember the id -------------------------------------------------------------------
    def _submit(self, context: Context, request: KieRequest) -> str:
        """Check, upload the inputs, make the one paid call, remember the id. ``KieBusyError``: "not now"."""
        client = self.hook.get_conn()
        # Before anything that costs: an earlier try's submit that may have been paid, the credit floor.
        self._refuse_if_stopping()
        check_unfinished_submit(context, self.task_id, self.resubmit_on_unknown_outcome, self.log)
        check_credit_floor(self.task_id, self.min_credits, self.hook, self.log)
        try:
            # Only KIE uploads first; Runway API requests carry local files as data URIs (none pending).
            if request.pending_uploads() and not self.on_runway_api:
                kie = cast(KieClient, client)
                request = kie.upload_files(request, upload_folder(context, self.dag_id, self.task_id))
            self._refuse_if_stopping()  # uploads take a while: Airflow may have begun to stop this try
            with submit_marker(context, self.backend_family.name):  # kept while the outcome is unknown
                task_id = self.backend_family.submit(client, request)
        except KieBusyError:
            raise
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
            raise AirflowException(
                f"{self._backend} refused the {self.backend_family.name} submit: {exc}"
            ) from exc
        # The Runway API families' names already say their backend ("Runway API text-to-video").
        self.log.info("Submitted %s task %s", self._backend_prefix + self.backend_family.name, task_id)
        remember_task(context, task_id)
        self._kie_task_id = task_id  # for on_kill
        return task_id

    def _refuse_if_stopping(self) -> None:
        """No paid submit once Airflow has begun to stop this try. Airflow 3's SIGTERM handler calls
        :meth:`on_kill` and returns, and ``execute()`` runs on until the supervisor's SIGKILL seconds later: a
        try that a scheduler reset (or a user's clear) is stopping must not start paying
        (``benchmarks/README.md``, "the duplicate paid submission")."""
        if getattr(self, "_stopping", False):
            raise AirflowException(
                f"{self.task_id}: Airflow is stopping this try (on_kill was called); "
                "not starting a paid submit"
            )

    def _wait_out_load(self, load: LoadBackoff, reason: str, retry_after: float | None) -> LoadBackoff:
        """Wait before the next submit: asleep here when blocking, in the triggerer when deferrable."""
        try:
            delay, after = load.next(reason, self.rate_limit_timeout, retry_after)
        except RateLimitTimeout as exc:
            raise AirflowException(str(exc)) from None
        self.log.warning(
            "KIE is at capacity (%s); submitting again in %.0f s (attempt %d)", reason, delay, after.attempt
        )
        if not self.deferrable:
            time.sleep(delay)
            return after
        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

        self.defer(
            trigger=TimeDeltaTrigger(timedelta(seconds=delay)),
            method_name="resume_submit",
            kwargs=after.kwargs(),
        )

    # -- 5. wait ---------------------------------------------------------------------------------------------
    def _first_poll_after_submit(self) -> float:
        interval = self.poll_seconds
        return FIRST_POLL_AFTER_SUBMIT if interval is None else min(FIRST_POLL_AFTER_SUBMIT, interval)

    def _wait(self, task_id: str, first_poll_after: float, load: LoadBackoff) -> TaskRecord:
        """The finished record (blocking), or a deferral to the trigger that ends in ``execute_complete``."""
        if not self.deferrable:
            try:
                self._kie_task_id = task_id  # for on_kill (a reconnect sets it here)
                return self.hook.get_conn().wait_for_task(
                    task_id,
                    self.backend_family.kind,
                    poll=PollPolicy(interval=self.poll_seconds, first_poll_after=first_poll_after),
                    timeout=self.timeout,
                    raise_on_failure=False,
                )
            except KieWaitTimeoutError as exc:
                if self.on_runway_api:
                    return self._cancel_after_timeout(task_id, f"({exc})")
                raise KieWaitException(f"Waiting for KIE task {task_id} failed: {exc}") from exc
            except KieError as exc:
                raise KieWaitException(f"Waiting for KIE task {task_id} failed: {exc}") from exc
        # Imported here: the trigger module (and airflow.triggers) is only needed once a task defers, not
        # each time a DAG file that uses these operators is parsed.
        from airflow_provider_kie.triggers.runway import RunwayTaskTrigger

        self.defer(
            trigger=RunwayTaskTrigger(
                kie_task_id=task_id,
                kind=self.backend_family.kind.value,
                kie_conn_id=self.kie_conn_id,
                poll_interval=self.poll_seconds,
                deadline=time.time() + self.timeout,
                first_poll_after=first_poll_after,
                # Runway's API can cancel: a task instance that ends while deferred (cleared, marked,
                # deferral timeout) cancels its Runway task (RunwayTaskTrigger explains how it tells that
                # from a triggerer restart). KIE cannot; the trigger ignores it there.
                cancel_on_kill=self.on_runway_api,
                callbacks=self._callbacks_wake_wait,
            ),
            method_name="execute_complete",
            kwargs=load.kwargs(),
            # A backstop only: the trigger sends its own timeout event at the deadline.
            timeout=timedelta(seconds=self.timeout + 300),
        )

    # -- 6a. upgraded media (families that offer it) -----------------------------------------------------
    @property
    def upgrades_media(self) -> bool:
        """True when this operator asks KIE for better media once the task has succeeded (Veo's 1080p/4K)."""
        return False

    def upgraded_media(self, client: KieClient, record: TaskRecord) -> TaskRecord | float:
        """The succeeded ``record`` with its upgraded result links, or the seconds after which to ask KIE
        again. Asking again must never pay twice (KIE answers a repeated upgrade request for free)."""
        return record

    def _upgrade(self, record: TaskRecord, load: LoadBackoff) -> TaskRecord:
        """Ask for upgraded media until KIE has it: asleep here when blocking, in the triggerer when
        deferrable."""
        started = getattr(self, "_upgrade_started_at", None) or time.time()
        while True:
            try:
                if self.on_runway_api:  # only KIE families upgrade media
                    return record
                step = self.upgraded_media(cast(KieClient, self.hook.get_conn()), record)
            except KieBusyError as exc:
                # Asking again is free (the point of the upgrade protocol), so "busy" only means "later".
                step = max(exc.retry_after or 0.0, 1.0)
                self.log.warning("KIE is busy (%s) while upgrading task %s", exc, record.task_id)
            if isinstance(step, TaskRecord):
                return step
            if time.time() + step - started > self.timeout:
                raise KieWaitException(
                    f"KIE did not deliver the upgraded media of task {record.task_id} within timeout="
                    f"{self.timeout:.0f} s; the generation itself succeeded: a retry asks again without "
                    "paying for a new clip"
                )
            self.log.info(
                "Upgraded media of KIE task %s not ready yet; asking again in %.0f s", record.task_id, step
            )
            if not self.deferrable:
                time.sleep(step)
                continue
            from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds=step)),
                method_name="resume_upgrade",
                kwargs={"kie_task_id": record.task_id, "upgrade_started_at": started, **load.kwargs()},
            )

    def _submitted(self, task_id: str) -> SubmittedResult:
        result = SubmittedResult(kie_task_id=task_id, kind=self.backend_family.kind.value, state="submitted")
        self._lineage_result = result  # what OpenLineage reports for this task
        return result

    def on_kill(self) -> None:
        """Runway's API: cancel the task this try is waiting for. KIE has no cancel endpoint: a killed task
        leaves its clip generating (and paid for) at KIE, and the next try reconnects to it through
        ``task_state_store``.

        A cancelled Runway task reads ``CANCELLED`` (a failed task), so the next try submits afresh. A task
        that ended in the meantime is left alone (Runway's DELETE would delete a finished clip).
        """
        self._stopping = True  # first: no paid submit may start after this
        task_id = getattr(self, "_kie_task_id", None)
        hook = self.__dict__.get("hook")  # the hook this try built: never a connection lookup while killed
        if isinstance(hook, RunwayHook):
            if task_id is None:
                self.log.info("Killed before any Runway API task was created: nothing to cancel")
                return
            self._cancel_runway_task(task_id)
            return
        self.log.warning(
            "KIE cannot cancel a submitted task; it keeps running at KIE and a retry reconnects to it"
        )

    def _cancel_runway_task(self, task_id: str) -> Cancellation | None:
        """Cancel Runway API task ``task_id`` if it is still active; ``None`` when it could not be asked."""
        if not self.on_runway_api:  # KIE: no cancel endpoint
            return None
        client = cast("RunwayClient", self.hook.get_conn())
        try:
            cancellation = cancel_active_task(client, task_id)
        except KieError as exc:  # the client's errors are redacted: no key in them
            self.log.warning("Could not cancel Runway API task %s: %s", task_id, exc)
            return None
        self.log.warning(cancellation.describe(task_id))
        return cancellation

    def _cancel_after_timeout(self, task_id: str, waited: str) -> TaskRecord:
        """The wait for Runway API task ``task_id`` hit ``timeout``: cancel it, then fail; or, when it ended
        meanwhile, its finished record (a succeeded clip is stored rather than thrown away)."""
        cancellation = self._cancel_runway_task(task_id)
        if cancellation is not None and cancellation.ended is not None:
            return cancellation.ended
        if cancellation is None:
            then = "could not cancel it (see the log); a retry reconnects to it instead of paying again"
        else:
            then = f"{cancellation.describe(task_id)}; a retry submits afresh"
        raise KieWaitException(
            f"Timed out waiting for Runway API task {task_id} {waited} (timeout={self.timeout:.0f} s). {then}"
        )
