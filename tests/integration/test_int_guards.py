"""The checks before a paid submit, against the emulator (issue 15, parts 3 and 4).

* **Credit floor**: with ``min_credits`` set (operator or connection), a balance below it fails the task
  before any paid request; KIE's free credit call is made once for a campaign within the cache's lifetime, by
  the tasks of one process and by task processes of one host; every family gets it.
* **Submit marker**: a try that may have paid without saving the task id leaves a marker; the next try fails
  clearly instead of paying again (or pays once, with ``resubmit_on_unknown_outcome=True``).
* **The double run**: two tries of one task instance running at once (threads), as Airflow 3.3 starts try N+1
  while try N's process still runs. The store is modelled as Airflow 3.3 scopes it (see
  :class:`AirflowLikeStore`). Each scenario is run with the marker and without it: without, KIE is paid twice
  (the duplicate of benchmark 1); with it, once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from test_int_families import CASES, Case
from tries import FakeStateStore, FakeTI
from tries import finish as _finish
from tries import try_context as _context

from airflow_provider_kie._compat import AirflowException, AirflowFailException, TaskDeferred
from airflow_provider_kie.client import KieClient
from airflow_provider_kie.emulator import FaultRule, RunningEmulator
from airflow_provider_kie.lifecycle import credits
from airflow_provider_kie.lifecycle.credits import BalanceCache
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY, SUBMIT_MARKER_KEY
from airflow_provider_kie.operators.base import KieGenerationOperator
from airflow_provider_kie.operators.runway import RunwayGenerateOperator

pytestmark = pytest.mark.integration

CREDIT = "/api/v1/chat/credit"
GENERATE = "/api/v1/runway/generate"
#: Runway, a Market family (Kling) and Veo: the guards live in the lifecycle every family shares.
FAMILIES = [case for case in CASES if case.name in ("runway", "kling", "veo")]


@pytest.fixture(autouse=True)
def balances(tmp_path: Path, mocker: Any) -> BalanceCache:
    """A balance cache of this test's own (the session's emulator keeps one base URL for every test)."""
    cache = BalanceCache(directory=tmp_path / "balances")
    mocker.patch.object(credits, "SHARED_BALANCES", cache)
    return cache


@pytest.fixture
def floor_conn(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Point ``kie_default`` at the emulator with a ``min_credits`` extra."""

    def connect(min_credits: float) -> None:
        extra = {"upload_base_url": emu.upload_base_url, "min_credits": min_credits}
        monkeypatch.setenv(
            "AIRFLOW_CONN_KIE_DEFAULT",
            json.dumps({"conn_type": "kie", "password": emu.api_key, "host": emu.base_url, "extra": extra}),
        )

    return connect


def _build(case: Case, tmp_path: Path, task_id: str | None = None, **extra: Any) -> KieGenerationOperator:
    return case.build(
        task_id=task_id or f"{case.name}_clip",
        deferrable=extra.pop("deferrable", True),
        poll_interval=0.05,
        timeout=120,
        output_dir=str(tmp_path / "clips"),
        **extra,
    )


def _runway(tmp_path: Path, **extra: Any) -> RunwayGenerateOperator:
    """A Runway clip, one new instance per try (as a new worker process builds it)."""
    params: dict[str, Any] = {
        "task_id": "gen",
        "prompt": "a red fox at dawn",
        "aspect_ratio": "16:9",
        "deferrable": True,
        "poll_interval": 0.05,
        "timeout": 120,
        "output_dir": str(tmp_path / "clips"),
    }
    return RunwayGenerateOperator(**{**params, **extra})


# -- part 4: the credit floor -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", FAMILIES, ids=[case.name for case in FAMILIES])
def test_below_the_floor_no_submit_reaches_kie(
    case: Case, emu: RunningEmulator, kie_conn: Any, tmp_path: Path
) -> None:
    emu.set_credits(120)
    with pytest.raises(AirflowFailException) as failed:
        _build(case, tmp_path, min_credits=500).execute(_context(FakeStateStore(), 1))
    message = str(failed.value)
    assert "balance 120 is below min_credits 500 (set on the operator)" in message
    assert emu.api_key not in message
    stats = emu.stats()
    assert stats.submissions_received == 0
    assert stats.calls_by_endpoint == {CREDIT: 1}


