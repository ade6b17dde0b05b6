"""The docs build strictly, and every link the README and the package's messages give leads somewhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = Path(__file__).parents[3] / ".ci" / "check_docs.py"


def test_docs_build_strictly_and_every_internal_link_and_anchor_exists() -> None:
    done = subprocess.run(
        [sys.executable, str(CHECK)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "broken link" not in done.stdout
    assert "external links (listed, not fetched):" in done.stdout
