"""Operators and the sensor on a connection that enables callbacks: KIE is given the provider's receiver URL
and the deferred wait is one that callbacks wake; an explicit ``callback_url`` wins."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from airflow_provider_kie._compat import TaskDeferred
from airflow_provider_kie.callbacks.urls import callback_url, parse_callback_url
from airflow_provider_kie.hooks.kie import KieConnectionSettings
from airflow_provider_kie.operators.runway import RunwayGenerateOperator
from airflow_provider_kie.sensors.kie import KieTaskSensor

BASE = "https://airflow.example.com"


def _settings(callback_base_url: str | None) -> KieConnectionSettings:
    return KieConnectionSettings(
        api_key="sk-callbacks-unit-secret",
        base_url="https://kie.test",
        upload_base_url="https://up.kie.test",
        timeout=None,
        callback_base_url=callback_base_url,
    )


@pytest.fixture
def client(mocker: Any) -> mock.MagicMock:
    fake = mock.MagicMock(name="KieClient")
    fake.runway_generate.return_value = "new-task"
    mocker.patch("airflow_provider_kie.hooks.kie.KieHook.get_conn", return_value=fake)
    return fake


def _connection(mocker: Any, callback_base_url: str | None) -> None:
    mocker.patch("airflow_provider_kie.hooks.kie.KieHook.settings", _settings(callback_base_url))


def _context(map_index: int = -1) -> dict[str, Any]:
    ti = mock.MagicMock(name="ti", dag_id="daily", run_id="scheduled__2026-12-02T00:00:00+00:00")
    ti.task_id = "gen"
    ti.map_index = map_index
    return {"ti": ti}


def _defer(op: Any, context: dict[str, Any]) -> Any:
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    return deferred.value.trigger


def _submitted_callback_url(client: mock.MagicMock) -> str | None:
    (request,), _ = client.runway_generate.call_args
    return request.callback_url


def test_a_connection_with_a_callback_base_url_gives_kie_the_receivers_url(client, mocker):
    _connection(mocker, BASE + "/")
    op = RunwayGenerateOperator(task_id="gen", prompt="a fox", deferrable=True)
    trigger = _defer(op, _context(map_index=3))
    url = _submitted_callback_url(client)
    assert url == callback_url(BASE, "kie_default", "daily", "scheduled__2026-12-02T00:00:00+00:00", "gen", 3)
    target = parse_callback_url(url)
    assert target is not None
    assert (target.conn_id, target.task_id, target.map_index) == ("kie_default", "gen", 3)
    assert trigger.callbacks is True
    assert "sk-callbacks-unit-secret" not in url


def test_an_explicit_callback_url_wins_and_the_wait_polls(client, mocker):
    _connection(mocker, BASE)
    op = RunwayGenerateOperator(
        task_id="gen", prompt="a fox", deferrable=True, callback_url="https://hooks.example.com/kie"
    )
    trigger = _defer(op, _context())
    assert _submitted_callback_url(client) == "https://hooks.example.com/kie"
    assert trigger.callbacks is False


def test_without_a_callback_base_url_nothing_changes(client, mocker):
    _connection(mocker, None)
    op = RunwayGenerateOperator(task_id="gen", prompt="a fox", deferrable=True)
    trigger = _defer(op, _context())
    assert _submitted_callback_url(client) is None
    assert trigger.callbacks is False


def test_a_deferral_callback_that_resubmits_sends_the_receivers_url_too(client, mocker):
    # execute_complete runs in a fresh process: the URL is worked out again there. A cap refusal makes the
    # loop submit again, with the receiver's URL.
    _connection(mocker, BASE)
    op = RunwayGenerateOperator(task_id="gen", prompt="a fox", deferrable=True)
    with pytest.raises(TaskDeferred):
        op.resume_submit(_context())
    assert _submitted_callback_url(client).startswith(BASE + "/kie/callbacks/kie_default?")


def test_a_bad_callback_base_url_fails_naming_the_extra_before_any_request(client, mocker):
    _connection(mocker, "ftp://airflow.example.com")
    op = RunwayGenerateOperator(task_id="gen", prompt="a fox", deferrable=True)
    with pytest.raises(Exception, match="callback_base_url") as failed:
        op.execute(_context())
    assert type(failed.value).__name__ == "AirflowFailException"
    client.runway_generate.assert_not_called()


@pytest.mark.parametrize(
    ("callbacks", "base", "expected"),
    [(None, BASE, True), (None, None, False), (False, BASE, False), (True, None, True)],
)
def test_the_sensor_waits_for_callbacks_when_the_connection_enables_them(
    client, mocker, callbacks, base, expected
):
    _connection(mocker, base)
    client.get_task.return_value = mock.MagicMock(is_terminal=False)
    sensor = KieTaskSensor(task_id="wait", kie_task_id="t-1", deferrable=True, callbacks=callbacks)
    trigger = _defer(sensor, _context())
    assert trigger.callbacks is expected
