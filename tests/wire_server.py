"""A loopback HTTP server for the instrumentation tests, routed by method and path pattern.

Each provider's wire format lives in ``tests/wire/<provider>.py`` as route
handlers; this module only serves them.  A handler receives the parsed
:class:`Call` and returns a :class:`Reply`: a JSON body, server-sent events,
newline-delimited JSON, or raw bytes (AWS event streams).  Every call is kept
in ``server.calls`` so tests can check headers (no key leaks elsewhere).

Failure conventions shared by every provider's routes (by model name):
``fail-400`` and ``fail-500`` answer that status; ``fail-garbage`` breaks the
body or the stream part-way.  TCP_NODELAY is set: without it every keep-alive
call stalls 40 ms on delayed ACKs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from otel_carbon.cli.demo_server import LoopbackServer


@dataclass
class Call:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    params: dict[str, str]


@dataclass
class Reply:
    """What to send back.  ``chunks`` are written in order, each flushed (a stream)."""

    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply]
Route = tuple[str, str, Handler]


def json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode())


def sse_reply(events: Iterable[tuple[str | None, Any]], *, done: bool = False, garbage_at: int | None = None) -> Reply:
    """Server-sent events ``(event name or None, JSON payload)``; ``[DONE]`` at the end when ``done``.

    ``garbage_at`` replaces that event by a line that is not JSON and ends the stream there.
    """
    chunks = []
    for index, (name, payload) in enumerate(events):
        prefix = f"event: {name}\n".encode() if name else b""
        if index == garbage_at:
            chunks.append(prefix + b"data: {not json\n\n")
            break
        chunks.append(prefix + b"data: " + json.dumps(payload).encode() + b"\n\n")
    else:
        if done:
            chunks.append(b"data: [DONE]\n\n")
    return Reply(content_type="text/event-stream", chunks=chunks)


def ndjson_reply(lines: Iterable[Any], *, garbage_at: int | None = None) -> Reply:
    """Newline-delimited JSON (Ollama's streams); ``garbage_at`` as in :func:`sse_reply`."""
    chunks = []
    for index, line in enumerate(lines):
        if index == garbage_at:
            chunks.append(b"{not json\n")
            break
        chunks.append(json.dumps(line).encode() + b"\n")
    return Reply(content_type="application/x-ndjson", chunks=chunks)


def word_tokens(inputs: str | list[str]) -> int:
    """The token count the provider routes bill for embedding ``inputs``: one per whitespace-separated word."""
    texts = [inputs] if isinstance(inputs, str) else inputs
    return sum(len(text.split()) for text in texts)


class _Handler(BaseHTTPRequestHandler):
    server: WireServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = raw
        parts = urlsplit(self.path)
        for route_method, pattern, handler in self.server.routes:
            match = re.fullmatch(pattern, parts.path) if route_method == method else None
            if match:
                call = Call(method, parts.path, parse_qs(parts.query), dict(self.headers), body, match.groupdict())
                self.server.calls.append(call)
                return self._send(handler(call))
        self._send(json_reply({"error": {"message": f"no route for {method} {parts.path}"}}, 404))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks:
            self.send_header("connection", "close")
            self.end_headers()
            for chunk in reply.chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class WireServer(LoopbackServer):
    """Serves ``routes`` (method, path regex with named groups, handler) on a free loopback port."""

    def __init__(self, routes: list[Route]) -> None:
        super().__init__(_Handler)
        self.routes = routes
        self.calls: list[Call] = []

    @property
    def url(self) -> str:
        return self.root_url
