"""The callback journal: tolerant parsing, time and size trim, one line per task."""

from __future__ import annotations

import json

import pytest

from airflow_provider_kie.callbacks import journal
from airflow_provider_kie.callbacks.journal import (
    JOURNAL_VARIABLE,
    MAX_ENTRIES,
    RETENTION_S,
    add,
    dump,
    entries_since,
    latest_by_task,
    parse,
)

NOW = 1_750_000_000.0


def test_constants_are_the_documented_ones():
    assert JOURNAL_VARIABLE == "kie_callbacks"
    assert RETENTION_S == 1800
    assert MAX_ENTRIES == 5000
    # Longer than KIE's whole retry span (1 + 5 + 15 min): a line outlives every retry of its callback.
    assert RETENTION_S > (1 + 5 + 15) * 60


def test_round_trip():
    entries, _ = add([], "t1", NOW)
    entries, _ = add(entries, "t2", NOW + 1)
    raw = dump(entries)
    assert json.loads(raw) == {"v": 1, "entries": [["t1", NOW], ["t2", NOW + 1]]}
    assert parse(raw) == [("t1", NOW), ("t2", NOW + 1)]


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        b"",
        "not json",
        "[]",
        "42",
        '"kie"',
        '{"entries": [["t1", 1]]}',  # no version
        '{"v": 2, "entries": [["t1", 1]]}',  # a version this code does not know
        '{"v": 1}',
        '{"v": 1, "entries": {"t1": 1}}',
    ],
)
def test_a_malformed_value_reads_as_empty(raw):
    assert parse(raw) == []


def test_malformed_lines_are_skipped_and_the_rest_kept_sorted():
    raw = json.dumps(
        {
            "v": 1,
            "entries": [
                ["late", NOW + 5],
                ["no-time"],
                [42, NOW],
                ["", NOW],
                ["flag", True],
                ["text-time", "soon"],
                ["early", NOW],
                "line",
            ],
        }
    )
    assert parse(raw) == [("early", NOW), ("late", NOW + 5)]


def test_add_is_new_once_per_task_and_keeps_the_first_time():
    entries, is_new = add([], "t1", NOW)
    assert is_new
    again, is_new = add(entries, "t1", NOW + 60)
    assert not is_new
    # A duplicate (KIE's retry, a replay) neither grows the journal nor moves the line.
    assert again == [("t1", NOW)]


def test_add_drops_lines_older_than_the_retention():
    entries = [("old", NOW - RETENTION_S - 1), ("edge", NOW - RETENTION_S), ("recent", NOW - 10)]
    updated, _ = add(entries, "new", NOW)
    assert [task for task, _ in updated] == ["edge", "recent", "new"]


def test_an_expired_line_for_the_same_task_makes_room_for_a_new_one():
    updated, is_new = add([("t1", NOW - RETENTION_S - 5)], "t1", NOW)
    assert is_new
    assert updated == [("t1", NOW)]


def test_add_caps_the_journal_dropping_the_oldest():
    entries = [(f"t{i}", NOW - 100 + i * 0.01) for i in range(MAX_ENTRIES)]
    updated, is_new = add(entries, "newest", NOW)
    assert is_new
    assert len(updated) == MAX_ENTRIES
    assert updated[0][0] == "t1"  # t0 went
    assert updated[-1] == ("newest", NOW)


def test_add_with_a_small_cap():
    entries: list[journal.Entry] = []
    for i in range(5):
        entries, _ = add(entries, f"t{i}", NOW + i, max_entries=3)
    assert [task for task, _ in entries] == ["t2", "t3", "t4"]


def test_add_refuses_bad_arguments():
    with pytest.raises(ValueError, match="task_id"):
        add([], "", NOW)
    with pytest.raises(ValueError, match="max_entries"):
        add([], "t1", NOW, max_entries=0)


def test_a_full_journal_stays_small():
    entries = [(f"{i:08x}-debb-48d1-98c4-a6d1c717eba6", NOW + i * 0.001) for i in range(MAX_ENTRIES)]
    # About 60 bytes a line: the whole value stays well under a MiB (the Variable is read twice a second).
    assert len(dump(entries)) < 64 * MAX_ENTRIES


def test_latest_by_task_and_entries_since():
    entries = [("t1", NOW), ("t2", NOW + 1), ("t1", NOW + 2)]
    assert latest_by_task(entries) == {"t1": NOW + 2, "t2": NOW + 1}
    assert entries_since(entries, NOW) == [("t2", NOW + 1), ("t1", NOW + 2)]
    assert entries_since(entries, NOW + 2) == []
