"""Airflow discovers the provider through its entry point, as it would any apache-airflow-providers-*."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def airflow_cli(*args: str, home: Path) -> str:
    env = {**os.environ, "AIRFLOW_HOME": str(home)}
    done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


def test_providers_get_sees_the_package(cli_home: Path) -> None:
    out = airflow_cli(
        "providers", "get", "airflow-provider-assemblyai", "-o", "json", "--full", home=cli_home
    )
    info = json.loads(out)
    info = info[0] if isinstance(info, list) else info
    text = json.dumps(info)
    assert "airflow-provider-assemblyai" in text
    assert "airflow_assemblyai.hooks.assemblyai" in text


def test_providers_hooks_lists_the_connection_type(cli_home: Path) -> None:
    rows = json.loads(airflow_cli("providers", "hooks", "-o", "json", home=cli_home))
    ours = [row for row in rows if row.get("connection_type") == "assemblyai"]
    assert ours, "connection type 'assemblyai' not registered"
    assert ours[0]["class"] == "airflow_assemblyai.hooks.assemblyai.AssemblyAIHook"
    assert ours[0]["conn_id_attribute_name"] == "assemblyai_conn_id"


def test_connection_form_relabels_and_adds_region() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    behaviour = manager.field_behaviours["assemblyai"]
    assert behaviour["relabeling"]["password"] == "API key"
    assert behaviour["relabeling"]["host"] == "Base URL (optional)"
    widgets = manager.connection_form_widgets
    assert any(name.endswith("region") for name in widgets), sorted(widgets)
