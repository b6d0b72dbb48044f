"""OTLP/HTTP receiver (``/v1/traces``, ``/v1/metrics``, ``/v1/logs``), protobuf and JSON, on aiohttp.

HTTP itself — framing, chunked bodies, ``gzip``/``deflate`` request bodies
(decompressed as they stream, in bounded steps), keep-alive, TLS — is
aiohttp's (the ``collector`` extra).  This module holds the OTLP/HTTP rules
on top of it:

* a request is refused before its body is read when the path (404), the
  bearer token (401), the content type (415) or a declared length above
  ``max_bytes`` (413) rule it out; those answers close the connection;
* the body must arrive whole within ``body_timeout_s`` (total, not per read;
  else 408 and the connection closes) and be at most ``max_bytes`` once
  decompressed (413: no gzip bomb); headers must arrive within
  ``header_timeout_s`` of the connection opening or of the previous
  response (aiohttp's keep-alive timer closes the connection otherwise);
* only then is one of ``max_inflight`` slots taken (429 + ``Retry-After``
  when none is free), so slow senders hold a connection, never a slot;
  bodies still arriving share ``max_buffered_bytes`` (429 past it, the
  connection closes), so memory stays bounded however many connect;
* a body that does not decode, is not valid OTLP or has ids of the wrong
  length is 400; a failed relay (upstream down or throttling, refused for
  good upstream, a retry queue that cannot write) is answered per
  :func:`.errors.answer`, the table the gRPC receiver uses too.

Every rejection is counted by reason in ``rejected`` — including the 400s
aiohttp answers itself for malformed HTTP (``Content-Length: abc``, broken
chunking, a body that is not valid gzip: ``malformed``) and failed TLS
handshakes (``tls``).  Responses are gzip-compressed when the client
accepts it.  ``GET /healthz`` and ``GET /readyz`` (upstream reachable)
serve probes.  The listening socket is bound exclusively (no
``SO_REUSEPORT``): a second receiver on the same port fails to start.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from google.protobuf.message import Message

from otel_carbon._extras import missing_extra
from otel_carbon.collector import errors
from otel_carbon.collector.payload import (
    JSON,
    PROTOBUF,
    SIGNALS,
    MalformedPayload,
    RejectionCounts,
    Relay,
    decode,
    item_count,
)
from otel_carbon.collector.security import UNAUTHENTICATED_MESSAGE, ReceiverSecurity

try:
    from aiohttp import web
    from aiohttp.abc import AbstractAccessLogger
    from aiohttp.http import HttpProcessingError
except ModuleNotFoundError as exc:
    raise missing_extra("collector", exc, "the OTLP/HTTP receiver") from exc

#: Marks a request whose rejection this module already counted (the access log counts the others).
_COUNTED = web.RequestKey("otel_carbon.counted", bool)
_READ_CHUNK = 64 * 1024
# aiohttp reports the malformed requests it answers itself here; they are counted instead (see module doc).
_protocol_logger = logging.getLogger("otel_carbon.collector.http.protocol")
_protocol_logger.setLevel(logging.CRITICAL)


class _TooLarge(Exception):
    pass


class _OverBudget(Exception):
    pass


def _counting_access_log(rejected: RejectionCounts) -> type[AbstractAccessLogger]:
    """An access log that counts the 4xx aiohttp answered without calling the application."""

    class ProtocolRejections(AbstractAccessLogger):
        def log(self, request: Any, response: Any, time: float) -> None:
            # 4xx only: a 503 from /readyz during an upstream outage is not a rejected request
            if 400 <= response.status < 500 and _COUNTED not in request:
                rejected.add("malformed")

    return ProtocolRejections


def _tls_context(security: ReceiverSecurity, rejected: RejectionCounts) -> ssl.SSLContext | None:
    """The server TLS context, counting failed handshakes (no or untrusted client certificate) as ``tls``."""
    context = security.ssl_context()
    if context is None:
        return None

    class CountingSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except ssl.SSLError:
                rejected.add("tls")
                raise

    context.sslobject_class = CountingSSLObject
    return context


def _bind(address: tuple[str, int]) -> socket.socket:
    """A listening socket on ``address``, exclusive (no ``SO_REUSEPORT``); ``OSError`` when it cannot bind."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind after TIME_WAIT, not a shared port
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class OTLPHttpServer:
    """The OTLP/HTTP receiver; ``relay(signal, request, body)`` (``body``: the decompressed
    protobuf body, ``None`` for OTLP/JSON) raises :class:`.errors.UpstreamUnavailable` to ask for a retry.

    Times in seconds, sizes in bytes.  Serves from its own thread and event loop
    after :meth:`start`; the relay runs in a pool of ``max_inflight`` threads.
    """

    def __init__(
        self,
        address: tuple[str, int],
        relay: Relay,
        max_bytes: int,
        ready: Callable[[], bool] = lambda: True,
        security: ReceiverSecurity | None = None,
        max_inflight: int = 64,
        header_timeout_s: float = 10.0,
        body_timeout_s: float = 30.0,
        max_buffered_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.security = security or ReceiverSecurity()
        self.rejected = RejectionCounts()
        self.relay = relay
        self.ready = ready
        self.max_bytes = max_bytes
        self.max_inflight = max_inflight
        self.body_timeout_s = body_timeout_s
        self.max_buffered_bytes = max_buffered_bytes
        self._inflight = 0  # these two only touched on the event loop
        self._buffered = 0  # bytes of bodies still arriving
        self.abandoned_items = 0  #: items relayed after their sender had gone (it will re-send them)
        self._tls = _tls_context(self.security, self.rejected)
        self._socket = _bind(address)
        self.port = int(self._socket.getsockname()[1])
        self._pool = ThreadPoolExecutor(max_workers=max_inflight, thread_name_prefix="otel-carbon-otlp-http")
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_route("*", "/{path:.*}", self._export)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            shutdown_timeout=5.0,
            keepalive_timeout=header_timeout_s,
            access_log_class=_counting_access_log(self.rejected),
            access_log=_protocol_logger,
            logger=_protocol_logger,
        )
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="otel-carbon-otlp-http", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._runner.setup())
        site = web.SockSite(self._runner, self._socket, ssl_context=self._tls)
        self._loop.run_until_complete(site.start())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to 5 s), close."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
        else:
            self._socket.close()
        self._pool.shutdown(wait=True)

    # --- handlers ----------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        """The process serves."""
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        """The process serves and the upstream is reachable."""
        ready = await self._loop.run_in_executor(self._pool, self.ready)
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    def _reject(self, request: web.Request, status: int, reason: str, message: str,
                headers: dict[str, str] | None = None, close: bool = False) -> web.Response:
        """Count and answer a rejection; ``close`` when the body was left unread (it must not be parsed as
        the next request)."""
        request[_COUNTED] = True
        self.rejected.add(reason)
        response = web.json_response({"code": status, "message": message}, status=status, headers=headers)
        if close:
            response.force_close()
        return response

    async def _read_body(self, request: web.Request) -> bytes:
        """The whole (decompressed) body; :class:`_TooLarge` past ``max_bytes``, :class:`_OverBudget` when
        the bodies arriving at once would pass ``max_buffered_bytes``."""
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := await request.content.read(_READ_CHUNK):
                size += len(chunk)
                self._buffered += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge
                if self._buffered > self.max_buffered_bytes:
                    raise _OverBudget
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            self._buffered -= size

    async def _export(self, request: web.Request) -> web.StreamResponse:
        signal = request.path.removeprefix("/v1/")
        types = SIGNALS.get(signal) if request.path.startswith("/v1/") else None
        if types is None:
            return self._reject(request, 404, "not_found", "unknown path", close=True)
        if request.method != "POST":
            return self._reject(request, 405, "method", "use POST", {"allow": "POST"}, close=True)
        if not self.security.authorized(request.headers.get("authorization")):
            return self._reject(request, 401, "unauthenticated", UNAUTHENTICATED_MESSAGE,
                                {"www-authenticate": "Bearer"}, close=True)
        content_type = request.content_type.lower()
        if content_type not in (PROTOBUF, JSON):
            return self._reject(request, 415, "content_type", f"unsupported content type {content_type!r}", close=True)
        too_large = f"body over {self.max_bytes} bytes (decompressed)"
        if request.content_length is not None and request.content_length > self.max_bytes:
            return self._reject(request, 413, "too_large", too_large, close=True)
        try:
            body = await asyncio.wait_for(self._read_body(request), self.body_timeout_s)
        except _TooLarge:
            return self._reject(request, 413, "too_large", too_large, close=True)
        except _OverBudget:
            return self._reject(request, 429, "busy", "gateway busy (request bodies)", {"retry-after": "1"}, close=True)
        except asyncio.TimeoutError:
            return self._reject(request, 408, "body_timeout",
                                f"the body did not arrive within {self.body_timeout_s:g} s", close=True)
        except (web.RequestPayloadError, HttpProcessingError):  # broken chunking, not valid gzip, short body
            return self._reject(request, 400, "malformed", "malformed request body (framing or encoding)", close=True)
        if self._inflight >= self.max_inflight:
            return self._reject(request, 429, "busy", "gateway busy", {"retry-after": "1"})
        self._inflight += 1
        try:
            response, message = await self._loop.run_in_executor(
                self._pool, self._handle, request, signal, content_type, body)
        finally:
            self._inflight -= 1
        if message is not None and (request.transport is None or request.transport.is_closing()):
            # the sender gave up (its timeout) and will send these again
            self.abandoned_items += item_count(signal, message)
        return response

    def _handle(self, request: web.Request, signal: str, content_type: str,
                body: bytes) -> tuple[web.Response, Message | None]:
        """Decode and relay (a pool thread); the answer in the request's encoding, and the request relayed
        (``None`` when refused)."""
        try:
            message = decode(body, content_type, SIGNALS[signal][0])
            self.relay(signal, message, body if content_type == PROTOBUF else None)
        except MalformedPayload as exc:
            return self._reject(request, 400, "malformed", str(exc)), None
        except Exception as exc:  # noqa: BLE001 - every relay failure gets the table's answer (as on gRPC)
            reply = errors.answer(exc)
            return self._reject(request, reply.http_status, reply.reason, reply.message, reply.http_headers), None
        answer = SIGNALS[signal][1]().SerializeToString() if content_type == PROTOBUF else b"{}"
        response = web.Response(body=answer, content_type=content_type)
        if "gzip" in request.headers.get("accept-encoding", ""):
            response.enable_compression(web.ContentCoding.gzip)
        return response, message
