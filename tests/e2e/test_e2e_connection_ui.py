"""The ``kie`` connection in Airflow's web UI, as a user sees it: the form, and the list's Test button.

Driven in Debian's chromium through Playwright (``tests/browser.py``) against the e2e deployment's api-server,
with ``AIRFLOW__CORE__TEST_CONNECTION=Enabled`` (without it Airflow shows no Test button). Screenshots land in
``output/screenshots/``.

What Airflow 3.3.2 does that the provider cannot change: the list's Test button posts ``port: 0`` for a
connection whose port is unset, and the api-server refuses to test stored credentials against a "different"
port (400 "The host or port to test differs from the stored connection"). The ``kie`` form hides the port
(KIE has none), so a connection saved from the form has no port and its Test button fails that way; a
connection with port ``0`` (``--conn-port 0``, ``"port": 0`` in JSON) tests fine, and the hook ignores it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from .kie_e2e_stack import AirflowStack, EmulatorControl

pytestmark = [
    pytest.mark.e2e,
    # What a new user met in Airflow 3.3's web UI (issue 15); 3.1's UI differs (login flow, list layout).
    pytest.mark.skipif(
        tuple(int(part) for part in airflow_version.split(".")[:2]) < (3, 3),
        reason="checks Airflow 3.3's connection UI",
    ),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "output" / "screenshots"


@pytest.fixture
def ui(stack: AirflowStack) -> Iterator[Any]:
    from browser import chromium_page

    with chromium_page(width=1400, height=1300) as page:
        page.goto(f"http://127.0.0.1:{stack.api_port}/connections", wait_until="networkidle")
        yield page


def _connection(stack: AirflowStack, emu: EmulatorControl, conn_id: str, port: int | None) -> None:
    if _exists(stack, conn_id):
        stack.call("DELETE", f"/connections/{conn_id}")
    body = {
        "connection_id": conn_id,
        "conn_type": "kie",
        "host": emu.base_url,
        "password": stack.api_key,
        "extra": f'{{"upload_base_url": "{emu.base_url}/upload-host"}}',
    }
    if port is not None:
        body["port"] = port
    stack.call("POST", "/connections", json=body)


def _exists(stack: AirflowStack, conn_id: str) -> bool:
    listed = stack.call("GET", "/connections", params={"connection_id_pattern": conn_id})
    return any(c["connection_id"] == conn_id for c in listed["connections"])


def _press_test(page: Any, conn_id: str) -> tuple[int, str]:
    """Press the Test button of ``conn_id``'s row; the api-server's answer (status, body)."""
    page.reload(wait_until="networkidle")
    row = page.get_by_role("row").filter(has_text=conn_id)
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answer:
        row.get_by_role("button", name="Test").click(force=True)
    response = answer.value
    page.wait_for_timeout(800)
    return response.status, response.text()


def test_the_list_test_button_checks_kie_with_port_zero_and_shows_airflows_refusal_without(
    stack: AirflowStack, emu: EmulatorControl, ui: Any
) -> None:
    from browser import screenshot

    _connection(stack, emu, "kie_ui_port0", port=0)
    status, body = _press_test(ui, "kie_ui_port0")
    screenshot(ui, SCREENSHOTS / "connection-test-port0.png", full_page=False)
    assert status == 200 and '"status":true' in body.replace(" ", ""), body
    assert "credit balance" in body and stack.api_key not in body

    _connection(stack, emu, "kie_ui_noport", port=None)
    status, body = _press_test(ui, "kie_ui_noport")
    screenshot(ui, SCREENSHOTS / "connection-test-no-port.png", full_page=False)
    # Airflow's own refusal (3.3.2): documented in the README with the port-0 workaround.
    assert status == 400 and "differs from the stored connection" in body, body


def test_the_kie_form_labels_its_fields_and_describes_the_extras(stack: AirflowStack, ui: Any) -> None:
    from browser import screenshot

    ui.get_by_role("button", name="Add Connection").click()
    form = ui.get_by_role("dialog")
    form.get_by_text("Select Connection Type").click(force=True)
    ui.keyboard.type("KIE")
    ui.keyboard.press("Enter")
    form.get_by_text("API base URL").wait_for()
    assert form.get_by_placeholder("https://api.kie.ai").count() == 1
    assert form.get_by_placeholder("your KIE API key (https://kie.ai/api-key)").count() == 1
    assert form.get_by_text("Port", exact=True).count() == 0  # hidden: KIE has none
    form.get_by_text("Extra Fields", exact=True).click(force=True)
    form.get_by_text("Upload base URL").wait_for()
    for label in ("Upload base URL", "Request timeout (s)", "Minimum credits"):
        assert form.get_by_text(label, exact=True).count() == 1, label
    # Airflow 3.3's form shows no placeholder for a provider's extra fields: the defaults are in their
    # descriptions, which the user sees under each field.
    assert form.get_by_text("Default https://kieai.redpandaai.co", exact=False).count() == 1
    screenshot(ui, SCREENSHOTS / "connection-form-kie.png", full_page=False)