@pytest.mark.parametrize("case", FAMILIES, ids=[case.name for case in FAMILIES])
def test_at_or_above_the_floor_the_clip_is_made(
    case: Case, emu: RunningEmulator, kie_conn: Any, tmp_path: Path
) -> None:
    emu.set_credits(500)
    op = _build(case, tmp_path, min_credits="{{ params.floor }}")
    op.render_template_fields({"params": {"floor": 500}})  # templated, as a DAG Param would set it
    assert op.min_credits == "500"
    context = _context(FakeStateStore(), 1)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    result = _finish(op, context, deferred.value)
    assert result["state"] == "succeeded"
    stats = emu.stats()
    assert (stats.paid_submissions, stats.calls_by_endpoint[CREDIT]) == (1, 1)


def test_the_connection_floor_applies_and_the_operators_wins(
    emu: RunningEmulator, floor_conn: Any, tmp_path: Path
) -> None:
    emu.set_credits(300)
    floor_conn(1000)
    with pytest.raises(
        AirflowFailException, match=r"balance 300 is below min_credits 1000 \(from connection"
    ):
        _runway(tmp_path).execute(_context(FakeStateStore(), 1))
    assert emu.stats().submissions_received == 0

    with pytest.raises(TaskDeferred):
        _runway(tmp_path, min_credits=100).execute(_context(FakeStateStore(), 1))  # the operator's floor wins
    assert emu.stats().submissions_received == 1

    floor_conn(10)
    with pytest.raises(AirflowFailException, match=r"below min_credits 1000 \(set on the operator\)"):
        _runway(tmp_path, min_credits=1000).execute(_context(FakeStateStore(), 1))
    assert emu.stats().submissions_received == 1
    assert emu.stats().calls_by_endpoint[CREDIT] == 1  # one reading served all three checks


@pytest.mark.parametrize("processes", [False, True], ids=["one-process", "process-per-task"])
def test_a_campaign_makes_one_credit_call(
    processes: bool, emu: RunningEmulator, kie_conn: Any, tmp_path: Path, balances: BalanceCache
) -> None:
    clips = 6
    for index in range(clips):
        if processes:
            balances.clear()  # a forked task process starts with nothing in memory: the host's file serves
        op = _runway(tmp_path, min_credits=100, wait_for_completion=False)
        op.task_id = f"clip_{index}"
        op.execute(_context(FakeStateStore(), 1))
    stats = emu.stats()
    assert stats.submissions_accepted == clips
    assert stats.calls_by_endpoint[CREDIT] == 1


def test_concurrent_tasks_make_one_credit_call(emu: RunningEmulator, kie_conn: Any, tmp_path: Path) -> None:
    emu.set_faults(FaultRule("delay", endpoint=CREDIT, delay_s=0.3))  # the others arrive during the read
    errors: list[BaseException] = []

    def one_task(index: int) -> None:
        try:
            op = _runway(tmp_path, min_credits=100, wait_for_completion=False)
            op.task_id = f"clip_{index}"
            op.execute(_context(FakeStateStore(), 1))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=one_task, args=(index,)) for index in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert emu.stats().calls_by_endpoint[CREDIT] == 1
    assert emu.stats().submissions_accepted == 5


def test_a_failed_balance_read_fails_the_try_for_a_retry(
    emu: RunningEmulator, kie_conn: Any, tmp_path: Path, fast_retry: Any
) -> None:
    emu.set_faults(FaultRule("server_error", endpoint=CREDIT))
    op = _runway(tmp_path, min_credits=100)
    op.hook.retry = fast_retry
    with pytest.raises(AirflowException) as failed:
        op.execute(_context(FakeStateStore(), 1))
    assert not isinstance(failed.value, AirflowFailException)
    assert "could not read the KIE credit balance" in str(failed.value)
    assert emu.api_key not in str(failed.value)
    assert emu.stats().submissions_received == 0


# -- part 3: the submit marker ------------------------------------------------------------------------------
def _dies_after_paying(mocker: Any) -> Any:
    """Try 1's paid request goes through, then its worker is lost before the id is saved."""
    original = KieClient.runway_generate

    def pay_then_die(self: KieClient, request: Any) -> str:
        task_id = original(self, request)
        raise RuntimeError(f"worker lost right after KIE accepted {task_id}")

    return mocker.patch.object(KieClient, "runway_generate", pay_then_die)


def test_a_try_that_died_between_marker_and_id_stops_the_next_from_paying(
    emu: RunningEmulator, kie_conn: Any, tmp_path: Path, mocker: Any
) -> None:
    store = FakeStateStore()
    died = _dies_after_paying(mocker)
    with pytest.raises(RuntimeError, match="worker lost"):
        _runway(tmp_path).execute(_context(store, 1))
    mocker.stop(died)
    assert set(store.data) == {SUBMIT_MARKER_KEY}

    with pytest.raises(AirflowFailException, match="try 1 of this task started a paid KIE Runway generate"):
        _runway(tmp_path).execute(_context(store, 2))
    stats = emu.stats()
    assert (stats.submissions_received, stats.paid_submissions) == (1, 1)  # try 1's, and nothing more


