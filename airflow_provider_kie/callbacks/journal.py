"""The callback journal: which KIE tasks called back recently, in one small JSON value.

A callback is a hint, KIE's record is the truth. So the receiver does not pass a callback's body on to the
wait: it writes one line, "task X called back at T", and the wait reads KIE's record once when it sees that
line. Everything the store has to carry is therefore a task id and a time.

Why one Airflow Variable (``kie_callbacks``) rather than one per task or an XCom per wait:

* A trigger can read Variables through its supervisor on Airflow 3.1, 3.2 and 3.3, and has no database
  access of its own. Listing keys (``GetVariableKeys``) exists only in 3.3, so the triggerer could not find
  per-task Variables without one read per wait per tick; one known key is one read per triggerer per tick,
  however many waits it runs.
* Each callback costs one row-locked read-modify-write of a bounded value, whatever the number of waits.
* It survives a triggerer restart or hand-over: the line stays until it expires, and a wait that registers
  after the callback landed still finds it.
* It leaves nothing behind: lines older than :data:`RETENTION_S` are dropped on every write, and there are
  never more than :data:`MAX_ENTRIES` (the oldest go first). A duplicate or replayed callback for a task
  already in the journal changes nothing, so KIE's retries cannot grow it or wake a wait twice.

:data:`RETENTION_S` (30 min) is longer than KIE's whole retry span (1 + 5 + 15 min after the first
attempt): a wait that is not running when its callback arrives (a triggerer restart) still finds it for as
long as KIE would have kept trying. A wait that misses it anyway ends through its slow safety-net poll.

The value is ``{"v": 1, "entries": [[kie_task_id, received_unix_ts], ...]}``, oldest first. This module is
pure (no Airflow, no I/O): the receiver and the watcher do the reading and writing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "JOURNAL_VARIABLE",
    "MAX_ENTRIES",
    "RETENTION_S",
    "VERSION",
    "Entry",
    "add",
    "dump",
    "entries_since",
    "latest_by_task",
    "parse",
]

#: The Airflow Variable holding the journal. Renaming it strands callbacks written under the old name.
JOURNAL_VARIABLE = "kie_callbacks"
#: Seconds a line is kept: longer than KIE's retry span (1 + 5 + 15 min).
RETENTION_S = 1800.0
#: Most lines kept (about 50 bytes each, so at most ~250 KB); beyond it the oldest are dropped.
MAX_ENTRIES = 5000
#: Format version written in the value; another version reads as empty (and is replaced on the next write).
VERSION = 1

#: One line: (KIE task id, unix time the receiver recorded it).
Entry = tuple[str, float]


def parse(raw: str | bytes | None) -> list[Entry]:
    """The journal's lines, oldest first; anything malformed reads as empty (never raises).

    Tolerant on purpose: the value is an Airflow Variable anyone with the right role can edit, and a bad
    value must cost at most the hints it held, never a failed callback or wait. Malformed lines are skipped.
    """
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return []
    if not isinstance(value, dict) or value.get("v") != VERSION:
        return []
    rows = value.get("entries")
    if not isinstance(rows, list):
        return []
    entries: list[Entry] = []
    for row in rows:
        entry = _entry(row)
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: e[1])
    return entries


def _entry(row: Any) -> Entry | None:
    if not isinstance(row, (list, tuple)) or len(row) != 2:
        return None
    task_id, received = row
    if not isinstance(task_id, str) or not task_id:
        return None
    # bool is an int: reject it explicitly, a flag is not a time.
    if isinstance(received, bool) or not isinstance(received, (int, float)):
        return None
    return task_id, float(received)


def dump(entries: Iterable[Entry]) -> str:
    """The Variable's value for ``entries`` (compact JSON)."""
    return json.dumps(
        {"v": VERSION, "entries": [[task_id, round(at, 3)] for task_id, at in entries]},
        separators=(",", ":"),
    )


def add(
    entries: Sequence[Entry],
    task_id: str,
    now: float,
    *,
    retention_s: float = RETENTION_S,
    max_entries: int = MAX_ENTRIES,
) -> tuple[list[Entry], bool]:
    """Record that ``task_id`` called back at ``now``; returns (the new lines, whether it was new).

    Lines older than ``retention_s`` are dropped, then the oldest beyond ``max_entries``. A task id already
    present keeps its first time: a duplicate is not a new hint, and keeping the time means a wait that was
    already woken for it is not woken again.
    """
    if not task_id:
        raise ValueError("task_id must be a non-empty KIE task id")
    if max_entries < 1:
        raise ValueError(f"max_entries must be at least 1, got {max_entries}")
    horizon = now - retention_s
    kept = [entry for entry in entries if entry[1] >= horizon]
    is_new = all(existing != task_id for existing, _ in kept)
    if is_new:
        kept.append((task_id, now))
    kept.sort(key=lambda e: e[1])
    if len(kept) > max_entries:
        kept = kept[-max_entries:]
    return kept, is_new


def latest_by_task(entries: Iterable[Entry]) -> dict[str, float]:
    """``{task id: time it called back}``; should a task appear twice (a hand-edited value), the latest."""
    index: dict[str, float] = {}
    for task_id, at in entries:
        if at >= index.get(task_id, float("-inf")):
            index[task_id] = at
    return index


def entries_since(entries: Iterable[Entry], cursor: float) -> list[Entry]:
    """The lines recorded after ``cursor`` (a time from an earlier read), oldest first."""
    return [entry for entry in entries if entry[1] > cursor]
