"""Free ports, Airflow connections and server processes on 127.0.0.1, for tests, the demo and benchmarks.

Standard library only at import, so it loads in any environment that has the package, with or
without the ``[testing]`` extra (the emulator process it starts needs the extra in *that*
interpreter); :func:`moto_s3_client` imports boto3, which the amazon provider brings.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LOOPBACK = "127.0.0.1"
EMULATOR_READY = "AssemblyAI emulator listening on "


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def connection_env(conn_id: str, **fields: Any) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_<ID>`` variable that defines connection ``conn_id`` (JSON form)."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(fields)}


def assemblyai_connection_env(
    *, api_key: str, base_url: str | None = None, conn_id: str = "assemblyai_default", **extra: Any
) -> dict[str, str]:
    """Return the variable defining an AssemblyAI connection; ``extra`` goes into the connection's extra."""
    fields: dict[str, Any] = {"conn_type": "assemblyai", "password": api_key}
    if base_url:
        fields["host"] = base_url
    if extra:
        fields["extra"] = extra
    return connection_env(conn_id, **fields)


#: What a moto server is given as credentials (it accepts any), as environment variables.
MOTO_CREDENTIALS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def aws_connection_env(
    *, endpoint_url: str, conn_id: str = "aws_default", region_name: str = "us-east-1"
) -> dict[str, str]:
    """Return the variable defining an AWS connection to an S3 endpoint such as a moto server."""
    return connection_env(
        conn_id,
        conn_type="aws",
        login=MOTO_CREDENTIALS_ENV["AWS_ACCESS_KEY_ID"],
        password=MOTO_CREDENTIALS_ENV["AWS_SECRET_ACCESS_KEY"],
        extra={"endpoint_url": endpoint_url, "region_name": region_name},
    )


#: What a missing local S3 says: the extra that brings it.
MOTO_MISSING = (
    "The local S3 needs moto's server, which is not installed{where}: install the provider with its "
    'testing-s3 extra (from a checkout of it: python -m pip install ".[testing,testing-s3]").'
)


def require_moto_server(python: str | None = None) -> None:
    """Raise a :class:`RuntimeError` naming the extra to install when moto's S3 server is missing.

    :param python: the interpreter that will run the server; this one when None.
    """
    probe = "import flask, flask_cors, moto.server"
    if python is None or python == sys.executable:
        try:
            import flask  # noqa: F401
            import flask_cors  # noqa: F401
            import moto.server  # noqa: F401
        except ImportError:
            raise RuntimeError(MOTO_MISSING.format(where="")) from None
        return
    done = subprocess.run([python, "-c", probe], capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(MOTO_MISSING.format(where=f" for {python}"))


def moto_s3_client(endpoint_url: str) -> Any:
    """Return a boto3 S3 client for the S3 server at ``endpoint_url`` (a moto server)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=MOTO_CREDENTIALS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=MOTO_CREDENTIALS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=MOTO_CREDENTIALS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def wait_for_port(port: int, process: subprocess.Popen[Any], what: str, deadline_s: float = 60) -> None:
    """Return once 127.0.0.1:``port`` accepts connections; raise if ``process`` exits or time runs out."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {LOOPBACK}:{port} within {deadline_s:.0f} s")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def emulator_process(
    *,
    api_key: str,
    processing_seconds: float = 1.0,
    storage_dir: Path | None = None,
    python: str = sys.executable,
    log: Path | None = None,
) -> Iterator[str]:
    """Run ``python -m airflow_assemblyai.testing.emulator`` on a free port; yield its base URL."""
    args = [python, "-m", "airflow_assemblyai.testing.emulator", "--port", "0", "--api-key", api_key]
    args += ["--processing-seconds", str(processing_seconds)]
    if storage_dir is not None:
        args += ["--storage-dir", str(storage_dir)]
    with contextlib.ExitStack() as stack:
        stderr = stack.enter_context(log.open("w")) if log else subprocess.DEVNULL
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True)
        stack.callback(_stop, process)
        ready = process.stdout.readline().strip() if process.stdout else ""
        if not ready.startswith(EMULATOR_READY):
            where = f" (see {log})" if log else ""
            raise RuntimeError(f"the AssemblyAI emulator did not start{where}")
        yield ready.removeprefix(EMULATOR_READY)


@contextlib.contextmanager
def listening_process(
    args: list[str], port: int, what: str, *, log: Path | None = None
) -> Iterator[subprocess.Popen[Any]]:
    """Run a server that listens on 127.0.0.1:``port``; yield it once it accepts connections, stop it
    after. Its output goes to ``log`` (or nowhere)."""
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("w")) if log else subprocess.DEVNULL
        process = subprocess.Popen(args, stdout=output, stderr=output)
        stack.callback(_stop, process)
        wait_for_port(port, process, what)
        yield process


@contextlib.contextmanager
def moto_process(*, python: str = sys.executable, log: Path | None = None) -> Iterator[str]:
    """Run moto's S3 server (``moto[server]`` must be installed) on a free port; yield its endpoint URL."""
    require_moto_server(python)
    port = free_port()
    with listening_process(
        [python, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)], port, "the moto server", log=log
    ):
        yield f"http://{LOOPBACK}:{port}"
