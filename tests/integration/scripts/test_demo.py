"""The README's first command: the demo runs the example DAG end to end and reports a verified object."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests.integration.dags.test_example_dag import load_example_dag

SCRIPT = Path(__file__).parents[3] / "scripts" / "demo.py"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ASSEMBLYAI"))}
    return {**env, **extra}


def _demo(*args: str, env: dict[str, str], timeout: float = 280) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_demo_archives_the_record_offline_even_with_a_key_exported_and_lists_every_file() -> None:
    secret = "sk-exported-but-not-for-the-demo-0123"
    done = _demo(env=_clean_env(ASSEMBLYAI_API_KEY=secret))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    # An exported key never switches the demo to the billed service.
    assert "demo: offline: emulator at http://127.0.0.1:" in out
    assert "ASSEMBLYAI_API_KEY is set but not used" in done.stderr
    stem = r"s3://redacted-audio/calls/[0-9a-f-]+"
    assert re.search(rf"audio:\s+{stem}\.wav \(\d{{5,}} bytes\)", out)
    assert re.search(rf"transcript:\s+{stem}\.transcript\.json \(\d+ bytes\)", out)
    assert re.search(rf"srt:\s+{stem}\.srt \(\d+ bytes\)", out)
    assert re.search(rf"vtt:\s+{stem}\.vtt \(\d+ bytes\)", out)
    assert re.search(rf"manifest:\s+{stem}\.manifest\.json \(\d+ bytes\)", out)
    assert re.search(r"audio sha256:\s+[0-9a-f]{64}", out)
    assert "content type:  audio/wav" in out
    heard = r"redaction:\s+2 of 2 redacted spans heard as beep or silence \(person_name \d+-\d+ ms pass"
    assert re.search(heard, out)
    assert "matches the emulator's redacted file byte for byte: yes" in out
    assert "transcript deleted at the emulator: yes" in out
    assert "demo-emulator-key" not in out + done.stderr
    assert secret not in out + done.stderr


@pytest.mark.parametrize(
    ("args", "key", "named"),
    [
        (["--real"], None, "--real needs ASSEMBLYAI_API_KEY"),
        (["--real"], "sk-real-key", "--real needs --bucket"),
        (["--audio", "/nonexistent/call.wav"], None, "--audio '/nonexistent/call.wav' is not a file"),
        (
            ["--audio", "https://example.invalid/call.wav"],
            None,
            "offline, the emulator fetches only loopback",
        ),
        (["--bucket", "Not_A_Bucket"], None, "--bucket 'Not_A_Bucket' is not an S3 bucket name"),
        (["--batch", "2", "--real"], "sk-real-key", "--batch runs offline only"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    args: list[str], key: str | None, named: str
) -> None:
    extra = {"ASSEMBLYAI_API_KEY": key} if key else {}
    done = _demo(*args, env=_clean_env(**extra), timeout=120)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert named in done.stderr
    # Refused by the argument check: no server was started, no Airflow command ran.
    assert "emulator at" not in done.stdout
    assert "aai-demo-" not in done.stdout + done.stderr


def test_dry_run_without_a_key_says_that_none_is_set() -> None:
    done = _demo("--dry-run", env=_clean_env(), timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "ASSEMBLYAI_API_KEY is not set, so AssemblyAI would answer 401" in done.stdout
    assert "characters" not in done.stdout


def test_a_failed_run_keeps_its_log_and_prints_the_error_lines() -> None:
    # The example DAG cannot be imported with this setting: `airflow dags test` fails.
    done = _demo(env=_clean_env(ASSEMBLYAI_EXAMPLE_POLL_SECONDS="soon"))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    err = done.stderr
    assert "demo: failed: `airflow dags test` failed" in err
    assert "could not convert string to float: 'soon'" in err
    kept = re.search(r"The whole log: (\S+airflow\.log)", err)
    assert kept, err
    log = Path(kept.group(1))
    try:
        assert log.is_file()
        assert "could not convert string to float" in log.read_text()
        assert f"the work folder is kept for inspection: {log.parent}" in err
    finally:
        shutil.rmtree(log.parent, ignore_errors=True)
    assert "Traceback" not in err


def test_dry_run_prints_exactly_what_the_example_dag_sends_and_masks_the_key(
    assemblyai_connection: Emulator,
    s3_bucket: str,
    airflow_metadata_db: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audio = assemblyai_connection.sample_audio_url  # a URL the (strict) emulator can download
    monkeypatch.setenv("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "0.2")
    dag_run = run_dag_test(load_example_dag(), run_conf={"audio_url": audio, "bucket": s3_bucket})
    assert dag_run.state == "success"
    sent = assemblyai_connection.submissions[0]

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