def test_resubmit_on_unknown_outcome_lets_the_next_try_pay_once(
    emu: RunningEmulator, kie_conn: Any, tmp_path: Path, mocker: Any
) -> None:
    store = FakeStateStore()
    died = _dies_after_paying(mocker)
    with pytest.raises(RuntimeError, match="worker lost"):
        _runway(tmp_path).execute(_context(store, 1))
    mocker.stop(died)

    op = _runway(tmp_path, resubmit_on_unknown_outcome=True)
    context = _context(store, 2)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    result = _finish(op, context, deferred.value)
    assert emu.stats().submissions_received == 2  # try 1's (orphaned) and this try's one
    assert store.data == {STATE_STORE_KEY: result["kie_task_id"]}


def test_an_ambiguous_5xx_after_kie_created_the_task_is_not_paid_again(
    emu: RunningEmulator, kie_conn: Any, tmp_path: Path
) -> None:
    # KIE took the request (and the credits), then the answer was lost: the client cannot know.
    emu.set_faults(FaultRule("server_error", endpoint=GENERATE, when="after", end_call=1))
    store = FakeStateStore()
    with pytest.raises(AirflowFailException, match="resubmit_on_unknown_outcome"):
        _runway(tmp_path).execute(_context(store, 1))
    with pytest.raises(AirflowFailException, match="saved no KIE task id"):
        _runway(tmp_path).execute(_context(store, 2))  # a manual clear: still no second payment
    assert emu.stats().calls_by_endpoint[GENERATE] == 1
    assert emu.stats().paid_submissions == 1


def test_a_normal_run_leaves_the_id_and_no_marker(
    emu: RunningEmulator, kie_conn: Any, tmp_path: Path
) -> None:
    store = FakeStateStore()
    result = _runway(tmp_path, deferrable=False).execute(_context(store, 1))
    assert store.data == {STATE_STORE_KEY: result["kie_task_id"]}


def test_a_busy_kie_deletes_the_marker_before_the_backoff(
    emu: RunningEmulator, kie_conn: Any, tmp_path: Path, fast_backoff: None
) -> None:
    emu.set_faults(FaultRule("rate_limited", endpoint=GENERATE, end_call=1, retry_after_s=1))
    store = FakeStateStore()
    op = _runway(tmp_path)
    context = _context(store, 1)
    with pytest.raises(TaskDeferred) as backoff:
        op.execute(context)
    assert store.data == {}  # refused: nothing to mark
    with pytest.raises(TaskDeferred) as wait:
        op.resume_submit(context, event=None, **(backoff.value.kwargs or {}))
    result = _finish(op, context, wait.value)
    assert store.data == {STATE_STORE_KEY: result["kie_task_id"]}
    assert emu.stats().paid_submissions == 1


def test_a_reconnecting_retry_is_unaffected(emu: RunningEmulator, kie_conn: Any, tmp_path: Path) -> None:
    store = FakeStateStore()
    with pytest.raises(TaskDeferred):
        _runway(tmp_path).execute(_context(store, 1))  # the triggerer is lost with this deferral
    saved = store.data[STATE_STORE_KEY]
    op = _runway(tmp_path)
    context = _context(store, 2)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    assert deferred.value.trigger.kie_task_id == saved
    assert _finish(op, context, deferred.value)["kie_task_id"] == saved
    assert emu.stats().submissions_received == 1


# -- part 3: the double run ---------------------------------------------------------------------------------
class StaleTryError(RuntimeError):
    """What Airflow 3.3 answers a try whose task instance id it has replaced: 404, task instance not found."""


class AirflowLikeStore:
    """``task_state_store`` as Airflow 3.3 scopes it (read in its source, not guessed).

    The rows belong to the task instance (dag run, task, map index) and are shared by its tries; a try reaches
    them through its task instance id, which Airflow replaces when it prepares the next try
    (``TaskInstance.prepare_db_for_next_try``). The execution API resolves the id through the task instance
    row, so an older try's reads come back "not found" (the SDK returns the default) and its writes fail.
    """

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}
        self.current_try = 1
        self._lock = threading.Lock()

    def next_try(self) -> int:
        """The scheduler gave up on the current try (no heartbeat) and prepared the next one."""
        with self._lock:
            self.current_try += 1
            return self.current_try

    def for_try(self, try_number: int) -> TryStore:
        return TryStore(self, try_number)


