"""The KIE API key never leaves the connection: not in logs, XComs, triggers, rendered fields or the database.

Runs last in the package, so it scans what every earlier e2e test left behind (and makes a run of its own
when started alone).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psutil
import pytest

from .kie_e2e_stack import HAS_TASK_STATE_STORE, AirflowStack, EmulatorControl, files_containing

pytestmark = pytest.mark.e2e


def test_api_key_appears_nowhere(stack: AirflowStack, emu: EmulatorControl, runs, out: Path) -> None:
    logs_root = stack.home / "logs"
    if not any(logs_root.glob("dag_id=*/**/attempt=*.log")):
        conf = {"campaign": "key-scan", "prompts": ["A key under a doormat"], "aspect_ratios": ["16:9"],
                "output_root": str(out), "poll_interval": 1}  # fmt: skip
        run_id = runs.trigger("kie_campaign_fanout", conf)
        assert runs.wait("kie_campaign_fanout", run_id)["state"] == "success"

    key = stack.api_key
    needles = [key.encode(), key.rsplit("-", 1)[1].encode()]  # the whole key, and its random part alone
    # The scan means something only if the key really is in play: Airflow holds it, KIE required it.
    scheduler_env = psutil.Process(stack.components["scheduler"].pid).environ()
    assert key in scheduler_env["AIRFLOW_CONN_KIE_DEFAULT"]
    credit = f"{emu.base_url}/api/v1/chat/credit"
    assert httpx.get(credit, headers={"Authorization": "Bearer not-the-key"}).json()["code"] == 401
    assert httpx.get(credit, headers={"Authorization": f"Bearer {key}"}).json()["code"] == 200

    hits: list[str] = []

    def scan(label: str, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        hits.extend(f"{label}" for needle in needles if needle in data)

    # 1. Every log file: task logs (worker and trigger parts), dag-processor logs, every component's output.
    task_logs = sorted(logs_root.rglob("*.log"))
    trigger_logs = [p for p in task_logs if ".log.trigger." in p.name]
    component_logs = sorted(stack.component_logs.glob("*.log"))
    assert len(task_logs) > 20 and trigger_logs, "nothing to scan: no task or trigger logs"
    assert any(p.name.startswith("triggerer") for p in component_logs)
    for needle in needles:
        hits.extend(f"log file {p}" for p in files_containing(logs_root, needle))
        hits.extend(f"component log {p}" for p in files_containing(stack.component_logs, needle))

    # 2. Every XCom value, as stored and as the REST API serves it.
    xcoms = stack.db.rows("SELECT dag_id, run_id, task_id, map_index, key, value FROM xcom")
    assert len(xcoms) > 10, "nothing to scan: no XComs"
    for row in xcoms:
        scan(
            f"xcom {row['dag_id']}/{row['run_id']}/{row['task_id']}[{row['map_index']}]/{row['key']}",
            json.dumps(row),
        )
        served = stack.xcom(row["dag_id"], row["run_id"], row["task_id"], row["map_index"], key=row["key"])
        scan(f"REST xcom {row['task_id']}/{row['key']}", json.dumps(served, default=str))

    # 3. The trigger table: every row seen while runs were waiting (kwargs decrypted), and what is left now.
    stack.snapshot_triggers()
    assert any("RunwayTaskTrigger" in kwargs for kwargs in stack.trigger_kwargs_seen), (
        "no KIE trigger was ever observed in the trigger table"
    )
    for kwargs in stack.trigger_kwargs_seen:
        scan(f"trigger {kwargs[:160]}", kwargs)

    # 4. Rendered template fields of every task instance (REST API), and task_state_store (DB; Airflow 3.3).
    offset, seen = 0, 0
    while True:
        page = stack.call("GET", "/dags/~/dagRuns/~/taskInstances", params={"limit": 100, "offset": offset})[
            "task_instances"
        ]
        for ti in page:
            scan(
                f"rendered fields {ti['dag_id']}/{ti['task_id']}[{ti['map_index']}]",
                json.dumps(ti, default=str),
            )
        seen += len(page)
        offset += 100
        if len(page) < 100:
            break
    assert seen > 20
    if HAS_TASK_STATE_STORE:
        for row in stack.db.rows("SELECT task_id, map_index, key, value FROM task_state_store"):
            scan(f"task_state_store {row['task_id']}[{row['map_index']}]", json.dumps(row))
    else:  # Airflow < 3.3 has no store (the provider's documented fallback): nothing there to leak into
        assert not stack.db.has_table("task_state_store")

    # 5. Everything else in the metadata database (audit log, dag_run conf, rendered fields, jobs...).
    scan("metadata database dump", stack.db.dump())

    print(
        f"\n[e2e] API key scan: {len(task_logs)} task/trigger/dag-processor log files ({len(trigger_logs)} "
        f"trigger), {len(component_logs)} component logs, {len(xcoms)} XComs, "
        f"{len(stack.trigger_kwargs_seen)} "
        f"trigger rows, {seen} task instances, full {stack.db.kind} dump: {len(hits)} hits"
    )
    assert hits == [], f"the KIE API key leaked into: {sorted(set(hits))}"
