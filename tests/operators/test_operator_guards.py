"""The checks before a paid submit, with KIE replaced by a mocked client: the credit floor (and its shared
balance cache), and the submit marker that stops a try from paying again for a submit an earlier try may
have paid for without saving its id (issue 15, parts 3 and 4)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from airflow_provider_kie._compat import AirflowException, AirflowFailException, TaskDeferred
from airflow_provider_kie.client import (
    KieAuthError,
    KieClient,
    KieConfigurationError,
    KieInsufficientCreditsError,
    KieRateLimitError,
    KieServerError,
    KieSubmitOutcomeUnknownError,
    TaskKind,
    TaskRecord,
    TaskState,
)
from airflow_provider_kie.get_provider_info import get_provider_info
from airflow_provider_kie.hooks.kie import KieConnectionSettings, KieHook
from airflow_provider_kie.lifecycle import credits
from airflow_provider_kie.lifecycle.credits import BalanceCache, credit_floor
from airflow_provider_kie.lifecycle.durable import STATE_STORE_KEY, SUBMIT_MARKER_KEY
from airflow_provider_kie.operators.runway import RunwayGenerateOperator

API_KEY = "sk-guards-secret-0123456789"


class FakeStateStore:
    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.data = dict(initial or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        assert value is not None
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def _settings(min_credits: float | None = None) -> KieConnectionSettings:
    return KieConnectionSettings(
        api_key=API_KEY,
        base_url="https://kie.test",
        upload_base_url="https://up.kie.test",
        timeout=None,
        min_credits=min_credits,
    )


@pytest.fixture(autouse=True)
def balances(tmp_path: Path, mocker: Any) -> BalanceCache:
    """A cache of this test's own: no reading leaks between tests (or from a real worker's files)."""
    cache = BalanceCache(directory=tmp_path / "balances")
    mocker.patch.object(credits, "SHARED_BALANCES", cache)
    return cache


@pytest.fixture
def client(mocker: Any) -> mock.MagicMock:
    fake = mock.MagicMock(name="KieClient")
    fake.runway_generate.return_value = "new-task"
    fake.get_credits.return_value = 500
    fake.upload_files.side_effect = lambda request, folder: KieClient.upload_files(fake, request, folder)
    mocker.patch("airflow_provider_kie.hooks.kie.KieHook.get_conn", return_value=fake)
    return fake


@pytest.fixture
def connection(mocker: Any) -> Any:
    """Set the connection's settings (its ``min_credits`` extra) without a connection to look up."""

    def configure(min_credits: float | None = None) -> None:
        mocker.patch("airflow_provider_kie.hooks.kie.KieHook.settings", _settings(min_credits))

    configure()
    return configure


def _context(store: FakeStateStore | None = None, try_number: int = 1) -> dict[str, Any]:
    context: dict[str, Any] = {"ti": mock.MagicMock(name="ti", try_number=try_number)}
    if store is not None:
        context["task_state_store"] = store
    return context


def _generate(**kw: Any) -> RunwayGenerateOperator:
    params: dict[str, Any] = {
        "task_id": "gen",
        "prompt": "a fox at dawn",
        "deferrable": True,
        "poll_interval": 7,
    }
    params.update(kw)
    return RunwayGenerateOperator(**params)


# -- the credit floor ---------------------------------------------------------------------------------------
FLOORS = [(None, None), ("", None), ("None", None), (" null ", None), (0, None), ("0", None)]
FLOORS += [(150, 150.0), ("250.5", 250.5), (" 7 ", 7.0)]


@pytest.mark.parametrize(("value", "expected"), FLOORS)
def test_a_credit_floor_reads_numbers_and_their_renderings(value: Any, expected: float | None) -> None:
    assert credit_floor("min_credits", value) == expected


@pytest.mark.parametrize("bad", ["lots", -1, "-5", True, float("nan"), float("inf"), [100]])
def test_a_bad_credit_floor_fails_naming_the_parameter(bad: Any) -> None:
    with pytest.raises(AirflowFailException, match="min_credits: must be a non-negative number of credits"):
        credit_floor("min_credits", bad)