class TryStore:
    """One try's ``context["task_state_store"]``."""

    def __init__(self, store: AirflowLikeStore, try_number: int) -> None:
        self.store, self.try_number = store, try_number

    def _current(self) -> bool:
        return self.try_number == self.store.current_try

    def get(self, key: str, default: Any = None) -> Any:
        with self.store._lock:
            return self.store.rows.get(key, default) if self._current() else default

    def set(self, key: str, value: Any, **_: Any) -> None:
        with self.store._lock:
            if not self._current():
                raise StaleTryError(f"404: task instance of try {self.try_number} not found")
            self.store.rows[key] = value

    def delete(self, key: str) -> None:
        with self.store._lock:
            if not self._current():
                raise StaleTryError(f"404: task instance of try {self.try_number} not found")
            self.store.rows.pop(key, None)


class PausedTry:
    """Try 1 in a thread of its own, held in ``pause_in`` (a ``KieClient`` method) until released."""

    def __init__(
        self, op: KieGenerationOperator, store: AirflowLikeStore, pause_in: str, mocker: Any
    ) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        original = getattr(KieClient, pause_in)
        me = self

        def held(client: KieClient, *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is me.thread:
                me.reached.set()
                assert me.release.wait(30), "try 1 was never released"
            return original(client, *args, **kwargs)

        mocker.patch.object(KieClient, pause_in, held)
        context = {"ti": FakeTI(1), "task_state_store": store.for_try(1)}
        self.thread = threading.Thread(target=self._run, args=(op, context), name="try-1")

    def _run(self, op: KieGenerationOperator, context: dict[str, Any]) -> None:
        try:
            op.execute(context)
        except BaseException as exc:  # TaskDeferred included: the test reads what happened
            self.error = exc

    def __enter__(self) -> PausedTry:
        self.thread.start()
        assert self.reached.wait(30), "try 1 never reached the point to hold it at"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "try 1 did not end"


@pytest.fixture(params=[True, False], ids=["with-marker", "without-marker"])
def marker(request: pytest.FixtureRequest, mocker: Any) -> Iterator[bool]:
    """Run with the marker, and with its two steps turned off: the provider as it was before issue 15."""
    if not request.param:
        mocker.patch("airflow_provider_kie.operators.base.check_unfinished_submit")
        mocker.patch("airflow_provider_kie.operators.base.submit_marker", lambda *a, **k: nullcontext())
    yield request.param


def test_try_2_starts_while_try_1_is_inside_its_paid_request(
    marker: bool, emu: RunningEmulator, kie_conn: Any, tmp_path: Path, mocker: Any
) -> None:
    store = AirflowLikeStore()
    with PausedTry(_runway(tmp_path), store, "runway_generate", mocker) as try_1:
        # Try 1's worker stops heartbeating: the scheduler fails it for a retry and starts try 2.
        store.next_try()
        try_2 = _runway(tmp_path)
        context = {"ti": FakeTI(2), "task_state_store": store.for_try(2)}
        if marker:
            with pytest.raises(AirflowFailException, match="try 1 of this task started a paid KIE"):
                try_2.execute(context)
        else:
            with pytest.raises(TaskDeferred):
                try_2.execute(context)  # it found no id and paid
    # Try 1's request went through; saving its id failed: Airflow no longer knows that try.
    assert isinstance(try_1.error, StaleTryError)
    assert emu.stats().submissions_accepted == (1 if marker else 2)


def test_try_2_starts_while_try_1_is_still_uploading(
    marker: bool, emu: RunningEmulator, kie_conn: Any, media: Any, tmp_path: Path, mocker: Any
) -> None:
    image, _ = media.write_inputs(tmp_path / "inputs")
    store = AirflowLikeStore()

    def build() -> RunwayGenerateOperator:
        return _runway(tmp_path, image=str(image), aspect_ratio=None)

    with PausedTry(build(), store, "upload_files", mocker) as try_1:
        store.next_try()
        context = {"ti": FakeTI(2), "task_state_store": store.for_try(2)}
        with pytest.raises(TaskDeferred):
            build().execute(context)  # try 2 pays for the clip
    # With the marker, try 1 failed writing it, before paying; without, it paid and failed saving the id.
    assert isinstance(try_1.error, StaleTryError)
    assert emu.stats().submissions_accepted == (1 if marker else 2)
    assert store.rows[STATE_STORE_KEY] == emu.tasks()[0].task_id  # try 2's, KIE's first; try 1's is lost
