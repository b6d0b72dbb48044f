"""The OTLP/HTTP receiver as real senders (and broken ones) use it, over real loopback sockets.

Library senders where one will send the request (the OpenTelemetry Python
exporter with gzip, httpx streaming a chunked body); a raw socket where a
library would refuse (bad ``Content-Length``, trickled headers and bodies,
hand-built chunking).  Each rejection must be a clean 4xx, counted by
reason, and the receiver must keep serving everyone else.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from otlp_receiver import OTLPReceiver

from otel_carbon.collector.gateway import MAX_MESSAGE_BYTES, Gateway
from otel_carbon.collector.payload import JSON, PROTOBUF
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
         "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}


@pytest.fixture
def context():
    return EnrichmentContext(settings=CarbonSettings(zone="FR"))


@pytest.fixture
def upstream():
    with OTLPReceiver() as receiver:
        yield receiver


def _gateway(upstream: OTLPReceiver, context: EnrichmentContext, **options) -> Gateway:
    return Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, http_listen=("127.0.0.1", 0), **options)


def _body(names: list[str]) -> bytes:
    spans = [Span(name=name, trace_id=bytes(15) + b"\x01", span_id=bytes(7) + bytes([i + 1]))
             for i, name in enumerate(names)]
    request = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    return request.SerializeToString()


def _raw(port: int, head: bytes, body: bytes = b"") -> http.client.HTTPResponse:
    """Send ``head`` (request line + headers, without the blank line) and ``body`` as they are; the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + b"\r\n\r\n" + body)
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    sock.close()
    return response


def _counted(gateway: Gateway, expected: dict[str, int]) -> bool:
    """Whether the receiver's rejection counts reach ``expected`` (aiohttp's own 400s are counted as the
    answer is written, so the client may read it an instant earlier; bounded wait)."""
    done = threading.Event()
    for _ in range(100):
        if gateway.http.rejected.by_reason == expected:
            return True
        done.wait(0.05)
    return False


def _post_head(path: str = "/v1/traces", content_type: str = PROTOBUF, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}", *headers]
    return "\r\n".join(lines).encode()


def test_the_otel_exporter_with_gzip_delivers_every_span(upstream, context):
    with _gateway(upstream, context) as gateway:
        provider = TracerProvider()
        exporter = HTTPSpanExporter(endpoint=f"http://127.0.0.1:{gateway.http.port}/v1/traces",
                                    compression=Compression.Gzip)
        provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=50))
        tracer = provider.get_tracer("app")
        for i in range(200):
            tracer.start_span(f"chat {i}", attributes=GENAI).end()
        provider.shutdown()
    names = [name for name, _ in upstream.spans]
    assert sorted(names) == sorted(f"chat {i}" for i in range(200))
    assert all(attributes["sci.carbon"] > 0 for _, attributes in upstream.spans)
    assert gateway.http.rejected.by_reason == {}


def test_a_chunked_body_is_read_whole(upstream, context):
    body = _body([f"s{i}" for i in range(20)])

    def pieces() -> Iterator[bytes]:  # httpx sends an iterator as Transfer-Encoding: chunked
        for start in range(0, len(body), 7):
            yield body[start:start + 7]

    with _gateway(upstream, context) as gateway:
        answer = httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces", content=pieces(),
                            headers={"content-type": PROTOBUF}, timeout=10)
        assert answer.status_code == 200
        # Hand-built chunking, gzip inside it, on a raw socket.
        packed = gzip.compress(_body(["raw-a", "raw-b"]))
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(packed[i:i + 5]), packed[i:i + 5]) for i in range(0, len(packed), 5))
        raw = _raw(gateway.http.port, _post_head("/v1/traces", PROTOBUF, "Transfer-Encoding: chunked",
                                                 "Content-Encoding: gzip"), chunked + b"0\r\n\r\n")
        assert raw.status == 200
    assert sorted(name for name, _ in upstream.spans) == sorted([f"s{i}" for i in range(20)] + ["raw-a", "raw-b"])


def test_gzip_size_limit_applies_after_decompression_and_bad_gzip_is_400(upstream, context):
    with _gateway(upstream, context) as gateway:
        url = f"http://127.0.0.1:{gateway.http.port}/v1/traces"
        bomb = gzip.compress(b"\x00" * (MAX_MESSAGE_BYTES + 1024))  # a few KiB on the wire
        assert len(bomb) < 64 * 1024
        answer = httpx.post(url, content=bomb, headers={"content-type": PROTOBUF, "content-encoding": "gzip"})
        assert answer.status_code == 413
        broken = httpx.post(url, content=b"not gzip at all", headers={"content-type": PROTOBUF,
                                                                      "content-encoding": "gzip"})
        assert broken.status_code == 400
        # Compressed answers where asked.
        ok = httpx.post(url, content=gzip.compress(_body(["z"])), headers={
            "content-type": PROTOBUF, "content-encoding": "gzip", "accept-encoding": "gzip"})
        assert ok.status_code == 200 and ok.headers["content-encoding"] == "gzip"
        assert gateway.http.rejected.by_reason == {"too_large": 1, "malformed": 1}
    assert [name for name, _ in upstream.spans] == ["z"]


