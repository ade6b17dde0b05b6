"""Process-wide test set-up that must come first: a private Airflow home, SQLite DB and fake AWS keys.

This file sits at the repository root so that it runs before anything imports Airflow. It also
opts into the provider's pytest plugin, as a user's project would; the shared fixtures live in
``tests/conftest.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="aai-airflow-home-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).parent / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # Never reach a real AWS account from a test.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
os.environ.pop("ASSEMBLYAI_API_KEY", None)

pytest_plugins = ["airflow_assemblyai.testing.pytest_plugin"]