def test_a_negative_floor_is_refused_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="min_credits must be a non-negative number"):
        _generate(min_credits=-10)


def test_below_the_floor_the_task_fails_before_any_request_that_costs(
    client: Any, connection: Any, tmp_path: Path
) -> None:
    image = tmp_path / "product.png"
    image.write_bytes(b"\x89PNG fake")
    client.get_credits.return_value = 42
    store = FakeStateStore()
    with pytest.raises(AirflowFailException) as failed:
        _generate(min_credits=100, image=str(image), aspect_ratio=None).execute(_context(store))
    message = str(failed.value)
    assert "balance 42 is below min_credits 100 (set on the operator)" in message
    assert API_KEY not in message
    client.runway_generate.assert_not_called()
    client.upload_file.assert_not_called()  # not even the free uploads
    assert store.data == {}  # no marker: nothing was started


@pytest.mark.parametrize("balance", [100, 101, 5000])
def test_at_or_above_the_floor_the_task_submits(client: Any, connection: Any, balance: int) -> None:
    client.get_credits.return_value = balance
    with pytest.raises(TaskDeferred):
        _generate(min_credits="100").execute(_context(FakeStateStore()))
    client.runway_generate.assert_called_once()


def test_without_a_floor_no_balance_is_read(client: Any, connection: Any) -> None:
    with pytest.raises(TaskDeferred):
        _generate().execute(_context(FakeStateStore()))
    client.get_credits.assert_not_called()


@pytest.mark.parametrize(
    ("connection_floor", "operator_floor", "submits"),
    [
        (1000, None, False),  # the connection's floor applies
        (10, None, True),
        (1000, 10, True),  # the operator's wins, either way
        (10, 1000, False),
        (1000, 0, True),  # 0 on the operator turns the connection's floor off
    ],
)
def test_the_operators_floor_wins_over_the_connections(
    client: Any, connection: Any, connection_floor: float, operator_floor: float | None, submits: bool
) -> None:
    connection(min_credits=connection_floor)
    client.get_credits.return_value = 500
    op = _generate(min_credits=operator_floor)
    if submits:
        with pytest.raises(TaskDeferred):
            op.execute(_context(FakeStateStore()))
        client.runway_generate.assert_called_once()
    else:
        with pytest.raises(AirflowFailException, match="balance 500 is below min_credits 1000") as failed:
            op.execute(_context(FakeStateStore()))
        source = "(set on the operator)" if operator_floor else "(from connection 'kie_default')"
        assert source in str(failed.value)
        client.runway_generate.assert_not_called()
    if operator_floor == 0:
        client.get_credits.assert_not_called()


def test_an_unreadable_balance_fails_the_try_for_a_retry_without_paying(client: Any, connection: Any) -> None:
    client.get_credits.side_effect = KieServerError("upstream", code=500, http_status=502, endpoint="/credit")
    with pytest.raises(AirflowException) as failed:
        _generate(min_credits=100).execute(_context(FakeStateStore()))
    assert not isinstance(failed.value, AirflowFailException)  # Airflow's retries may try again
    assert "could not read the KIE credit balance to check min_credits 100" in str(failed.value)
    client.runway_generate.assert_not_called()


def test_the_floor_is_templated() -> None:
    assert "min_credits" in RunwayGenerateOperator.template_fields


# -- the shared balance cache -------------------------------------------------------------------------------
def test_a_reading_is_reused_within_the_ttl_then_read_again(tmp_path: Path) -> None:
    now = [1000.0]
    cache = BalanceCache(ttl=30, directory=tmp_path, clock=lambda: now[0])
    reads = iter([500, 480])
    assert cache.balance("kie_default", "https://api.kie.ai", lambda: next(reads)) == 500
    now[0] += 29
    assert cache.balance("kie_default", "https://api.kie.ai", lambda: pytest.fail("read again")) == 500
    now[0] += 2
    assert cache.balance("kie_default", "https://api.kie.ai", lambda: next(reads)) == 480


def test_readings_are_per_connection_and_base_url(tmp_path: Path) -> None:
    cache = BalanceCache(directory=tmp_path)
    assert cache.balance("a", "https://api.kie.ai", lambda: 1) == 1
    assert cache.balance("b", "https://api.kie.ai", lambda: 2) == 2
    assert cache.balance("a", "http://127.0.0.1:8089", lambda: 3) == 3
    assert cache.balance("a", "https://api.kie.ai", lambda: 4) == 1


