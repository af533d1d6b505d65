"""The callback URL KIE is given at submit time, and reading it back in the receiver.

``<base_url>/kie/callbacks/<conn_id>?dag_id=..&run_id=..&task_id=..&map_index=..``

* ``base_url`` is the connection's ``callback_base_url``: where KIE can reach this Airflow's api-server
  (it may carry a path, for an api-server behind a reverse proxy under a prefix).
* ``/kie`` is the url_prefix the provider's plugin mounts its app under; ``/callbacks/<conn_id>`` is the
  route, so the receiver knows which connection's webhook key checks the signature.
* The query names the task instance that waits. The receiver only accepts a callback whose task id is the
  one that task instance pushed to XCom (``kie_task_id``), so the URL is an address, not a credential:
  guessing one gains nothing.

Airflow-free, so operators, tests and the receiver share one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

__all__ = [
    "CALLBACK_ROUTE",
    "EXTRA_CALLBACK_BASE_URL",
    "EXTRA_WEBHOOK_SECRET",
    "URL_PREFIX",
    "CallbackTarget",
    "callback_base_url",
    "callback_url",
    "parse_callback_url",
    "target_from_query",
    "webhook_secret",
]

#: Where the plugin mounts the receiver's app in the api-server.
URL_PREFIX = "/kie"
#: The receiver's route inside that app (``{conn_id}`` is the connection id).
CALLBACK_ROUTE = "/callbacks/{conn_id}"

_QUERY_KEYS = ("dag_id", "run_id", "task_id", "map_index")

#: ``kie`` connection extra: the api-server's public base URL; empty turns callbacks off for the connection.
EXTRA_CALLBACK_BASE_URL = "callback_base_url"
#: ``kie`` connection extra: the KIE account's webhook HMAC key. "secret" in the name makes Airflow's secrets
#: masker hide its value.
EXTRA_WEBHOOK_SECRET = "webhook_secret"  # noqa: S105 - the extra's name, not a secret


def _extra(extra: Mapping[str, Any], key: str) -> Any:
    # Airflow's connection forms may store extras prefixed (extra__kie__<key>), as the hook also accepts.
    value = extra.get(key)
    return extra.get(f"extra__kie__{key}") if value in (None, "") else value


def callback_base_url(extra: Mapping[str, Any]) -> str | None:
    """The ``callback_base_url`` of a ``kie`` connection's extra; ``None`` when unset (callbacks off)."""
    value = _extra(extra, EXTRA_CALLBACK_BASE_URL)
    return value.strip() if isinstance(value, str) and value.strip() else None


def webhook_secret(extra: Mapping[str, Any]) -> str | None:
    """The ``webhook_secret`` of a ``kie`` connection's extra; ``None`` when unset (unsigned accepted)."""
    value = _extra(extra, EXTRA_WEBHOOK_SECRET)
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class CallbackTarget:
    """The task instance (and connection) a callback URL points at."""

    conn_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


def _check_base_url(base_url: str) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError("callback base_url must be the api-server's public http(s) URL, got an empty value")
    base = base_url.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"callback base_url must be an absolute http(s) URL such as https://airflow.example.com, "
            f"got {base_url!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"callback base_url must have no query or fragment, got {base_url!r}")
    return base


def callback_url(
    base_url: str, conn_id: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> str:
    """The URL KIE should POST ``task_id``'s callback to (every part quoted).

    :param base_url: the connection's ``callback_base_url`` (a trailing slash is ignored).
    :param conn_id: the ``kie`` connection whose webhook key signs the callbacks.
    :param dag_id: with ``run_id``, ``task_id`` and ``map_index``: the waiting task instance.
    :raises ValueError: naming the parameter, when one is empty or ``base_url`` is not http(s).
    """
    base = _check_base_url(base_url)
    for name, value in (("conn_id", conn_id), ("dag_id", dag_id), ("run_id", run_id), ("task_id", task_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"callback {name} must be a non-empty string, got {value!r}")
    if isinstance(map_index, bool) or not isinstance(map_index, int):
        raise ValueError(f"callback map_index must be an int (-1 when not mapped), got {map_index!r}")
    query = urlencode(
        {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": str(map_index)},
        quote_via=quote,
        safe="",
    )
    path = URL_PREFIX + CALLBACK_ROUTE.format(conn_id=quote(conn_id, safe=""))
    return f"{base}{path}?{query}"


def target_from_query(conn_id: str, query: Mapping[str, str]) -> CallbackTarget | None:
    """The task instance a request's decoded query names; ``None`` when a part is missing or malformed."""
    values = {key: query.get(key) for key in _QUERY_KEYS}
    if not conn_id or not all(isinstance(v, str) and v for v in values.values()):
        return None
    try:
        map_index = int(str(values["map_index"]))
    except ValueError:
        return None
    return CallbackTarget(
        conn_id=conn_id,
        dag_id=str(values["dag_id"]),
        run_id=str(values["run_id"]),
        task_id=str(values["task_id"]),
        map_index=map_index,
    )


def parse_callback_url(url: str) -> CallbackTarget | None:
    """The inverse of :func:`callback_url`: what a URL it built points at; ``None`` for any other URL."""
    parts = urlsplit(url)
    marker = URL_PREFIX + CALLBACK_ROUTE.format(conn_id="")
    _, sep, raw_conn_id = parts.path.rpartition(marker)
    if not sep or not raw_conn_id or "/" in raw_conn_id:
        return None
    query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    return target_from_query(unquote(raw_conn_id), query)
