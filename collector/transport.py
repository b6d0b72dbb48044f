"""Sending one OTLP export request upstream, over OTLP/gRPC or OTLP/HTTP (protobuf).

A transport's ``send(signal, payload, timeout_s)`` sends an export request
already encoded (protobuf bytes, as the receivers accepted and enriched it),
returns when the upstream took it, raises :class:`UpstreamRejected` when it refused it for good
(the sender must not retry) and :class:`UpstreamUnavailable` otherwise, with
``ambiguous=True`` when the request may have reached the upstream anyway (the
deadline passed after it was sent).  Status mapping follows OTLP: gRPC
``INVALID_ARGUMENT``, ``UNAUTHENTICATED``, ``PERMISSION_DENIED``,
``UNIMPLEMENTED`` and HTTP 4xx other than 408/429 are permanent; everything
else is retried, and HTTP 429 / gRPC ``RESOURCE_EXHAUSTED`` mark the failure
``throttled``.  How the receivers answer these is :func:`.errors.answer`'s.
"""

from __future__ import annotations

import socket
from typing import Protocol

import grpc
import httpx

from otel_carbon.collector.errors import UpstreamRejected, UpstreamUnavailable
from otel_carbon.collector.payload import PROTOBUF, SERVICES
from otel_carbon.collector.upstream import Upstream

#: Upstream gRPC codes that mean "this payload will never be accepted"; anything else is retried.
PERMANENT = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED,
                       grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED})
#: gRPC codes after which the request may still land upstream (sent, answer not seen).
AMBIGUOUS = frozenset({grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})
#: HTTP statuses OTLP/HTTP senders retry.
HTTP_RETRYABLE = frozenset({408, 429, 502, 503, 504})


class Transport(Protocol):
    def send(self, signal: str, payload: bytes, timeout_s: float) -> None: ...

    def ready(self, timeout_s: float) -> bool:
        """Whether the upstream can be reached within ``timeout_s``."""

    def close(self) -> None: ...


class GrpcTransport:
    """OTLP/gRPC, plaintext or TLS per :class:`Upstream`, its headers as metadata."""

    def __init__(self, upstream: Upstream) -> None:
        self._channel = upstream.channel()
        self._metadata = upstream.headers or None
        # Bytes in, the (empty) response's bytes out: the payload is sent as it was encoded.
        self._export = {signal: self._channel.unary_unary(f"/{service}/Export") for signal, service in SERVICES.items()}

    def send(self, signal: str, payload: bytes, timeout_s: float) -> None:
        try:
            self._export[signal](payload, timeout=timeout_s, metadata=self._metadata)
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNAVAILABLE
            if code in PERMANENT:
                raise UpstreamRejected(code.name) from error
            raise UpstreamUnavailable(code.name, ambiguous=code in AMBIGUOUS,
                                      throttled=code == grpc.StatusCode.RESOURCE_EXHAUSTED) from error

    def ready(self, timeout_s: float) -> bool:
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            return False
        return True

    def close(self) -> None:
        self._channel.close()


class HttpTransport:
    """OTLP/HTTP protobuf to ``<endpoint>/v1/<signal>``, TLS and headers per :class:`Upstream`."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream
        self._client = httpx.Client(base_url=upstream.url, verify=upstream.ssl_context() or True,
                                    headers={**dict(upstream.headers), "content-type": PROTOBUF})

    def send(self, signal: str, payload: bytes, timeout_s: float) -> None:
        try:
            response = self._client.post(f"/v1/{signal}", content=payload, timeout=timeout_s)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:  # never sent
            raise UpstreamUnavailable(type(error).__name__) from error
        except httpx.HTTPError as error:  # sent, answer not seen: may have landed
            raise UpstreamUnavailable(type(error).__name__, ambiguous=True) from error
        if response.is_success:
            return
        if response.status_code in HTTP_RETRYABLE or response.status_code >= 500:
            raise UpstreamUnavailable(f"HTTP {response.status_code}", throttled=response.status_code == 429)
        raise UpstreamRejected(f"HTTP {response.status_code}")

    def ready(self, timeout_s: float) -> bool:
        host, port = self._upstream.host_port
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
        except OSError:
            return False
        return True

    def close(self) -> None:
        self._client.close()


def transport(upstream: Upstream) -> Transport:
    """The transport for ``upstream.protocol``."""
    return HttpTransport(upstream) if upstream.protocol == "http/protobuf" else GrpcTransport(upstream)