def test_concurrent_checks_in_one_process_make_one_read(tmp_path: Path) -> None:
    cache = BalanceCache(directory=tmp_path)
    calls: list[int] = []

    def read() -> float:
        calls.append(1)
        time.sleep(0.2)  # the others arrive while this read is in flight
        return 500

    results: list[float] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.balance("kie_default", "u", read)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [500] * 8
    assert len(calls) == 1


def test_the_processes_of_one_host_share_a_reading_through_its_file(tmp_path: Path) -> None:
    # Airflow 3 forks a process per task try, so the memory of one is no use to the next: the file is.
    first = BalanceCache(directory=tmp_path)
    assert first.balance("kie_default", "u", lambda: 500) == 500
    another_process = BalanceCache(directory=tmp_path)
    assert another_process.balance("kie_default", "u", lambda: pytest.fail("read again")) == 500
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert json.loads(files[0].read_text())["balance"] == 500
    assert oct(files[0].stat().st_mode & 0o777) == oct(0o600)


def test_a_reading_from_another_process_ages_from_when_it_was_read(tmp_path: Path) -> None:
    now = [1000.0]
    BalanceCache(ttl=30, directory=tmp_path, clock=lambda: now[0]).balance("c", "u", lambda: 500)
    now[0] += 20
    later = BalanceCache(ttl=30, directory=tmp_path, clock=lambda: now[0])
    assert later.balance("c", "u", lambda: pytest.fail("read again")) == 500
    now[0] += 11  # 31 s after the read, 11 s after this process took it
    assert later.balance("c", "u", lambda: 450) == 450


def test_a_damaged_reading_file_is_read_afresh(tmp_path: Path) -> None:
    BalanceCache(directory=tmp_path).balance("kie_default", "u", lambda: 500)
    (path,) = tmp_path.iterdir()
    path.write_text("{not json")
    assert BalanceCache(directory=tmp_path).balance("kie_default", "u", lambda: 321) == 321


def test_concurrent_task_processes_make_one_read(tmp_path: Path) -> None:
    # Real processes, as Airflow runs task tries: each counts its reads of KIE in a shared log.
    log = tmp_path / "reads.log"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from airflow_provider_kie.lifecycle.credits import BalanceCache\n"
        "log = Path(sys.argv[2])\n"
        "def read():\n"
        "    with log.open('a') as f: f.write('read\\n')\n"
        "    time.sleep(0.3)\n"
        "    return 777\n"
        "print(BalanceCache(directory=Path(sys.argv[1])).balance('kie_default', 'u', read))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "balances"), str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    # The last line: Airflow may log its configuration's origin first.
    outputs = [proc.communicate(timeout=120)[0].strip().splitlines()[-1] for proc in procs]
    assert outputs == ["777.0"] * 3
    assert log.read_text().splitlines() == ["read"]


# -- the connection's min_credits extra ---------------------------------------------------------------------
def _set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict[str, Any]) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "kie", "password": API_KEY, "extra": extra}),
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, None),
        ({"min_credits": 250}, 250.0),
        ({"min_credits": "250"}, 250.0),
        ({"min_credits": ""}, None),
        ({"min_credits": 0}, None),
        ({"extra__kie__min_credits": "40"}, 40.0),  # how Airflow < 3.2's form stores it
    ],
)
def test_the_connection_extra_sets_a_floor(monkeypatch: Any, extra: dict[str, Any], expected: Any) -> None:
    _set_conn(monkeypatch, "kie_floor", extra)
    assert KieHook("kie_floor").settings.min_credits == expected


@pytest.mark.parametrize("bad", ["lots", -5, True])
def test_a_bad_min_credits_extra_is_rejected(monkeypatch: Any, bad: Any) -> None:
    _set_conn(monkeypatch, "kie_badfloor", {"min_credits": bad})
    with pytest.raises(KieConfigurationError, match="extra 'min_credits' must be a non-negative number"):
        _ = KieHook("kie_badfloor").settings


