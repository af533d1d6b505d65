"""The callback URL: quoted parts, checked inputs, and its inverse."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_kie.callbacks.urls import (
    CallbackTarget,
    callback_base_url,
    callback_url,
    parse_callback_url,
    target_from_query,
    webhook_secret,
)

RUN_ID = "manual__2025-03-01T00:00:00+00:00"


def test_the_url_has_the_plugin_prefix_the_route_and_the_task_instance():
    url = callback_url("https://airflow.example.com/", "kie_default", "daily", RUN_ID, "generate", 3)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "airflow.example.com",
        "/kie/callbacks/kie_default",
    )
    assert parse_qs(parts.query) == {
        "dag_id": ["daily"],
        "run_id": [RUN_ID],
        "task_id": ["generate"],
        "map_index": ["3"],
    }
    # "+" and ":" are quoted: a "+" left bare would come back as a space.
    assert "%2B00%3A00" in parts.query


def test_a_base_url_with_a_path_is_kept():
    url = callback_url("http://proxy.local:8080/airflow", "kie", "d", "r", "t")
    assert url.startswith("http://proxy.local:8080/airflow/kie/callbacks/kie?")
    assert url.endswith("map_index=-1")


@pytest.mark.parametrize(
    ("conn_id", "dag_id", "run_id", "task_id", "map_index"),
    [
        ("kie_default", "daily", RUN_ID, "generate", -1),
        ("kie/odd id", "dag with spaces", "run&id=1#x", "group.task", 0),
        ("kié", "ünïcode", "r?", "t%20", 12),
    ],
)
def test_parse_is_the_inverse(conn_id, dag_id, run_id, task_id, map_index):
    url = callback_url("https://a.example/", conn_id, dag_id, run_id, task_id, map_index)
    assert parse_callback_url(url) == CallbackTarget(conn_id, dag_id, run_id, task_id, map_index)


@pytest.mark.parametrize(
    ("base_url", "rule"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("airflow.example.com", "absolute http"),
        ("ftp://airflow.example.com", "absolute http"),
        ("https://", "absolute http"),
        ("https://a.example/?x=1", "no query"),
    ],
)
def test_a_bad_base_url_is_refused_naming_the_parameter(base_url, rule):
    with pytest.raises(ValueError, match=f"base_url.*{rule}"):
        callback_url(base_url, "kie", "d", "r", "t")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"conn_id": ""}, "conn_id"),
        ({"dag_id": ""}, "dag_id"),
        ({"run_id": ""}, "run_id"),
        ({"task_id": ""}, "task_id"),
        ({"map_index": "0"}, "map_index"),
        ({"map_index": True}, "map_index"),
    ],
)
def test_empty_parts_are_refused_naming_the_parameter(kwargs, name):
    args = {"base_url": "https://a.example", "conn_id": "kie", "dag_id": "d", "run_id": "r", "task_id": "t"}
    with pytest.raises(ValueError, match=name):
        callback_url(**{**args, **kwargs})


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/kie/callbacks/?dag_id=d&run_id=r&task_id=t&map_index=-1",  # no conn id
        "https://a.example/other/path?dag_id=d&run_id=r&task_id=t&map_index=-1",
        "https://a.example/kie/callbacks/kie?dag_id=d&run_id=r&task_id=t",  # no map_index
        "https://a.example/kie/callbacks/kie?dag_id=d&run_id=r&task_id=t&map_index=x",
        "https://a.example/kie/callbacks/kie?dag_id=&run_id=r&task_id=t&map_index=-1",
    ],
)
def test_parse_returns_none_for_other_urls(url):
    assert parse_callback_url(url) is None


def test_target_from_query():
    query = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": "2", "extra": "ignored"}
    assert target_from_query("kie", query) == CallbackTarget("kie", "d", "r", "t", 2)
    assert target_from_query("kie", {**query, "map_index": ""}) is None
    assert target_from_query("", query) is None


def test_the_connection_extras_plain_or_prefixed():
    assert callback_base_url({"callback_base_url": " https://a.example "}) == "https://a.example"
    assert callback_base_url({"extra__kie__callback_base_url": "https://b.example"}) == "https://b.example"
    both = {"callback_base_url": "", "extra__kie__callback_base_url": "https://c.example"}
    assert callback_base_url(both) == "https://c.example"
    for off in ({}, {"callback_base_url": ""}, {"callback_base_url": "  "}, {"callback_base_url": None}):
        assert callback_base_url(off) is None
    assert webhook_secret({"webhook_secret": "k1"}) == "k1"
    assert webhook_secret({"extra__kie__webhook_secret": "k2"}) == "k2"
    assert webhook_secret({"webhook_secret": ""}) is None
    assert webhook_secret({}) is None
