"""The README's first command: the demo runs the example DAG end to end and reports a verified object."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_assemblyai.testing.emulator import Emulator
from tests.integration.dags.test_example_dag import load_example_dag

SCRIPT = Path(__file__).parents[3] / "scripts" / "demo.py"


def test_demo_archives_the_redacted_audio_and_reports_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ASSEMBLYAI"))}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"object:\s+s3://redacted-audio/calls/[0-9a-f-]+\.wav", out)
    assert re.search(r"size:\s+\d{5,} bytes", out)
    assert re.search(r"sha256:\s+[0-9a-f]{64}", out)
    assert "content type:  audio/wav" in out
    assert "matches the emulator's redacted file byte for byte: yes" in out
    assert "transcript deleted at the emulator: yes" in out
    assert "demo-emulator-key" not in out + done.stderr


def test_dry_run_prints_exactly_what_the_example_dag_sends_and_masks_the_key(
    emulator_connection: Emulator,
    s3_bucket: str,
    dag_runner: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audio = "https://example.invalid/call.wav"
    monkeypatch.setenv("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "0.2")
    dag_run = dag_runner(load_example_dag(), run_conf={"audio_url": audio, "bucket": s3_bucket})
    assert dag_run.state == "success"
    sent = emulator_connection.submissions[0]

    secret = "sk-dry-run-secret-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ASSEMBLYAI"))}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--audio", audio],
        env={**env, "ASSEMBLYAI_API_KEY": secret},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "POST https://api.assemblyai.com/v2/transcript" in done.stdout
    printed = json.loads(done.stdout[done.stdout.index("{") :])
    assert printed == sent  # the same body the DAG sent, field for field
    assert secret not in done.stdout + done.stderr