def test_the_connection_form_has_the_min_credits_field() -> None:
    (conn,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "kie"]
    field = conn["conn-fields"]["min_credits"]
    assert field["label"] == "Minimum credits"
    assert "paid submit" in field["description"]
    assert field["schema"] == {"type": ["number", "null"], "minimum": 0}
    assert conn["ui-field-behaviour"]["placeholders"]["min_credits"]
    assert KieHook.get_ui_field_behaviour()["placeholders"]["min_credits"]
    widgets = KieHook.get_connection_form_widgets()
    assert widgets == {} or "min_credits" in widgets  # {} without WTForms (Airflow 3.1's default install)


# -- the submit marker --------------------------------------------------------------------------------------
def test_the_marker_is_written_before_the_paid_call_and_deleted_with_the_id(
    client: Any, connection: Any
) -> None:
    store = FakeStateStore()
    seen: dict[str, Any] = {}

    def pay(request: Any) -> str:
        seen.update(store.data)
        return "new-task"

    client.runway_generate.side_effect = pay
    with pytest.raises(TaskDeferred):
        _generate().execute(_context(store, try_number=3))
    marker = seen[SUBMIT_MARKER_KEY]
    assert marker["try_number"] == 3
    assert marker["family"] == "Runway generate"
    assert marker["after_task_id"] is None
    assert marker["started_at"].endswith("+00:00")
    assert store.data == {STATE_STORE_KEY: "new-task"}  # a normal submit leaves no marker


@pytest.mark.parametrize(
    "refusal",
    [
        KieRateLimitError("slow down", code=429, http_status=429, endpoint="/g"),  # backs off, deferred
        KieInsufficientCreditsError("no credits", code=402, http_status=200, endpoint="/g"),
        KieAuthError("bad key", code=401, http_status=200, endpoint="/g"),
    ],
    ids=["busy", "402", "401"],
)
def test_a_refusal_from_kie_deletes_the_marker(client: Any, connection: Any, refusal: Exception) -> None:
    client.runway_generate.side_effect = refusal
    store = FakeStateStore()
    with pytest.raises((TaskDeferred, AirflowException)):
        _generate().execute(_context(store))
    assert store.data == {}  # KIE created nothing: a retry may submit


@pytest.mark.parametrize(
    "failure",
    [
        KieSubmitOutcomeUnknownError(
            "/g", KieServerError("upstream", code=500, http_status=502, endpoint="/g")
        ),
        RuntimeError("killed mid-request"),
    ],
    ids=["5xx-after-sending", "killed"],
)
def test_a_submit_that_may_have_paid_keeps_the_marker(
    client: Any, connection: Any, failure: Exception
) -> None:
    client.runway_generate.side_effect = failure
    store = FakeStateStore()
    with pytest.raises((AirflowFailException, RuntimeError)):
        _generate().execute(_context(store))
    assert set(store.data) == {SUBMIT_MARKER_KEY}


def _marker(after: str | None = None, try_number: int = 1) -> dict[str, Any]:
    return {
        "try_number": try_number,
        "started_at": "2026-12-01T06:00:03+00:00",
        "host": "worker-7",
        "family": "Runway generate",
        "after_task_id": after,
    }


def test_a_try_that_finds_an_unresolved_marker_fails_clearly_and_pays_nothing(
    client: Any, connection: Any
) -> None:
    store = FakeStateStore({SUBMIT_MARKER_KEY: _marker()})
    with pytest.raises(AirflowFailException) as failed:
        _generate(min_credits=100).execute(_context(store, try_number=2))
    message = str(failed.value)
    assert (
        "try 1 of this task started a paid KIE Runway generate submit at 2026-12-01T06:00:03+00:00" in message
    )
    assert "worker-7" in message
    assert "resubmit_on_unknown_outcome=True" in message
    assert SUBMIT_MARKER_KEY in message
    client.runway_generate.assert_not_called()
    client.get_credits.assert_not_called()  # stopped before the credit check too
    assert store.data == {SUBMIT_MARKER_KEY: _marker()}  # the next try stops the same way


