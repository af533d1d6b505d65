"""The ``kie`` and ``runway`` connections in Airflow's web UI, as a user sees them: the forms, and the list's
Test button.

Driven in Debian's chromium through Playwright (``tests/browser.py``) against the e2e deployment's api-server,
with ``AIRFLOW__CORE__TEST_CONNECTION=Enabled`` (without it Airflow shows no Test button). Screenshots land in
``output/screenshots/``.

What Airflow 3.3.2 does that the provider cannot change: the list's Test button posts ``port: 0`` for a
connection whose port is unset, and the api-server refuses to test stored credentials against a "different"
port (400 "The host or port to test differs from the stored connection"). The ``kie`` form hides the port
(KIE has none), so a connection saved from the form has no port and its Test button fails that way; a
connection with port ``0`` (``--conn-port 0``, ``"port": 0`` in JSON) tests fine, and the hook ignores it.
The ``runway`` form (Runway's own API, the second connection type) hides the port too: the same workaround.

Airflow 3.1 (the oldest supported minor, run by ``make test`` too): the UI wants a login first (with
``simple_auth_manager_all_admins``, ``/auth/token/login`` sets the cookie), its api-server has no host/port
check (the Test button works without the workaround), and the form comes from the hooks'
``get_ui_field_behaviour``/``get_connection_form_widgets``, which it reads only where a hook class defines
them itself, not inherited.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .kie_e2e_stack import AIRFLOW_VERSION, AirflowStack, EmulatorControl

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "output" / "screenshots"
#: Airflow 3.3's api-server refuses a Test of a stored connection whose port the UI sends as 0 (see above).
REFUSES_PORTLESS_TEST = AIRFLOW_VERSION >= (3, 3)
#: Screenshot names carry the minor: both runs of ``make test`` keep theirs.
MINOR = f"{AIRFLOW_VERSION[0]}.{AIRFLOW_VERSION[1]}"


@pytest.fixture
def ui(stack: AirflowStack) -> Iterator[Any]:
    from browser import chromium_page

    with chromium_page(width=1400, height=1300) as page:
        if AIRFLOW_VERSION < (3, 3):
            # 3.1's UI shows a blank page without the JWT cookie; all-admins mode hands it out here.
            page.goto(f"http://127.0.0.1:{stack.api_port}/auth/token/login", wait_until="networkidle")
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


def _tested_fine(body: str) -> bool:
    return '"status":true' in body.replace(" ", "")


def test_the_list_test_button_checks_kie_with_port_zero_and_shows_airflows_refusal_without(
    stack: AirflowStack, emu: EmulatorControl, ui: Any
) -> None:
    from browser import screenshot

    _connection(stack, emu, "kie_ui_port0", port=0)
    status, body = _press_test(ui, "kie_ui_port0")
    screenshot(ui, SCREENSHOTS / f"connection-test-port0-{MINOR}.png", full_page=False)
    assert status == 200 and _tested_fine(body), body
    assert "credit balance" in body and stack.api_key not in body

    _connection(stack, emu, "kie_ui_noport", port=None)
    status, body = _press_test(ui, "kie_ui_noport")
    screenshot(ui, SCREENSHOTS / f"connection-test-no-port-{MINOR}.png", full_page=False)
    if REFUSES_PORTLESS_TEST:
        # Airflow's own refusal (3.3.2): documented in the README with the port-0 workaround.
        assert status == 400 and "differs from the stored connection" in body, body
    else:  # 3.1 tests what is stored, port or not
        assert status == 200 and _tested_fine(body) and "credit balance" in body, body


def test_the_kie_form_labels_its_fields_and_describes_the_extras(stack: AirflowStack, ui: Any) -> None:
    from browser import screenshot

    _check_form_served(stack, "kie")
    form = _add_connection_form(ui, "KIE", "API base URL")
    assert form.get_by_placeholder("https://api.kie.ai").count() == 1
    assert form.get_by_placeholder("your KIE API key (https://kie.ai/api-key)").count() == 1
    for hidden in ("Port", "Login", "Schema"):  # KIE has none of them
        assert form.get_by_text(hidden, exact=True).count() == 0, hidden
    form.get_by_text("Extra Fields", exact=True).click(force=True)
    form.get_by_text("Upload base URL").wait_for()
    for label in ("Upload base URL", "Request timeout (s)", "Minimum credits"):
        assert form.get_by_text(label, exact=True).count() == 1, label
    # Airflow 3.3's form shows no placeholder for a provider's extra fields: the defaults are in their
    # descriptions, which the user sees under each field.
    assert form.get_by_text("https://kieai.redpandaai.co", exact=False).count() == 1
    screenshot(ui, SCREENSHOTS / f"connection-form-kie-{MINOR}.png", full_page=False)


def _check_form_served(stack: AirflowStack, conn_type: str) -> None:
    """Airflow 3.1 builds the form from the hook class (``/ui/connections/hook_meta``): fail with the reason
    when it serves none for ``conn_type``, before the browser waits for labels that cannot come."""
    if AIRFLOW_VERSION >= (3, 3):
        return  # 3.2 and later read the form from the provider metadata
    assert stack.api is not None
    answer = stack.api.get(f"http://127.0.0.1:{stack.api_port}/ui/connections/hook_meta")
    meta = {hook["connection_type"]: hook for hook in answer.raise_for_status().json()}
    assert meta[conn_type]["standard_fields"] and meta[conn_type]["extra_fields"], (
        f"Airflow 3.1 serves no form for {conn_type!r}: {meta[conn_type]}. Its ProvidersManager reads "
        "get_ui_field_behaviour/get_connection_form_widgets only from the hook class's own __dict__, so "
        "each connection hook must define both itself (an inherited pair is ignored)"
    )


def _add_connection_form(ui: Any, type_name: str, first_label: str) -> Any:
    """The Add Connection dialog with ``type_name`` chosen, once the type's own ``first_label`` shows."""
    ui.get_by_role("button", name="Add Connection").click()
    form = ui.get_by_role("dialog")
    form.get_by_text("Select Connection Type").click(force=True)
    ui.keyboard.type(type_name)
    ui.keyboard.press("Enter")
    form.get_by_text(first_label, exact=True).wait_for(timeout=15_000)
    return form


