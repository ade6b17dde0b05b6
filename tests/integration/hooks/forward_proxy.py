"""A forward HTTP proxy on 127.0.0.1 that records what would have left the machine.

Point ``HTTP_PROXY`` at it (``NO_PROXY`` keeps loopback direct) and every plain-http request to
another host reaches it instead, with its target and headers: a test can then show that a request
was, or was never, sent to a remote address, without any network.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy received: its method, absolute target and headers."""

    method: str
    target: str
    headers: dict[str, str]


class _ProxyHandler(BaseHTTPRequestHandler):
    server: ForwardProxy

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.requests.append(ProxiedRequest(self.command, self.path, dict(self.headers.items())))
        body = json.dumps(self.server.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep request lines out of the test output."""


class ForwardProxy(ThreadingHTTPServer):
    """The proxy server; :attr:`requests` lists what it received, :attr:`answer` is its JSON reply."""

    requests: list[ProxiedRequest]
    answer: dict[str, Any]

    @property
    def url(self) -> str:
        """Return the proxy's URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def forward_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    """Run a recording proxy and route plain-http requests to non-loopback hosts through it."""
    proxy = ForwardProxy(("127.0.0.1", 0), _ProxyHandler)
    proxy.requests = []
    proxy.answer = {"transcripts": [], "page_details": {}}
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost,::1")
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
