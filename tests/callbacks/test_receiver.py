"""The callback receiver against a real (SQLite) Airflow metadata DB: every refusal, every body shape,
duplicates, and no secret anywhere."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from airflow_provider_kie.callbacks import journal, receiver
from airflow_provider_kie.callbacks.receiver import MAX_BODY_BYTES, STATS, app, record_callback
from airflow_provider_kie.callbacks.urls import CallbackTarget, callback_url
from airflow_provider_kie.client.webhooks import compute_signature

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WEBHOOK_SECRET = "whsec-callback-test-5f2e9a41c7"
API_KEY = "kie-api-key-callback-test-8d1b"  # the one tests/callbacks/conftest.py gives every connection
BASE_URL = "https://airflow.example.com"
TASK = "ee603959-debb-48d1-98c4-a6d1c717eba6"


def runway_body(task_id: str) -> dict[str, Any]:
    return {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {"task_id": task_id, "video_id": "v1", "video_url": "https://f.example/x.mp4"},
    }


def aleph_body(task_id: str) -> dict[str, Any]:
    return {
        "code": 200,
        "msg": "success",
        "data": {
            "result_video_url": "https://f.example/a.mp4",
            "result_image_url": "https://f.example/a.png",
        },
        "taskId": task_id,
    }


def jobs_body(task_id: str) -> dict[str, Any]:
    return {
        "code": 200,
        "msg": "success",
        "data": {"taskId": task_id, "state": "success", "resultJson": "{}"},
    }


def signed(task_id: str, *, key: str = WEBHOOK_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": compute_signature(key, task_id, timestamp),
    }


def url_path(target: CallbackTarget) -> str:
    """The path and query of the callback URL (the TestClient supplies the host)."""
    url = callback_url(
        BASE_URL, target.conn_id, target.dag_id, target.run_id, target.task_id, target.map_index
    )
    return url.removeprefix(BASE_URL).removeprefix("/kie")


def journal_entries() -> list[journal.Entry]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(select(Variable).where(Variable.key == journal.JOURNAL_VARIABLE)).one_or_none()
        return journal.parse(row.val if row is not None else None)


def set_journal(raw: str | None) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key == journal.JOURNAL_VARIABLE))
        if raw is not None:
            session.add(Variable(key=journal.JOURNAL_VARIABLE, val=raw))


@pytest.fixture
def client(airflow_db: None) -> Iterator[TestClient]:
    set_journal(None)
    STATS.clear()
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def signed_conn(kie_connection: Callable[..., None]) -> None:
    kie_connection(callback_base_url=BASE_URL, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def unsigned_conn(kie_connection: Callable[..., None]) -> None:
    kie_connection(callback_base_url=BASE_URL)


def post(client: TestClient, target: CallbackTarget, body: Any, headers: dict[str, str] | None = None) -> Any:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        url_path(target), content=content, headers={"Content-Type": "application/json", **(headers or {})}
    )


def assert_refused(response: Any, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["reason"] == reason
    assert STATS[f"refused.{reason}"] >= 1


# -- genuine callbacks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [runway_body, aleph_body, jobs_body], ids=["runway", "aleph", "jobs"])
def test_a_genuine_callback_of_each_shape_is_recorded(client, signed_conn, make_wait, shape):
    target = make_wait(TASK)
    response = post(client, target, shape(TASK), signed(TASK))
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True}
    assert [task for task, _ in journal_entries()] == [TASK]
    assert STATS["accepted"] == 1


def test_a_mapped_task_instance_is_told_apart_by_its_map_index(client, signed_conn, make_wait):
    target = make_wait("task-m2", map_index=2)
    assert post(client, target, jobs_body("task-m2"), signed("task-m2")).status_code == 200
    other = CallbackTarget(target.conn_id, target.dag_id, target.run_id, target.task_id, 1)
    assert_refused(post(client, other, jobs_body("task-m2"), signed("task-m2")), 404, "unknown_wait")


def test_duplicates_answer_200_and_do_not_grow_the_journal(client, signed_conn, make_wait):
    target = make_wait(TASK)
    assert post(client, target, runway_body(TASK), signed(TASK)).status_code == 200
    first = journal_entries()
    for _ in range(3):  # KIE's retries, or a replay of the genuine request within the window
        response = post(client, target, runway_body(TASK), signed(TASK))
        assert response.status_code == 200
        assert response.json() == {"ok": True}
    assert journal_entries() == first
    assert (STATS["accepted"], STATS["duplicate"]) == (1, 3)


def test_unsigned_callbacks_are_accepted_when_no_secret_is_set(client, unsigned_conn, make_wait):
    target = make_wait(TASK)
    response = post(client, target, aleph_body(TASK))
    assert response.status_code == 200, response.text
    assert [task for task, _ in journal_entries()] == [TASK]


def test_a_write_trims_expired_lines_and_replaces_a_malformed_value(client, unsigned_conn, make_wait):
    now = time.time()
    set_journal(journal.dump([("expired", now - journal.RETENTION_S - 60), ("recent", now - 60)]))
    target = make_wait(TASK)
    assert post(client, target, runway_body(TASK)).status_code == 200
    assert [task for task, _ in journal_entries()] == ["recent", TASK]

    set_journal("{garbage")
    other = make_wait("second-task")
    assert post(client, other, runway_body("second-task")).status_code == 200
    assert [task for task, _ in journal_entries()] == ["second-task"]


# -- refusals, in the receiver's order --------------------------------------------------------------------
def test_a_missing_connection_is_not_enabled(client, make_wait):
    target = make_wait(TASK, conn_id="no_such_conn")
    assert_refused(post(client, target, runway_body(TASK), signed(TASK)), 404, "not_enabled")
    assert (
        post(client, target, runway_body(TASK)).json()["detail"]
        == "callbacks not enabled for this connection"
    )


def test_a_connection_of_another_type_is_not_enabled(client, kie_connection, make_wait):
    kie_connection("http_cb", conn_type="http", callback_base_url=BASE_URL)
    target = make_wait(TASK, conn_id="http_cb")
    assert_refused(post(client, target, runway_body(TASK)), 404, "not_enabled")


@pytest.mark.parametrize("base_url", [None, "", "   "])
def test_a_kie_connection_without_a_callback_base_url_is_not_enabled(
    client, kie_connection, make_wait, base_url
):
    extra = {"webhook_secret": WEBHOOK_SECRET} | ({} if base_url is None else {"callback_base_url": base_url})
    kie_connection(**extra)
    target = make_wait(TASK)
    assert_refused(post(client, target, runway_body(TASK), signed(TASK)), 404, "not_enabled")
    assert journal_entries() == []


def test_prefixed_extras_from_the_connection_form_count(client, kie_connection, make_wait):
    kie_connection(extra__kie__callback_base_url=BASE_URL, extra__kie__webhook_secret=WEBHOOK_SECRET)
    target = make_wait(TASK)
    assert_refused(post(client, target, runway_body(TASK)), 401, "unsigned")
    assert post(client, target, runway_body(TASK), signed(TASK)).status_code == 200


def test_an_oversized_body_is_refused(client, signed_conn, make_wait):
    target = make_wait(TASK)
    body = runway_body(TASK) | {"padding": "x" * MAX_BODY_BYTES}
    assert_refused(post(client, target, body, signed(TASK)), 413, "too_large")


def test_an_oversized_body_without_a_length_header_is_refused(client, signed_conn, make_wait):
    target = make_wait(TASK)

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to trust
        for _ in range(5):
            yield b" " * (MAX_BODY_BYTES // 4)

    response = client.post(url_path(target), content=chunks(), headers=signed(TASK))
    assert_refused(response, 413, "too_large")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(client, signed_conn, make_wait, body):
    target = make_wait(TASK)
    assert_refused(post(client, target, body, signed(TASK)), 400, "bad_json")


@pytest.mark.parametrize(
    "body",
    [
        {"code": 200, "data": {}},
        {"code": 200, "data": {"video_url": "https://f.example/x.mp4"}},
        {"taskId": "<script>alert(1)</script>"},
        {"taskId": "a\nFORGED LOG LINE"},
        {"taskId": "x" * 200},
    ],
)
def test_a_body_without_a_valid_task_id_is_refused(client, signed_conn, make_wait, body):
    target = make_wait(TASK)
    assert_refused(post(client, target, body, signed(TASK)), 400, "no_task_id")


def test_unsigned_when_a_secret_is_set_is_refused(client, signed_conn, make_wait):
    target = make_wait(TASK)
    assert_refused(post(client, target, runway_body(TASK)), 401, "unsigned")
    only_timestamp = {"X-Webhook-Timestamp": str(int(time.time()))}
    assert_refused(post(client, target, runway_body(TASK), only_timestamp), 401, "unsigned")
    assert journal_entries() == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(signed(TASK, key="another-accounts-key"), id="wrong-key"),
        pytest.param(signed("some-other-task"), id="another-tasks-signature"),
        pytest.param({"X-Webhook-Timestamp": "yesterday", "X-Webhook-Signature": "abc"}, id="bad-timestamp"),
        pytest.param({"X-Webhook-Timestamp": "1", "X-Webhook-Signature": "AAAA"}, id="garbage"),
    ],
)
def test_a_bad_signature_is_refused(client, signed_conn, make_wait, headers):
    target = make_wait(TASK)
    assert_refused(post(client, target, runway_body(TASK), headers), 401, "bad_signature")
    assert journal_entries() == []


@pytest.mark.parametrize("offset", [-600, 600], ids=["stale", "future"])
def test_a_replayed_or_future_signature_is_refused(client, signed_conn, make_wait, offset):
    target = make_wait(TASK)
    headers = signed(TASK, at=time.time() + offset)
    assert_refused(post(client, target, runway_body(TASK), headers), 401, "stale")
    assert journal_entries() == []


def test_a_task_instance_that_does_not_exist_is_unknown(client, signed_conn, make_wait):
    target = make_wait(TASK)
    ghost = CallbackTarget(target.conn_id, target.dag_id, target.run_id, "no_such_task", -1)
    assert_refused(post(client, ghost, runway_body(TASK), signed(TASK)), 404, "unknown_wait")
    assert post(client, ghost, runway_body(TASK), signed(TASK)).json()["detail"] == "no wait knows this task"


def test_a_task_instance_waiting_for_another_kie_task_is_unknown(client, signed_conn, make_wait):
    target = make_wait("the-task-it-waits-for")
    # A genuine, signed callback of another KIE task (the same account) sent to this wait's URL.
    assert_refused(post(client, target, runway_body(TASK), signed(TASK)), 404, "unknown_wait")
    assert journal_entries() == []


def test_a_task_instance_that_pushed_no_task_id_is_unknown(client, signed_conn, make_wait):
    target = make_wait(TASK, push=False)
    assert_refused(post(client, target, runway_body(TASK), signed(TASK)), 404, "unknown_wait")


def test_a_url_without_the_task_instance_is_unknown(client, signed_conn, make_wait):
    make_wait(TASK)
    response = client.post("/callbacks/kie_cb?dag_id=d", json=runway_body(TASK), headers=signed(TASK))
    assert_refused(response, 404, "unknown_wait")


def test_a_database_failure_answers_503_so_kie_retries(client, signed_conn, make_wait, mocker):
    target = make_wait(TASK)
    mocker.patch.object(receiver, "record_callback", side_effect=RuntimeError("database is gone"))
    assert_refused(post(client, target, runway_body(TASK), signed(TASK)), 503, "store_error")


# -- the store ----------------------------------------------------------------------------------------------
def test_record_callback_survives_losing_the_first_insert_race(airflow_db, mocker):
    """Two api-server workers both find no row and insert: the loser retries and locks the winner's row."""
    set_journal(None)
    real_parse = journal.parse
    calls = 0

    def parse_then_lose_the_race(raw: Any) -> list[journal.Entry]:
        nonlocal calls
        calls += 1
        if calls == 1:  # another worker inserts the row between our locked read and our insert
            from airflow.models.variable import Variable
            from airflow.utils.session import create_session

            with create_session(scoped=False) as other:
                other.add(Variable(key=journal.JOURNAL_VARIABLE, val=journal.dump([("winner", time.time())])))
        return real_parse(raw)

    mocker.patch.object(journal, "parse", side_effect=parse_then_lose_the_race)
    assert record_callback("loser") is True
    assert calls == 2
    assert sorted(task for task, _ in journal_entries()) == ["loser", "winner"]


