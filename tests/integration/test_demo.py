"""The README's first command: the demo runs the example DAG end to end and reports a verified object."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "demo.py"


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