def test_resubmit_on_unknown_outcome_accepts_the_risk_with_a_warning(
    client: Any, connection: Any, mocker: Any
) -> None:
    store = FakeStateStore({SUBMIT_MARKER_KEY: _marker()})
    op = _generate(resubmit_on_unknown_outcome=True)
    warning = mocker.spy(op.log, "warning")
    with pytest.raises(TaskDeferred):
        op.execute(_context(store, try_number=2))
    client.runway_generate.assert_called_once()
    assert "may pay twice" in warning.call_args.args[0]
    assert store.data == {STATE_STORE_KEY: "new-task"}


def test_a_marker_whose_id_was_saved_is_not_a_reason_to_stop(client: Any, connection: Any) -> None:
    # The try died between saving the id and deleting the marker; that clip then failed at KIE.
    store = FakeStateStore({SUBMIT_MARKER_KEY: _marker(after=None), STATE_STORE_KEY: "failed-task"})
    client.get_task.return_value = TaskRecord(
        task_id="failed-task", kind=TaskKind.RUNWAY, state=TaskState.FAILED, raw_state="fail", fail_msg="x"
    )
    with pytest.raises(TaskDeferred):
        _generate().execute(_context(store, try_number=2))
    client.runway_generate.assert_called_once()


def test_a_marker_after_a_refused_clip_still_stops_the_next_try(client: Any, connection: Any) -> None:
    # Blocking mode: KIE failed task "capped" for its concurrency cap, the try submitted again (marker after
    # "capped") and died before saving the new id. The saved id is the refused clip's: stop.
    store = FakeStateStore({SUBMIT_MARKER_KEY: _marker(after="capped"), STATE_STORE_KEY: "capped"})
    client.get_task.return_value = TaskRecord(
        task_id="capped", kind=TaskKind.RUNWAY, state=TaskState.FAILED, raw_state="fail"
    )
    with pytest.raises(AirflowFailException, match="saved no KIE task id"):
        _generate().execute(_context(store, try_number=2))
    client.runway_generate.assert_not_called()


def test_a_reconnecting_retry_never_reads_the_marker(client: Any, connection: Any) -> None:
    store = FakeStateStore({STATE_STORE_KEY: "alive"})
    client.get_task.return_value = TaskRecord(
        task_id="alive", kind=TaskKind.RUNWAY, state=TaskState.RUNNING, raw_state="generating"
    )
    with pytest.raises(TaskDeferred) as deferred:
        _generate().execute(_context(store, try_number=2))
    assert deferred.value.trigger.kie_task_id == "alive"
    client.runway_generate.assert_not_called()


def test_without_a_task_state_store_nothing_changes(client: Any, connection: Any) -> None:
    # Airflow < 3.3: no store, no marker (the documented fallback: a retry after a submit submits again).
    with pytest.raises(TaskDeferred):
        _generate().execute(_context(None, try_number=2))
    client.runway_generate.assert_called_once()


# -- a try Airflow is stopping pays nothing ------------------------------------------------------------------
def test_a_try_that_airflow_is_stopping_starts_no_paid_submit(client: Any, connection: Any) -> None:
    # Airflow 3's SIGTERM handler calls on_kill() and lets execute() run on until SIGKILL: a scheduler that
    # reset this try (benchmarks/README.md, the duplicate) must not see it pay afterwards.
    store = FakeStateStore()
    op = _generate()
    op.on_kill()
    with pytest.raises(AirflowException, match="Airflow is stopping this try"):
        op.execute(_context(store))
    client.runway_generate.assert_not_called()
    assert store.data == {}  # no submit marker either


def test_on_kill_during_the_uploads_stops_the_submit_after_them(
    client: Any, connection: Any, tmp_path: Path
) -> None:
    image = tmp_path / "product.png"
    image.write_bytes(b"\x89PNG fake")
    op = _generate(image=str(image))

    def upload_while_being_killed(request: Any, folder: str) -> Any:
        op.on_kill()
        return request  # (what it uploads does not matter here)

    client.upload_files.side_effect = upload_while_being_killed
    with pytest.raises(AirflowException, match="Airflow is stopping this try"):
        op.execute(_context(FakeStateStore()))
    client.runway_generate.assert_not_called()