# ---------------------------------------------------------------------------------------------------------
# The runway connection type: Runway's own API (https://api.dev.runwayml.com), played by the emulator
# ---------------------------------------------------------------------------------------------------------
#: A key of Runway's shape (``key_`` + 128 hex digits), distinctive so a leak into the page is found.
RUNWAY_KEY = "key_" + secrets.token_hex(64)
#: The organisation's balance the Test button must report (not the emulator's default, so it is not a guess).
RUNWAY_CREDITS = 4321


def _runway_connection(stack: AirflowStack, emu: EmulatorControl, conn_id: str, port: int | None) -> None:
    if _exists(stack, conn_id):
        stack.call("DELETE", f"/connections/{conn_id}")
    body: dict[str, Any] = {
        "connection_id": conn_id,
        "conn_type": "runway",
        "host": emu.runway_base_url,
        "password": RUNWAY_KEY,
        "extra": '{"api_version": "2024-11-06"}',
    }
    if port is not None:
        body["port"] = port
    stack.call("POST", "/connections", json=body)


def test_the_list_test_button_checks_runway_with_port_zero_and_shows_airflows_refusal_without(
    stack: AirflowStack, emu: EmulatorControl, ui: Any
) -> None:
    """The Test button of a ``runway`` connection reports the organisation's balance and tier limits."""
    from browser import screenshot

    emu.set_runway_credits(RUNWAY_CREDITS)
    _runway_connection(stack, emu, "runway_ui_port0", port=0)
    status, body = _press_test(ui, "runway_ui_port0")
    screenshot(ui, SCREENSHOTS / f"connection-test-runway-port0-{MINOR}.png", full_page=False)
    assert status == 200 and _tested_fine(body), body
    assert f"credit balance: {RUNWAY_CREDITS}" in body, body
    assert "concurrent generations per model: " in body and emu.runway_base_url in body, body
    # The list shows a success only as the button's icon turning green (3.1 and 3.3 alike; a failure gets a
    # toast with the message): the balance is in the answer the page received, and the key is nowhere.
    assert RUNWAY_KEY not in body + ui.locator("body").inner_text() + ui.content()

    _runway_connection(stack, emu, "runway_ui_noport", port=None)
    status, body = _press_test(ui, "runway_ui_noport")
    screenshot(ui, SCREENSHOTS / f"connection-test-runway-no-port-{MINOR}.png", full_page=False)
    if REFUSES_PORTLESS_TEST:
        assert status == 400 and "differs from the stored connection" in body, body
    else:
        assert status == 200 and f"credit balance: {RUNWAY_CREDITS}" in body, body


def test_the_runway_form_labels_its_fields_hides_the_rest_and_describes_the_extras(
    stack: AirflowStack, ui: Any
) -> None:
    from browser import screenshot

    _check_form_served(stack, "runway")
    form = _add_connection_form(ui, "Runway API", "API secret")
    for label in ("API base URL", "API secret"):
        assert form.get_by_text(label, exact=True).count() == 1, label
    assert form.get_by_placeholder("https://api.dev.runwayml.com").count() == 1
    assert form.get_by_placeholder("your Runway API key (key_..., https://dev.runwayml.com)").count() == 1
    for hidden in ("Port", "Login", "Schema"):  # Runway's API has none of them
        assert form.get_by_text(hidden, exact=True).count() == 0, hidden
    screenshot(ui, SCREENSHOTS / f"connection-form-runway-standard-{MINOR}.png", full_page=False)
    form.get_by_text("Extra Fields", exact=True).click(force=True)
    form.get_by_text("API version", exact=True).wait_for()
    for label in ("API version", "Request timeout (s)", "Minimum credits"):
        assert form.get_by_text(label, exact=True).count() == 1, label
    # Each extra's help, under it (3.3 reads it from the provider metadata, 3.1 from the hook's widgets).
    helps = ("X-Runway-Version", "Per-request read timeout in seconds", "Runway's free organization")
    for description in helps:
        assert form.get_by_text(description, exact=False).count() == 1, description
    assert form.get_by_text("KIE credit balance", exact=False).count() == 0  # not the kie form's help
    screenshot(ui, SCREENSHOTS / f"connection-form-runway-extras-{MINOR}.png", full_page=False)
