"""A real Airflow deployment on 127.0.0.1 (SQLite, free ports): its environment, CLI and processes.

Used by the tests that need more than ``dag.test()``: the deferred sensor finished by a real triggerer,
and the connection form driven in a browser against a real api-server.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from airflow_assemblyai.testing.loopback import free_port

BIN = Path(sys.executable).parent


class Deployment:
    """The Airflow processes of one deployment, with their environment and logs.

    ``dags`` maps file names to DAG sources written into the deployment's own dags folder; ``env``
    adds to (or overrides) the Airflow settings.
    """

    def __init__(self, home: Path, *, dags: dict[str, str], env: dict[str, str] | None = None) -> None:
        self.home = home
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        (home / "dags").mkdir(parents=True)
        for name, source in dags.items():
            (home / "dags" / name).write_text(source)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            **(env or {}),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str, timeout: float = 240) -> str:
        """Run an ``airflow`` CLI command in this deployment; return its output, fail on a non-zero exit."""
        done = subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done.stdout

    def start(self, component: str) -> None:
        """Start ``airflow <component>`` in its own process group, logging to ``<home>/<name>.log``."""
        log = (self.home / f"{component.split()[0]}.log").open("wb")
        self.processes[component.split()[0]] = subprocess.Popen(
            [str(BIN / "airflow"), *component.split()],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its children stop with it
        )

    def log(self, component: str) -> str:
        return (self.home / f"{component}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited early:\n{self.log(name)[-3000:]}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def wait_until(self, condition: Callable[[], bool], deadline_s: float, what: str) -> None:
        """Poll ``condition`` every half second while every process is alive; fail after the deadline."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            self.check_alive()
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}")

    def api_ready(self) -> bool:
        """Return whether the api-server answers its health check."""
        import httpx

        try:
            return httpx.get(f"{self.api_url}/api/v2/monitor/health").is_success
        except httpx.TransportError:
            return False