def test_record_callback_locks_the_row(airflow_db, mocker):
    set_journal(journal.dump([("t0", time.time())]))
    from sqlalchemy.sql import Select

    spy = mocker.spy(Select, "with_for_update")
    assert record_callback("t1") is True
    assert spy.call_count == 1
    assert record_callback("t1") is False


# -- observability and secrets ------------------------------------------------------------------------------
def test_stats_count_refusals_by_reason(client, signed_conn, make_wait):
    target = make_wait(TASK)
    post(client, target, runway_body(TASK))
    post(client, target, runway_body(TASK))
    post(client, target, b"nope", signed(TASK))
    post(client, target, runway_body(TASK), signed(TASK))
    stats = client.get("/callbacks/_stats").json()
    assert stats == {"accepted": 1, "duplicate": 0, "refused": {"bad_json": 1, "unsigned": 2}}


def test_no_secret_or_body_in_any_log_record_or_response(client, signed_conn, make_wait, caplog):
    target = make_wait(TASK)
    marker = "BODY-MARKER-7731"
    forged_signature = compute_signature(WEBHOOK_SECRET, "some-other-task", str(int(time.time())))
    requests = [
        (runway_body(TASK) | {"marker": marker}, signed(TASK)),
        (runway_body(TASK) | {"marker": marker}, {}),
        (runway_body(TASK) | {"marker": marker}, signed(TASK, key="wrong")),
        (runway_body(TASK) | {"marker": marker}, signed(TASK, at=time.time() - 3600)),
        (runway_body(TASK) | {"marker": marker}, {**signed(TASK), "X-Webhook-Signature": forged_signature}),
        ({"marker": marker}, signed(TASK)),
        (f"{marker} not json".encode(), signed(TASK)),
        (runway_body(TASK) | {"padding": marker * 10_000}, signed(TASK)),
    ]
    responses = []
    with caplog.at_level(logging.DEBUG):
        for body, headers in requests:
            responses.append(post(client, target, body, headers))
        responses.append(client.get("/callbacks/_stats"))
    assert [r.status_code for r in responses] == [200, 401, 401, 401, 401, 400, 400, 413, 200]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "KIE callback refused (unsigned" in logged  # the refusals are logged...
    for secret in (WEBHOOK_SECRET, API_KEY, marker, forged_signature):  # ...without any of these
        assert secret not in logged
        for response in responses:
            assert secret not in response.text
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 7
    assert all(r.levelno == logging.WARNING for r in refusals)


def test_the_settings_repr_hides_the_secret(signed_conn, airflow_db):
    settings = receiver._callback_settings("kie_cb")
    assert settings is not None
    assert settings.secret == WEBHOOK_SECRET
    assert WEBHOOK_SECRET not in repr(settings)
