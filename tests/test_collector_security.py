"""Bearer token and TLS/mTLS on the gateway's receivers, with certificates made at test time.

gRPC: the standard OTLP exporter over mTLS with the token gets through and its
GenAI span arrives enriched; a wrong token gets ``UNAUTHENTICATED`` (counted),
a client without a certificate fails the handshake.  HTTP: the same over TLS
with httpx.  After each rejection the gateway still serves.
"""

from __future__ import annotations

import ssl

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_receiver import OTLPReceiver
from tls_support import make_pki

from otel_carbon.collector.gateway import Gateway
from otel_carbon.collector.payload import PROTOBUF
from otel_carbon.collector.security import ReceiverSecurity
from otel_carbon.config import CarbonSettings
from otel_carbon.processors import EnrichmentContext

TOKEN = "s3cret-token"
GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
         "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def security(pki):
    cert, key = pki["server"]
    return ReceiverSecurity(bearer_token=TOKEN, cert_file=str(cert), key_file=str(key), client_ca_file=str(pki["ca"]))


@pytest.fixture
def context():
    return EnrichmentContext(settings=CarbonSettings(zone="FR"))


def _channel_credentials(pki, with_client_cert: bool) -> grpc.ChannelCredentials:
    cert, key = pki["client"]
    return grpc.ssl_channel_credentials(
        pki["ca"].read_bytes(),
        key.read_bytes() if with_client_cert else None,
        cert.read_bytes() if with_client_cert else None,
    )


def _client_tls(pki, with_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if with_client_cert:
        context.load_cert_chain(*map(str, pki["client"]))
    return context


def _export(port: int, credentials: grpc.ChannelCredentials, token: str) -> None:
    request = trace_service_pb2.ExportTraceServiceRequest()
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        trace_service_pb2_grpc.TraceServiceStub(channel).Export(
            request, metadata=[("authorization", f"Bearer {token}")], timeout=5)


def test_grpc_mtls_and_token(pki, security, context):
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context,
                                             security=security) as gateway:
        with pytest.raises(grpc.RpcError) as wrong:
            _export(gateway.port, _channel_credentials(pki, True), "not-the-token")
        assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert TOKEN not in wrong.value.details()
        assert gateway.rejected.by_reason == {"unauthenticated": 1}
        with pytest.raises(grpc.RpcError) as no_cert:
            _export(gateway.port, _channel_credentials(pki, False), TOKEN)
        assert no_cert.value.code() == grpc.StatusCode.UNAVAILABLE  # the handshake fails: no client certificate
        # The standard exporter, configured as an app would be, still gets through.
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
            endpoint=f"127.0.0.1:{gateway.port}", credentials=_channel_credentials(pki, True),
            headers={"authorization": f"Bearer {TOKEN}"})))
        provider.get_tracer("app").start_span("chat", attributes=GENAI).end()
        provider.shutdown()
    assert [name for name, _ in upstream.spans] == ["chat"]
    assert upstream.spans[0][1]["sci.carbon"] > 0


def test_http_tls_and_token(pki, security, context):
    body = trace_service_pb2.ExportTraceServiceRequest().SerializeToString()
    with OTLPReceiver() as upstream, Gateway("127.0.0.1:0", f"127.0.0.1:{upstream.port}", context,
                                             http_listen=("127.0.0.1", 0), security=security) as gateway:
        url = f"https://127.0.0.1:{gateway.http.port}"
        with httpx.Client(verify=_client_tls(pki, True)) as client:
            wrong = client.post(f"{url}/v1/traces", content=body,
                                headers={"content-type": PROTOBUF, "authorization": "Bearer nope"})
            assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in wrong.text
            missing = client.post(f"{url}/v1/traces", content=body, headers={"content-type": PROTOBUF})
            assert missing.status_code == 401
            ok = client.post(f"{url}/v1/traces", content=body,
                             headers={"content-type": PROTOBUF, "authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200
        with httpx.Client(verify=_client_tls(pki, False)) as no_cert, pytest.raises(httpx.TransportError):
            no_cert.post(f"{url}/v1/traces", content=body,
                         headers={"content-type": PROTOBUF, "authorization": f"Bearer {TOKEN}"})
        with httpx.Client(verify=_client_tls(pki, True)) as client:
            assert client.get(f"{url}/healthz").status_code == 200  # still serving
        assert gateway.http.rejected.by_reason["unauthenticated"] == 2
        assert gateway.http.rejected.by_reason["tls"] == 1


def test_half_configured_tls_is_refused():
    with pytest.raises(ValueError, match="both a certificate and a key"):
        ReceiverSecurity(cert_file="server.pem")
    with pytest.raises(ValueError, match="needs a server certificate"):
        ReceiverSecurity(client_ca_file="ca.pem")