def test_slow_bodies_hold_no_slot_and_hit_the_total_deadline(upstream, context):
    """Three senders trickle their bodies with one slot: everyone else is served meanwhile, and each
    trickler gets 408 once the total body deadline passes, however often it sends a byte."""
    with _gateway(upstream, context, max_inflight=1, http_body_timeout_s=1.0) as gateway:
        tricklers = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", gateway.http.port), timeout=10)
            sock.sendall(_post_head("/v1/traces", PROTOBUF, "Content-Length: 1000") + b"\r\n\r\n" + b"\x0a")
            tricklers.append(sock)
        for i in range(5):  # served while the tricklers hold their connections
            answer = httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces", content=_body([f"fast{i}"]),
                                headers={"content-type": PROTOBUF}, timeout=10)
            assert answer.status_code == 200
        statuses = []
        for sock in tricklers:
            stop = threading.Event()

            def trickle(sock: socket.socket = sock, stop: threading.Event = stop) -> None:
                for _ in range(100):  # a byte every 0.1 s: each read is quick, the whole is not
                    if stop.wait(0.1):
                        return
                    try:
                        sock.sendall(b"\x00")
                    except OSError:
                        return

            thread = threading.Thread(target=trickle)
            thread.start()
            response = http.client.HTTPResponse(sock)
            response.begin()
            statuses.append(response.status)
            stop.set()
            thread.join(10)
            sock.close()
        assert statuses == [408, 408, 408]
        assert gateway.http.rejected.by_reason == {"body_timeout": 3}
    assert sorted(name for name, _ in upstream.spans) == [f"fast{i}" for i in range(5)]


def test_bodies_in_flight_share_a_memory_budget(upstream, context):
    """With a 2 000-byte budget, a sender holding 1 500 bytes of an unfinished body leaves no room for a
    1 000-byte body: 429 (retryable), counted; once it is gone, the same body is served."""
    with _gateway(upstream, context) as gateway:
        gateway.http.max_buffered_bytes = 2000
        holder = socket.create_connection(("127.0.0.1", gateway.http.port), timeout=10)
        holder.sendall(_post_head("/v1/traces", PROTOBUF, "Content-Length: 3000") + b"\r\n\r\n" + b"\x00" * 1500)
        body = _body(["b" * 950])
        assert 950 < len(body) < 1100
        url = f"http://127.0.0.1:{gateway.http.port}/v1/traces"
        for _ in range(100):  # bounded: until the holder's bytes have been read by the receiver
            refused = httpx.post(url, content=body, headers={"content-type": PROTOBUF}, timeout=10)
            if refused.status_code == 429:
                break
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        holder.close()
        for _ in range(100):
            served = httpx.post(url, content=body, headers={"content-type": PROTOBUF}, timeout=10)
            if served.status_code == 200:
                break
        assert served.status_code == 200
        assert gateway.http.rejected.by_reason.get("busy", 0) >= 1


def test_headers_that_never_finish_are_cut_off(upstream, context):
    with _gateway(upstream, context, http_header_timeout_s=0.5) as gateway:
        sock = socket.create_connection(("127.0.0.1", gateway.http.port), timeout=10)
        sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for _ in range(100):  # a header line every 0.1 s, never the blank line
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                sock.settimeout(0.1)
                closed = sock.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
            if closed:
                break
        sock.close()
        assert closed
        assert httpx.get(f"http://127.0.0.1:{gateway.http.port}/healthz").status_code == 200


@pytest.mark.parametrize("header", ["Content-Length: abc", "Content-Length: -1", "Content-Length: 1, 2",
                                    "Transfer-Encoding: chunked\r\nContent-Length: 3"])
def test_malformed_framing_gets_a_counted_400_and_no_traceback(upstream, context, capfd, header):
    with _gateway(upstream, context) as gateway:
        body = b"zz\r\n" if "chunked" in header else b""
        answer = _raw(gateway.http.port, _post_head("/v1/traces", PROTOBUF, header), body)
        assert answer.status == 400
        assert _counted(gateway, {"malformed": 1})
        assert httpx.get(f"http://127.0.0.1:{gateway.http.port}/healthz").status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_deeply_nested_json_is_a_400(upstream, context, capfd):
    with _gateway(upstream, context) as gateway:
        nested = b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        answer = httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces", content=nested,
                            headers={"content-type": JSON})
        assert answer.status_code == 400 and "nested" in answer.json()["message"]
        assert gateway.http.rejected.by_reason == {"malformed": 1}
    assert "Traceback" not in capfd.readouterr().err


def _json_span(**ids: str) -> bytes:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "x", **ids}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


@pytest.mark.parametrize("body", [
    _json_span(traceId="5b8e"),  # 2 bytes
    _json_span(spanId="5b8efff798038103d269b633813fc60c5b8efff798038103d269b633813fc60c"),  # 32 bytes
    _json_span(parentSpanId="eee19b7e"),
    _json_span(traceId="zz8efff798038103d269b633813fc60c"),  # not hex
    b"[]",
    b'"resourceSpans"',
])
def test_invalid_otlp_json_is_refused(upstream, context, body):
    with _gateway(upstream, context) as gateway:
        answer = httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces", content=body,
                            headers={"content-type": JSON})
        assert answer.status_code == 400
        assert gateway.http.rejected.by_reason == {"malformed": 1}
        valid = httpx.post(f"http://127.0.0.1:{gateway.http.port}/v1/traces", content=_json_span(),
                           headers={"content-type": JSON})
        assert valid.status_code == 200
    assert [name for name, _ in upstream.spans] == ["x"]


def test_a_second_gateway_on_the_same_ports_fails_and_names_the_port(upstream, context):
    with _gateway(upstream, context) as first:
        with pytest.raises(OSError, match=str(first.port)):
            Gateway(f"127.0.0.1:{first.port}", f"127.0.0.1:{upstream.port}", context)
        with pytest.raises(OSError, match=str(first.http.port)):
            Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context, http_listen=("127.0.0.1", first.http.port))
