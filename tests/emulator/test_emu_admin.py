"""The ``/_emulator`` control plane and the Python handle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_kie.emulator import FaultRule
from airflow_provider_kie.emulator.server import RunningEmulator


@pytest.fixture
def admin(emu: RunningEmulator) -> Iterator[httpx.Client]:
    """A client without any API key: the control plane needs none."""
    with httpx.Client(base_url=emu.base_url, trust_env=False, timeout=10.0) as client:
        yield client


def test_stats_count_submissions_calls_credits(admin: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    kie.generate()
    kie.generate(prompt=None)
    kie.record(kie.generate_id())
    stats = admin.get("/_emulator/stats").json()
    assert stats["submissions_received"] == 3
    assert stats["submissions_accepted"] == 2 and stats["paid_submissions"] == 2
    assert stats["submissions_rejected"] == 1 and stats["rejections_by_code"] == {"422": 1}
    assert stats["credits_charged"] == 24 and stats["credits_spent"] == 24
    assert stats["calls_by_endpoint"] == {"/api/v1/runway/generate": 3, "/api/v1/runway/record-detail": 1}
    assert "/_emulator/stats" not in stats["calls_by_endpoint"]
    python_view = emu.stats().to_dict()
    http_view = admin.get("/_emulator/stats").json()
    python_view.pop("tasks_by_state"), http_view.pop("tasks_by_state")  # moves with the clock
    assert python_view == http_view


def test_tasks_listing(admin: httpx.Client, kie: Any) -> None:
    task_id = kie.generate_id(prompt="listed")
    (task,) = admin.get("/_emulator/tasks").json()
    assert task["task_id"] == task_id and task["prompt"] == "listed" and task["cost"] == 12
    assert task["kind"] == "generate" and task["refunded"] is False
    assert admin.get(f"/_emulator/tasks/{task_id}").json()["task_id"] == task_id
    assert admin.get("/_emulator/tasks/nope").status_code == 404


def test_reset_restores_the_account(admin: httpx.Client, kie: Any, emu: RunningEmulator) -> None:
    kie.generate_id()
    emu.add_fault(FaultRule("server_error", endpoint="/nothing"))
    assert admin.post("/_emulator/reset").json() == {"status": "reset"}
    stats = emu.stats()
    assert stats.submissions_received == 0 and stats.credits_balance == emu.config.initial_credits
    assert emu.tasks() == [] and emu.state.faults.rules == ()


def test_credits_and_time_travel(
    admin: httpx.Client, api: httpx.Client, kie: Any, emu: RunningEmulator
) -> None:
    assert admin.post("/_emulator/credits", json={"balance": 5}).json() == {"balance": 5}
    assert api.get("/api/v1/chat/credit").json()["data"] == 5
    assert admin.post("/_emulator/credits", json={"balance": "lots"}).status_code == 400
    emu.reconfigure(time_scale=1.0)
    task_id = kie.generate_id()
    assert admin.post("/_emulator/advance", json={"kie_seconds": 75}).status_code == 200
    assert kie.record(task_id)["state"] == "success"
    assert admin.post("/_emulator/advance", json={"kie_seconds": -1}).status_code == 400


def test_config_and_callbacks_views(admin: httpx.Client, emu: RunningEmulator) -> None:
    emu.reconfigure(api_keys=frozenset({"secret-1"}), webhook_hmac_key="hmac-secret")
    config = admin.get("/_emulator/config").json()
    assert config["api_keys"] == "<1 key(s)>" and config["webhook_hmac_key"] == "<set>"
    assert "secret-1" not in str(config) and "hmac-secret" not in str(config)
    assert config["concurrency_cap"] == 10 and config["rate_limit"] == 20
    assert config["media_renderer"] == "ffmpeg" and config["market_outputs"] == {}
    assert config["veo_timeline"] == {"wait_s": 5.0, "queueing_s": 10.0, "generating_s": 105.0}
    assert admin.get("/_emulator/callbacks").json() == []
    assert admin.get("/_emulator/health").json() == {"status": "ok"}
    assert admin.get("/_emulator/docs").status_code == 200


def test_unknown_paths_and_methods_get_an_envelope(api: httpx.Client) -> None:
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == 404
    wrong_method = api.get("/api/v1/runway/generate")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == 405


def test_handle_shortcuts(emu: RunningEmulator) -> None:
    assert emu.url("/api/v1/chat/credit") == f"{emu.base_url}/api/v1/chat/credit"
    assert emu.auth_headers == {"Authorization": f"Bearer {emu.api_key}"}
    emu.reconfigure(api_keys=frozenset({"b-key", "a-key"}))
    assert emu.api_key == "a-key"
    emu.set_credits(3)
    assert emu.stats().credits_balance == 3


class TestPluginFixture:
    """The plugin's function-scoped ``kie_emulator`` with an overridden ``kie_emulator_config``."""

    @pytest.fixture
    def kie_emulator_config(self) -> Any:
        from airflow_provider_kie.emulator.pytest_plugin import fast_test_config

        return fast_test_config(api_keys=frozenset({"ci-key"}), initial_credits=7)

    def test_fresh_emulator_with_custom_config(self, kie_emulator: RunningEmulator) -> None:
        assert kie_emulator.api_key == "ci-key"
        with httpx.Client(
            base_url=kie_emulator.base_url, headers=kie_emulator.auth_headers, trust_env=False
        ) as c:
            assert c.get("/api/v1/chat/credit").json()["data"] == 7

    def test_clean_session_emulator(self, kie_emulator_clean: RunningEmulator) -> None:
        assert kie_emulator_clean.stats().submissions_received == 0
