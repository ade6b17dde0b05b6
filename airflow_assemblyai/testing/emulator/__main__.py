"""Serve the emulator from the command line: ``python -m airflow_assemblyai.testing.emulator --port N``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from airflow_assemblyai.testing.emulator.server import Emulator, make_server
from airflow_assemblyai.testing.loopback import EMULATOR_READY, free_port

#: The first line of the package's docstring, as ``--help`` has always shown it.
DESCRIPTION = "A loopback emulator of the AssemblyAI v2 API subset this provider uses (FastAPI + uvicorn)."


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_assemblyai.testing.emulator", description=DESCRIPTION
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default="emulator-key")
    parser.add_argument("--processing-seconds", type=float, default=1.0)
    parser.add_argument("--storage-dir", type=Path)
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="accept unknown request fields, and stand a tone in for audio it cannot fetch or decode",
    )
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--host must be a loopback address (127.0.0.1, localhost or ::1)")
    port = args.port or free_port()
    emulator = Emulator(
        api_key=args.api_key,
        processing_seconds=args.processing_seconds,
        storage_dir=args.storage_dir,
        strict=not args.lenient,
    )
    emulator.base_url = f"http://127.0.0.1:{port}"
    server = make_server(emulator, port)
    server.config.host = args.host

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            print(f"{EMULATOR_READY}{emulator.base_url}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
