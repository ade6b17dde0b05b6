"""The AssemblyAI connection as users make it: in Airflow's UI, in a real browser, optional fields empty.

Starts a real ``airflow api-server`` (SQLite, 127.0.0.1, test connections enabled, every user an
admin), drives its UI in headless Chromium from Debian's ``chromium`` package (Playwright pointed at
the system browser, never a downloaded one), creates the connection with only its id, type, API key
and Base URL filled, saves it, then checks that it works: Airflow's connection test endpoint reports
success against the emulator for the stored connection, and a DAG run that uses it passes.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_assemblyai.testing.emulator import Emulator
from tests.integration.airflow_deployment import Deployment

pytestmark = pytest.mark.browser

CONN_ID = "assemblyai_from_the_form"
DAG_ID = "uses_the_form_connection"
DAG_FILE = f"""
import pendulum
from airflow.sdk import DAG
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator

with DAG("{DAG_ID}", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
    AssemblyAITranscribeOperator(
        task_id="transcribe",
        audio_url="https://example.invalid/call.wav",
        redact_pii_policies=["person_name"],
        assemblyai_conn_id="{CONN_ID}",
    )
"""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> str:
    """Return the system Chromium's path; skip without it, except in CI, where .ci/run installs it."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        message = "Debian's chromium package is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(
        tmp_path / "airflow-home",
        dags={"uses_the_form_connection.py": textwrap.dedent(DAG_FILE)},
        env={
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        },
    )
    deployment.airflow("db", "migrate")
    try:
        deployment.start("api-server")
        deployment.wait_until(deployment.api_ready, 180, "the api-server")
        yield deployment
    finally:
        deployment.stop()


def create_connection_in_the_ui(ui_url: str, chromium: str, emulator: Emulator, screenshot: Path) -> None:
    """Fill only the connection id, type, API key and Base URL in the UI's form; save it."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(f"{ui_url}/connections")
            page.get_by_role("button", name="Add Connection").click()
            form = page.get_by_role("dialog")
            form.get_by_label("Connection ID").fill(CONN_ID)
            form.get_by_role("combobox").fill("AssemblyAI")
            page.keyboard.press("Enter")
            form.get_by_label("Base URL (optional)").fill(emulator.base_url)
            form.get_by_label("API key").fill(emulator.api_key)
            form.get_by_role("button", name="Extra Fields", exact=True).click()
            # Every documented setting is offered, and no choice reads "null".
            for label in ("Region", "Speech models", "Max attempts", "Retry wait (s)", "Max retry wait (s)"):
                expect(form.get_by_text(label, exact=True)).to_be_visible()
            expect(form.get_by_text("null", exact=True)).to_have_count(0)
            page.screenshot(path=str(screenshot), full_page=True, animations="disabled")
            form.get_by_role("button", name="Save").click()
            expect(page.get_by_role("cell", name=CONN_ID, exact=True)).to_be_visible()
        finally:
            browser.close()


def dag_run_state(deployment: Deployment) -> str | None:
    with sqlite3.connect(deployment.home / "airflow.db", timeout=10) as db:
        row = db.execute("SELECT state FROM dag_run WHERE dag_id = ?", (DAG_ID,)).fetchone()
    return row[0] if row else None


def test_a_connection_saved_from_the_form_with_empty_optional_fields_works(
    api_server: Deployment, assemblyai_emulator: Emulator, chromium: str, tmp_path: Path
) -> None:
    create_connection_in_the_ui(
        api_server.api_url, chromium, assemblyai_emulator, tmp_path / "connection-form.png"
    )

    api = httpx.Client(base_url=f"{api_server.api_url}/api/v2", timeout=60)
    stored = api.get(f"/connections/{CONN_ID}").raise_for_status().json()
    assert (stored["conn_type"], stored["host"]) == ("assemblyai", assemblyai_emulator.base_url)

    # Airflow's test endpoint, for the stored connection as Airflow returns it (the password comes
    # back masked, and Airflow merges the stored one back in).
    fields = ("connection_id", "conn_type", "host", "port", "password", "extra")
    tested = api.post("/connections/test", json={k: stored[k] for k in fields}).raise_for_status().json()
    message = f"Connected to AssemblyAI at {assemblyai_emulator.base_url}."
    assert tested == {"status": True, "message": message}
    assert assemblyai_emulator.count("GET", "/v2/transcript") == 1

    api_server.airflow("dags", "test", DAG_ID)
    assert dag_run_state(api_server) == "success", json.dumps(stored)
    submitted = [r for r in assemblyai_emulator.requests if (r.method, r.path) == ("POST", "/v2/transcript")]
    assert len(submitted) == 1
